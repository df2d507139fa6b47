/**
 * `lmcache`: LMCache's two-hop (production-stack's disaggregated prefill). On the wire it is
 * the `http` protocol: the prefill stores the KV in LMCache, the decode finds it there by the
 * prompt's block hashes. Upstream maps `lmcache` to its HTTP connector too.
 *
 * @module
 */
import { HttpConnector } from "./http.ts";

/**
 * The `lmcache` connector.
 *
 * @example
 * ```ts
 * import { LmcacheConnector } from "./lmcache.ts";
 * new LmcacheConnector().type; // "lmcache"
 * ```
 */
export class LmcacheConnector extends HttpConnector {
  override readonly type = "lmcache" as const;
}
