/**
 * `http`: the plain two-hop. The prefill gets the client body with one output token and no
 * streaming; its answer is awaited and discarded; then the decode gets the client body. The
 * engines move KV by whatever means they share (or the decode recomputes it).
 *
 * @module
 */
import type { KvConnector, PdAttempt, PdResult } from "./connector.ts";
import { runSequential } from "./connector.ts";

/**
 * The `http` connector.
 *
 * @example
 * ```ts
 * import { HttpConnector } from "./http.ts";
 * new HttpConnector().type; // "http"
 * ```
 */
export class HttpConnector implements KvConnector {
  readonly type: "http" | "lmcache" = "http";

  run(a: PdAttempt): Promise<PdResult> {
    return runSequential(a, {
      prefill: () => JSON.stringify(a.prefillBody),
      decode: () => JSON.stringify(a.decodeBody),
    });
  }
}
