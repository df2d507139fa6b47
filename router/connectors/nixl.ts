/**
 * `nixl`: vLLM's NixlConnector, as vLLM's own proxy drives it (peer-routers §3.1).
 *
 * 1. Prefill (not streamed, one token) with
 *    `kv_transfer_params: {do_remote_decode: true, do_remote_prefill: false, remote_engine_id:
 *    null, remote_block_ids: null, remote_host: null, remote_port: null}`.
 * 2. The prefill answers with its own `kv_transfer_params` (engine id, block ids, side-channel
 *    host and port, …), passed to the decode verbatim, except that `remote_host` becomes the
 *    prefill pod's IP when the engine answered a loopback or unspecified address (vLLM's default
 *    is `localhost`), or nothing, as AIBrix and production-stack do. Upstream Kthena forwards it
 *    unchanged.
 * 3. The decode (the client's body) streams back.
 *
 * The prefill's params are parsed losslessly: integers beyond 2^53 (request or block ids of
 * other NIXL-shaped connectors) reach the decode digit for digit.
 *
 * The prefill keeps the blocks until a decode engine reads them, or for
 * `VLLM_NIXL_ABORT_REQUEST_TIMEOUT` (480 s). A decode engine that takes the request frees them
 * either way (it reads them; aborted before that, vLLM's `request_finished` still notifies the
 * prefill), but one that refuses it (a 4xx from validation, such as a prompt plus `max_tokens`
 * beyond its context, or a 5xx) never enters the engine, and vLLM has no API to free them
 * otherwise. So after a refused decode the connector sends that decode pod a minimal request
 * with the same `kv_transfer_params` (the prefill's body: one token, not streamed), in the
 * background: the engine reads the blocks and the prefill frees them. A decode that cannot be
 * reached at all is retried, with the same params and the client's body, on the other decode
 * pods of its PD group ({@linkcode PdAttempt.decodeAlternates}) before the attempt fails.
 *
 * @module
 */
import type { Endpoint } from "../datastore/endpoint.ts";
import type { JsonObject } from "../proxy/bodies.ts";
import { type Failure, readLegText } from "../proxy/leg.ts";
import { parseJsonLossless } from "../proxy/lossless_json.ts";
import type { KvConnector, PdAttempt, PdResult } from "./connector.ts";
import { runSequential, sendPdLeg } from "./connector.ts";

/**
 * The `kv_transfer_params` of a prefill request.
 *
 * @example
 * ```ts
 * import { PREFILL_KV_TRANSFER_PARAMS } from "./nixl.ts";
 * PREFILL_KV_TRANSFER_PARAMS.do_remote_decode; // true
 * ```
 */
export const PREFILL_KV_TRANSFER_PARAMS = Object.freeze({
  do_remote_decode: true,
  do_remote_prefill: false,
  remote_engine_id: null,
  remote_block_ids: null,
  remote_host: null,
  remote_port: null,
});

const UNROUTABLE_HOSTS = new Set(["", "localhost", "0.0.0.0", "::", "127.0.0.1", "::1"]);

/**
 * The decode's `kv_transfer_params`, from the prefill's response text.
 *
 * @param prefillResponse The prefill engine's JSON answer.
 * @param prefillAddress The prefill pod's IP.
 * @returns The params, or `null` when the prefill sent none (the decode then prefills locally).
 *
 * @example
 * ```ts
 * import { decodeKvTransferParams } from "./nixl.ts";
 * decodeKvTransferParams('{"kv_transfer_params":{"remote_host":"localhost","remote_port":5600}}', "10.0.0.5");
 * // { remote_host: "10.0.0.5", remote_port: 5600 }
 * ```
 */
export function decodeKvTransferParams(
  prefillResponse: string,
  prefillAddress: string,
): JsonObject | null {
  let params: unknown;
  try {
    params = (parseJsonLossless(prefillResponse) as { kv_transfer_params?: unknown })
      ?.kv_transfer_params;
  } catch {
    return null;
  }
  if (params === null || typeof params !== "object" || Array.isArray(params)) return null;
  const out = { ...params as JsonObject };
  const host = out.remote_host;
  if (
    host === undefined || host === null || (typeof host === "string" && UNROUTABLE_HOSTS.has(host))
  ) {
    out.remote_host = prefillAddress;
  }
  return out;
}

/**
 * The `nixl` connector.
 *
 * @example
 * ```ts
 * import { NixlConnector } from "./nixl.ts";
 * new NixlConnector().type; // "nixl"
 * ```
 */
export class NixlConnector implements KvConnector {
  readonly type: "nixl" | "mooncake" = "nixl";

  async run(a: PdAttempt): Promise<PdResult> {
    let params: JsonObject | null = null;
    const result = await runSequential(a, {
      prefill: () =>
        JSON.stringify({ ...a.prefillBody, kv_transfer_params: PREFILL_KV_TRANSFER_PARAMS }),
      decode: (prefillResponse) => {
        params = decodeKvTransferParams(prefillResponse, a.pair.prefill.address);
        return JSON.stringify({ ...a.decodeBody, kv_transfer_params: params });
      },
    });
    if (result.ok || result.failure.leg !== "decode" || params === null) return result;
    if (result.failure.kind === "status") releasePrefillBlocks(a, a.pair.decode, params);
    else if (result.failure.kind === "connect") {
      return await this.#elsewhere(a, params, result.failure) ?? result;
    }
    return result;
  }

  /** The decode on the group's other decode pods, same params; undefined if none answered. */
  async #elsewhere(
    a: PdAttempt,
    params: JsonObject,
    first: Failure,
  ): Promise<PdResult | undefined> {
    const body = () => JSON.stringify({ ...a.decodeBody, kv_transfer_params: params });
    for (const decode of a.decodeAlternates ?? []) {
      if (decode.key === first.endpoint.key || decode.pdGroup !== a.pair.decode.pdGroup) continue;
      if (a.signal.aborted) return undefined;
      const controller = new AbortController();
      const leg = await sendPdLeg(
        a,
        "decode",
        decode,
        body,
        AbortSignal.any([a.signal, controller.signal]),
      );
      if (leg.ok) {
        return {
          ok: true,
          response: leg.res,
          leg: "decode",
          endpoint: decode,
          endDecode: leg.end,
          abort: () => controller.abort(),
        };
      }
      if (leg.failure.kind === "status") {
        releasePrefillBlocks(a, decode, params);
        return { ok: false, failure: leg.failure };
      }
    }
    return undefined;
  }
}

/** Longest a release request may take (it reads the blocks and makes one token). */
const RELEASE_TIMEOUT_MS = 60_000;

/**
 * Has a decode pod read (and so free) the prefill's blocks: the prefill's body, one token, with
 * the same `kv_transfer_params`; in the background, outcome ignored.
 */
function releasePrefillBlocks(a: PdAttempt, decode: Endpoint, params: JsonObject): void {
  const signal = AbortSignal.timeout(RELEASE_TIMEOUT_MS);
  const body = () => JSON.stringify({ ...a.prefillBody, kv_transfer_params: params });
  void (async () => {
    const leg = await sendPdLeg(a, "decode", decode, body, signal);
    if (!leg.ok) return;
    try {
      await readLegText(leg.res, "decode", decode, signal);
    } finally {
      leg.end(leg.res.status);
    }
  })().catch(() => {});
}
