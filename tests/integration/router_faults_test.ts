/**
 * Faults of the data path, over real HTTP against real simulator processes (issue #15): the
 * connection cap and descriptor exhaustion, slow clients (header, body and idle timeouts), an
 * engine that freezes after its headers (first-byte timeout with retry, else 504; stream idle
 * timeout with an error event), and a client that leaves while its large-bodied request is
 * generating (the engine leg ends, the access log says 499).
 */
import { equal, match, ok } from "node:assert/strict";
import { modelRoute, modelServer, pod } from "../../router/testing/objects.ts";
import { STREAM_IDLE_TIMEOUT_ANNOTATION } from "../../router/proxy/attempts.ts";
import { spawnSimulator } from "../sim/process.ts";
import { type Fleet, scrape, startFleet, until, yamlDocs } from "./router_fleet.ts";

// deno-lint-ignore no-console
const note = (line: string) => console.log(`    ${line}`);

const route = modelRoute("m", {
  modelName: "m",
  rules: [{ targetModels: [{ modelServerName: "e" }] }],
});

function server(trafficPolicy?: Record<string, unknown>, annotations?: Record<string, string>) {
  const s = modelServer("e", {
    workloadSelector: { matchLabels: { app: "e" } },
    ...(trafficPolicy ? { trafficPolicy } : {}),
  });
  if (annotations) s.metadata.annotations = annotations;
  return s;
}

/** A simulator that freezes after its headers (and midway through a stream). */
const STALLING = [
  "--model",
  "m",
  "--time-scale",
  "0",
  "--failure-rate",
  "1",
  "--failure-kinds",
  "stall",
];

const chat = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    model: "m",
    messages: [{ role: "user", content: "hello" }],
    max_tokens: 8,
    ...extra,
  });

/** Opens a TCP connection and optionally writes something; returns it. */
async function connect(port: number, text?: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  if (text) await conn.write(new TextEncoder().encode(text));
  return conn;
}

/** Reads until the peer closes (or `ms` pass); returns what came and whether it closed. */
async function readToClose(
  conn: Deno.Conn,
  ms: number,
): Promise<{ text: string; closed: boolean }> {
  const buf = new Uint8Array(65536);
  let text = "";
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return { text, closed: false };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      conn.read(buf).catch(() => null),
      new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), left)),
    ]);
    clearTimeout(timer);
    if (n === "timeout") return { text, closed: false };
    if (n === null) return { text, closed: true };
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
}

function portOf(fleet: Fleet): number {
  return fleet.router.port;
}

Deno.test("connection cap: over the cap a connection gets a 503 OpenAI error; the router keeps serving", async () => {
  const fleet = await startFleet({
    engines: [{ name: "e-0", args: ["--model", "m", "--time-scale", "0"], labels: { app: "e" } }],
    objects: [route, server()],
    serve: { maxConnections: 4 },
  });
  const idle: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 4; i++) idle.push(await connect(portOf(fleet)));
    // Let the listener see all four (a scrape would need a connection of its own).
    await new Promise((r) => setTimeout(r, 300));
    const over = await connect(portOf(fleet));
    const { text, closed } = await readToClose(over, 3000);
    ok(closed, "the refused connection is closed");
    match(text, /^HTTP\/1\.1 503/);
    match(text, /"too many connections"/);
    over.close();
    for (const c of idle) c.close();
    idle.length = 0;
    await until("connections closed", async () => {
      const res = await fetch(`${fleet.url}/v1/chat/completions`, { method: "POST", body: chat() })
        .catch(() => undefined);
      await res?.body?.cancel();
      return res?.status === 200;
    }, 5000);
    ok((await scrape(fleet.url, "kthena_router_connections_rejected_total")) >= 1);
  } finally {
    for (const c of idle) c.close();
    await fleet.stop();
  }
});

