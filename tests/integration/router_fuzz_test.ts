/**
 * Fuzzing the router's data path (issue #15): thousands of malformed requests, generated from a
 * fixed seed, against a served router (127.0.0.1, a free port) in front of simulator processes
 * (aggregated `m`, and `pd` over NIXL), over `fetch` and raw sockets. Nothing may answer 5xx,
 * every error the router answers is an OpenAI error object with an `x-request-id`, and the
 * router still serves valid requests afterwards.
 *
 * Also here, because it needs real engines: a NIXL decode that refuses a request does not leave
 * the prefill's KV blocks pinned.
 *
 * @module
 */
import { deepEqual, equal, ok } from "node:assert/strict";
import { modelRoute, modelServer } from "../../router/testing/objects.ts";
import { seededRandom } from "../sim/prng.ts";
import { type Fleet, pdSimulatorArgs, post, scrape, startFleet, until } from "./router_fleet.ts";

const SEED = 20261204;
const CASES = 2400;
const CONCURRENCY = 8;
const TIME_SCALE = ["--time-scale", "0"];

function objects() {
  return [
    modelRoute("m", { modelName: "m", rules: [{ targetModels: [{ modelServerName: "m" }] }] }),
    modelServer("m", { model: "m", workloadSelector: { matchLabels: { app: "m" } } }),
    modelRoute("pd", { modelName: "pd", rules: [{ targetModels: [{ modelServerName: "pd" }] }] }),
    modelServer("pd", {
      model: "Qwen/Qwen3-8B",
      kvConnector: { type: "nixl" },
      workloadSelector: {
        matchLabels: { app: "pd" },
        pdGroup: {
          groupKey: "group",
          prefillLabels: { role: "prefill" },
          decodeLabels: { role: "decode" },
        },
      },
      trafficPolicy: { timeout: "20s" },
    }),
  ];
}

function startFuzzFleet(): Promise<Fleet> {
  const pd = (role: "prefill" | "decode") => ({
    name: `g0-${role}`,
    args: [...pdSimulatorArgs("nixl", "g0", role), ...TIME_SCALE],
    labels: { app: "pd", group: "g0", role },
  });
  return startFleet({
    engines: [
      {
        name: "m-0",
        args: ["--model", "m", "--profile", "fast", ...TIME_SCALE],
        labels: { app: "m" },
      },
      pd("prefill"),
      pd("decode"),
    ],
    objects: objects(),
  });
}

// --- generators -------------------------------------------------------------------------------

type Rng = () => number;

