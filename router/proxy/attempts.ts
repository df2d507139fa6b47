/**
 * Attempts and retries. An attempt (one pod, or one prefill/decode pair) is *committed* once
 * the first byte of its answer is in hand: the first chunk of a stream, or the whole body of a
 * non-streamed answer. Until then a retryable failure (no connection, timeout, 5xx, 429, a
 * stream that broke before its first byte, a failed prefill) moves on to the next candidate;
 * after it nothing is retried, so a client never receives two responses (upstream's PD retry
 * loop can write a second one, §7.5).
 *
 * `trafficPolicy.retry` is honoured: `attempts` retries after the first try, `retryInterval`
 * apart. Without it the router falls back over the scheduler's best pods (at most 5 tries, no
 * pause), which is what upstream does implicitly.
 *
 * @module
 */
import type { ModelServer } from "@kthena/shared/api";
import { parseDuration } from "../config/duration.ts";
import type { Endpoint } from "../datastore/endpoint.ts";
import type { LegTimeouts } from "./engine_client.ts";
import { type Failure, failureOfError, isRetryable } from "./leg.ts";
import { bodyText, type PushBody, pushBodyOf, PushQueue } from "./push_body.ts";

/** Upstream's implicit number of candidates (its top-N). */
export const DEFAULT_MAX_TRIES = 5;

/** An attempt whose engine answered 2xx (its body not read yet). */
export interface AttemptSuccess {
  readonly ok: true;
  /** The engine's (or decode's) response. */
  readonly response: Response;
  /** The leg the response comes from. */
  readonly leg: "engine" | "decode";
  /** The pod the response comes from. */
  readonly endpoint: Endpoint;
  /** Ends the bookkeeping of the responding leg (call once its body is done). */
  readonly endDecode: (status: number | undefined) => void;
  /** Cancels every leg still running. */
  readonly abort: () => void;
  /** Concurrent PD: the prefill's failure, once it failed. */
  readonly prefillFailure?: () => Failure | undefined;
  /** Concurrent PD: settles when the prefill has ended. */
  readonly prefillDone?: Promise<unknown>;
}

/** The outcome of one attempt. */
export type AttemptResult = AttemptSuccess | { readonly ok: false; readonly failure: Failure };

/** A committed attempt: the client will get this answer. */
export interface Committed extends AttemptSuccess {
  /** How many attempts it took (1 = first try). */
  readonly attempts: number;
  /** Whether the answer is a stream (SSE or NDJSON). */
  readonly stream: boolean;
  /** Stream: the rest of the body after {@linkcode Committed.first}, as a push body. */
  readonly push?: PushBody;
  /** Stream (a body without a push body): the reader, positioned after the first chunk. */
  readonly reader?: ReadableStreamDefaultReader<Uint8Array>;
  /** Stream: the first chunk (undefined when the stream was empty). */
  readonly first?: Uint8Array;
  /** Not a stream: the whole body. */
  readonly text?: string;
  /** `performance.now()` when the first byte arrived. */
  readonly firstByteAt: number;
}

/**
 * How many tries and how far apart.
 *
 * @example
 * ```ts
 * import type { RetryPolicy } from "./attempts.ts";
 * const twoRetries: RetryPolicy = { tries: 3, intervalMs: 100, explicit: true };
 * ```
 */
export interface RetryPolicy {
  /** Total tries (1 = no retry). */
  readonly tries: number;
  /** Pause between tries, milliseconds. */
  readonly intervalMs: number;
  /** Whether the ModelServer configured it (vs. the implicit fallback). */
  readonly explicit: boolean;
}

interface ServerPolicy {
  retry?: RetryPolicy;
  firstByteMs?: number;
  idleMs?: number;
}

const policyCache = new WeakMap<ModelServer, ServerPolicy>();

/**
 * The annotation of a ModelServer that sets its stream idle timeout (a Go duration; `0s`: none),
 * overriding the router's default.
 */
export const STREAM_IDLE_TIMEOUT_ANNOTATION = "router.kthena.io/stream-idle-timeout";