Deno.test("descriptors run out: a router under a 256-descriptor limit sheds and survives", async () => {
  const sim = await spawnSimulator(["--model", "m", "--time-scale", "0"]);
  const dir = await Deno.makeTempDir({ prefix: "kthena-fd-" });
  const port = (() => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const p = (l.addr as Deno.NetAddr).port;
    l.close();
    return p;
  })();
  await Deno.writeTextFile(
    `${dir}/objects.yaml`,
    yamlDocs([
      route,
      server(),
      pod("e-0", {
        labels: { app: "e" },
        annotations: { "router.kthena.io/workload-port": String(sim.port) },
      }),
    ]),
  );
  const main = new URL("../../router/main.ts", import.meta.url).pathname;
  const child = new Deno.Command("bash", {
    args: [
      "-c",
      `ulimit -n 256 && exec "$0" run -A --unstable-no-legacy-abort "$1" --files "$2" --host 127.0.0.1 --port "$3" --access-log false`,
      Deno.execPath(),
      main,
      dir,
      String(port),
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const conns: Deno.TcpConn[] = [];
  try {
    const base = `http://127.0.0.1:${port}`;
    await until("router ready", async () => {
      const res = await fetch(`${base}/readyz`).catch(() => undefined);
      await res?.body?.cancel();
      return res?.status === 200;
    }, 30_000);
    // 400 idle connections: more than the process may hold descriptors for.
    let refused = 0;
    for (let i = 0; i < 400; i++) {
      try {
        conns.push(await connect(port));
      } catch {
        refused++;
      }
    }
    // And requests on top: every one is answered (200 or 503), none hangs.
    const statuses = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const res = await fetch(`${base}/v1/chat/completions`, {
          method: "POST",
          body: chat(),
          signal: AbortSignal.timeout(10_000),
        }).catch(() => undefined);
        await res?.body?.cancel();
        return res?.status ?? 0;
      }),
    );
    note(`statuses under pressure: ${JSON.stringify(count(statuses))}, connect refused ${refused}`);
    ok(statuses.every((s) => s === 200 || s === 503 || s === 0), JSON.stringify(statuses));
    for (const c of conns) c.close();
    conns.length = 0;
    // Still alive, and serving once the pressure is gone.
    await until("router serves again", async () => {
      const res = await fetch(`${base}/v1/chat/completions`, { method: "POST", body: chat() })
        .catch(() => undefined);
      await res?.body?.cancel();
      return res?.status === 200;
    }, 10_000);
    const status = await Promise.race([
      child.status,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 100)),
    ]);
    equal(status, undefined, "the router process is still running");
  } finally {
    for (const c of conns) c.close();
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await child.stderr.cancel();
    await child.status;
    await sim.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

function count(values: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

Deno.test("slow clients: unfinished headers, a stalled body and idle keep-alive are closed in time", async () => {
  const fleet = await startFleet({
    engines: [{ name: "e-0", args: ["--model", "m", "--time-scale", "0"], labels: { app: "e" } }],
    objects: [route, server()],
    serve: { headerTimeoutMs: 300, bodyTimeoutMs: 300, idleTimeoutMs: 300 },
  });
  try {
    const port = portOf(fleet);
    const t0 = performance.now();
    const slowloris = await connect(port, "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n");
    const headers = await readToClose(slowloris, 5000);
    ok(headers.closed, "a connection that never finishes its headers is closed");
    slowloris.close();
    const stalled = await connect(
      port,
      'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 500\r\n\r\n{"model":',
    );
    const body = await readToClose(stalled, 5000);
    ok(body.closed, "a connection whose body stalls is closed");
    stalled.close();
    const idle = await connect(port, "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
    const answered = await readToClose(idle, 5000);
    match(answered.text, /^HTTP\/1\.1 200/);
    ok(answered.closed, "an idle keep-alive connection is closed");
    idle.close();
    const ms = performance.now() - t0;
    note(`three slow clients closed in ${ms.toFixed(0)} ms (timeouts 300 ms each)`);
    ok(ms < 5000);
  } finally {
    await fleet.stop();
  }
});

Deno.test("an engine that freezes after its headers: retried on another pod before anything was sent, else 504", async () => {
  const fleet = await startFleet({
    engines: [
      {
        name: "e-0",
        args: STALLING,
        labels: { app: "e" },
      },
      { name: "e-1", args: ["--model", "m", "--time-scale", "0"], labels: { app: "e" } },
    ],
    objects: [route, server({ timeout: "400ms" })],
  });
  try {
    for (let i = 0; i < 6; i++) {
      const t0 = performance.now();
      const res = await fetch(`${fleet.url}/v1/chat/completions`, { method: "POST", body: chat() });
      equal(res.status, 200);
      await res.text();
      ok(performance.now() - t0 < 3000);
    }
    ok(fleet.log.some((e) => (e.upstream_attempts ?? 1) > 1), "some request was retried");
    // Only the frozen pod left: 504 after the timeout.
    await fleet.write("pods.yaml", [fleet.podOf("e-0")]);
    await until("one pod", () => {
      const s = fleet.router.datastore.server("default/e");
      return s?.endpoints.length === 1;
    });
    const t0 = performance.now();
    const res = await fetch(`${fleet.url}/v1/chat/completions`, { method: "POST", body: chat() });
    equal(res.status, 504);
    match((await res.json()).error.message, /within 400 ms/);
    const ms = performance.now() - t0;
    note(`504 after ${ms.toFixed(0)} ms (timeout 400 ms)`);
    ok(ms >= 380 && ms < 3000);
  } finally {
    await fleet.stop();
  }
});

Deno.test("a stream that stalls midway ends with an error event within the idle timeout", async () => {
  const fleet = await startFleet({
    engines: [{
      name: "e-0",
      args: STALLING,
      labels: { app: "e" },
    }],
    objects: [route, server(undefined, { [STREAM_IDLE_TIMEOUT_ANNOTATION]: "300ms" })],
  });
  try {
    const t0 = performance.now();
    const res = await fetch(`${fleet.url}/v1/chat/completions`, {
      method: "POST",
      body: chat({ stream: true, max_tokens: 20, ignore_eos: true }),
    });
    equal(res.status, 200);
    const text = await res.text();
    const ms = performance.now() - t0;
    match(text, /data: \{"id"/);
    match(text, /data: \{"error":\{"message":"[^"]*no data from the engine for 300 ms/);
    note(`stalled stream ended after ${ms.toFixed(0)} ms (idle timeout 300 ms)`);
    ok(ms < 3000);
    await until("log line", () => fleet.log.length > 0);
    equal(fleet.log[0]!.error?.type, "upstream_stream");
  } finally {
    await fleet.stop();
  }
});

Deno.test("a client that leaves during a non-streamed, large-bodied request ends the engine leg; logged 499", async () => {
  const fleet = await startFleet({
    engines: [{
      name: "e-0",
      args: ["--model", "m", "--profile", "fast", "--inter-token-latency-ms", "20"],
      labels: { app: "e" },
    }],
    objects: [route, server()],
  });
  try {
    const client = new AbortController();
    const body = chat({
      max_tokens: 500,
      ignore_eos: true,
      messages: [{ role: "user", content: "x ".repeat(3000) }], // ~6 KB body
    });
    ok(body.length > 5000);
    const pending = fetch(`${fleet.url}/v1/chat/completions`, {
      method: "POST",
      body,
      signal: client.signal,
    }).catch(() => undefined);
    const running = () => scrape(fleet.sims.get("e-0")!.url, "vllm:num_requests_running");
    await until("the engine to start", async () => (await running()) === 1, 5000);
    const left = performance.now();
    client.abort();
    await pending;
    await until("the engine to stop", async () => (await running()) === 0, 2000);
    const ms = performance.now() - left;
    note(`engine leg ended ${ms.toFixed(0)} ms after the client left (includes the metrics poll)`);
    await until("log line", () => fleet.log.length > 0);
    equal(fleet.log[0]!.status_code, 499);
  } finally {
    await fleet.stop();
  }
});
