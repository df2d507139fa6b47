/**
 * vLLM NixlConnector semantics (also vllm-ascend's MooncakeConnector, which has the same shape).
 *
 * Prefill side: a request with `kv_transfer_params.do_remote_decode: true` that finishes with
 * `length` keeps its KV blocks and returns
 * `{do_remote_prefill: true, do_remote_decode: false, remote_block_ids: [[…]], remote_engine_id,
 * remote_request_id, remote_host, remote_port, tp_size}`. The blocks stay held until a decode
 * engine reads them through the side channel, releases them, or `--kv-hold-timeout-ms` passes.
 *
 * Decode side: a request with `do_remote_prefill: true` and all of `remote_engine_id`,
 * `remote_request_id`, `remote_host`, `remote_port`, `remote_block_ids` reads the blocks from
 * `http://remote_host:remote_port` (the simulator's side channel standing in for NIXL's ZMQ
 * handshake + RDMA read). With any field missing the params are invalid and the request is
 * prefilled locally, as vLLM does ("Got invalid KVTransferParams").
 *
 * Side-channel endpoints (served by the prefill engine):
 * - `GET /nixl/info` → `{engine_id, pd_group, block_size, tp_size}` (the handshake);
 * - `POST /nixl/read` `{remote_engine_id, remote_request_id, remote_block_ids, requester_engine_id,
 *   requester_pd_group}` → the prompt's block hashes; frees the blocks. 404 for an unknown or
 *   expired request (stale pairing), 409 for another engine id, 422 for other block ids,
 *   403 for a refused PD group;
 * - `POST /nixl/release` `{remote_engine_id, remote_request_id}` → frees without reading.
 *
 * @module
 */

import { Hono } from "hono";
import type { KvCache, KvSequence } from "./kv_cache.ts";
import {
  crossGroupRefused,
  fetchPeerJson,
  KvTransferError,
  parseRemoteKv,
  type PeerIdentity,
  type RemoteKv,
  remoteKvJson,
} from "./kv_transfer.ts";

/** Decode-side view of valid remote-prefill params. */
export interface NixlRemoteParams {
  /** Prefill engine id. */
  remoteEngineId: string;
  /** Prefill-side request id. */
  remoteRequestId: string;
  /** Side-channel host of the prefill. */
  remoteHost: string;
  /** Side-channel port of the prefill. */
  remotePort: number;
  /** Block ids on the prefill (flattened over KV-cache groups). */
  remoteBlockIds: number[];
}

/** What a request's `kv_transfer_params` ask of this engine. */
export type NixlDirective =
  | { kind: "none" }
  | { kind: "prefill" }
  | { kind: "decode"; params: NixlRemoteParams }
  | { kind: "invalid"; reason: string };

const REQUIRED = [
  "remote_engine_id",
  "remote_request_id",
  "remote_host",
  "remote_port",
  "remote_block_ids",
];

function flattenIds(value: unknown): number[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: number[] = [];
  for (const v of value) {
    if (Array.isArray(v)) {
      for (const x of v) if (typeof x === "number") out.push(x);
    } else if (typeof v === "number") out.push(v);
    else return undefined;
  }
  return out;
}

/**
 * Interprets `kv_transfer_params`.
 *
 * @param raw The request's `kv_transfer_params` (any JSON).
 * @returns What to do.
 *
 * @example
 * ```ts
 * import { parseNixlParams } from "./pd_nixl.ts";
 * console.log(parseNixlParams({ do_remote_decode: true }).kind); // "prefill"
 * console.log(parseNixlParams({ do_remote_prefill: true, remote_block_ids: [[1]] }).kind); // "invalid"
 * ```
 */
export function parseNixlParams(raw: unknown): NixlDirective {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) return { kind: "none" };
  const p = raw as Record<string, unknown>;
  if (p.do_remote_prefill === true) {
    const missing = REQUIRED.filter((k) => p[k] === undefined || p[k] === null);
    if (missing.length > 0) return { kind: "invalid", reason: `missing ${missing.join(", ")}` };
    const port = Number(p.remote_port);
    const ids = flattenIds(p.remote_block_ids);
    if (!Number.isInteger(port) || port <= 0 || port > 65535) {
      return { kind: "invalid", reason: "remote_port is not a port" };
    }
    if (ids === undefined) {
      return { kind: "invalid", reason: "remote_block_ids is not a list of ids" };
    }
    return {
      kind: "decode",
      params: {
        remoteEngineId: String(p.remote_engine_id),
        remoteRequestId: String(p.remote_request_id),
        remoteHost: String(p.remote_host),
        remotePort: port,
        remoteBlockIds: ids,
      },
    };
  }
  if (p.do_remote_decode === true) return { kind: "prefill" };
  return { kind: "none" };
}

