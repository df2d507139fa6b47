/**
 * Which `POST` paths the router proxies. By default only inference endpoints: an engine's other
 * `/v1` endpoints change its state (vLLM's `/v1/load_lora_adapter` and
 * `/v1/unload_lora_adapter`) and must not be reachable by any client that can name a model.
 * The router configuration's `proxyPaths` adds paths (`/v1/*` restores upstream Kthena's
 * "every `/v1` path").
 *
 * @module
 */

/**
 * The inference endpoints proxied by default (`POST`, exact paths), as vLLM's and SGLang's
 * OpenAI servers name them:
 *
 * - `/v1/chat/completions`, `/v1/completions`: generation (prefill/decode when configured);
 * - `/v1/embeddings`: pooling models;
 * - `/v1/responses`: the Responses API;
 * - `/v1/rerank`, `/v1/score`: cross-encoder and reranker models;
 * - `/v1/messages`: the Anthropic Messages API vLLM serves.
 *
 * Not included: `/v1/audio/transcriptions` and `/v1/audio/translations` (multipart bodies; the
 * router reads the model from a JSON body, so they could not be routed anyway), and the
 * engines' tokenizer, LoRA, profiling, sleep and cache endpoints.
 *
 * @example
 * ```ts
 * import { INFERENCE_PATHS } from "./endpoints.ts";
 * INFERENCE_PATHS.includes("/v1/chat/completions"); // true
 * INFERENCE_PATHS.includes("/v1/load_lora_adapter"); // false
 * ```
 */
export const INFERENCE_PATHS: readonly string[] = Object.freeze([
  "/v1/chat/completions",
  "/v1/completions",
  "/v1/embeddings",
  "/v1/responses",
  "/v1/rerank",
  "/v1/score",
  "/v1/messages",
]);

/**
 * Whether a `proxyPaths` entry is well-formed: an absolute `/v1/` path without query,
 * fragment, dot segments or empty segments, optionally ending in `/*` (that prefix and
 * everything below it).
 *
 * @example
 * ```ts
 * import { isProxyPathPattern } from "./endpoints.ts";
 * isProxyPathPattern("/v1/load_lora_adapter"); // true
 * isProxyPathPattern("/v1/*"); // true
 * isProxyPathPattern("/rerank"); // false
 * ```
 */
export function isProxyPathPattern(pattern: string): boolean {
  if (!pattern.startsWith("/v1/")) return false;
  const path = pattern.endsWith("/*") ? pattern.slice(0, -2) : pattern;
  if (path === "/v1") return true;
  const segments = path.slice(1).split("/");
  return segments.every((s) => /^[A-Za-z0-9_\-~]+$/.test(s)) && !path.includes("*");
}

/**
 * The set of proxied paths: the inference endpoints plus configured patterns.
 *
 * @example
 * ```ts
 * import { ProxyPaths } from "./endpoints.ts";
 * const paths = new ProxyPaths(["/v1/load_lora_adapter"]);
 * paths.allows("/v1/load_lora_adapter"); // true
 * paths.allows("/v1/unload_lora_adapter"); // false
 * new ProxyPaths(["/v1/*"]).allows("/v1/anything/below"); // true
 * ```
 */
export class ProxyPaths {
  readonly #exact: Set<string>;
  readonly #prefixes: string[] = [];

  /**
   * @param extra Configured patterns (see {@linkcode isProxyPathPattern}).
   * @throws {Error} naming a malformed pattern.
   */
  constructor(extra: readonly string[] = []) {
    this.#exact = new Set(INFERENCE_PATHS);
    for (const p of extra) {
      if (!isProxyPathPattern(p)) throw new Error(`proxyPaths: not a /v1/ path pattern: ${p}`);
      if (p.endsWith("/*")) this.#prefixes.push(p.slice(0, -1));
      else this.#exact.add(p);
    }
  }

  /** Whether `POST path` (a URL's pathname) is proxied. */
  allows(path: string): boolean {
    return this.#exact.has(path) || this.#prefixes.some((p) => path.startsWith(p));
  }
}
