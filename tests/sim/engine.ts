/**
 * The simulated engine: runs each request through admission (scheduler), KV allocation with
 * prefix caching, the PD handoff, prefill and decode timing (latency model), and records
 * metrics. Requests are async generators of tokens; {@linkcode Generation.cancel} stops one
 * at once and frees its slot and blocks synchronously.
 *
 * Life of a request:
 * 1. SGLang prefill: wait in the bootstrap queue for the decode peer; SGLang decode: connect
 *    to the prefill's bootstrap server (in the background).
 * 2. Admission: a running slot plus KV blocks for the prompt (prefix hits reuse blocks).
 * 3. First token: remote KV (NIXL/Mooncake read, SGLang handoff, LMCache lookup) replaces
 *    prefill for the tokens it covers; the rest is prefilled; then `TTFT` elapses.
 * 4. Decode: one token per inter-token latency; each token takes KV space, preempting the
 *    newest running request when blocks run out.
 * 5. Finish: blocks are freed (kept in the prefix cache) or, for a NIXL prefill, held for
 *    the decode engine.
 *
 * @module
 */

import { SimHttpError } from "./errors.ts";
import { blockHashes, KvCache, type KvSequence } from "./kv_cache.ts";
import {
  KvTransferError,
  type PeerIdentity,
  type RemoteKv,
  verifyRemoteKv,
} from "./kv_transfer.ts";
import { LatencyModel } from "./latency.ts";
import {
  createMetrics,
  type EngineMetrics,
  type EngineStateView,
  type FinishedReason,
} from "./metrics.ts";
import type { SimOptions } from "./options.ts";
import type { OutputPlan, PlannedToken } from "./output_plan.ts";
import type { PdDirective } from "./pd_directive.ts";
import { LmcacheStore, lookupLmcache } from "./pd_lmcache.ts";
import { NixlPrefillStore, readNixlKv, releaseNixlKv } from "./pd_nixl.ts";
import { connectToPrefill, SglangBootstrap } from "./pd_sglang.ts";
import { Scheduler } from "./scheduler.ts";

/** What a request needs from the engine. */
export interface GenerationInit {
  /** Engine-internal unique id (also the NIXL `remote_request_id`). */
  id: string;
  /** LoRA adapter or undefined. */
  lora: string | undefined;
  /** Prompt token ids. */
  promptIds: number[];
  /** Planned output. */
  plan: OutputPlan;
  /** PD work. */
  pd: PdDirective;
  /** Extra TTFT (slow-start failure), simulated ms. */
  extraTtftMs: number;
}

/** Events of a generation: `ready` once the request is accepted (after the PD handoff for a
 * decode), then one `token` per output token. */
export type GenerationEvent =
  | { type: "ready" }
  | { type: "token"; index: number; token: PlannedToken };

/** What a finished generation reports. */
export interface GenerationResult {
  /** Prompt tokens found in the local prefix cache. */
  cachedTokens: number;
  /** Generated tokens. */
  completionTokens: number;
  /** NIXL/Mooncake handoff params (prefill side), else null. */
  kvTransferParams: Record<string, unknown> | null;
}

function guard<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then((v) => {
      signal.removeEventListener("abort", onAbort);
      resolve(v);
    }, (e) => {
      signal.removeEventListener("abort", onAbort);
      reject(e);
    });
  });
}

/**
 * One request inside the engine. Create with {@linkcode Engine.submit}.
 */
export class Generation {
  /** The request. */
  readonly init: GenerationInit;
  /** Adapter (for the scheduler). */
  readonly lora: string | undefined;
  readonly #engine: Engine;
  readonly #abort = new AbortController();
  #admission = Promise.withResolvers<void>();
  #seq: KvSequence | undefined;
  readonly #generated: number[] = [];
  #preempted = false;
  #released = false;
  #finishReported = false;
  #nixlSettled = false;
  #delivered = false;
  readonly #arrival = performance.now();
  #admittedAt: number | undefined;
  #firstTokenAt: number | undefined;
  #lastTokenAt: number | undefined;
  #promptHashes: number[] | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #wake: ((reason: unknown) => void) | undefined;
  /** Result, set when the generation finished normally. */
  result: GenerationResult | undefined;

