import assert from "node:assert/strict";
import { generatedFiles } from "./generate.ts";

Deno.test("generated manifests are up to date (run `deno task manifests`)", async () => {
  const root = new URL("..", import.meta.url);
  for (const file of generatedFiles()) {
    const committed = await Deno.readTextFile(new URL(file.path, root)).catch(() => "<missing>");
    assert.ok(committed === file.text, `${file.path} is stale: run \`deno task manifests\``);
  }
});

Deno.test("the kustomization lists every generated CRD we install", async () => {
  const kustomization = await Deno.readTextFile(new URL("kustomization.yaml", import.meta.url));
  for (const file of generatedFiles().filter((f) => f.path.startsWith("manifests/crds/"))) {
    assert.ok(kustomization.includes(file.path.replace("manifests/", "")), file.path);
  }
});
