/**
 * Decides what a request asks of this engine's PD connector, from the engine's role and
 * connector and the request's `kv_transfer_params` / `bootstrap_*` fields.
 *
 * - `nixl` / `mooncake`: `do_remote_decode` is honoured by prefill and `both` engines,
 *   `do_remote_prefill` by decode and `both` engines (vLLM `kv_both`); anything else with
 *   params is "invalid" and served locally (counted in `kthena_sim_kv_transfers_total`).
 * - `sglang`: a prefill or decode engine requires `bootstrap_room` (400 otherwise, SGLang's
 *   message); a decode also needs `bootstrap_host`; `both` ignores the fields.
 * - `lmcache`, `http`, `none`: no directive (LMCache lookups are automatic).
 *
 * @module
 */

import { SimHttpError } from "./errors.ts";
import type { SimOptions } from "./options.ts";
import { type NixlRemoteParams, parseNixlParams } from "./pd_nixl.ts";
import { bootstrapFields } from "./pd_sglang.ts";

/** The PD work a request carries. */
export type PdDirective =
  | { kind: "none" }
  | { kind: "nixl-prefill" }
  | { kind: "nixl-decode"; params: NixlRemoteParams }
  | { kind: "sglang-prefill"; room: string }
  | { kind: "sglang-decode"; room: string; host: string; port: number };

/** Result of {@linkcode resolvePd}. */
export interface PdResolution {
  /** What to do. */
  directive: PdDirective;
  /** Why params were ignored (served locally), if they were. */
  invalid?: string;
}

/**
 * Resolves a request's PD directive.
 *
 * @param options Engine options (role, connector, default bootstrap port).
 * @param body Parsed request body.
 * @param raw Raw body text (for exact 63-bit room ids).
 * @returns The directive.
 * @throws {SimHttpError} 400 when an SGLang PD engine gets no room (or a decode no host).
 *
 * @example
 * ```ts
 * import { resolveSimOptions } from "./options.ts";
 * import { resolvePd } from "./pd_directive.ts";
 * const o = resolveSimOptions({ role: "prefill", kvConnector: "nixl" });
 * console.log(resolvePd(o, { kv_transfer_params: { do_remote_decode: true } }, "").directive.kind); // "nixl-prefill"
 * ```
 */
export function resolvePd(
  options: Pick<SimOptions, "role" | "kvConnector" | "bootstrapDefaultPort">,
  body: Record<string, unknown>,
  raw: string,
): PdResolution {
  const { role, kvConnector } = options;
  if (kvConnector === "nixl" || kvConnector === "mooncake") {
    const d = parseNixlParams(body.kv_transfer_params);
    switch (d.kind) {
      case "none":
        return { directive: { kind: "none" } };
      case "invalid":
        return {
          directive: { kind: "none" },
          invalid: `Got invalid KVTransferParams: ${d.reason}`,
        };
      case "prefill":
        return role === "decode"
          ? {
            directive: { kind: "none" },
            invalid: "do_remote_decode sent to a decode-only engine",
          }
          : { directive: { kind: "nixl-prefill" } };
      case "decode":
        return role === "prefill"
          ? {
            directive: { kind: "none" },
            invalid: "do_remote_prefill sent to a prefill-only engine",
          }
          : { directive: { kind: "nixl-decode", params: d.params } };
    }
  }
  if (kvConnector === "sglang" && role !== "both") {
    const f = bootstrapFields(body, raw);
    if (f.room === undefined) {
      throw new SimHttpError(
        400,
        "Disaggregated request received without bootstrap room id",
        "bootstrap_room",
      );
    }
    if (role === "prefill") return { directive: { kind: "sglang-prefill", room: f.room } };
    if (f.host === undefined) {
      throw new SimHttpError(
        400,
        "Disaggregated decode request received without bootstrap host",
        "bootstrap_host",
      );
    }
    return {
      directive: {
        kind: "sglang-decode",
        room: f.room,
        host: f.host,
        port: f.port ?? options.bootstrapDefaultPort,
      },
    };
  }
  return { directive: { kind: "none" } };
}