  /** @internal use {@linkcode Engine.submit}. */
  constructor(engine: Engine, init: GenerationInit) {
    this.#engine = engine;
    this.init = init;
    this.lora = init.lora;
    this.#admission.promise.catch(() => {});
  }

  /** Prompt tokens found in the local prefix cache at admission. */
  cachedTokens = 0;

  /** Whether the generation ended (finished, failed or cancelled). */
  get released(): boolean {
    return this.#released;
  }

  /** Aborts the request now: frees its slot and blocks and stops generating. */
  cancel(): void {
    if (this.#released) return;
    this.#abort.abort(new DOMException("request cancelled", "AbortError"));
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#wake?.(this.#signal.reason);
      this.#wake = undefined;
    }
    this.#release("abort");
  }

  /** @internal scheduler hook. */
  tryAllocate(): boolean {
    const e = this.#engine;
    const tokens = this.#generated.length === 0
      ? this.init.promptIds
      : [...this.init.promptIds, ...this.#generated];
    const hashes = this.#generated.length === 0
      ? this.#ownHashes()
      : blockHashes(tokens, e.kv.blockSize, this.lora ?? "");
    const seq = e.kv.allocate(tokens, hashes, this.lora ?? "");
    if (seq === undefined) return false;
    this.#seq = seq;
    return true;
  }

  /** @internal scheduler hook. */
  onAdmitted(): void {
    this.#admission.resolve();
  }

  /** @internal scheduler hook. */
  onPreempted(): void {
    this.#preempted = true;
    if (this.#seq !== undefined) this.#engine.kv.free(this.#seq);
    this.#seq = undefined;
    this.#admission = Promise.withResolvers<void>();
    this.#admission.promise.catch(() => {});
    this.#engine.metrics.preempted();
  }

  #ownHashes(): number[] {
    this.#promptHashes ??= blockHashes(
      this.init.promptIds,
      this.#engine.kv.blockSize,
      this.lora ?? "",
    );
    return this.#promptHashes;
  }