const int = (r: Rng, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

const WORDS = ["hello", "kv", "cache", "prefill", "decode", "ünïcødé", "😀", "\u0000", "\\", '"'];

function randomString(r: Rng, max = 40): string {
  const n = int(r, 0, max);
  let s = "";
  for (let i = 0; i < n; i++) {
    s += r() < 0.7 ? pick(r, WORDS) + " " : String.fromCharCode(int(r, 0, 0xd7ff));
  }
  return s;
}

function randomValue(r: Rng, depth = 0): unknown {
  const k = int(r, 0, depth > 3 ? 6 : 9);
  switch (k) {
    case 0:
      return null;
    case 1:
      return r() < 0.5;
    case 2:
      return pick(r, [0, -1, 1, 2 ** 31, 2 ** 53 + 2, -(2 ** 63), 1e308, -1e-308, 0.5, 65536]);
    case 3:
      return r() * 1000 - 500;
    case 4:
      return randomString(r);
    case 5:
      return "";
    case 6:
      return pick(r, ["true", "false", "null", "1", "-1", "NaN", "m", "pd"]);
    case 7:
      return Array.from({ length: int(r, 0, 4) }, () => randomValue(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = int(r, 0, 4); i > 0; i--) {
        o[
          pick(r, [
            "include_usage",
            "role",
            "content",
            "do_remote_prefill",
            "a",
            randomString(r, 3),
          ])
        ] = randomValue(r, depth + 1);
      }
      return o;
    }
  }
}

const FIELDS = [
  "model",
  "messages",
  "prompt",
  "stream",
  "stream_options",
  "max_tokens",
  "max_completion_tokens",
  "min_tokens",
  "n",
  "temperature",
  "top_p",
  "seed",
  "stop",
  "logprobs",
  "echo",
  "tools",
  "response_format",
  "kv_transfer_params",
  "ignore_eos",
];

function validBody(r: Rng): { path: string; body: Record<string, unknown> } {
  const model = pick(r, ["m", "pd"]);
  const stream = r() < 0.4;
  if (r() < 0.5) {
    return {
      path: "/v1/chat/completions",
      body: {
        model,
        messages: [{ role: "user", content: randomString(r, 8) || "hi" }],
        max_tokens: int(r, 1, 6),
        stream,
      },
    };
  }
  return {
    path: "/v1/completions",
    body: { model, prompt: randomString(r, 8) || "hi", max_tokens: int(r, 1, 6), stream },
  };
}

function deepText(r: Rng): string {
  const d = pick(r, [127, 128, 129, 500, 8000, 20000, 100_000]);
  const closed = r() < 0.8;
  if (r() < 0.5) return "[".repeat(d) + (closed ? "]".repeat(d) : "");
  return '{"a":'.repeat(d) + "1" + (closed ? "}".repeat(d) : "");
}

/** One generated request. */
type Case =
  | {
    kind: "fetch";
    what: string;
    method: string;
    path: string;
    headers: [string, string][];
    body?: string | Uint8Array<ArrayBuffer>;
    id?: string;
  }
  | {
    kind: "raw";
    what: string;
    parts: string[];
    closeWrite: boolean;
    gapMs: number;
    id?: string;
  };

const JSON_HEADERS: [string, string][] = [["content-type", "application/json"]];

function head(path: string, extra: string[]): string {
  return [`POST ${path} HTTP/1.1`, "host: 127.0.0.1", "content-type: application/json", ...extra]
    .join("\r\n") + "\r\n\r\n";
}

function generate(r: Rng, i: number): Case {
  const { path, body } = validBody(r);
  const valid = JSON.stringify(body);
  const kind = i % 14;
  const fetchCase = (
    what: string,
    b: string | Uint8Array<ArrayBuffer>,
    extra: Partial<Case> = {},
  ): Case => ({
    kind: "fetch",
    what,
    method: "POST",
    path,
    headers: JSON_HEADERS,
    body: b,
    ...extra,
  } as Case);
  switch (kind) {
    case 0:
      return fetchCase(
        "random bytes",
        new Uint8Array(int(r, 0, 2000)).map(() => int(r, 0, 255)),
      );
    case 1:
      return fetchCase("truncated body", valid.slice(0, int(r, 0, valid.length - 1)));
    case 2:
    case 3: {
      const field = pick(r, FIELDS);
      return fetchCase(
        `wrong type: ${field}`,
        JSON.stringify({ ...body, [field]: randomValue(r) }),
      );
    }
    case 4: {
      const field = pick(r, FIELDS);
      return fetchCase(
        `deep nesting in ${field}`,
        valid.slice(0, -1) + `,"${field}":${deepText(r)}}`,
      );
    }
    case 5: {
      const size = pick(r, [10_000, 100_000, 1_000_000, 3_000_000]);
      const field = pick(r, ["prompt", "model", "stop", "content"]);
      const huge = "x".repeat(size);
      return fetchCase(
        `huge string in ${field}`,
        JSON.stringify(
          field === "content"
            ? { ...body, messages: [{ role: "user", content: huge }] }
            : { ...body, [field]: huge },
        ),
      );
    }
    case 6: {
      const variant = int(r, 0, 5);
      const headers: [string, string][] = [
        [
          ["content-type", "content-type", "x-request-id", "authorization", "x-big", "accept"][
            variant
          ]!,
          [
            "application/json, text/plain",
            "multipart/form-data; boundary=x",
            pick(r, ["", " ", "a".repeat(300), "ok.id:1", "x\ty", "id,with,commas"]),
            "Bearer " + "z".repeat(int(r, 0, 4000)),
            "v".repeat(int(r, 1000, 16_000)),
            "text/event-stream",
          ][variant]!,
        ],
        ["x-request-id", "dup-1"],
        ["x-request-id", "dup-2"],
      ];
      return fetchCase(`headers ${variant}`, valid, { headers } as Partial<Case>);
    }
    case 7: {
      const method = pick(r, ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]);
      return {
        kind: "fetch",
        what: `method ${method}`,
        method,
        path: pick(r, [path, "/v1/models", "/healthz", "/v1/load_lora_adapter"]),
        headers: JSON_HEADERS,
        ...(method === "GET" || method === "HEAD" ? {} : { body: valid }),
      };
    }
    case 8: {
      const bad = pick(r, [
        "/v1/load_lora_adapter",
        "/v1/unload_lora_adapter",
        "/v1/chat/completions/",
        "/v1//chat/completions",
        "/v1/%63hat/completions",
        "/V1/chat/completions",
        "/v1/chat/completions/../../v1/load_lora_adapter",
        "/v1/" + "a".repeat(int(r, 1, 4000)),
        "/v2/rerank",
        "/",
        "/v1/completions?x=%zz&y=" + "q".repeat(100),
        "/v1/" + encodeURIComponent(randomString(r, 4)),
      ]);
      return fetchCase(`path ${bad.slice(0, 40)}`, valid, { path: bad } as Partial<Case>);
    }
    case 9: {
      const stream = pick(r, [false, true, "true", 1, null, undefined]);
      const options = pick(r, [{ include_usage: true }, { include_usage: "x" }, "yes", [], {}, {
        continuous_usage_stats: true,
      }]);
      return fetchCase(
        `stream ${JSON.stringify(stream)} options ${JSON.stringify(options)}`,
        JSON.stringify({ ...body, stream, stream_options: options }),
      );
    }
    case 10: {
      const params = pick(r, [
        { do_remote_prefill: true, remote_host: "127.0.0.1", remote_port: 1 },
        {
          do_remote_prefill: true,
          remote_engine_id: "x",
          remote_request_id: "y",
          remote_host: "127.0.0.1",
          remote_port: 1,
          remote_block_ids: [[1, 2]],
        },
        { do_remote_decode: true },
        randomValue(r),
      ]);
      return fetchCase(
        "kv_transfer_params",
        JSON.stringify({ ...body, model: pick(r, ["m", "pd"]), kv_transfer_params: params }),
      );
    }
    case 11: {
      // Bad framing (raw): content-length longer than sent, shorter, over the limit, garbage,
      // with transfer-encoding; an oversized header.
      const variant = int(r, 0, 7);
      const cut = valid.slice(0, int(r, 0, valid.length));
      const parts = [
        [head(path, [`content-length: ${valid.length + 50}`]), cut],
        [head(path, [`content-length: ${valid.length}`]), valid],
        [head(path, ["content-length: 5"]), valid],
        [head(path, ["transfer-encoding: chunked"]), "0\r\n\r\n"],
        [head(path, ["content-length: 40000000"]), valid], // over the 32 MiB limit: 413
        [head(path, ["content-length: abc"]), valid],
        [head(path, [`content-length: ${valid.length}`, "transfer-encoding: chunked"]), valid],
        [head(path, [`content-length: ${valid.length}`, `x-big: ${"v".repeat(200_000)}`]), valid],
      ][variant]!;
      return { kind: "raw", what: `content-length ${variant}`, parts, closeWrite: true, gapMs: 5 };
    }
    case 12: {
      // Chunked errors (raw).
      const variant = int(r, 0, 4);
      const size = valid.length.toString(16);
      const chunks = [
        `${size}\r\n${valid.slice(0, valid.length - 3)}`, // truncated chunk, then close
        `zz\r\n${valid}\r\n0\r\n\r\n`, // bad size
        `${size}\r\n${valid}0\r\n\r\n`, // missing CRLF after data
        `${size};ext=1;bad ext\r\n${valid}\r\n0\r\n\r\n`, // odd extension
        `ffffffffffffffffff\r\n${valid}`, // overflowing size
      ][variant]!;
      return {
        kind: "raw",
        what: `chunked ${variant}`,
        parts: [head(path, ["transfer-encoding: chunked"]), chunks],
        // A truncated chunk with the connection left open is just a slow client: close it.
        closeWrite: variant === 0 || r() < 0.5,
        gapMs: 5,
      };
    }
    default: {
      // Model and structure variants.
      const variant = pick(r, [
        { ...body, model: randomString(r, 3) || "unknown" },
        { ...body, model: "" },
        { ...body, model: "   " },
        { ...body, messages: [] },
        { ...body, messages: [{ role: "user" }] },
        { ...body, messages: [{ role: 3, content: [{ type: "image_url" }] }] },
        { ...body, max_tokens: 100_000 },
        { ...body, n: 5 },
      ]);
      return fetchCase("model/structure", JSON.stringify(variant));
    }
  }
}

