import { Registry, Gauge, Counter, Histogram } from "prom-client";
const reg = new Registry();
const g = new Gauge({ name: "vllm:num_requests_running", help: "x", labelNames: ["model_name","engine"], registers: [reg], collect() { this.set({model_name:"m", engine:"0"}, 3); } });
const c = new Counter({ name: "vllm:prefix_cache_queries_total", help: "q", labelNames: ["model_name"], registers: [reg] });
c.inc({model_name:"m"}, 5);
console.log(await reg.metrics());
const ac = new AbortController();
const srv = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {}, signal: ac.signal }, (req) => {
  req.signal.addEventListener("abort", () => console.log("server saw abort", new URL(req.url).pathname));
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      await new Promise((r) => setTimeout(r, 20));
      i++;
      if (new URL(req.url).pathname === "/drop" && i === 3) { ctrl.error(new Error("drop")); return; }
      ctrl.enqueue(new TextEncoder().encode(`data: ${i}\n\n`));
      if (i >= 10) ctrl.close();
    },
    cancel(r) { console.log("stream cancel", r); },
  });
  return new Response(body, { headers: { "content-type": "text/event-stream" } });
});
const port = srv.addr.port;
const r = await fetch(`http://127.0.0.1:${port}/drop`);
try { console.log(await r.text()); } catch (e) { console.log("client error:", (e as Error).message); }
const ac2 = new AbortController();
const r2 = await fetch(`http://127.0.0.1:${port}/x`, { signal: ac2.signal });
const rd = r2.body!.getReader();
console.log(await rd.read());
ac2.abort();
await new Promise((r) => setTimeout(r, 200));
ac.abort();
await srv.finished;
