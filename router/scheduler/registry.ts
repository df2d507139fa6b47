/**
 * Plugins by type: a factory per type, so the configuration file can name plugin types and pass
 * them arguments (the endpoint picker's `plugin.Register`).
 *
 * @module
 */
import { LeastRequest } from "./plugins/least_request.ts";
import { MaxScorePicker } from "./plugins/max_score_picker.ts";
import { RandomScorer } from "./plugins/random.ts";
import type { Plugin } from "./types.ts";

/** Builds a plugin instance from its name and its (free-form) arguments. */
export type PluginFactory = (name: string, args: unknown) => Plugin;

/**
 * Plugin types upstream Kthena has that this router does not implement yet. A configuration
 * naming them is accepted with a warning (so upstream's chart configuration loads); any other
 * unknown name is an error.
 *
 * @example
 * ```ts
 * import { PLANNED_PLUGINS } from "./registry.ts";
 * PLANNED_PLUGINS.has("prefix-cache"); // true
 * ```
 */
export const PLANNED_PLUGINS: ReadonlySet<string> = new Set([
  "least-latency",
  "gpu-usage",
  "prefix-cache",
  "kvcache-aware",
  "lora-affinity",
]);

/**
 * A registry of plugin factories.
 *
 * @example
 * ```ts
 * import { PluginRegistry } from "./registry.ts";
 * const r = PluginRegistry.withBuiltins();
 * r.create("random", "random", {}).type; // "random"
 * ```
 */
export class PluginRegistry {
  readonly #factories = new Map<string, PluginFactory>();

  /** A registry holding `least-request`, `random` and `max-score`. */
  static withBuiltins(): PluginRegistry {
    return new PluginRegistry()
      .register(LeastRequest.TYPE, (name, args) => new LeastRequest(name, args))
      .register(RandomScorer.TYPE, (name, args) => new RandomScorer(name, args))
      .register(MaxScorePicker.TYPE, (name, args) => new MaxScorePicker(name, args));
  }

  /** Registers a factory (replacing any for the same type). */
  register(type: string, factory: PluginFactory): this {
    this.#factories.set(type, factory);
    return this;
  }

  /** Whether a type is registered. */
  has(type: string): boolean {
    return this.#factories.has(type);
  }

  /**
   * Creates a plugin.
   *
   * @throws {Error} for an unregistered type or invalid arguments.
   */
  create(type: string, name: string, args: unknown): Plugin {
    const factory = this.#factories.get(type);
    if (!factory) throw new Error(`unknown scheduler plugin ${JSON.stringify(type)}`);
    return factory(name, args);
  }
}
