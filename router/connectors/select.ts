/**
 * Picks the connector for a ModelServer. vLLM engines use `kvConnector.type` (`http` when
 * absent), as upstream. SGLang engines always use the SGLang bootstrap protocol: their
 * `--disaggregation-transfer-backend` (mooncake, nixl) is invisible to the router, so a
 * `kvConnector.type` of `mooncake` or `nixl` on an SGLang ModelServer names that backend.
 * (Upstream would speak vLLM's NIXL protocol to SGLang there, which SGLang rejects.)
 *
 * @module
 */
import type { ModelServer } from "@kthena/shared/api";
import type { KvConnector } from "./connector.ts";
import { HttpConnector } from "./http.ts";
import { LmcacheConnector } from "./lmcache.ts";
import { MooncakeConnector } from "./mooncake.ts";
import { NixlConnector } from "./nixl.ts";
import { SglangConnector } from "./sglang.ts";

const CONNECTORS: Readonly<Record<string, KvConnector>> = {
  http: new HttpConnector(),
  lmcache: new LmcacheConnector(),
  nixl: new NixlConnector(),
  mooncake: new MooncakeConnector(),
  sglang: new SglangConnector(),
};

/**
 * The connector a ModelServer's PD traffic uses.
 *
 * @example
 * ```ts
 * import { connectorFor } from "./select.ts";
 * connectorFor({ spec: { inferenceEngine: "SGLang" } } as never).type; // "sglang"
 * connectorFor({ spec: { inferenceEngine: "vLLM", kvConnector: { type: "nixl" } } } as never).type; // "nixl"
 * connectorFor({ spec: { inferenceEngine: "SGLang", kvConnector: { type: "mooncake" } } } as never).type; // "sglang"
 * ```
 */
export function connectorFor(server: ModelServer): KvConnector {
  if (server.spec.inferenceEngine === "SGLang") return CONNECTORS.sglang!;
  return CONNECTORS[server.spec.kvConnector?.type ?? "http"] ?? CONNECTORS.http!;
}
