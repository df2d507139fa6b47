/**
 * Both programs as single files: `deno bundle` (what `deno compile --bundle` embeds) of the
 * router and the controller manager, run by a bare `deno` with an empty DENO_DIR, no config and
 * `--cached-only` — so nothing is fetched or resolved at run time. (`deno compile` itself needs
 * its runtime from dl.deno.land, which this machine cannot reach; see router/Dockerfile.)
 */
import { equal, ok } from "node:assert/strict";
import { stringify } from "yaml";
import { spawnSimulator } from "../sim/process.ts";
import { freePort, testCluster } from "../cluster/mod.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const ROOT = new URL("../../", import.meta.url);

async function bundle(entry: string, out: string): Promise<void> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "deno", "--minify", "-o", out, new URL(entry, ROOT).pathname],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  equal(r.code, 0, new TextDecoder().decode(r.stderr));
}

/** Runs a bundle the way an image would: bare deno, empty cache, no network resolution. */
function runBundle(file: string, args: string[], denoDir: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--cached-only",
      "--no-config",
      "-A",
      "--unstable-no-legacy-abort",
      file,
      ...args,
    ],
    clearEnv: true,
    env: { DENO_DIR: denoDir, PATH: "/usr/bin:/bin", HOME: denoDir },
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

async function waitOk(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url);
      await r.body?.cancel();
      if (r.ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} not ready`);
}

Deno.test("the bundled router serves a completion with nothing but a bare deno", opts, async () => {
  const dir = await Deno.makeTempDir({ prefix: "kthena-bundle-" });
  const sim = await spawnSimulator(["--model", "m", "--profile", "fast"]);
  let router: Deno.ChildProcess | undefined;
  try {
    await bundle("router/main.ts", `${dir}/router.js`);
    await Deno.mkdir(`${dir}/objects`);
    const objects = [
      {
        apiVersion: "networking.serving.volcano.sh/v1alpha1",
        kind: "ModelRoute",
        metadata: { name: "m", namespace: "default" },
        spec: { modelName: "m", rules: [{ targetModels: [{ modelServerName: "m" }] }] },
      },
      {
        apiVersion: "networking.serving.volcano.sh/v1alpha1",
        kind: "ModelServer",
        metadata: { name: "m", namespace: "default" },
        spec: {
          inferenceEngine: "vLLM",
          workloadSelector: { matchLabels: { app: "m" } },
          workloadPort: { port: sim.port },
        },
      },
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "m-0", namespace: "default", labels: { app: "m" } },
        status: {
          phase: "Running",
          podIP: "127.0.0.1",
          conditions: [{ type: "Ready", status: "True" }],
        },
      },
    ];
    await Deno.writeTextFile(
      `${dir}/objects/all.yaml`,
      objects.map((o) => stringify(o)).join("---\n"),
    );
    const port = freePort();
    router = runBundle(`${dir}/router.js`, [
      "--files",
      `${dir}/objects`,
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--access-log",
      "false",
    ], `${dir}/deno-dir`);
    await waitOk(`http://127.0.0.1:${port}/readyz`);
    const res = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "m",
        messages: [{ role: "user", content: "hi" }],
        max_tokens: 3,
      }),
    });
    const body = await res.json();
    equal(res.status, 200, JSON.stringify(body));
    equal(body.usage.completion_tokens, 3);
  } finally {
    router?.kill("SIGTERM");
    await router?.status;
    await sim.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("the bundled controller manager runs against the cluster", opts, async () => {
  const cluster = await testCluster();
  const dir = await Deno.makeTempDir({ prefix: "kthena-bundle-" });
  let controller: Deno.ChildProcess | undefined;
  try {
    await bundle("controller/main.ts", `${dir}/controller.js`);
    await Deno.copyFile(cluster.kubeconfigPath, `${dir}/kubeconfig`);
    const health = freePort();
    controller = runBundle(`${dir}/controller.js`, [
      `--kubeconfig=${dir}/kubeconfig`,
      "--no-enable-webhook",
      `--health-port=${health}`,
      `--metrics-port=${health}`,
    ], `${dir}/deno-dir`);
    await waitOk(`http://127.0.0.1:${health}/readyz`, 60_000);
    const metrics = await (await fetch(`http://127.0.0.1:${health}/metrics`)).text();
    ok(metrics.includes("workqueue_depth"), "controller-runtime metrics");
    controller.kill("SIGTERM");
    equal((await controller.status).code, 0);
    controller = undefined;
  } finally {
    controller?.kill("SIGKILL");
    await controller?.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
