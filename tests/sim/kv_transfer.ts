/**
 * What every PD connector moves between engines, and how a receiver checks it.
 *
 * The simulator does not move tensors; a "KV transfer" moves the chained block hashes of the
 * prompt (the identity of the KV content). The receiver compares them with the hashes of its
 * own tokenization of the request, so a decode engine paired with the wrong prefill request
 * (another prompt, another adapter, another model's tokenizer) fails loudly instead of
 * decoding garbage silently.
 *
 * @module
 */

/** KV content received from a peer. */
export interface RemoteKv {
  /** Chained hashes of the peer's full prompt blocks. */
  blockHashes: number[];
  /** Prompt length on the peer. */
  numTokens: number;
  /** Peer engine id. */
  engineId: string;
  /** Peer PD group ("" = none). */
  pdGroup: string;
  /** Peer block size. */
  blockSize: number;
}

/** Identity of the local engine, sent to peers. */
export interface PeerIdentity {
  /** Engine id. */
  engineId: string;
  /** PD group ("" = none). */
  pdGroup: string;
  /** Refuse peers of another group. */
  refuseCrossGroup: boolean;
  /** Block size. */
  blockSize: number;
}

/**
 * A failed KV transfer (unreachable peer, stale request, refused group, content mismatch).
 *
 * @example
 * ```ts
 * import { KvTransferError } from "./kv_transfer.ts";
 * console.log(new KvTransferError("refused", "other group").reason); // "refused"
 * ```
 */
export class KvTransferError extends Error {
  /** `failed` (transport or peer error) or `refused` (PD-group policy). */
  readonly reason: "failed" | "refused";

  /**
   * @param reason Category for metrics.
   * @param message Details.
   */
  constructor(reason: "failed" | "refused", message: string) {
    super(message);
    this.name = "KvTransferError";
    this.reason = reason;
  }
}

/**
 * Tells whether two engines may exchange KV under the PD-group policy: refused when either
 * side asks for it and both have a group and the groups differ.
 *
 * @example
 * ```ts
 * import { crossGroupRefused } from "./kv_transfer.ts";
 * console.log(crossGroupRefused("a", "b", true), crossGroupRefused("a", "b", false)); // true false
 * ```
 */
export function crossGroupRefused(ownGroup: string, peerGroup: string, refuse: boolean): boolean {
  return refuse && ownGroup !== "" && peerGroup !== "" && ownGroup !== peerGroup;
}

/**
 * Checks received KV against the local prompt.
 *
 * @param remote What the peer sent.
 * @param self Local identity (group policy, block size).
 * @param ownHashes Local block hashes of the prompt.
 * @param promptTokens Local prompt length.
 * @throws {KvTransferError} On group refusal or any mismatch.
 *
 * @example
 * ```ts
 * import { verifyRemoteKv } from "./kv_transfer.ts";
 * const self = { engineId: "d", pdGroup: "", refuseCrossGroup: false, blockSize: 16 };
 * verifyRemoteKv({ blockHashes: [1], numTokens: 20, engineId: "p", pdGroup: "", blockSize: 16 }, self, [1], 20);
 * ```
 */
export function verifyRemoteKv(
  remote: RemoteKv,
  self: PeerIdentity,
  ownHashes: readonly number[],
  promptTokens: number,
): void {
  if (crossGroupRefused(self.pdGroup, remote.pdGroup, self.refuseCrossGroup)) {
    throw new KvTransferError(
      "refused",
      `refusing KV from engine ${remote.engineId} of PD group "${remote.pdGroup}" (own group "${self.pdGroup}")`,
    );
  }
  if (remote.blockSize !== self.blockSize) {
    throw new KvTransferError(
      "failed",
      `block size mismatch: peer ${remote.blockSize}, own ${self.blockSize}`,
    );
  }
  const same = remote.numTokens === promptTokens &&
    remote.blockHashes.length === ownHashes.length &&
    remote.blockHashes.every((h, i) => h === ownHashes[i]);
  if (!same) {
    throw new KvTransferError(
      "failed",
      `KV content mismatch: peer ${remote.engineId} holds a different prompt ` +
        `(${remote.numTokens} tokens, ${remote.blockHashes.length} blocks; own ${promptTokens} tokens, ${ownHashes.length} blocks)`,
    );
  }
}

/**
 * Parses a peer's JSON payload into {@linkcode RemoteKv}.
 *
 * @param body Parsed JSON from the peer.
 * @returns The payload.
 * @throws {KvTransferError} When fields are missing.
 *
 * @example
 * ```ts
 * import { parseRemoteKv } from "./kv_transfer.ts";
 * const kv = parseRemoteKv({ block_hashes: [1], num_tokens: 3, engine_id: "p", pd_group: "", block_size: 16 });
 * console.log(kv.numTokens); // 3
 * ```
 */
export function parseRemoteKv(body: unknown): RemoteKv {
  const b = (body ?? {}) as Record<string, unknown>;
  if (
    !Array.isArray(b.block_hashes) || typeof b.num_tokens !== "number" ||
    typeof b.engine_id !== "string" || typeof b.block_size !== "number"
  ) {
    throw new KvTransferError("failed", "malformed KV payload from peer");
  }
  return {
    blockHashes: b.block_hashes.map(Number),
    numTokens: b.num_tokens,
    engineId: b.engine_id,
    pdGroup: typeof b.pd_group === "string" ? b.pd_group : "",
    blockSize: b.block_size,
  };
}

/**
 * Serialises a payload for the wire (snake_case, as the side channels speak).
 *
 * @example
 * ```ts
 * import { remoteKvJson } from "./kv_transfer.ts";
 * console.log(remoteKvJson({ blockHashes: [], numTokens: 0, engineId: "p", pdGroup: "g", blockSize: 16 }).pd_group); // "g"
 * ```
 */
export function remoteKvJson(kv: RemoteKv): Record<string, unknown> {
  return {
    block_hashes: kv.blockHashes,
    num_tokens: kv.numTokens,
    engine_id: kv.engineId,
    pd_group: kv.pdGroup,
    block_size: kv.blockSize,
  };
}

/**
 * `fetch` with a wall-clock timeout and a caller signal, mapping failures to
 * {@linkcode KvTransferError}. The body is read as JSON; non-2xx answers become errors that
 * carry the peer's message.
 *
 * @example
 * ```ts ignore
 * import { fetchPeerJson } from "./kv_transfer.ts";
 * await fetchPeerJson("http://127.0.0.1:5600/nixl/info", { method: "GET" }, 1000);
 * ```
 */
export async function fetchPeerJson(
  url: string,
  init: RequestInit,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<unknown> {
  const signals = [AbortSignal.timeout(Math.max(1, timeoutMs))];
  if (signal !== undefined) signals.push(signal);
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.any(signals) });
    text = await res.text();
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new KvTransferError("failed", `peer ${url} unreachable: ${(err as Error).message}`);
  }
  let body: unknown = undefined;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const message = (body as { error?: { message?: string } } | undefined)?.error?.message ?? text;
    throw new KvTransferError(
      res.status === 403 ? "refused" : "failed",
      `peer ${url} answered ${res.status}: ${message}`,
    );
  }
  return body;
}
