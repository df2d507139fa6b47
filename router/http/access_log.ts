/**
 * The access log: one JSON line per `/v1/` request, written when the response has ended (for
 * streams, when the stream ends). Field names follow upstream's JSON format (§2.13) where it has
 * them; `prefill_pod`, `decode_pod`, `ttft_ms` and `kv_connector` are ours.
 *
 * Lines are batched and written asynchronously so the request path never waits on stdout.
 *
 * @module
 */

/** One access-log record. */
export interface AccessLogEntry {
  timestamp: string;
  request_id: string;
  method: string;
  path: string;
  status_code: number;
  model_name?: string;
  model_route?: string;
  model_server?: string;
  upstream_model?: string;
  /** Aggregated serving: the pod that answered. */
  selected_pod?: string;
  /** PD: the prefill pod of the pair that answered. */
  prefill_pod?: string;
  /** PD: the decode pod of the pair that answered. */
  decode_pod?: string;
  kv_connector?: string;
  stream?: boolean;
  upstream_attempts?: number;
  upstream_status_code?: number;
  input_tokens?: number;
  output_tokens?: number;
  /** Streams: milliseconds to the first byte of the answer. */
  ttft_ms?: number;
  duration_ms: number;
  error?: { type: string; message: string };
}

/** Where entries go. */
export type AccessLogSink = (entry: AccessLogEntry) => void;

/**
 * A sink writing JSON lines to a writer (stdout by default), batched per event-loop turn.
 *
 * @example
 * ```ts ignore
 * import { JsonLineWriter } from "./access_log.ts";
 * const log = new JsonLineWriter();
 * log.sink({ timestamp: new Date().toISOString(), request_id: "r", method: "POST", path: "/v1/completions", status_code: 200, duration_ms: 3 });
 * await log.flush();
 * ```
 */
export class JsonLineWriter {
  readonly #writer: { write(p: Uint8Array): Promise<number> };
  readonly #encoder = new TextEncoder();
  #pending: string[] = [];
  #writing: Promise<void> = Promise.resolve();
  #scheduled = false;

  /** @param writer Where lines go. @default Deno.stdout */
  constructor(writer: { write(p: Uint8Array): Promise<number> } = Deno.stdout) {
    this.#writer = writer;
  }

  /** The sink to hand to the router. */
  readonly sink: AccessLogSink = (entry) => {
    this.#pending.push(JSON.stringify(entry));
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#drain());
    }
  };

  #drain(): void {
    this.#scheduled = false;
    if (this.#pending.length === 0) return;
    const text = this.#pending.join("\n") + "\n";
    this.#pending = [];
    const bytes = this.#encoder.encode(text);
    this.#writing = this.#writing.then(async () => {
      let off = 0;
      while (off < bytes.length) off += await this.#writer.write(bytes.subarray(off));
    }).catch(() => {});
  }

  /** Writes what is pending. */
  async flush(): Promise<void> {
    this.#drain();
    await this.#writing;
  }
}
