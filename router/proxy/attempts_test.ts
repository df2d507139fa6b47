import { deepEqual, equal, throws } from "node:assert/strict";
import { endpoint } from "../testing/scheduler.ts";
import {
  type AttemptResult,
  DEFAULT_TIMEOUTS,
  legTimeouts,
  retryPolicy,
  runAttempts,
  STREAM_IDLE_TIMEOUT_ANNOTATION,
} from "./attempts.ts";
import { type Failure, isRetryable } from "./leg.ts";
import { modelServer } from "../testing/objects.ts";

const e = endpoint("e");
const fail = (kind: Failure["kind"], status?: number): AttemptResult => ({
  ok: false,
  failure: { kind, leg: "engine", endpoint: e, message: kind, ...(status ? { status } : {}) },
});
const success = (body: string, type = "application/json"): AttemptResult => ({
  ok: true,
  response: new Response(body, { headers: { "content-type": type } }),
  leg: "engine",
  endpoint: e,
  endDecode: () => {},
  abort: () => {},
});

Deno.test("isRetryable table", () => {
  const cases: [Failure["kind"], number | undefined, boolean][] = [
    ["connect", undefined, true],
    ["timeout", undefined, true],
    ["status", 500, true],
    ["status", 503, true],
    ["status", 429, true],
    ["status", 400, false],
    ["status", 404, false],
    ["aborted", undefined, false],
  ];
  for (const [kind, status, want] of cases) {
    equal(
      isRetryable({ kind, leg: "engine", endpoint: e, message: "", ...(status ? { status } : {}) }),
      want,
      `${kind} ${status}`,
    );
  }
});

Deno.test("retryPolicy: explicit retry honoured, else upstream's fallback over ≤ 5 pods", () => {
  const sel = { workloadSelector: { matchLabels: { a: "b" } } };
  const cases: [
    Parameters<typeof modelServer>[1],
    number,
    { tries: number; intervalMs: number; explicit: boolean },
  ][] = [
    [sel, 3, { tries: 3, intervalMs: 0, explicit: false }],
    [sel, 9, { tries: 5, intervalMs: 0, explicit: false }],
    [sel, 0, { tries: 1, intervalMs: 0, explicit: false }],
    [{ ...sel, trafficPolicy: { retry: { attempts: 2 } } }, 9, {
      tries: 3,
      intervalMs: 100,
      explicit: true,
    }],
    [{ ...sel, trafficPolicy: { retry: { attempts: 0, retryInterval: "1s" } } }, 9, {
      tries: 1,
      intervalMs: 1000,
      explicit: true,
    }],
    [{ ...sel, trafficPolicy: { retry: {} } }, 9, { tries: 1, intervalMs: 100, explicit: true }],
  ];
  for (const [spec, n, want] of cases) {
    deepEqual(retryPolicy(modelServer("s", spec), n), want, JSON.stringify(spec));
  }
  deepEqual(
    legTimeouts(
      modelServer("s", { ...sel, trafficPolicy: { timeout: "1m30s" } }),
      DEFAULT_TIMEOUTS,
    ),
    { firstByteMs: 90_000, idleMs: DEFAULT_TIMEOUTS.idleMs },
  );
  deepEqual(legTimeouts(modelServer("s", sel), { firstByteMs: 5, idleMs: 6 }), {
    firstByteMs: 5,
    idleMs: 6,
  });
  const annotated = modelServer("s", sel);
  annotated.metadata.annotations = { [STREAM_IDLE_TIMEOUT_ANNOTATION]: "2s" };
  equal(legTimeouts(annotated, DEFAULT_TIMEOUTS).idleMs, 2000);
  const bad = modelServer("s", sel);
  bad.metadata.annotations = { [STREAM_IDLE_TIMEOUT_ANNOTATION]: "soon" };
  throws(() => legTimeouts(bad, DEFAULT_TIMEOUTS), /router\.kthena\.io\/stream-idle-timeout/);
});

Deno.test("runAttempts table: retry on retryable failures, stop on others", async () => {
  const cases: {
    name: string;
    script: AttemptResult[];
    tries: number;
    want: string;
    calls: number;
  }[] = [
    { name: "first try", script: [success("ok")], tries: 3, want: "ok:1", calls: 1 },
    {
      name: "5xx then ok",
      script: [fail("status", 503), success("ok")],
      tries: 3,
      want: "ok:2",
      calls: 2,
    },
    {
      name: "connect, timeout, ok",
      script: [fail("connect"), fail("timeout"), success("ok")],
      tries: 3,
      want: "ok:3",
      calls: 3,
    },
    {
      name: "400 is final",
      script: [fail("status", 400), success("ok")],
      tries: 3,
      want: "status",
      calls: 1,
    },
    {
      name: "tries run out",
      script: [fail("status", 500), fail("status", 502), success("ok")],
      tries: 2,
      want: "status",
      calls: 2,
    },
    {
      name: "no retries",
      script: [fail("connect"), success("ok")],
      tries: 1,
      want: "connect",
      calls: 1,
    },
  ];
  for (const c of cases) {
    let calls = 0;
    const out = await runAttempts({
      policy: { tries: c.tries, intervalMs: 0, explicit: true },
      signal: new AbortController().signal,
      run: (i) => {
        calls++;
        return Promise.resolve(c.script[i]!);
      },
    });
    equal(
      out.ok ? `${out.committed.text}:${out.committed.attempts}` : out.failure.kind,
      c.want,
      c.name,
    );
    equal(calls, c.calls, c.name);
  }
});

Deno.test("runAttempts: a stream that breaks before its first byte is retried; after, it is committed", async () => {
  const broken: AttemptResult = {
    ok: true,
    response: new Response(
      new ReadableStream({ pull: (c) => c.error(new Error("reset")) }),
      { headers: { "content-type": "text/event-stream" } },
    ),
    leg: "engine",
    endpoint: e,
    endDecode: () => {},
    abort: () => {},
  };
  const good = success("data: [DONE]\n\n", "text/event-stream");
  const script = [broken, good];
  const out = await runAttempts({
    policy: { tries: 2, intervalMs: 0, explicit: true },
    signal: new AbortController().signal,
    run: (i) => Promise.resolve(script[i]!),
  });
  equal(out.ok, true);
  if (out.ok) {
    equal(out.committed.attempts, 2);
    equal(new TextDecoder().decode(out.committed.first), "data: [DONE]\n\n");
    await out.committed.reader?.cancel();
  }
});

Deno.test("runAttempts waits retryInterval between tries and stops when the client leaves", async () => {
  const t0 = performance.now();
  await runAttempts({
    policy: { tries: 3, intervalMs: 30, explicit: true },
    signal: new AbortController().signal,
    run: () => Promise.resolve(fail("connect")),
  });
  equal(performance.now() - t0 >= 55, true);

  const client = new AbortController();
  let calls = 0;
  const out = await runAttempts({
    policy: { tries: 5, intervalMs: 10_000, explicit: true },
    signal: client.signal,
    run: () => {
      calls++;
      client.abort();
      return Promise.resolve(fail("connect"));
    },
  });
  equal(calls, 1);
  equal(out.ok ? "ok" : out.failure.kind, "aborted");
});
