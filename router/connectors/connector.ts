/**
 * The KV-connector seam: one prefill/decode attempt on one pair of pods, in the wire protocol
 * of the engines' KV connector. A connector only decides what each leg carries and in which
 * order the legs go; retries, streaming and accounting live in the proxy.
 *
 * Sequential connectors (http, lmcache, nixl, mooncake) share {@linkcode runSequential}; the
 * SGLang connector sends both legs at once.
 *
 * @module
 */
import type { KvConnectorType } from "@kthena/shared/api";
import type { Endpoint } from "../datastore/endpoint.ts";
import type { AttemptResult } from "../proxy/attempts.ts";
import type { EngineClient, LegTimeouts } from "../proxy/engine_client.ts";
import type { JsonObject } from "../proxy/bodies.ts";
import type { HeaderPairs } from "../proxy/forward_headers.ts";
import { type Failure, failureOfError, readLegText, sendLeg, statusFailure } from "../proxy/leg.ts";
import type { PdPair } from "../scheduler/scheduler.ts";

/** Bookkeeping around legs: in-flight counts and leg-duration metrics. */
export interface LegHooks {
  /**
   * A leg is being sent; returns the function to call once with the engine's status (or
   * `undefined` when there was no response) when the leg ends.
   */
  start(role: "prefill" | "decode", endpoint: Endpoint): (status: number | undefined) => void;
}

/**
 * One attempt on one pair: what a connector gets.
 *
 * @example
 * ```ts
 * import type { PdAttempt } from "./connector.ts";
 * const legBody = (a: PdAttempt) => JSON.stringify({ ...a.prefillBody, my_field: a.pair.prefill.address });
 * ```
 */
export interface PdAttempt {
  /** The pods. */
  readonly pair: PdPair;
  /** Path and query of the client request. */
  readonly path: string;
  /** Headers for both legs. */
  readonly headers: HeaderPairs;
  /** The prefill leg's body before the connector's fields (no stream, max_tokens 1). */
  readonly prefillBody: JsonObject;
  /** The decode leg's body before the connector's fields (the client's, usage injected). */
  readonly decodeBody: JsonObject;
  /** Aborts the attempt (client gone). */
  readonly signal: AbortSignal;
  /** The engine client (connection pool). */
  readonly client: EngineClient;
  /** Per-leg timeouts (first body byte, between chunks). */
  readonly timeouts: LegTimeouts;
  /** Leg bookkeeping. */
  readonly legs: LegHooks;
  /**
   * Other decode pods of the pair's PD group, best first. A NIXL decode that cannot be reached
   * is retried on them with the same `kv_transfer_params` (the prefill's blocks are still held
   * for whichever decode reads them). None: no such retry.
   */
  readonly decodeAlternates?: readonly Endpoint[];
}

/** The outcome of {@linkcode KvConnector.run}: the decode's 2xx response, or why not. */
export type PdResult = AttemptResult;

/**
 * A KV connector.
 *
 * @example
 * ```ts
 * import type { KvConnector, PdAttempt, PdResult } from "./connector.ts";
 * import { runSequential } from "./connector.ts";
 * const plain: KvConnector = {
 *   type: "http",
 *   run: (a: PdAttempt): Promise<PdResult> =>
 *     runSequential(a, { prefill: () => JSON.stringify(a.prefillBody), decode: () => JSON.stringify(a.decodeBody) }),
 * };
 * ```
 */
export interface KvConnector {
  /** The `kvConnector.type` it implements. */
  readonly type: KvConnectorType;
  /** Runs one attempt. */
  run(attempt: PdAttempt): Promise<PdResult>;
}

/** How a sequential connector builds its two bodies. */
export interface SequentialBodies {
  /** The prefill leg's body text. */
  prefill(): string;
  /** The decode leg's body text, given the prefill's response text. */
  decode(prefillResponse: string): string;
}

/** A leg that got a 2xx answer, with the call that ends its bookkeeping. */
export interface SentLeg {
  readonly ok: true;
  readonly res: Response;
  /** Ends the leg's bookkeeping; call once, with the status (or `undefined`: no answer). */
  readonly end: (status: number | undefined) => void;
}

/**
 * Sends one leg of a PD attempt with its bookkeeping: a 2xx answer comes back with the call
 * that ends the bookkeeping (the caller reads the body first); any other outcome comes back as
 * a failure with the bookkeeping already ended. `body` is made after the leg has started, so a
 * body that cannot be made fails the leg like an engine would.
 *
 * @example
 * ```ts ignore
 * import { sendPdLeg } from "./connector.ts";
 * const leg = await sendPdLeg(attempt, "decode", attempt.pair.decode, () => "{}", attempt.signal);
 * if (leg.ok) leg.end(leg.res.status);
 * ```
 */
export async function sendPdLeg(
  a: PdAttempt,
  role: "prefill" | "decode",
  endpoint: Endpoint,
  body: () => string,
  signal: AbortSignal,
): Promise<SentLeg | { readonly ok: false; readonly failure: Failure }> {
  const end = a.legs.start(role, endpoint);
  try {
    const res = await sendLeg({
      leg: role,
      client: a.client,
      endpoint,
      path: a.path,
      headers: a.headers,
      body: body(),
      signal,
      timeouts: a.timeouts,
    });
    if (res.ok) return { ok: true, res, end };
    const failure = await statusFailure(res, role, endpoint);
    end(res.status);
    return { ok: false, failure };
  } catch (e) {
    end(undefined);
    return { ok: false, failure: failureOfError(e, role, endpoint, signal) };
  }
}

/**
 * Prefill, wait for its whole (non-streamed) answer, then send the decode: the http, lmcache,
 * nixl and mooncake protocols.
 *
 * @example
 * ```ts ignore
 * import { runSequential } from "./connector.ts";
 * const result = await runSequential(attempt, { prefill: () => "{}", decode: () => "{}" });
 * ```
 */
export async function runSequential(a: PdAttempt, bodies: SequentialBodies): Promise<PdResult> {
  const { prefill, decode } = a.pair;
  const controller = new AbortController();
  const signal = AbortSignal.any([a.signal, controller.signal]);
  const abort = () => controller.abort();

  const first = await sendPdLeg(a, "prefill", prefill, bodies.prefill, signal);
  if (!first.ok) return first;
  let prefillText: string;
  try {
    prefillText = await readLegText(first.res, "prefill", prefill, signal);
    first.end(first.res.status);
  } catch (e) {
    first.end(undefined);
    return { ok: false, failure: failureOfError(e, "prefill", prefill, signal) };
  }

  const second = await sendPdLeg(a, "decode", decode, () => bodies.decode(prefillText), signal);
  if (!second.ok) return second;
  return {
    ok: true,
    response: second.res,
    leg: "decode",
    endpoint: decode,
    endDecode: second.end,
    abort,
  };
}