/** Options of {@linkcode NixlPrefillStore}. */
export interface NixlPrefillStoreOptions {
  /** The KV cache holding the blocks. */
  kv: KvCache;
  /** Own identity. */
  identity: PeerIdentity;
  /** Advertised side-channel host. */
  host: string;
  /** Advertised side-channel port (set once the side channel listens). */
  port: number;
  /** Advertised tensor-parallel size. */
  tpSize: number;
  /** Wall-clock hold timeout. */
  holdTimeoutMs: number;
  /** Called after blocks were freed (lets the scheduler admit waiting requests). */
  onFreed: () => void;
}

interface Hold {
  seq: KvSequence;
  promptTokens: number;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Prefill side: holds finished requests' blocks for their decode engine.
 *
 * @example
 * ```ts
 * import { KvCache } from "./kv_cache.ts";
 * import { NixlPrefillStore } from "./pd_nixl.ts";
 * const kv = new KvCache({ numBlocks: 4, blockSize: 4, enablePrefixCaching: true });
 * const store = new NixlPrefillStore({
 *   kv, identity: { engineId: "p", pdGroup: "", refuseCrossGroup: false, blockSize: 4 },
 *   host: "127.0.0.1", port: 5600, tpSize: 1, holdTimeoutMs: 1000, onFreed() {},
 * });
 * console.log(store.numHeld); // 0
 * store.close();
 * ```
 */
export class NixlPrefillStore {
  readonly #o: NixlPrefillStoreOptions;
  readonly #holds = new Map<string, Hold>();
  /** Reads served so far (observability for tests). */
  reads = 0;
  /** Holds that expired unread. */
  expired = 0;

  /** @param options Cache, identity, advertised address and timeout. */
  constructor(options: NixlPrefillStoreOptions) {
    this.#o = options;
  }

  /** The advertised side-channel port. */
  set port(value: number) {
    this.#o.port = value;
  }

  /** Requests whose blocks are held. */
  get numHeld(): number {
    return this.#holds.size;
  }

