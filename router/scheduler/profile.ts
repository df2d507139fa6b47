/**
 * Turns the configuration's `scheduler` section into a {@linkcode SchedulerProfile}: filters in
 * the listed order, scorers with their weights (duplicates collapse, negative weights count as
 * 0, as upstream), one picker (`max-score` unless `Pick` names another).
 *
 * @module
 */
import type { SchedulerConfig } from "../config/router_config.ts";
import { MaxScorePicker } from "./plugins/max_score_picker.ts";
import { PLANNED_PLUGINS, type PluginRegistry } from "./registry.ts";
import type { SchedulerProfile } from "./scheduler.ts";
import { type Filter, type Picker, type Plugin, PluginKinds, type Scorer } from "./types.ts";

/** A profile and the warnings building it produced. */
export interface BuiltProfile {
  readonly profile: SchedulerProfile;
  readonly warnings: readonly string[];
}

/**
 * Builds a profile.
 *
 * @throws {Error} for unknown plugin names, a plugin used in a role it does not have, or
 * invalid plugin arguments.
 * @example
 * ```ts
 * import { buildProfile } from "./profile.ts";
 * import { PluginRegistry } from "./registry.ts";
 * const { profile } = buildProfile({
 *   pluginConfig: [],
 *   plugins: { Score: { enabled: [{ name: "random", weight: 1 }] } },
 * }, PluginRegistry.withBuiltins());
 * profile.scorers.length; // 1
 * ```
 */
export function buildProfile(config: SchedulerConfig, registry: PluginRegistry): BuiltProfile {
  const warnings: string[] = [];
  const args = new Map(config.pluginConfig.map((p) => [p.name, p.args]));
  const instances = new Map<string, Plugin>();
  const instance = (name: string): Plugin | undefined => {
    let p = instances.get(name);
    if (p) return p;
    if (!registry.has(name)) {
      if (PLANNED_PLUGINS.has(name)) {
        // Refused, not skipped: a router that ignored an enabled plugin would schedule
        // differently from what its configuration says.
        throw new Error(
          `scheduler plugin "${name}" is not implemented yet; remove it from scheduler.plugins`,
        );
      }
      throw new Error(`unknown scheduler plugin "${name}"`);
    }
    try {
      p = registry.create(name, name, args.get(name));
    } catch (e) {
      throw new Error(`scheduler plugin "${name}": ${(e as Error).message}`);
    }
    instances.set(name, p);
    return p;
  };

  const filters: Filter[] = [];
  for (const name of config.plugins?.Filter?.enabled ?? []) {
    const p = instance(name);
    if (!p) continue;
    if (!PluginKinds.isFilter(p)) throw new Error(`scheduler plugin "${name}" is not a filter`);
    filters.push(p);
  }

  const weights = new Map<string, number>();
  for (const { name, weight } of config.plugins?.Score?.enabled ?? []) {
    weights.set(name, Math.max(0, weight));
  }
  const scorers: { scorer: Scorer; weight: number }[] = [];
  for (const [name, weight] of weights) {
    const p = instance(name);
    if (!p) continue;
    if (!PluginKinds.isScorer(p)) throw new Error(`scheduler plugin "${name}" is not a scorer`);
    scorers.push({ scorer: p, weight });
  }

  let picker: Picker = new MaxScorePicker(MaxScorePicker.TYPE, undefined);
  const pickName = config.plugins?.Pick?.enabled[0];
  if (pickName !== undefined) {
    const p = instance(pickName);
    if (p) {
      if (!PluginKinds.isPicker(p)) {
        throw new Error(`scheduler plugin "${pickName}" is not a picker`);
      }
      picker = p;
    }
  }

  const postResponse = [...instances.values()].filter(PluginKinds.isPostResponse);
  if (filters.length === 0 && scorers.length === 0) {
    warnings.push("no scheduler filter or scorer enabled: endpoints are picked at random");
  }
  return { profile: { filters, scorers, picker, postResponse }, warnings };
}