function cached(server: ModelServer): ServerPolicy {
  let entry = policyCache.get(server);
  if (!entry) {
    const tp = server.spec.trafficPolicy;
    entry = {};
    if (tp?.timeout !== undefined) entry.firstByteMs = parseDuration(tp.timeout);
    const idle = server.metadata?.annotations?.[STREAM_IDLE_TIMEOUT_ANNOTATION];
    if (idle !== undefined) {
      try {
        entry.idleMs = parseDuration(idle);
      } catch (e) {
        throw new Error(
          `ModelServer ${server.metadata?.namespace}/${server.metadata?.name}: annotation ${STREAM_IDLE_TIMEOUT_ANNOTATION}: ${
            (e as Error).message
          }`,
        );
      }
    }
    if (tp?.retry) {
      entry.retry = {
        tries: 1 + (tp.retry.attempts ?? 0),
        intervalMs: parseDuration(tp.retry.retryInterval),
        explicit: true,
      };
    }
    policyCache.set(server, entry);
  }
  return entry;
}

/**
 * The retry policy of a ModelServer.
 *
 * @param server The ModelServer.
 * @param candidates How many distinct pods (or pairs) there are.
 *
 * @example
 * ```ts
 * import { retryPolicy } from "./attempts.ts";
 * retryPolicy({ spec: { trafficPolicy: { retry: { attempts: 2, retryInterval: "50ms" } } } } as never, 1);
 * // { tries: 3, intervalMs: 50, explicit: true }
 * ```
 */
export function retryPolicy(server: ModelServer, candidates: number): RetryPolicy {
  return cached(server).retry ??
    { tries: Math.max(1, Math.min(candidates, DEFAULT_MAX_TRIES)), intervalMs: 0, explicit: false };
}

/** The router's default leg timeouts (`--first-byte-timeout`, `--stream-idle-timeout`). */
export interface TimeoutDefaults {
  /** Time to the first body byte of a leg. */
  readonly firstByteMs: number;
  /** Time between body chunks of a leg. */
  readonly idleMs: number;
}

/**
 * Defaults of {@linkcode TimeoutDefaults}: 5 minutes to the first byte (a long prompt's
 * prefill, or a whole non-streamed answer, which vLLM sends at the end), 60 s between chunks.
 *
 * @example
 * ```ts
 * import { DEFAULT_TIMEOUTS } from "./attempts.ts";
 * DEFAULT_TIMEOUTS.idleMs; // 60000
 * ```
 */
export const DEFAULT_TIMEOUTS: TimeoutDefaults = { firstByteMs: 300_000, idleMs: 60_000 };

/**
 * The leg timeouts for a ModelServer: `trafficPolicy.timeout` bounds the time to the first
 * body byte of every leg (upstream bounds only the response headers, which vLLM sends at once),
 * the annotation {@linkcode STREAM_IDLE_TIMEOUT_ANNOTATION} the time between chunks; the
 * router's defaults fill in what the ModelServer does not say.
 *
 * @throws {Error} when the annotation is not a duration (named in the message).
 * @example
 * ```ts
 * import { DEFAULT_TIMEOUTS, legTimeouts } from "./attempts.ts";
 * legTimeouts({ spec: { trafficPolicy: { timeout: "10s" } } } as never, DEFAULT_TIMEOUTS);
 * // { firstByteMs: 10000, idleMs: 60000 }
 * ```
 */
export function legTimeouts(server: ModelServer, defaults: TimeoutDefaults): LegTimeouts {
  const own = cached(server);
  return {
    firstByteMs: own.firstByteMs ?? defaults.firstByteMs,
    idleMs: own.idleMs ?? defaults.idleMs,
  };
}

/** Options of {@linkcode runAttempts}. */
export interface RunOptions {
  /** Tries and pause. */
  readonly policy: RetryPolicy;
  /** The client's abort signal. */
  readonly signal: AbortSignal;
  /** Runs try number `index` (0-based). */
  run(index: number): Promise<AttemptResult>;
  /** Told about every failed try. */
  onFailure?(failure: Failure, index: number): void;
}

/** The outcome of {@linkcode runAttempts}. */
export type RunOutcome =
  | { readonly ok: true; readonly committed: Committed }
  | { readonly ok: false; readonly failure: Failure; readonly attempts: number };

const STREAM_TYPES = /^\s*(text\/event-stream|application\/x-ndjson)/i;

/** How long a non-streamed PD answer waits for its concurrent prefill to report. */
const PREFILL_SETTLE_MS = 1000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Takes a push body for its first chunk: resolves with it (none when the body was empty) and
 * with the rest as a push body of its own; rejects when the body broke first.
 */