/** Gives a case its own request id (unless it tests request-id headers itself). */
function withId(c: Case, i: number): Case {
  const id = `fz-${i}`;
  if (c.kind === "raw") {
    const [first, ...rest] = c.parts;
    return {
      ...c,
      id,
      // Right after the request line: a router can only echo an id it has read, and a request
      // whose headers overflow the limit is refused before the later ones are read.
      parts: [first!.replace("\r\n", `\r\nx-request-id: ${id}\r\n`), ...rest],
    };
  }
  if (c.headers.some(([k]) => k === "x-request-id")) return c;
  return { ...c, id, headers: [...c.headers, ["x-request-id", id]] };
}

// --- running ----------------------------------------------------------------------------------

interface Outcome {
  status: number | "dropped";
  headers?: Headers;
  body?: string;
  /** Answered by the HTTP listener itself (hyper), before the app saw the request. */
  listener?: boolean;
}

async function runFetch(url: string, c: Extract<Case, { kind: "fetch" }>): Promise<Outcome> {
  const headers = new Headers();
  for (const [k, v] of c.headers) headers.append(k, v);
  let res: Response;
  try {
    res = await fetch(`${url}${c.path}`, {
      method: c.method,
      headers,
      ...(c.body !== undefined ? { body: c.body } : {}),
    });
  } catch {
    return { status: "dropped" };
  }
  const body = await res.text();
  return { status: res.status, headers: res.headers, body };
}

