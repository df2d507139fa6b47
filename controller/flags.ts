/**
 * Command-line flags of the controller manager, upstream's where they make sense
 * (kthena-controllers.md §0.1), plus the ports of the health and metrics server.
 *
 * @module
 */
import { parseArgs } from "node:util";

/**
 * The reconcilers that `--controllers` can enable or disable. Upstream starts the
 * LeaderWorkerSet controller with `modelserving`; here it has a name of its own, so a cluster
 * can run one without the other.
 */
export const CONTROLLER_NAMES = ["modelserving", "leaderworkerset"] as const;
/** A reconciler name. */
export type ControllerName = typeof CONTROLLER_NAMES[number];

/** Parsed flags. */
export interface ControllerFlags {
  kubeconfig?: string;
  leaderElect: boolean;
  leaderElectionNamespace?: string;
  workers: number;
  controllers: Set<ControllerName>;
  metricsPort: number;
  healthPort: number;
  /** Address the health, metrics and webhook servers listen on. Default all (`0.0.0.0`). */
  bindAddress: string;
  enableWebhook: boolean;
  webhookPort: number;
  tlsCertFile: string;
  tlsPrivateKeyFile: string;
  certSecretName: string;
  serviceName: string;
  /** Periodic full resync of every object, seconds (anti-entropy). */
  resyncSeconds: number;
}

/**
 * Resolves `--controllers`: `*` all, `foo`/`+foo` enable, `-foo` disable; nothing enabled means
 * all (as upstream).
 *
 * @example
 * ```ts
 * import { resolveControllers } from "./flags.ts";
 * resolveControllers("*,-leaderworkerset"); // Set {"modelserving"}
 * resolveControllers("-modelserving,-leaderworkerset"); // nothing left ⇒ all
 * ```
 */
export function resolveControllers(spec: string): Set<ControllerName> {
  const on = new Set<ControllerName>();
  for (const raw of spec.split(",").map((s) => s.trim()).filter(Boolean)) {
    if (raw === "*") CONTROLLER_NAMES.forEach((n) => on.add(n));
    else if (raw.startsWith("-")) on.delete(raw.slice(1) as ControllerName);
    else {
      const name = raw.replace(/^\+/, "");
      if (!(CONTROLLER_NAMES as readonly string[]).includes(name)) {
        throw new Error(`--controllers: unknown controller ${JSON.stringify(name)}`);
      }
      on.add(name as ControllerName);
    }
  }
  return on.size > 0 ? on : new Set(CONTROLLER_NAMES);
}

/**
 * Parses the controller manager's arguments.
 *
 * @throws {Error} on an unknown flag or a bad value, naming it.
 * @example
 * ```ts
 * import { parseControllerFlags } from "./flags.ts";
 * parseControllerFlags(["--workers=2", "--leader-elect"]).workers; // 2
 * ```
 */
export function parseControllerFlags(args: string[]): ControllerFlags {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      kubeconfig: { type: "string" },
      "leader-elect": { type: "boolean", default: false },
      "leader-election-namespace": { type: "string" },
      workers: { type: "string", default: "5" },
      controllers: { type: "string", default: "*" },
      "metrics-port": { type: "string", default: "8080" },
      "health-port": { type: "string", default: "8081" },
      "bind-address": { type: "string", default: "0.0.0.0" },
      "enable-webhook": { type: "boolean", default: true },
      "no-enable-webhook": { type: "boolean", default: false },
      "webhook-port": { type: "string", default: "8443" },
      port: { type: "string" },
      "tls-cert-file": { type: "string", default: "/etc/tls/tls.crt" },
      "tls-private-key-file": { type: "string", default: "/etc/tls/tls.key" },
      "cert-secret-name": { type: "string", default: "kthena-controller-manager-webhook-certs" },
      "service-name": { type: "string", default: "kthena-controller-manager-webhook" },
      "resync-seconds": { type: "string", default: "600" },
    },
  });
  const int = (name: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) {
      throw new Error(`--${name}: expected an integer ≥ ${min}, got ${v}`);
    }
    return n;
  };
  return {
    kubeconfig: values.kubeconfig,
    leaderElect: values["leader-elect"] ?? false,
    leaderElectionNamespace: values["leader-election-namespace"],
    workers: int("workers", values.workers, 1),
    controllers: resolveControllers(values.controllers ?? "*"),
    metricsPort: int("metrics-port", values["metrics-port"], 0),
    healthPort: int("health-port", values["health-port"], 0),
    bindAddress: values["bind-address"] ?? "0.0.0.0",
    enableWebhook: (values["enable-webhook"] ?? true) && !values["no-enable-webhook"],
    // Upstream calls the webhook port --port.
    webhookPort: int("webhook-port", values.port ?? values["webhook-port"], 0),
    tlsCertFile: values["tls-cert-file"] ?? "/etc/tls/tls.crt",
    tlsPrivateKeyFile: values["tls-private-key-file"] ?? "/etc/tls/tls.key",
    certSecretName: values["cert-secret-name"] ?? "kthena-controller-manager-webhook-certs",
    serviceName: values["service-name"] ?? "kthena-controller-manager-webhook",
    resyncSeconds: int("resync-seconds", values["resync-seconds"], 0),
  };
}
