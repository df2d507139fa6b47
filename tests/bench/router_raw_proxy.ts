/**
 * The floor the router benchmark compares against: a bare `Deno.serve` + `fetch` proxy (no
 * framework, no routing, no accounting) that forwards POST bodies to one upstream and returns
 * the answer. `deno run -A --unstable-no-legacy-abort router_raw_proxy.ts <port> <upstream>`
 *
 * @module
 */
const [port, upstream] = [Number(Deno.args[0]), Deno.args[1]!];
Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (req) => {
  const res = await fetch(upstream + new URL(req.url).pathname, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: await req.text(),
    signal: req.signal,
  });
  return new Response(res.body, { status: res.status, headers: res.headers });
});
