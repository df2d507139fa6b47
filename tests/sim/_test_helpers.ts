/**
 * Helpers shared by the simulator tests (private: not part of the simulator's API).
 *
 * @module
 */

import { EventSourceParserStream } from "eventsource-parser/stream";
import parsePrometheusTextFormat from "parse-prometheus-text-format";

/** A parsed JSON response. */
export interface JsonResponse {
  /** HTTP status. */
  status: number;
  /** Parsed body (undefined when empty or not JSON). */
  body: Record<string, unknown>;
  /** Response headers. */
  headers: Headers;
}

/**
 * POSTs JSON and reads the JSON answer.
 *
 * @example
 * ```ts ignore
 * const r = await postJson(`${url}/v1/completions`, { prompt: "hi" });
 * ```
 */
export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<JsonResponse> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = text === "" ? {} : JSON.parse(text);
  } catch {
    parsed = { _text: text };
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/**
 * Reads an SSE response to its end and returns the `data:` payloads (with eventsource-parser).
 *
 * @example
 * ```ts ignore
 * const events = await readSse(res); // ["{…}", …, "[DONE]"]
 * ```
 */
export async function readSse(res: Response): Promise<string[]> {
  const out: string[] = [];
  const events = res.body!.pipeThrough(new TextDecoderStream()).pipeThrough(
    new EventSourceParserStream(),
  );
  for await (const ev of events) out.push(ev.data);
  return out;
}

/** Starts a streaming request and returns the response (body unread). */
export function postStream(url: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...(body as Record<string, unknown>), stream: true }),
    ...init,
  });
}

/** One metric family as parse-prometheus-text-format returns it. */
export interface MetricFamily {
  /** Name. */
  name: string;
  /** HELP text. */
  help: string;
  /** `GAUGE`, `COUNTER`, `HISTOGRAM`, … */
  type: string;
  /** Samples. */
  metrics: Array<{
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }>;
}

/**
 * Parses Prometheus text with `parse-prometheus-text-format`.
 *
 * That parser keeps `_sum`/`_count` of a histogram only when the histogram has no labels
 * (`flattenMetrics` drops them for labelled series, and engine histograms are always labelled).
 * So `_sum`/`_count` are also exposed as families of their own (`<name>_sum`, `<name>_count`),
 * parsed by the same library from the text with the histogram TYPE lines removed.
 *
 * @example
 * ```ts ignore
 * const families = parseMetrics(text);
 * ```
 */
export function parseMetrics(text: string): Map<string, MetricFamily> {
  const parse = parsePrometheusTextFormat as (t: string) => MetricFamily[];
  const families = new Map(parse(text).map((f) => [f.name, f]));
  const untyped = text.split("\n").filter((l) => !/^# TYPE \S+ histogram$/.test(l)).join("\n");
  for (const f of parse(untyped)) {
    if (/_(sum|count)$/.test(f.name) && !families.has(f.name)) families.set(f.name, f);
  }
  return families;
}

/** Scrapes and parses `/metrics`. */
export async function scrape(url: string): Promise<Map<string, MetricFamily>> {
  const res = await fetch(`${url}/metrics`);
  return parseMetrics(await res.text());
}

/** Value of the first sample of a gauge/counter (whose labels include `labels`), or NaN. */
export function sample(
  families: Map<string, MetricFamily>,
  name: string,
  labels: Record<string, string> = {},
): number {
  const f = families.get(name);
  const m = f?.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  return m?.value === undefined ? Number.NaN : Number(m.value);
}

/** Count and sum of a histogram's first series. */
export function histogram(
  families: Map<string, MetricFamily>,
  name: string,
): { count: number; sum: number } {
  return { count: sample(families, `${name}_count`), sum: sample(families, `${name}_sum`) };
}

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Polls `check` until it returns true or `timeoutMs` passes.
 *
 * @throws {Error} On timeout, with `what` in the message.
 */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeoutMs = 15_000,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}

/** A chat body with one user message. */
export function chat(
  content: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { model: "m", messages: [{ role: "user", content }], ...extra };
}

/** Deterministic filler text of about `words` tokens (distinct per `salt`). */
export function filler(words: number, salt = "x"): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(`${salt}${i % 97}`);
  return out.join(" ");
}

/** Client-side timing of a streaming request. */
export interface StreamTiming {
  /** Milliseconds until the first non-empty content delta. */
  ttftMs: number;
  /** Milliseconds until `[DONE]`. */
  totalMs: number;
  /** Concatenated content. */
  text: string;
  /** Parsed chunks (without `[DONE]`). */
  chunks: Record<string, unknown>[];
}

/** Streams a chat or completion request and measures it. */
export async function timedStream(
  url: string,
  body: Record<string, unknown>,
): Promise<StreamTiming> {
  const start = performance.now();
  const res = await postStream(url, body);
  if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
  let ttftMs = Number.NaN;
  let text = "";
  const chunks: Record<string, unknown>[] = [];
  const events = res.body!.pipeThrough(new TextDecoderStream()).pipeThrough(
    new EventSourceParserStream(),
  );
  for await (const ev of events) {
    if (ev.data === "[DONE]") continue;
    const chunk = JSON.parse(ev.data) as Record<string, unknown>;
    chunks.push(chunk);
    const choice = (chunk.choices as Array<Record<string, unknown>>)[0];
    const piece = (choice?.delta as { content?: string } | undefined)?.content ??
      (choice?.text as string | undefined) ??
      "";
    if (piece !== "" && Number.isNaN(ttftMs)) ttftMs = performance.now() - start;
    text += piece;
  }
  return { ttftMs, totalMs: performance.now() - start, text, chunks };
}