  /** Blocks held for decode engines. */
  get heldBlocks(): number {
    let n = 0;
    for (const h of this.#holds.values()) n += h.seq.blockIds.length;
    return n;
  }

  /**
   * Keeps a finished request's blocks and returns the `kv_transfer_params` of its response.
   *
   * @param requestId Prefill-side request id (becomes `remote_request_id`).
   * @param seq The request's blocks.
   * @param promptTokens Prompt length.
   */
  hold(requestId: string, seq: KvSequence, promptTokens: number): Record<string, unknown> {
    const timer = setTimeout(() => {
      if (this.#holds.get(requestId)?.timer === timer) {
        this.expired++;
        this.#free(requestId);
      }
    }, this.#o.holdTimeoutMs);
    this.#holds.set(requestId, { seq, promptTokens, timer });
    return {
      do_remote_prefill: true,
      do_remote_decode: false,
      remote_block_ids: [[...seq.blockIds]],
      remote_engine_id: this.#o.identity.engineId,
      remote_request_id: requestId,
      remote_host: this.#o.host,
      remote_port: this.#o.port,
      tp_size: this.#o.tpSize,
    };
  }

  /** Frees every hold (shutdown). */
  close(): void {
    for (const id of [...this.#holds.keys()]) this.#free(id);
  }

  #free(requestId: string): boolean {
    const h = this.#holds.get(requestId);
    if (h === undefined) return false;
    clearTimeout(h.timer);
    this.#holds.delete(requestId);
    this.#o.kv.free(h.seq);
    this.#o.onFreed();
    return true;
  }

  #check(body: Record<string, unknown>): { status: number; message: string } | undefined {
    const id = this.#o.identity;
    if (body.remote_engine_id !== id.engineId) {
      return {
        status: 409,
        message: `engine id mismatch: this side channel serves engine ${id.engineId}, not ${
          String(body.remote_engine_id)
        }`,
      };
    }
    const peerGroup = typeof body.requester_pd_group === "string" ? body.requester_pd_group : "";
    if (crossGroupRefused(id.pdGroup, peerGroup, id.refuseCrossGroup)) {
      return {
        status: 403,
        message:
          `cross-group transfer refused: PD group "${id.pdGroup}" does not serve group "${peerGroup}"`,
      };
    }
    return undefined;
  }

  /** Handles `POST /nixl/read`. */
  read(body: Record<string, unknown>): { status: number; body: unknown } {
    const refused = this.#check(body);
    if (refused !== undefined) {
      return { status: refused.status, body: { error: { message: refused.message } } };
    }
    const requestId = String(body.remote_request_id);
    const h = this.#holds.get(requestId);
    if (h === undefined) {
      return {
        status: 404,
        body: {
          error: { message: `unknown or expired remote_request_id ${requestId} (stale pairing?)` },
        },
      };
    }
    const ids = flattenIds(body.remote_block_ids) ?? [];
    if (ids.length !== h.seq.blockIds.length || ids.some((b, i) => b !== h.seq.blockIds[i])) {
      return {
        status: 422,
        body: { error: { message: `remote_block_ids do not match request ${requestId}` } },
      };
    }
    const full = Math.floor(h.promptTokens / this.#o.kv.blockSize);
    const kv: RemoteKv = {
      blockHashes: h.seq.hashes.slice(0, full),
      numTokens: h.promptTokens,
      engineId: this.#o.identity.engineId,
      pdGroup: this.#o.identity.pdGroup,
      blockSize: this.#o.kv.blockSize,
    };
    this.reads++;
    this.#free(requestId);
    return { status: 200, body: remoteKvJson(kv) };
  }

  /** Handles `POST /nixl/release`. */
  release(body: Record<string, unknown>): { status: number; body: unknown } {
    if (body.remote_engine_id !== this.#o.identity.engineId) {
      return { status: 409, body: { error: { message: "engine id mismatch" } } };
    }
    const freed = this.#free(String(body.remote_request_id));
    return { status: freed ? 200 : 404, body: { released: freed } };
  }

  /** Handles `GET /nixl/info`. */
  info(): Record<string, unknown> {
    return {
      engine_id: this.#o.identity.engineId,
      pd_group: this.#o.identity.pdGroup,
      block_size: this.#o.kv.blockSize,
      tp_size: this.#o.tpSize,
    };
  }
}

/**
 * The side-channel routes of a prefill engine.
 *
 * @param store The prefill store.
 * @returns A Hono app to mount at `/`.
 *
 * @example
 * ```ts ignore
 * app.route("/", nixlRoutes(store));
 * ```
 */
export function nixlRoutes(store: NixlPrefillStore): Hono {
  const app = new Hono();
  app.get("/nixl/info", (c) => c.json(store.info()));
  app.post("/nixl/read", async (c) => {
    const r = store.read(await c.req.json<Record<string, unknown>>());
    return c.json(r.body as Record<string, unknown>, r.status as 200);
  });
  app.post("/nixl/release", async (c) => {
    const r = store.release(await c.req.json<Record<string, unknown>>());
    return c.json(r.body as Record<string, unknown>, r.status as 200);
  });
  return app;
}

function baseUrl(p: NixlRemoteParams): string {
  const host = p.remoteHost.includes(":") ? `[${p.remoteHost}]` : p.remoteHost;
  return `http://${host}:${p.remotePort}`;
}

/**
 * Decode side: handshakes with the prefill's side channel and reads the blocks.
 *
 * @param params Remote params from the request.
 * @param self Own identity.
 * @param timeoutMs Wall-clock timeout per call.
 * @param signal Aborts the read (client gone).
 * @returns The KV content.
 * @throws {KvTransferError} When the peer is unreachable, stale, refused or mismatched.
 *
 * @example
 * ```ts ignore
 * const kv = await readNixlKv(params, identity, 30_000, signal);
 * ```
 */
export async function readNixlKv(
  params: NixlRemoteParams,
  self: PeerIdentity,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<RemoteKv> {
  const url = baseUrl(params);
  const info =
    (await fetchPeerJson(`${url}/nixl/info`, { method: "GET" }, timeoutMs, signal) ?? {}) as Record<
      string,
      unknown
    >;
  if (info.engine_id !== params.remoteEngineId) {
    throw new KvTransferError(
      "failed",
      `stale pairing: ${url} serves engine ${
        String(info.engine_id)
      }, params name ${params.remoteEngineId}`,
    );
  }
  const peerGroup = typeof info.pd_group === "string" ? info.pd_group : "";
  if (crossGroupRefused(self.pdGroup, peerGroup, self.refuseCrossGroup)) {
    await releaseNixlKv(params, timeoutMs).catch(() => {});
    throw new KvTransferError(
      "refused",
      `refusing KV from engine ${params.remoteEngineId} of PD group "${peerGroup}" (own group "${self.pdGroup}")`,
    );
  }
  const body = await fetchPeerJson(
    `${url}/nixl/read`,
    {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        remote_engine_id: params.remoteEngineId,
        remote_request_id: params.remoteRequestId,
        remote_block_ids: params.remoteBlockIds,
        requester_engine_id: self.engineId,
        requester_pd_group: self.pdGroup,
      }),
    },
    timeoutMs,
    signal,
  );
  return parseRemoteKv(body);
}

/**
 * Decode side: tells the prefill to free the blocks without reading them (decode aborted).
 *
 * @example
 * ```ts ignore
 * await releaseNixlKv(params, 5000);
 * ```
 */
export async function releaseNixlKv(params: NixlRemoteParams, timeoutMs: number): Promise<void> {
  await fetchPeerJson(`${baseUrl(params)}/nixl/release`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      remote_engine_id: params.remoteEngineId,
      remote_request_id: params.remoteRequestId,
    }),
  }, timeoutMs);
}
