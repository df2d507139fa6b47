/**
 * List and watch on Deno's native `fetch` (hand-written, not client-node's `Watch`: on Deno
 * the latter cannot notice that an idle connection was aborted and goes deaf after 30 s;
 * reference ecosystem.md §1.3).
 *
 * - {@linkcode listAll} reads a collection in pages (`limit`/`continue`) and returns the
 *   items with the list's resourceVersion, the point a watch resumes from.
 * - {@linkcode watchEvents} streams one watch connection as raw events. It asks for bookmarks:
 *   the API server sends one about every minute on an idle watch whenever it knows a newer
 *   resourceVersion than the watch's (always on a live cluster, where leases and events keep
 *   the revision moving; perhaps never on a cluster where nothing at all is written). It gives
 *   up with {@linkcode WatchIdleError} when nothing at all arrives for `idleTimeoutMs`: a
 *   half-open TCP connection never errors by itself, and reopening a healthy quiet watch from
 *   its resourceVersion is cheap. It ends normally when the server closes the stream (its
 *   `timeoutSeconds` elapsed), and yields `ERROR` events (e.g. 410 Expired) for the caller.
 *
 * Reconnecting, relisting and backoff are the informer's business, not this module's.
 *
 * @module
 */
import { isGone, kubeErrorFrom } from "./errors.ts";
import type { KubeTransport } from "./transport.ts";

/** The type of a watch event. */
export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

/** One raw watch event: the object is undecoded JSON (a `metav1.Status` for `ERROR`). */
export interface WatchEvent {
  type: WatchEventType;
  object: unknown;
}

/** Selectors shared by list and watch. */
export interface Selectors {
  labelSelector?: string;
  fieldSelector?: string;
}

/** Options of {@linkcode listAll}. */
export interface ListAllOptions extends Selectors {
  /** Objects per page. Default 500 (client-go's pager). */
  pageSize?: number;
  signal?: AbortSignal;
}

/** A full list. */
export interface ListAllResult {
  items: unknown[];
  resourceVersion: string;
}

interface RawList {
  items?: unknown[] | null;
  metadata?: { resourceVersion?: string; continue?: string };
}

/**
 * Lists a whole collection, page by page. A continue token that expires mid-way (410) starts
 * the list over: pages of different snapshots must not be mixed.
 *
 * @throws {import("./errors.ts").KubeError} on API errors.
 * @example
 * ```ts ignore
 * import { listAll } from "./watch.ts";
 * const { items, resourceVersion } = await listAll(client.transport, "/api/v1/namespaces/dev/pods");
 * ```
 */
export async function listAll(
  transport: KubeTransport,
  path: string,
  opts: ListAllOptions = {},
): Promise<ListAllResult> {
  for (let attempt = 0;; attempt++) {
    const items: unknown[] = [];
    let resourceVersion = "";
    let cont: string | undefined;
    try {
      do {
        const page = await transport.json<RawList>(path, {
          query: {
            limit: opts.pageSize ?? 500,
            continue: cont,
            labelSelector: opts.labelSelector,
            fieldSelector: opts.fieldSelector,
          },
          signal: opts.signal,
        });
        if (cont === undefined) resourceVersion = page.metadata?.resourceVersion ?? "";
        items.push(...(page.items ?? []));
        cont = page.metadata?.continue || undefined;
      } while (cont !== undefined);
      return { items, resourceVersion };
    } catch (e) {
      if (!(isGone(e) && cont !== undefined && attempt < 3)) throw e;
    }
  }
}

/** Options of {@linkcode watchEvents}. */
export interface WatchOptions extends Selectors {
  /** Where to resume: the list's or the last seen event's resourceVersion. */
  resourceVersion: string;
  /** Ask for BOOKMARK events. Default true. */
  allowWatchBookmarks?: boolean;
  /** The server closes the watch after this long; default a random 5–10 min, like client-go. */
  timeoutSeconds?: number;
  /** Abort and fail with {@linkcode WatchIdleError} after this long without a byte. */
  idleTimeoutMs: number;
  /** Ends the watch quietly. */
  signal?: AbortSignal;
  /** Called when the API server has accepted the watch (200, before any event). */
  onOpen?: () => void;
}

/** A watch that received nothing, not even a bookmark, for too long. */
export class WatchIdleError extends Error {
  /**
   * @param idleMs How long the watch was silent.
   * @example
   * ```ts
   * import { WatchIdleError } from "./watch.ts";
   * new WatchIdleError(90_000).message; // "watch idle for 90000 ms"
   * ```
   */
  constructor(readonly idleMs: number) {
    super(`watch idle for ${idleMs} ms`);
    this.name = "WatchIdleError";
  }
}

/** Splits a text stream into lines (the watch stream is newline-delimited JSON). */
class LineSplitter extends TransformStream<string, string> {
  constructor() {
    let buf = "";
    super({
      transform(chunk, ctl) {
        buf += chunk;
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          ctl.enqueue(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      },
      flush(ctl) {
        if (buf !== "") ctl.enqueue(buf);
      },
    });
  }
}

/**
 * Opens one watch connection and yields its events until the server closes it (normal end),
 * the caller's signal aborts (normal end), the connection goes silent (`WatchIdleError`) or
 * fails (the error, e.g. a KubeError 410 when the API server answers the request itself with
 * Gone). Breaking out of the loop closes the connection.
 *
 * @example
 * ```ts ignore
 * import { watchEvents } from "./watch.ts";
 * for await (const ev of watchEvents(client.transport, "/api/v1/namespaces/dev/pods", {
 *   resourceVersion: "12345",
 *   idleTimeoutMs: 150_000,
 * })) {
 *   if (ev.type === "ADDED") console.log(ev.object);
 * }
 * ```
 */
export async function* watchEvents(
  transport: KubeTransport,
  path: string,
  opts: WatchOptions,
): AsyncGenerator<WatchEvent> {
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  let idle = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Re-armed on every chunk. On a live cluster an idle watch still gets a bookmark about once
  // a minute, so a longer silence means a dead connection; on a silent cluster the reconnect
  // costs one request.
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      idle = true;
      ac.abort();
    }, opts.idleTimeoutMs);
  };
  try {
    if (opts.signal?.aborted) return;
    arm();
    const res = await transport.request(path, {
      query: {
        watch: true,
        resourceVersion: opts.resourceVersion || undefined,
        allowWatchBookmarks: opts.allowWatchBookmarks ?? true,
        timeoutSeconds: opts.timeoutSeconds ?? Math.floor(300 + Math.random() * 300),
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
      },
      signal: ac.signal,
    });
    if (!res.ok || !res.body) throw kubeErrorFrom(res.status, await res.text());
    opts.onOpen?.();
    const lines = res.body.pipeThrough(new TextDecoderStream()).pipeThrough(new LineSplitter());
    for await (const line of lines) {
      arm();
      if (line.trim() === "") continue;
      const ev = JSON.parse(line) as WatchEvent;
      yield ev;
    }
  } catch (e) {
    if (idle) throw new WatchIdleError(opts.idleTimeoutMs);
    if (opts.signal?.aborted) return;
    throw e;
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onAbort);
    ac.abort();
  }
}
