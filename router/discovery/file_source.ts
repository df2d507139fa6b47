/**
 * The file source: a directory (searched recursively) of YAML or JSON files holding ModelRoutes,
 * ModelServers and Pods (plain Kubernetes objects; `kind: List` works too), watched with
 * `Deno.watchFs` and reloaded on change.
 *
 * - A reload re-reads every file, diffs the result against what was delivered, and applies the
 *   difference as one batch: requests in flight keep the endpoints they hold, new requests see
 *   the new state.
 * - A file that does not parse or validate is reported (each problem names its field, via
 *   `parseResource`) and keeps contributing its last good objects; fixing it applies it. A file
 *   that disappears takes its objects with it.
 * - Objects without `metadata.creationTimestamp` get the time they were first seen (in file and
 *   document order), which is what orders duplicate ModelRoutes, as the API server's would.
 * - Hidden files and editor leftovers (`.name`, `name~`, `*.swp`) are skipped. Other kinds are
 *   ignored with a warning.
 *
 * @module
 */
import { parseResource, readYamlDocuments, ResourceValidationError } from "@kthena/shared/api";
import type { ModelRoute, ModelServer } from "@kthena/shared/api";
import { objectKey, type Pod } from "../datastore/pod.ts";
import { type Logger, silentLogger } from "../log.ts";
import { isPodObject, parsePod } from "./pod_object.ts";
import {
  deleteEvent,
  type DiscoveryEvent,
  type DiscoveryKind,
  type DiscoverySink,
  type DiscoverySource,
  upsertEvent,
} from "./source.ts";

/** A delivered object. */
type Delivered =
  | { kind: "ModelRoute"; object: ModelRoute }
  | { kind: "ModelServer"; object: ModelServer }
  | { kind: "Pod"; object: Pod };

interface Entry {
  /** `Kind/namespace/name`. */
  id: string;
  key: string;
  item: Delivered;
  /** The object as parsed (before timestamp stamping), for change detection. */
  fingerprint: string;
}

interface FileState {
  text: string;
  entries: Entry[];
  error?: string;
}

/**
 * Options of {@linkcode FileSource}.
 *
 * @example
 * ```ts
 * import type { FileSourceOptions } from "./file_source.ts";
 * const options: FileSourceOptions = { dir: ".runtime/objects", debounceMs: 100 };
 * ```
 */
export interface FileSourceOptions {
  /** The directory. */
  readonly dir: string;
  /** Where problems are reported. */
  readonly log?: Logger;
  /** Quiet time after a change before reloading, ms. @default 50 */
  readonly debounceMs?: number;
  /** Watch for changes. @default true */
  readonly watch?: boolean;
}

const FILE_PATTERN = /\.(ya?ml|json)$/i;

