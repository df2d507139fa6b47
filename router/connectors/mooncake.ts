/**
 * `mooncake`: the MooncakeConnector of vllm-ascend (and the out-of-tree `mooncake_connector_v1`),
 * which speaks NIXL's sequential `kv_transfer_params` protocol (peer-routers §3.3, flavour 3);
 * upstream Kthena reuses its NIXL connector for it as well.
 *
 * @module
 */
import { NixlConnector } from "./nixl.ts";

/**
 * The `mooncake` connector.
 *
 * @example
 * ```ts
 * import { MooncakeConnector } from "./mooncake.ts";
 * new MooncakeConnector().type; // "mooncake"
 * ```
 */
export class MooncakeConnector extends NixlConnector {
  override readonly type = "mooncake" as const;
}
