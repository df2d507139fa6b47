import assert from "node:assert/strict";
import {
  ModelBooster,
  ModelRoute,
  ModelServer,
  ModelServing,
  parseResource,
  readYamlDocuments,
} from "@kthena/shared/api";

const DIR = new URL("./", import.meta.url);

/** Every example file, relative to examples/. */
export async function exampleFiles(): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ["model-booster", "model-serving", "kthena-router"]) {
    for await (const e of Deno.readDir(new URL(`${sub}/`, DIR))) {
      if (e.isFile && e.name.endsWith(".yaml")) out.push(`${sub}/${e.name}`);
    }
  }
  return out.sort();
}

Deno.test("every example parses with the shared schemas, one object per file", async () => {
  const files = await exampleFiles();
  assert.equal(files.length, 11);
  for (const file of files) {
    const docs = readYamlDocuments(await Deno.readTextFile(new URL(file, DIR)));
    assert.equal(docs.length, 1, `${file}: one object per file`);
    assert.doesNotThrow(() => parseResource(docs[0]), `${file} must parse`);
  }
});

Deno.test("examples get the API server's defaults when parsed", async () => {
  const read = async (f: string) => readYamlDocuments(await Deno.readTextFile(new URL(f, DIR)))[0];

  const ms = ModelServing.parse(await read("model-serving/qwen3-0.6b-gpu-pd.yaml"));
  assert.equal(ms.spec.recoveryPolicy, "ServingGroupRecreate");
  assert.equal(ms.spec.template.roles[0]?.maxUnavailable, 1);
  assert.equal(ms.spec.template.roles[1]?.name, "decode");

  const server = ModelServer.parse(await read("kthena-router/ModelServer-qwen3-0.6b.yaml"));
  assert.equal(server.spec.workloadPort.protocol, "http");
  assert.equal(
    server.spec.workloadSelector.pdGroup?.groupKey,
    "modelserving.volcano.sh/group-name",
  );

  const route = ModelRoute.parse(await read("kthena-router/ModelRoute-qwen3-0.6b.yaml"));
  assert.equal(route.spec.rules[0]?.targetModels[0]?.weight, 100);

  const booster = ModelBooster.parse(
    await read("model-booster/prefill-decode-disaggregation.yaml"),
  );
  // Engine config is kept verbatim, numbers and empty-string flags included.
  assert.equal(booster.spec.backend.workers[0]?.config?.["tensor-parallel-size"], 2);
  assert.equal(booster.spec.backend.workers[0]?.config?.["trust-remote-code"], "");
});