function takeFirst(push: PushBody): Promise<{ first?: Uint8Array; rest: PushQueue }> {
  const rest = new PushQueue({ resume: () => push.resume(), cancel: () => push.cancel() });
  const { promise, resolve, reject } = Promise.withResolvers<
    { first?: Uint8Array; rest: PushQueue }
  >();
  let got = false;
  push.take({
    chunk(bytes) {
      if (got) return rest.chunk(bytes);
      got = true;
      resolve({ first: bytes, rest });
      return true;
    },
    end() {
      if (got) return rest.end();
      got = true;
      resolve({ rest });
    },
    error(e) {
      if (got) return rest.error(e);
      got = true;
      reject(e);
    },
  });
  return promise;
}

/** Reads up to the commit point; a failure means the attempt may be retried. */
async function commit(
  result: AttemptSuccess,
  attempts: number,
  signal: AbortSignal,
): Promise<{ ok: true; committed: Committed } | { ok: false; failure: Failure }> {
  const stream = STREAM_TYPES.test(result.response.headers.get("content-type") ?? "");
  const fail = (e: unknown): { ok: false; failure: Failure } => {
    result.abort();
    result.endDecode(undefined);
    const prefill = result.prefillFailure?.();
    if (prefill && !signal.aborted) return { ok: false, failure: prefill };
    return {
      ok: false,
      failure: failureOfError(
        e,
        result.leg,
        result.endpoint,
        signal,
        "response body failed before the first byte: ",
      ),
    };
  };
  if (stream) {
    const push = pushBodyOf(result.response);
    if (push) {
      try {
        const first = await takeFirst(push);
        return {
          ok: true,
          committed: {
            ...result,
            attempts,
            stream,
            firstByteAt: performance.now(),
            ...(first.first ? { first: first.first, push: first.rest } : {}),
          },
        };
      } catch (e) {
        return fail(e);
      }
    }
    const body = result.response.body;
    if (!body) {
      return {
        ok: true,
        committed: { ...result, attempts, stream, firstByteAt: performance.now() },
      };
    }
    const reader = body.getReader();
    try {
      const { done, value } = await reader.read();
      const firstByteAt = performance.now();
      return {
        ok: true,
        committed: {
          ...result,
          attempts,
          stream,
          reader,
          firstByteAt,
          ...(done ? {} : { first: value }),
        },
      };
    } catch (e) {
      return fail(e);
    }
  }
  let text: string;
  try {
    text = await bodyText(result.response);
  } catch (e) {
    return fail(e);
  }
  const firstByteAt = performance.now();
  if (result.prefillDone) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      result.prefillDone,
      new Promise((resolve) => timer = setTimeout(resolve, PREFILL_SETTLE_MS)),
    ]);
    clearTimeout(timer);
    const prefill = result.prefillFailure?.();
    if (prefill) {
      result.abort();
      result.endDecode(result.response.status);
      return { ok: false, failure: prefill };
    }
    result.abort();
  }
  return { ok: true, committed: { ...result, attempts, stream, text, firstByteAt } };
}

/**
 * Tries until an attempt commits, a failure is not retryable, the tries run out, or the client
 * leaves.
 *
 * @example
 * ```ts ignore
 * import { runAttempts } from "./attempts.ts";
 * const outcome = await runAttempts({ policy: { tries: 3, intervalMs: 100, explicit: true }, signal, run: (i) => tryPod(pods[i % pods.length]) });
 * ```
 */
export async function runAttempts(options: RunOptions): Promise<RunOutcome> {
  const { policy, signal } = options;
  let last: Failure | undefined;
  for (let i = 0; i < policy.tries; i++) {
    if (i > 0) await sleep(policy.intervalMs, signal);
    const result = await options.run(i);
    const outcome = result.ok ? await commit(result, i + 1, signal) : result;
    if (outcome.ok) return outcome;
    last = outcome.failure;
    if (signal.aborted && last.kind !== "aborted") last = { ...last, kind: "aborted" };
    options.onFailure?.(last, i);
    if (!isRetryable(last) || signal.aborted) return { ok: false, failure: last, attempts: i + 1 };
  }
  return { ok: false, failure: last!, attempts: policy.tries };
}
