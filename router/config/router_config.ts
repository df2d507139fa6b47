/**
 * The router configuration file, in upstream's `routerConfiguration` shape (§4.1):
 *
 * ```yaml
 * scheduler:
 *   pluginConfig:
 *   - name: least-request
 *     args: { maxWaitingRequests: 10 }
 *   plugins:
 *     Filter:
 *       enabled: [least-request]
 *     Score:
 *       enabled:
 *       - { name: least-request, weight: 1 }
 *     Pick:                      # ours; default max-score
 *       enabled: [max-score]
 * auth: { issuer, audiences, jwksUri }   # upstream's JWT section: refused until it is enforced
 * proxyPaths:                  # ours: POST paths proxied besides the inference endpoints
 * - /v1/load_lora_adapter      # (see http/endpoints.ts); "/v1/*" proxies every /v1 path
 * ```
 *
 * Unknown keys are errors that name the key (a misspelt `proxyPaths` must not silently keep
 * the default).
 *
 * The file may also be the ConfigMap upstream mounts it from (the text under
 * `data.routerConfiguration` is then read).
 *
 * @module
 */
import { z } from "zod";
import { formatIssues, readYamlDocuments } from "@kthena/shared/api";
import { isProxyPathPattern } from "../http/endpoints.ts";

const NamedWeight = z.strictObject({
  name: z.string().min(1),
  weight: z.number().int().default(1),
});

/** The `scheduler` section. */
export const SchedulerConfig = z.strictObject({
  pluginConfig: z.array(z.strictObject({
    name: z.string().min(1),
    args: z.unknown().optional(),
  })).default([]),
  plugins: z.strictObject({
    Filter: z.strictObject({
      enabled: z.array(z.string().min(1)).default([]),
      disabled: z.array(z.string()).optional(),
    }).optional(),
    Score: z.strictObject({
      enabled: z.array(NamedWeight).default([]),
      disabled: z.array(NamedWeight).optional(),
    }).optional(),
    Pick: z.strictObject({
      enabled: z.array(z.string().min(1)).max(1).default([]),
    }).optional(),
  }).optional(),
});
/** The `scheduler` section. */
export type SchedulerConfig = z.output<typeof SchedulerConfig>;

/** The whole configuration. */
export const RouterConfig = z.strictObject({
  scheduler: SchedulerConfig.optional(),
  auth: z.strictObject({
    issuer: z.string().optional(),
    audiences: z.array(z.string()).optional(),
    jwksUri: z.string().optional(),
  }).optional(),
  /** `POST` paths proxied besides the inference endpoints (`/v1/...`, or a `/v1/.../*` prefix). */
  proxyPaths: z.array(
    z.string().refine(isProxyPathPattern, {
      message: "must be a /v1/ path, or a /v1/ prefix ending in /*",
    }),
  ).optional(),
});
/** The whole configuration. */
export type RouterConfig = z.output<typeof RouterConfig>;

/**
 * The configuration used without a file: least-request as filter and scorer, the part of
 * upstream's chart default that exists here.
 *
 * @example
 * ```ts
 * import { DEFAULT_ROUTER_CONFIG } from "./router_config.ts";
 * DEFAULT_ROUTER_CONFIG.scheduler?.plugins?.Filter?.enabled; // ["least-request"]
 * ```
 */
export const DEFAULT_ROUTER_CONFIG: RouterConfig = {
  scheduler: {
    pluginConfig: [{ name: "least-request", args: { maxWaitingRequests: 10 } }],
    plugins: {
      Filter: { enabled: ["least-request"] },
      Score: { enabled: [{ name: "least-request", weight: 1 }] },
    },
  },
};

/**
 * Parses configuration text (YAML or JSON).
 *
 * @throws {Error} naming the field when the text is invalid.
 * @example
 * ```ts
 * import { parseRouterConfig } from "./router_config.ts";
 * const c = parseRouterConfig("scheduler:\n  plugins:\n    Score:\n      enabled: [{name: random, weight: 1}]\n");
 * c.scheduler?.plugins?.Score?.enabled[0]?.name; // "random"
 * ```
 */
export function parseRouterConfig(text: string): RouterConfig {
  const docs = readYamlDocuments(text);
  let value: unknown = docs[0] ?? {};
  const data = (value as { kind?: unknown; data?: Record<string, unknown> }).data;
  if (
    (value as { kind?: unknown }).kind === "ConfigMap" &&
    typeof data?.routerConfiguration === "string"
  ) {
    value = readYamlDocuments(data.routerConfiguration)[0] ?? {};
  }
  const result = RouterConfig.safeParse(value);
  if (!result.success) {
    throw new Error(
      `invalid router configuration:\n  - ${formatIssues(result.error).join("\n  - ")}`,
    );
  }
  if (result.data.auth !== undefined) {
    // A router that accepted it and let every request through would be worse than none.
    throw new Error(
      "invalid router configuration:\n  - auth: JWT authentication is not implemented yet; " +
        "remove the section (or authenticate in front of the router)",
    );
  }
  return result.data;
}

/**
 * Reads and parses a configuration file.
 *
 * @example
 * ```ts ignore
 * import { loadRouterConfig } from "./router_config.ts";
 * const config = await loadRouterConfig("router.yaml");
 * ```
 */
export async function loadRouterConfig(path: string): Promise<RouterConfig> {
  return parseRouterConfig(await Deno.readTextFile(path));
}
