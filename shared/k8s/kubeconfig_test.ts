import assert from "node:assert/strict";
import { currentNamespace, loadKubeConfig } from "./kubeconfig.ts";

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
  - name: one
    cluster: { server: "https://10.0.0.1:6443" }
  - name: two
    cluster: { server: "https://10.0.0.2:6443" }
users:
  - name: u
    user: { token: "abc" }
contexts:
  - name: first
    context: { cluster: one, user: u, namespace: dev }
  - name: second
    context: { cluster: two, user: u }
current-context: first
`;

function setEnv(k: string, v: string | undefined): void {
  if (v === undefined) Deno.env.delete(k);
  else Deno.env.set(k, v);
}

async function withEnv(vars: Record<string, string | undefined>, fn: () => void | Promise<void>) {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  for (const [k, v] of Object.entries(vars)) setEnv(k, v);
  try {
    await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) setEnv(k, v);
  }
}

Deno.test("loadKubeConfig reads an explicit file, with context and server overrides", async () => {
  const path = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(path, KUBECONFIG);
    const kc = loadKubeConfig({ path });
    assert.equal(kc.getCurrentCluster()?.server, "https://10.0.0.1:6443");
    assert.equal(currentNamespace(kc), "dev");
    const other = loadKubeConfig({ path, context: "second" });
    assert.equal(other.getCurrentCluster()?.server, "https://10.0.0.2:6443");
    const moved = loadKubeConfig({ path, server: "https://127.0.0.1:9443" });
    assert.equal(moved.getCurrentCluster()?.server, "https://127.0.0.1:9443");
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("loadKubeConfig falls back to $KUBECONFIG", async () => {
  const path = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(path, KUBECONFIG);
    await withEnv({ KUBECONFIG: path, KUBERNETES_SERVICE_HOST: undefined }, () => {
      assert.equal(loadKubeConfig().getCurrentCluster()?.server, "https://10.0.0.1:6443");
    });
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("loadKubeConfig fails clearly when there is no configuration", async () => {
  const home = await Deno.makeTempDir();
  try {
    await withEnv({
      KUBECONFIG: undefined,
      KUBERNETES_SERVICE_HOST: undefined,
      HOME: home,
    }, () => {
      assert.throws(() => loadKubeConfig(), /no Kubernetes configuration/);
    });
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
