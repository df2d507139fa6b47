/**
 * `sglang`: SGLang's bootstrap protocol (peer-routers §3.2). Both legs carry the same random
 * 63-bit `bootstrap_room` and the prefill's `bootstrap_host` (pod IP) and `bootstrap_port`
 * (annotation `sglang.ai/bootstrap-port`, else SGLang's 8998), and both are in flight at once:
 * the prefill blocks until the decode has connected to its bootstrap server, so waiting for the
 * prefill first would deadlock.
 *
 * When either leg fails the other is cancelled at once. The attempt succeeds when the decode's
 * headers arrive; a prefill failure after that aborts the decode (the proxy then retries the
 * pair if nothing reached the client yet, or ends the stream with an error).
 *
 * @module
 */
import { annotationPort, PodAnnotations, SGLANG_DEFAULT_BOOTSTRAP_PORT } from "../datastore/pod.ts";
import { stringifyWithRawFields } from "../proxy/bodies.ts";
import { type Failure, LegError, readLegText } from "../proxy/leg.ts";
import { type KvConnector, type PdAttempt, type PdResult, sendPdLeg } from "./connector.ts";

/**
 * A random room id in [0, 2^63 − 1], as decimal text (too large for a JavaScript number).
 *
 * @example
 * ```ts
 * import { randomBootstrapRoom } from "./sglang.ts";
 * BigInt(randomBootstrapRoom()) < 2n ** 63n; // true
 * ```
 */
export function randomBootstrapRoom(): string {
  const words = crypto.getRandomValues(new BigUint64Array(1));
  return (words[0]! & 0x7fff_ffff_ffff_ffffn).toString();
}

/**
 * The `sglang` connector.
 *
 * @example
 * ```ts
 * import { SglangConnector } from "./sglang.ts";
 * new SglangConnector().type; // "sglang"
 * ```
 */
export class SglangConnector implements KvConnector {
  readonly type = "sglang" as const;

  /** @param room Room-id source (tests pin it). */
  constructor(private readonly room: () => string = randomBootstrapRoom) {}

  async run(a: PdAttempt): Promise<PdResult> {
    const { prefill, decode } = a.pair;
    const bootstrap = {
      bootstrap_host: JSON.stringify(prefill.address),
      bootstrap_port: String(
        annotationPort(prefill.pod, PodAnnotations.sglangBootstrapPort) ??
          SGLANG_DEFAULT_BOOTSTRAP_PORT,
      ),
      bootstrap_room: this.room(),
    };
    const prefillAbort = new AbortController();
    const decodeAbort = new AbortController();
    const abort = () => {
      prefillAbort.abort();
      decodeAbort.abort();
    };

    let prefillFailure: Failure | undefined;
    const prefillSignal = AbortSignal.any([a.signal, prefillAbort.signal]);
    // Started first (its bookkeeping and request go out before the decode's), never awaited
    // here: SGLang's prefill waits for the decode to join the room.
    const prefillDone = (async () => {
      const leg = await sendPdLeg(
        a,
        "prefill",
        prefill,
        () => stringifyWithRawFields(a.prefillBody, bootstrap),
        prefillSignal,
      );
      if (!leg.ok) prefillFailure = leg.failure;
      else {
        try {
          await readLegText(leg.res, "prefill", prefill, prefillSignal);
        } catch (e) {
          prefillFailure = e instanceof LegError
            ? e.failure
            : { kind: "connect", leg: "prefill", endpoint: prefill, message: String(e) };
        } finally {
          leg.end(leg.res.status);
        }
      }
      // The decode cannot finish without its prefill: cancel it.
      if (prefillFailure && !prefillAbort.signal.aborted) decodeAbort.abort();
    })();

    const leg = await sendPdLeg(
      a,
      "decode",
      decode,
      () => stringifyWithRawFields(a.decodeBody, bootstrap),
      AbortSignal.any([a.signal, decodeAbort.signal]),
    );
    if (!leg.ok) {
      // No answer from the decode: the prefill's failure, when there is one, is the cause.
      if (leg.failure.kind !== "status" && prefillFailure && !a.signal.aborted) {
        return { ok: false, failure: prefillFailure };
      }
      prefillAbort.abort();
      return leg;
    }
    return {
      ok: true,
      response: leg.res,
      leg: "decode",
      endpoint: decode,
      endDecode: leg.end,
      abort,
      prefillFailure: () => prefillFailure,
      prefillDone,
    };
  }
}
