/**
 * The built-in plugin `demo-pod-tweaks`: sets the pod's `runtimeClassName`, merges
 * annotations, and appends environment variables to every container and init container.
 * Upstream ships it as the example of a plugin; it is handy for small per-role adjustments
 * without touching the templates (and so without a rollout).
 *
 * @module
 */
import type { V1EnvVar } from "@kubernetes/client-node";
import { z } from "zod";
import { stringMap } from "@kthena/shared/api";
import type { PodPlugin } from "./plugins.ts";

/**
 * The config of `demo-pod-tweaks`. Unknown keys are errors: a misspelt `envs` would otherwise
 * be ignored without a word (upstream's JSON decoding ignores it).
 */
export const DemoPodTweaksConfig = z.strictObject({
  runtimeClassName: z.string().min(1).optional(),
  annotations: stringMap().optional(),
  env: z.array(z.strictObject({
    name: z.string().min(1),
    value: z.string().optional(),
    valueFrom: z.record(z.string(), z.unknown()).optional(),
  })).optional(),
});
/** The config of `demo-pod-tweaks`. */
export type DemoPodTweaksConfig = z.output<typeof DemoPodTweaksConfig>;

/**
 * Makes the plugin from its config.
 *
 * @throws {z.ZodError} when the config does not fit {@linkcode DemoPodTweaksConfig}.
 * @example
 * ```ts
 * import { demoPodTweaks } from "./demo_pod_tweaks.ts";
 * const plugin = demoPodTweaks({ runtimeClassName: "nvidia", env: [{ name: "A", value: "1" }] });
 * plugin.name; // "demo-pod-tweaks"
 * ```
 */
export function demoPodTweaks(config: Record<string, unknown> | undefined): PodPlugin {
  const c = DemoPodTweaksConfig.parse(config ?? {});
  return {
    name: "demo-pod-tweaks",
    onPodCreate({ pod }) {
      const spec = pod.spec;
      if (!spec) return;
      if (c.runtimeClassName) spec.runtimeClassName = c.runtimeClassName;
      if (c.annotations && Object.keys(c.annotations).length > 0) {
        const meta = pod.metadata ??= {};
        meta.annotations = { ...meta.annotations, ...c.annotations };
      }
      const env = c.env ?? [];
      if (env.length === 0) return;
      // Appended, as upstream: a name already present is defined twice and the last one wins.
      for (const container of [...spec.containers, ...(spec.initContainers ?? [])]) {
        container.env = [...(container.env ?? []), ...structuredClone(env) as V1EnvVar[]];
      }
    },
  };
}