async function runRaw(port: number, c: Extract<Case, { kind: "raw" }>): Promise<Outcome> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const enc = new TextEncoder();
  let text = "";
  try {
    try {
      for (const [i, p] of c.parts.entries()) {
        if (i > 0) await new Promise((r) => setTimeout(r, c.gapMs));
        await conn.write(enc.encode(p));
      }
      if (c.closeWrite) await conn.closeWrite();
    } catch {
      // the server may close first
    }
    const dec = new TextDecoder();
    const buf = new Uint8Array(65536);
    const timer = setTimeout(() => {
      try {
        conn.close();
      } catch {
        // closed
      }
    }, 2000);
    try {
      for (;;) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) break;
        text += dec.decode(buf.subarray(0, n), { stream: true });
        const end = text.indexOf("\r\n\r\n");
        if (end >= 0) {
          const len = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, end));
          if (len && enc.encode(text.slice(end + 4)).length >= Number(len[1])) break;
        }
      }
    } finally {
      clearTimeout(timer);
    }
  } finally {
    try {
      conn.close();
    } catch {
      // closed
    }
  }
  if (text === "") return { status: "dropped" };
  const end = text.indexOf("\r\n\r\n");
  const lines = text.slice(0, end < 0 ? text.length : end).split("\r\n");
  const headers = new Headers();
  for (const l of lines.slice(1)) {
    const k = l.indexOf(":");
    if (k > 0) headers.append(l.slice(0, k).trim(), l.slice(k + 1).trim());
  }
  return {
    status: Number(lines[0]!.split(" ")[1]),
    headers,
    body: end < 0 ? "" : text.slice(end + 4),
    listener: !headers.has("x-request-id"),
  };
}

function pathOf(c: Case): string {
  return c.kind === "fetch" ? new URL(c.path, "http://x").pathname : c.parts[0]!.split(" ")[1]!;
}

function methodOf(c: Case): string {
  return c.kind === "fetch" ? c.method : "POST";
}

/** Why an answer breaks the rules, or undefined. */
function violation(c: Case, o: Outcome): string | undefined {
  if (o.status === "dropped") return undefined;
  if (!Number.isInteger(o.status)) return `unparsable status`;
  if (o.status >= 500) return `status ${o.status}: ${o.body?.slice(0, 300)}`;
  if (o.listener) return undefined; // counted and reported; the app never saw the request
  if (!o.headers!.get("x-request-id")) return "no x-request-id";
  if (o.status < 400) return undefined;
  if (c.kind === "fetch" && c.method === "HEAD") return undefined;
  try {
    const e = (JSON.parse(o.body!) as { error?: Record<string, unknown> }).error;
    if (e === undefined || typeof e !== "object" || e === null) return "no error object";
    if (typeof e.message !== "string" || typeof e.type !== "string") return "error shape";
    if (!("param" in e) || !("code" in e)) return "error shape (param/code)";
  } catch {
    return `error body is not JSON: ${o.body!.slice(0, 80)}`;
  }
  return undefined;
}