  get #signal(): AbortSignal {
    return this.#abort.signal;
  }

  /**
   * Waits `ms` (simulated work). One timer per generation, cleared by `cancel()` directly: an
   * abort listener per token would cost more than the rest of the token's work.
   */
  async #pause(ms: number): Promise<void> {
    if (this.#signal.aborted) throw this.#signal.reason;
    if (ms <= 0) return;
    await new Promise<void>((resolve, reject) => {
      this.#wake = reject;
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#wake = undefined;
        resolve();
      }, ms);
    });
  }

  async #admit(): Promise<void> {
    this.#engine.scheduler.enqueue(this);
    await guard(this.#admission.promise, this.#signal);
    this.#admittedAt = performance.now();
    this.cachedTokens = this.#seq?.cachedTokens ?? 0;
    this.#engine.metrics.prefixCache(this.init.promptIds.length, this.cachedTokens);
  }

  /** Re-admission and recomputation after a preemption. */
  async #recompute(): Promise<void> {
    const e = this.#engine;
    while (this.#preempted) {
      this.#preempted = false;
      await guard(this.#admission.promise, this.#signal);
      const seq = this.#seq!;
      await this.#pause(
        e.latency.prefillMs(seq.tokens.length - seq.cachedTokens, e.scheduler.numRunning),
      );
      if (!this.#preempted && this.#seq !== undefined) e.kv.commit(this.#seq);
    }
  }

  async #appendToken(id: number): Promise<void> {
    const e = this.#engine;
    for (;;) {
      if (this.#preempted) await this.#recompute();
      if (e.kv.appendToken(this.#seq!, id)) {
        this.#generated.push(id);
        return;
      }
      if (e.scheduler.preempt(this) === undefined) {
        throw new SimHttpError(500, "KV cache exhausted with nothing to preempt");
      }
    }
  }

  /** Remote KV for a PD decode; returns the tokens it covers (0 = prefill locally). */
  async #remoteKv(remote: Promise<RemoteKv> | undefined): Promise<number> {
    const e = this.#engine;
    const pd = this.init.pd;
    const connector = e.options.kvConnector;
    if (pd.kind !== "nixl-decode" && pd.kind !== "sglang-decode") return 0;
    e.decodeTransferQueue++;
    try {
      const kv = pd.kind === "nixl-decode"
        ? await guard(
          readNixlKv(pd.params, e.identity, e.options.kvTransferTimeoutMs, this.#signal),
          this.#signal,
        )
        : await guard(remote!, this.#signal);
      if (pd.kind === "nixl-decode") this.#nixlSettled = true;
      verifyRemoteKv(kv, e.identity, this.#ownHashes(), this.init.promptIds.length);
      e.metrics.kvTransfer(connector, "ok");
      return Math.max(0, this.init.promptIds.length - (this.#seq?.cachedTokens ?? 0));
    } catch (err) {
      if (this.#signal.aborted) throw err;
      if (pd.kind === "nixl-decode") this.#nixlSettled = true;
      const reason = err instanceof KvTransferError ? err.reason : "failed";
      e.metrics.kvTransfer(connector, reason);
      if (e.options.kvLoadFailurePolicy === "recompute" && reason !== "refused") return 0;
      throw new SimHttpError(
        reason === "refused" ? 403 : 500,
        `KV transfer failed: ${(err as Error).message}`,
      );
    } finally {
      e.decodeTransferQueue--;
    }
  }

  /** LMCache: prompt tokens beyond the local prefix cache found in an LMCache store. */
  async #lmcacheTokens(): Promise<number> {
    const e = this.#engine;
    if (e.lmcache === undefined || e.options.role === "prefill") return 0;
    const hashes = this.#ownHashes();
    const local = Math.floor((this.#seq?.cachedTokens ?? 0) / e.kv.blockSize);
    let hit = e.lmcache.lookupPrefix(hashes);
    if (e.options.lmcacheRemote.length > 0 && hit < hashes.length) {
      const r = await lookupLmcache(
        e.options.lmcacheRemote,
        hashes,
        e.identity,
        e.options.kvTransferTimeoutMs,
        this.#signal,
      );
      if (r.refusals > 0) e.metrics.kvTransfer("lmcache", "refused");
      if (r.failures > r.refusals) e.metrics.kvTransfer("lmcache", "failed");
      hit = Math.max(hit, r.hitBlocks);
    }
    const limit = Math.floor(Math.max(0, this.init.promptIds.length - 1) / e.kv.blockSize);
    const extra = Math.max(0, Math.min(hit, limit) - local);
    e.metrics.kvTransfer("lmcache", extra > 0 ? "ok" : "miss");
    return extra * e.kv.blockSize;
  }

  /**
   * Runs the request, yielding `ready` then the tokens.
   *
   * @returns The result (also stored in {@linkcode Generation.result}).
   */
  async *events(): AsyncGenerator<GenerationEvent, GenerationResult, void> {
    const e = this.#engine;
    const pd = this.init.pd;
    const plan = this.init.plan;
    const promptLen = this.init.promptIds.length;
    const pdDecode = pd.kind === "nixl-decode" || pd.kind === "sglang-decode";
    // PD legs answer (headers) only once the handoff is done, as the engines do, so a failed
    // transfer or bootstrap is an HTTP error; other requests are accepted at once.
    const lateReady = pdDecode || pd.kind === "sglang-prefill";
    try {
      let remote: Promise<RemoteKv> | undefined;
      if (pd.kind === "sglang-prefill") {
        await e.sglang!.waitForDecode(pd.room, this.init.id, this.#signal);
      } else if (pd.kind === "sglang-decode") {
        remote = connectToPrefill(
          pd.host,
          pd.port,
          pd.room,
          e.identity,
          e.options.bootstrapTimeoutMs,
          this.#signal,
        );
        remote.catch(() => {});
      }
      if (!lateReady) yield { type: "ready" };
      await this.#admit();
      let transferred = await this.#remoteKv(remote);
      if (pdDecode) yield { type: "ready" };
      if (transferred === 0 && !pdDecode) transferred = await this.#lmcacheTokens();
      const seq = this.#seq!;
      const uncached = Math.max(0, promptLen - seq.cachedTokens - transferred);
      const pdDone = pdDecode && transferred > 0;
      let delay = e.latency.transferMs(transferred) + e.latency.fixedMs(this.init.extraTtftMs);
      if (!pdDone || uncached > 0) delay += e.latency.prefillMs(uncached, e.scheduler.numRunning);
      await this.#pause(delay);
      if (this.#preempted) await this.#recompute();
      e.kv.commit(this.#seq!);
      if (pd.kind === "sglang-prefill") {
        e.sglang!.deliver(pd.room, {
          blockHashes: this.#ownHashes(),
          numTokens: promptLen,
          engineId: e.identity.engineId,
          pdGroup: e.identity.pdGroup,
          blockSize: e.kv.blockSize,
        });
        this.#delivered = true;
        yield { type: "ready" };
      }
      e.lmcache?.store(this.#ownHashes());

      let nextAt = 0;
      for (let i = 0; i < plan.tokens.length; i++) {
        const token = plan.tokens[i]!;
        if (i > 0) await this.#pause(nextAt - performance.now());
        await this.#appendToken(token.id);
        const now = performance.now();
        if (i === 0) {
          this.#firstTokenAt = now;
          e.metrics.ttft((now - this.#arrival) / 1000);
        } else {
          e.metrics.interToken((now - this.#lastTokenAt!) / 1000);
        }
        this.#lastTokenAt = now;
        nextAt = now + e.latency.interTokenMs(e.scheduler.numRunning);
        e.metrics.generated(1);
        yield { type: "token", index: i, token };
      }

      let kvTransferParams: Record<string, unknown> | null = null;
      if (pd.kind === "nixl-prefill" && plan.finishReason === "length" && e.nixl !== undefined) {
        kvTransferParams = e.nixl.hold(this.init.id, this.#seq!, promptLen);
        this.#seq = undefined;
      }
      this.result = {
        cachedTokens: this.cachedTokens,
        completionTokens: plan.tokens.length,
        kvTransferParams,
      };
      this.#release(plan.finishReason);
      return this.result;
    } catch (err) {
      this.#release(this.#signal.aborted ? "abort" : "error");
      throw err;
    } finally {
      // A consumer that stops iterating early (return()) lands here without a catch.
      this.#release("abort");
    }
  }

  #release(reason: FinishedReason): void {
    if (this.#released) return;
    this.#released = true;
    const e = this.#engine;
    if (this.#seq !== undefined) e.kv.free(this.#seq);
    this.#seq = undefined;
    e.scheduler.finish(this);
    e.forget(this);
    const pd = this.init.pd;
    if (pd.kind === "nixl-decode" && !this.#nixlSettled) {
      // vLLM: a decode aborted before reading still tells the prefill to free its blocks.
      e.track(releaseNixlKv(pd.params, e.options.kvTransferTimeoutMs).catch(() => {}));
    }
    if (pd.kind === "sglang-prefill" && !this.#delivered) {
      e.sglang?.fail(pd.room, `prefill ${reason}`);
    }
    if (this.#finishReported) return;
    this.#finishReported = true;
    const now = performance.now();
    const admitted = this.#admittedAt ?? now;
    const first = this.#firstTokenAt ?? now;
    const n = this.#generated.length;
    if (reason === "stop" || reason === "length") {
      e.metrics.requestTimes({
        e2e: (now - this.#arrival) / 1000,
        queue: (admitted - this.#arrival) / 1000,
        prefill: (first - admitted) / 1000,
        decode: (now - first) / 1000,
        tpot: n > 1 ? (now - first) / 1000 / (n - 1) : 0,
      });
    }
    e.metrics.finished(reason, this.init.promptIds.length, n);
  }
}

/**
 * The engine: KV cache, scheduler, latency model, metrics and PD stores of one simulator.
 *
 * @example
 * ```ts
 * import { Engine } from "./engine.ts";
 * import { resolveSimOptions } from "./options.ts";
 * const engine = new Engine(resolveSimOptions({ profile: "fast", timeScale: 0 }), () => false);
 * const g = engine.submit({
 *   id: "r1", lora: undefined, promptIds: [1, 2, 3], extraTtftMs: 0, pd: { kind: "none" },
 *   plan: { tokens: [{ id: 9, text: "Hi" }], finishReason: "length", stopReason: null },
 * });
 * for await (const ev of g.events()) if (ev.type === "token") console.log(ev.token.text); // "Hi"
 * await engine.close();
 * ```
 */
export class Engine {
  /** Options in force. */
  readonly options: SimOptions;
  /** KV cache. */
  readonly kv: KvCache;
  /** Scheduler. */
  readonly scheduler: Scheduler<Generation>;
  /** Latency model. */
  readonly latency: LatencyModel;
  /** Metrics. */
  readonly metrics: EngineMetrics;
  /** Identity sent to PD peers. */
  readonly identity: PeerIdentity;
  /** NIXL/Mooncake prefill store (prefill or both role). */
  readonly nixl: NixlPrefillStore | undefined;
  /** SGLang bootstrap rooms (prefill role). */
  readonly sglang: SglangBootstrap | undefined;
  /** LMCache store (lmcache connector). */
  readonly lmcache: LmcacheStore | undefined;
  /** Decode requests waiting for remote KV. */
  decodeTransferQueue = 0;
  readonly #active = new Set<Generation>();
  readonly #background = new Set<Promise<unknown>>();

  /**
   * @param options Resolved options.
   * @param loraEnabled Whether LoRA serving is on (for `vllm:lora_requests_info`).
   */
  constructor(options: SimOptions, loraEnabled: () => boolean) {
    this.options = options;
    this.kv = new KvCache({
      numBlocks: options.numGpuBlocks,
      blockSize: options.blockSize,
      enablePrefixCaching: options.enablePrefixCaching,
    });
    this.scheduler = new Scheduler<Generation>({
      maxNumSeqs: options.maxNumSeqs,
      maxLoras: options.maxLoras,
    });
    this.latency = new LatencyModel(options, options.seed ?? Math.floor(Math.random() * 2 ** 32));
    this.identity = {
      engineId: options.engineId,
      pdGroup: options.pdGroup,
      refuseCrossGroup: options.refuseCrossGroup,
      blockSize: options.blockSize,
    };
    const pdRole = options.role === "prefill" || options.role === "both";
    this.nixl = (options.kvConnector === "nixl" || options.kvConnector === "mooncake") && pdRole
      ? new NixlPrefillStore({
        kv: this.kv,
        identity: this.identity,
        host: options.sideChannelHost,
        port: options.sideChannelPort,
        tpSize: options.tpSize,
        holdTimeoutMs: options.kvHoldTimeoutMs,
        onFreed: () => this.scheduler.schedule(),
      })
      : undefined;
    this.sglang = options.kvConnector === "sglang" && options.role === "prefill"
      ? new SglangBootstrap(this.identity, options.bootstrapTimeoutMs)
      : undefined;
    this.lmcache = options.kvConnector === "lmcache"
      ? new LmcacheStore(options.lmcacheCapacityBlocks)
      : undefined;
    const state: EngineStateView = {
      numRunning: () => this.scheduler.numRunning,
      numWaiting: () => this.scheduler.numWaiting,
      kvUsage: () => this.kv.usage,
      numUsedTokens: () => this.kv.numUsedBlocks * this.kv.blockSize,
      runningLoras: () =>
        this.scheduler.running.flatMap((g) => g.lora === undefined ? [] : [g.lora]),
      waitingLoras: () =>
        this.scheduler.waiting.flatMap((g) => g.lora === undefined ? [] : [g.lora]),
      loraEnabled,
      bootstrapQueue: () => this.sglang?.numWaiting ?? 0,
      prefillInflight: () => this.nixl?.numHeld ?? 0,
      decodeTransferQueue: () => this.decodeTransferQueue,
    };
    this.metrics = createMetrics(options, state);
  }

  /** Requests not yet finished. */
  get numActive(): number {
    return this.#active.size;
  }

  /**
   * Creates a generation (it starts when its events are iterated).
   *
   * @param init The request.
   * @returns The generation.
   */
  submit(init: GenerationInit): Generation {
    const g = new Generation(this, init);
    this.#active.add(g);
    return g;
  }

  /** @internal drops a finished generation. */
  forget(g: Generation): void {
    this.#active.delete(g);
  }

  /** Keeps a background task (e.g. a release notification) to await on close. */
  track(p: Promise<unknown>): void {
    this.#background.add(p);
    p.finally(() => this.#background.delete(p));
  }

  /** Cancels every request, frees held blocks and waits for background tasks. */
  async close(): Promise<void> {
    for (const g of [...this.#active]) g.cancel();
    this.nixl?.close();
    this.sglang?.close();
    await Promise.allSettled([...this.#background]);
  }
}
