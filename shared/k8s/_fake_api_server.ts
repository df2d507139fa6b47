/**
 * A tiny in-process API server for unit tests of the informer and the controller: one
 * namespaced collection (`/api/v1/namespaces/{ns}/things`) with paged lists, watches that
 * replay from a resourceVersion, and knobs to close watches, send 410, stay silent, fail
 * requests, and change objects without telling the watchers (events lost in a broken watch).
 * Integration tests use the real API server; this one makes failure paths deterministic.
 *
 * @module
 */
import { KubeConfig } from "@kubernetes/client-node";
import type { ApiResource } from "./api_resource.ts";
import type { KubeObject } from "./object.ts";

/** The test kind. */
export interface Thing extends KubeObject {
  metadata: { name: string; namespace: string; resourceVersion?: string; uid?: string };
  spec?: { value?: number };
}

/** The descriptor of the test kind (no decoding beyond a shape check). */
export const THINGS: ApiResource<Thing> = {
  group: "",
  version: "v1",
  kind: "Thing",
  plural: "things",
  namespaced: true,
  decode(raw: unknown): Thing {
    const t = raw as Thing;
    if (typeof t?.metadata?.name !== "string") throw new TypeError("not a Thing");
    return t;
  },
};

interface Watcher {
  ns: string;
  send(line: string): void;
  close(): void;
}

/** A request the server received. */
export interface SeenRequest {
  watch: boolean;
  resourceVersion: string;
  limit: string;
  continue: string;
}

/** The fake server. */
export class FakeApiServer {
  readonly requests: SeenRequest[] = [];
  #objects = new Map<string, Thing>();
  #events: { rv: number; type: string; object: Thing }[] = [];
  #rv = 100;
  #oldest = 0;
  #watchers = new Set<Watcher>();
  #failures: number[] = [];
  #server: Deno.HttpServer<Deno.NetAddr>;

  constructor() {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req) => this.#handle(req),
    );
  }

  /** A KubeConfig pointing at this server. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{
        name: "fake",
        server: `http://127.0.0.1:${this.#server.addr.port}`,
        skipTLSVerify: true,
      }],
      users: [{ name: "u", token: "t" }],
      contexts: [{ name: "c", cluster: "fake", user: "u", namespace: "dev" }],
      currentContext: "c",
    });
    return kc;
  }

  /** Open watch connections. */
  get watchers(): number {
    return this.#watchers.size;
  }

  /** Creates or updates an object; `silent` hides the change from watchers (and replays). */
  put(name: string, value: number, opts: { silent?: boolean; ns?: string } = {}): Thing {
    const ns = opts.ns ?? "dev";
    const key = `${ns}/${name}`;
    const type = this.#objects.has(key) ? "MODIFIED" : "ADDED";
    const obj: Thing = {
      metadata: { name, namespace: ns, resourceVersion: String(++this.#rv), uid: `uid-${name}` },
      spec: { value },
    };
    this.#objects.set(key, obj);
    if (!opts.silent) this.#emit(type, obj);
    return obj;
  }

  /** Deletes an object; `silent` hides the change from watchers. */
  remove(name: string, opts: { silent?: boolean; ns?: string } = {}): void {
    const key = `${opts.ns ?? "dev"}/${name}`;
    const old = this.#objects.get(key);
    if (!old) return;
    this.#objects.delete(key);
    const obj = { ...old, metadata: { ...old.metadata, resourceVersion: String(++this.#rv) } };
    if (!opts.silent) this.#emit("DELETED", obj);
  }

  /** Forgets every event so far: watches from an older resourceVersion get 410. */
  compact(): void {
    this.#oldest = this.#rv;
    this.#events = [];
  }

  /** Ends every open watch normally (as the API server does at `timeoutSeconds`). */
  closeWatches(): void {
    for (const w of this.#watchers) w.close();
    this.#watchers.clear();
  }

  /** Sends a 410 ERROR event on every open watch and closes it. */
  expireWatches(): void {
    for (const w of this.#watchers) {
      w.send(JSON.stringify({
        type: "ERROR",
        object: {
          kind: "Status",
          code: 410,
          reason: "Expired",
          message: "too old resource version",
        },
      }));
      w.close();
    }
    this.#watchers.clear();
  }

  /** Sends a bookmark on every open watch. */
  bookmark(): void {
    const line = JSON.stringify({
      type: "BOOKMARK",
      object: { metadata: { resourceVersion: String(this.#rv) } },
    });
    for (const w of this.#watchers) w.send(line);
  }

  /** The next requests answer with these HTTP statuses, one each. */
  failNext(...statuses: number[]): void {
    this.#failures.push(...statuses);
  }

  async close(): Promise<void> {
    this.closeWatches();
    await this.#server.shutdown();
  }

  #emit(type: string, object: Thing): void {
    const rv = Number(object.metadata.resourceVersion);
    this.#events.push({ rv, type, object });
    const line = JSON.stringify({ type, object });
    for (const w of this.#watchers) if (w.ns === object.metadata.namespace) w.send(line);
  }

  #handle(req: Request): Response {
    const url = new URL(req.url);
    const m = url.pathname.match(/^\/api\/v1\/namespaces\/([^/]+)\/things$/);
    const q = url.searchParams;
    this.requests.push({
      watch: q.get("watch") === "true",
      resourceVersion: q.get("resourceVersion") ?? "",
      limit: q.get("limit") ?? "",
      continue: q.get("continue") ?? "",
    });
    const failure = this.#failures.shift();
    if (failure !== undefined) {
      return Response.json({ kind: "Status", code: failure, message: "injected" }, {
        status: failure,
      });
    }
    if (!m) return new Response("not found", { status: 404 });
    const ns = decodeURIComponent(m[1] ?? "");
    return q.get("watch") === "true" ? this.#watch(ns, q) : this.#list(ns, q);
  }

  #list(ns: string, q: URLSearchParams): Response {
    const all = [...this.#objects.values()].filter((o) => o.metadata.namespace === ns)
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    const limit = Number(q.get("limit") || all.length || 1);
    const offset = Number(q.get("continue") || 0);
    const items = all.slice(offset, offset + limit);
    const next = offset + limit < all.length ? String(offset + limit) : undefined;
    return Response.json({
      kind: "ThingList",
      metadata: { resourceVersion: String(this.#rv), continue: next },
      items,
    });
  }

  #watch(ns: string, q: URLSearchParams): Response {
    const from = Number(q.get("resourceVersion") || this.#rv);
    const enc = new TextEncoder();
    let watcher: Watcher | undefined;
    const body = new ReadableStream<Uint8Array>({
      start: (ctl) => {
        let open = true;
        watcher = {
          ns,
          send: (line) => {
            if (open) ctl.enqueue(enc.encode(line + "\n"));
          },
          close: () => {
            if (!open) return;
            open = false;
            ctl.close();
          },
        };
        if (from < this.#oldest) {
          watcher.send(JSON.stringify({
            type: "ERROR",
            object: { kind: "Status", code: 410, reason: "Expired", message: "too old" },
          }));
          watcher.close();
          return;
        }
        this.#watchers.add(watcher);
        for (const ev of this.#events) {
          if (ev.rv > from && ev.object.metadata.namespace === ns) {
            watcher.send(JSON.stringify({ type: ev.type, object: ev.object }));
          }
        }
      },
      cancel: () => {
        if (watcher) this.#watchers.delete(watcher);
      },
    });
    return new Response(body, { headers: { "content-type": "application/json" } });
  }
}
