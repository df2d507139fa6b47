/**
 * LoRA adapters served by the simulator: the static `--lora` list plus adapters loaded at run
 * time through vLLM's `/v1/load_lora_adapter` and `/v1/unload_lora_adapter`.
 *
 * How many adapters may run at once (`--max-loras`) is enforced by the scheduler; this module
 * only knows which names exist and resolves a request's `model` field.
 *
 * @module
 */

/** What a request's `model` field resolved to. */
export interface ResolvedModel {
  /** Adapter name, or undefined for the base model. */
  lora: string | undefined;
}

/** One adapter as `/v1/models` lists it. */
export interface LoraAdapter {
  /** Served adapter name. */
  name: string;
  /** Path it was loaded from (vLLM's `root`). */
  path: string;
  /** Load time, unix seconds. */
  created: number;
}

/**
 * Registry of served adapters.
 *
 * @example
 * ```ts
 * import { LoraRegistry } from "./lora.ts";
 * const r = new LoraRegistry("base", ["sql"]);
 * console.log(r.resolve("sql"), r.resolve("base"), r.resolve("nope")); // { lora: "sql" } { lora: undefined } undefined
 * ```
 */
export class LoraRegistry {
  readonly #base: string;
  readonly #adapters = new Map<string, LoraAdapter>();
  #enabled: boolean;

  /**
   * @param baseModel Served name of the base model.
   * @param adapters Adapters available from the start.
   */
  constructor(baseModel: string, adapters: readonly string[]) {
    this.#base = baseModel;
    const now = Math.floor(Date.now() / 1000);
    for (const name of adapters) {
      this.#adapters.set(name, { name, path: `/loras/${name}`, created: now });
    }
    this.#enabled = adapters.length > 0;
  }

  /** Served adapters in load order. */
  get adapters(): LoraAdapter[] {
    return [...this.#adapters.values()];
  }

  /** True once any adapter was configured or loaded (vLLM `--enable-lora`). */
  get enabled(): boolean {
    return this.#enabled;
  }

  /**
   * Resolves a request's `model` field.
   *
   * @param model Requested name; undefined/empty means the base model (vLLM's default).
   * @returns The resolution, or undefined for an unknown name.
   */
  resolve(model: string | undefined): ResolvedModel | undefined {
    if (model === undefined || model === "" || model === this.#base) return { lora: undefined };
    return this.#adapters.has(model) ? { lora: model } : undefined;
  }

  /**
   * Loads an adapter at run time.
   *
   * @returns false if the name is already served.
   */
  load(name: string, path: string): boolean {
    if (name === this.#base || this.#adapters.has(name)) return false;
    this.#adapters.set(name, { name, path, created: Math.floor(Date.now() / 1000) });
    this.#enabled = true;
    return true;
  }

  /**
   * Unloads an adapter.
   *
   * @returns false if no such adapter is served.
   */
  unload(name: string): boolean {
    return this.#adapters.delete(name);
  }
}