Deno.test({
  name: `fuzz: ${CASES} malformed requests (seed ${SEED}): no 5xx, OpenAI errors with ids`,
  fn: async () => {
    const fleet = await startFuzzFleet();
    const t0 = performance.now();
    try {
      const r = seededRandom(SEED);
      const cases = Array.from({ length: CASES }, (_, i) => withId(generate(r, i), i));
      const byStatus = new Map<string, number>();
      const byKind = new Map<string, number>();
      const failures: string[] = [];
      let listener = 0;
      const dropped: string[] = [];
      const logged: Case[] = [];
      const slow: string[] = [];
      let next = 0;
      const worker = async () => {
        while (next < cases.length) {
          const c = cases[next++]!;
          const t = performance.now();
          const o = c.kind === "fetch"
            ? await runFetch(fleet.url, c)
            : await runRaw(fleet.router.port, c);
          const ms = performance.now() - t;
          if (ms > 1000) slow.push(`${c.what} ${Math.round(ms)} ms`);
          const key = String(o.status) + (o.listener ? " (listener)" : "");
          byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
          const k = `${c.kind}:${c.what.split(" ")[0]}`;
          byKind.set(k, (byKind.get(k) ?? 0) + 1);
          if (o.listener) listener++;
          if (o.status === "dropped") dropped.push(c.what);
          const v = violation(c, o);
          if (v) failures.push(`${c.what}: ${v}`);
          else if (c.id !== undefined && o.status !== "dropped" && !o.listener) {
            if (o.headers!.get("x-request-id") !== c.id) failures.push(`${c.what}: id not echoed`);
            else if (pathOf(c).startsWith("/v1/") && methodOf(c) === "POST") logged.push(c);
          }
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      const seconds = ((performance.now() - t0) / 1000).toFixed(1);
      // deno-lint-ignore no-console
      console.log(
        `fuzz: ${cases.length} requests in ${seconds} s; by status:`,
        Object.fromEntries([...byStatus].sort()),
        `; access-log lines checked: ${logged.length}`,
        `; slower than 1 s: ${slow.length} (${
          [...new Set(slow.map((w) => w.split(" ")[0] + " " + w.split(" ")[1]))].join(", ")
        })`,
        `; answered by the listener itself: ${listener}; no answer (connection closed): ${
          [...new Set(dropped)].join(", ")
        }`,
      );
      // deno-lint-ignore no-console
      if (failures.length > 0) console.log(failures.join("\n"));
      // Every answered POST /v1/* has its access-log line (written when the answer ended).
      const ids = () => new Set(fleet.log.map((e) => e.request_id));
      await until("access-log lines", () => logged.every((c) => ids().has(c.id!)), 5000).catch(
        () => {},
      );
      const seen = ids();
      for (const c of logged) if (!seen.has(c.id!)) failures.push(`${c.what}: no access-log line`);
      deepEqual(failures.slice(0, 20), [], `${failures.length} violations`);

      // Still serving, both kinds of model, and every engine alive.
      for (const model of ["m", "pd"]) {
        for (const stream of [false, true]) {
          const res = await post(fleet.url, "/v1/chat/completions", {
            model,
            messages: [{ role: "user", content: "still there?" }],
            max_tokens: 4,
            stream,
          });
          equal(res.status, 200, `${model} stream=${stream}`);
          const text = await res.text();
          ok(stream ? text.includes("[DONE]") : JSON.parse(text).choices.length === 1, text);
        }
      }
      const health = await fetch(`${fleet.url}/healthz`);
      equal(health.status, 200);
      await health.body?.cancel();
      // Every leg's in-flight count came back down (releases included).
      await until(
        "in-flight counts back to 0",
        () =>
          [...fleet.sims.keys()].every((name) =>
            fleet.router.inFlight.get(`default/${name}`) === 0
          ),
      );
      for (const sim of fleet.sims.values()) {
        const h = await fetch(`${sim.url}/health`);
        await h.body?.cancel();
        equal(h.status, 200);
      }
    } finally {
      await fleet.stop();
    }
  },
});

Deno.test("NIXL: a decode that refuses the request does not leave the prefill's KV pinned", async () => {
  const fleet = await startFuzzFleet();
  try {
    const prefill = fleet.sims.get("g0-prefill")!;
    const usage = () => scrape(prefill.url, "vllm:kv_cache_usage_perc");
    equal(await usage(), 0);
    // The prompt fits the prefill (one token) but not the decode's context with max_tokens.
    const res = await post(fleet.url, "/v1/completions", {
      model: "pd",
      prompt: "a long enough prompt for a few KV blocks ".repeat(8),
      max_tokens: 9000,
    });
    equal(res.status, 400);
    await res.body?.cancel();
    const entry = fleet.log.at(-1)!;
    deepEqual([entry.prefill_pod, entry.decode_pod, entry.status_code], [
      "g0-prefill",
      "g0-decode",
      400,
    ]);
    // vLLM would hold the blocks for VLLM_NIXL_ABORT_REQUEST_TIMEOUT (480 s, the simulator's
    // default --kv-hold-timeout-ms); the router's release has the decode read them at once.
    await until("prefill blocks freed", async () => (await usage()) === 0, 5000);
    // And a valid request still goes through the pair afterwards.
    const okRes = await post(fleet.url, "/v1/completions", {
      model: "pd",
      prompt: "hello",
      max_tokens: 4,
    });
    equal(okRes.status, 200);
    await okRes.body?.cancel();
    await until("prefill blocks freed again", async () => (await usage()) === 0, 5000);
  } finally {
    await fleet.stop();
  }
});