function skipName(name: string): boolean {
  return name.startsWith(".") || name.endsWith("~") || name.endsWith(".swp");
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      if (skipName(e.name)) continue;
      const path = `${d}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if ((e.isFile || e.isSymlink) && FILE_PATTERN.test(e.name)) out.push(path);
    }
  };
  await walk(dir);
  return out.sort();
}

function parseObject(value: unknown): Delivered | undefined {
  if (isPodObject(value)) return { kind: "Pod", object: parsePod(value) };
  const kind = (value as { kind?: unknown } | null)?.kind;
  if (kind !== "ModelRoute" && kind !== "ModelServer") return undefined;
  const parsed = parseResource(value);
  return parsed.object.kind === "ModelRoute"
    ? { kind: "ModelRoute", object: parsed.object as unknown as ModelRoute }
    : { kind: "ModelServer", object: parsed.object as unknown as ModelServer };
}

/**
 * A {@linkcode DiscoverySource} reading a directory.
 *
 * @example
 * ```ts ignore
 * import { Datastore } from "../datastore/datastore.ts";
 * import { FileSource } from "./file_source.ts";
 * const store = new Datastore();
 * const source = new FileSource({ dir: ".runtime/objects" });
 * await source.start(store);
 * // … later
 * await source.stop();
 * ```
 */
export class FileSource implements DiscoverySource {
  readonly name = "files";
  readonly #dir: string;
  readonly #log: Logger;
  readonly #debounceMs: number;
  readonly #watch: boolean;
  readonly #files = new Map<string, FileState>();
  /** What the sink has, by id, with the fingerprint delivered. */
  readonly #delivered = new Map<
    string,
    { kind: DiscoveryKind; key: string; fingerprint: string }
  >();
  readonly #firstSeen = new Map<string, string>();
  #lastStamp = 0;
  #sink: DiscoverySink | undefined;
  #watcher: Deno.FsWatcher | undefined;
  #watchLoop: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #reloading: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  /** @param options Directory, logger, debounce, watch. */
  constructor(options: FileSourceOptions) {
    this.#dir = options.dir.replace(/\/+$/, "") || "/";
    this.#log = options.log ?? silentLogger;
    this.#debounceMs = options.debounceMs ?? 50;
    this.#watch = options.watch ?? true;
  }

  /** Current problems, by file path. */
  problems(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [path, state] of this.#files) if (state.error) out.set(path, state.error);
    return out;
  }

  async start(sink: DiscoverySink): Promise<void> {
    this.#sink = sink;
    const info = await Deno.stat(this.#dir);
    if (!info.isDirectory) throw new Error(`${this.#dir} is not a directory`);
    if (this.#watch) {
      this.#watcher = Deno.watchFs(this.#dir, { recursive: true });
      this.#watchLoop = this.#consume(this.#watcher);
    }
    await this.reload();
    sink.markSynced(this.name);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      this.#watcher?.close();
    } catch {
      // Already closed.
    }
    await this.#watchLoop;
    await this.#reloading;
  }

  /** Re-reads the directory now (also what a change triggers); runs one reload at a time. */
  reload(): Promise<void> {
    if (this.#reloading) {
      this.#again = true;
      return this.#reloading;
    }
    this.#reloading = (async () => {
      try {
        do {
          this.#again = false;
          await this.#reloadOnce();
        } while (this.#again && !this.#stopped);
      } finally {
        this.#reloading = undefined;
      }
    })();
    return this.#reloading;
  }

  async #consume(watcher: Deno.FsWatcher): Promise<void> {
    try {
      for await (const event of watcher) {
        if (this.#stopped) break;
        if (event.paths.every((p) => skipName(p.slice(p.lastIndexOf("/") + 1)))) continue;
        if (this.#timer !== undefined) clearTimeout(this.#timer);
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.reload().catch((e) => this.#log.error("reload failed", { error: String(e) }));
        }, this.#debounceMs);
      }
    } catch (e) {
      if (!this.#stopped) {
        this.#log.error("watching stopped", { dir: this.#dir, error: String(e) });
      }
    }
  }

  async #reloadOnce(): Promise<void> {
    let paths: string[];
    try {
      paths = await listFiles(this.#dir);
    } catch (e) {
      this.#log.error("cannot list the objects directory; keeping the current state", {
        dir: this.#dir,
        error: String(e),
      });
      return;
    }
    const seen = new Set(paths);
    for (const path of [...this.#files.keys()]) {
      if (!seen.has(path)) {
        this.#files.delete(path);
        this.#log.info("file removed", { file: path });
      }
    }
    for (const path of paths) {
      let text: string;
      try {
        text = await Deno.readTextFile(path);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) this.#files.delete(path);
        else this.#log.warn("cannot read file", { file: path, error: String(e) });
        continue;
      }
      const previous = this.#files.get(path);
      if (previous && previous.text === text) continue;
      this.#files.set(path, this.#parseFile(path, text, previous));
    }
    if (this.#stopped) return;
    this.#deliver();
  }

  #parseFile(path: string, text: string, previous: FileState | undefined): FileState {
    const entries: Entry[] = [];
    const problems: string[] = [];
    let docs: unknown[] = [];
    try {
      docs = readYamlDocuments(text);
    } catch (e) {
      problems.push(`YAML: ${(e as Error).message}`);
    }
    const objects: unknown[] = [];
    for (const doc of docs) {
      const d = doc as { kind?: unknown; items?: unknown };
      if (d?.kind === "List" && Array.isArray(d.items)) objects.push(...d.items);
      else objects.push(doc);
    }
    objects.forEach((value, index) => {
      try {
        const item = parseObject(value);
        if (!item) {
          const v = value as { kind?: unknown; apiVersion?: unknown } | null;
          this.#log.warn("ignoring object of a kind the router does not read", {
            file: path,
            index,
            kind: String(v?.kind ?? "(none)"),
          });
          return;
        }
        const key = objectKey(item.object);
        entries.push({
          id: `${item.kind}/${key}`,
          key,
          item,
          fingerprint: JSON.stringify(item.object),
        });
      } catch (e) {
        if (e instanceof ResourceValidationError) {
          problems.push(...e.problems.map((p) => `${e.subject} (document ${index + 1}): ${p}`));
        } else problems.push(`document ${index + 1}: ${(e as Error).message}`);
      }
    });
    if (problems.length === 0) {
      if (previous?.error) this.#log.info("file is valid again", { file: path });
      return { text, entries };
    }
    const error = problems.join("; ");
    this.#log.error("invalid objects file; keeping its last good objects", {
      file: path,
      problems,
    });
    return { text, entries: previous?.entries ?? [], error };
  }

  #deliver(): void {
    const wanted = new Map<string, Entry>();
    const owner = new Map<string, string>();
    for (const [path, state] of this.#files) {
      for (const entry of state.entries) {
        const other = owner.get(entry.id);
        if (other !== undefined) {
          this.#log.warn("object defined twice; the first file wins", {
            object: entry.id,
            kept: other,
            ignored: path,
          });
          continue;
        }
        owner.set(entry.id, path);
        wanted.set(entry.id, entry);
      }
    }
    const events: DiscoveryEvent[] = [];
    for (const [id, d] of this.#delivered) {
      if (!wanted.has(id)) {
        events.push(deleteEvent(d.kind, d.key));
        this.#delivered.delete(id);
        this.#firstSeen.delete(id);
      }
    }
    for (const [id, entry] of wanted) {
      const known = this.#delivered.get(id);
      if (known?.fingerprint === entry.fingerprint) continue;
      events.push(this.#upsert(id, entry));
      this.#delivered.set(id, {
        kind: entry.item.kind,
        key: entry.key,
        fingerprint: entry.fingerprint,
      });
    }
    if (events.length > 0) {
      this.#sink?.apply(events);
      this.#log.info("objects applied", { changes: events.length });
    }
  }

  #upsert(id: string, entry: Entry): DiscoveryEvent {
    let stamp = this.#firstSeen.get(id);
    if (stamp === undefined) {
      this.#lastStamp = Math.max(Date.now(), this.#lastStamp + 1);
      stamp = new Date(this.#lastStamp).toISOString();
      this.#firstSeen.set(id, stamp);
    }
    const item = entry.item;
    if (item.kind === "Pod") {
      const pod = item.object;
      const object = pod.metadata?.creationTimestamp === undefined
        ? { ...pod, metadata: { ...pod.metadata, creationTimestamp: stamp } }
        : pod;
      return upsertEvent("Pod", object);
    }
    const meta = item.object.metadata;
    const metadata = meta.creationTimestamp === undefined
      ? { ...meta, creationTimestamp: stamp }
      : meta;
    return item.kind === "ModelRoute"
      ? upsertEvent("ModelRoute", { ...item.object, metadata })
      : upsertEvent("ModelServer", { ...item.object, metadata });
  }
}
