import assert from "node:assert/strict";
import { parse } from "yaml";
import { expandEnvRefs, planContainer, shellWords } from "./engine_command.ts";

const EXAMPLES = new URL("../../examples/model-serving/", import.meta.url);

Deno.test("shellWords splits a vLLM sh -c script with quotes and continuations", () => {
  const words = shellWords(`python3 -m vllm.entrypoints.openai.api_server \\
  --port "8000" \\
  --kv-transfer-config '{"kv_connector":"NixlConnector","kv_role":"kv_producer"}'`);
  assert.deepEqual(words, [
    "python3",
    "-m",
    "vllm.entrypoints.openai.api_server",
    "--port",
    "8000",
    "--kv-transfer-config",
    '{"kv_connector":"NixlConnector","kv_role":"kv_producer"}',
  ]);
});

Deno.test("expandEnvRefs expands $(VAR), keeps unknown ones, $$ escapes", () => {
  assert.equal(expandEnvRefs("$(A).$(B) $$(A) $(C)", { A: "x", B: "y" }), "x.y $(A) $(C)");
});

Deno.test("a vLLM NIXL producer becomes a prefill simulator on the side-channel port", () => {
  const plan = planContainer({
    image: "vllm/vllm-openai",
    command: ["sh", "-c"],
    args: [
      `python3 -m vllm.entrypoints.openai.api_server --port "8000" --model /models/Q ` +
      `--served-model-name Qwen/Qwen3-0.6B --kv-transfer-config '{"kv_connector":"NixlConnector","kv_role":"kv_producer"}'`,
    ],
  }, { VLLM_NIXL_SIDE_CHANNEL_PORT: "5558" });
  assert.equal(plan.kind, "engine");
  if (plan.kind !== "engine") return;
  assert.equal(plan.model, "Qwen/Qwen3-0.6B");
  assert.equal(plan.port, 8000);
  const a = plan.simArgs.join(" ");
  assert.match(a, /--kv-connector nixl --role prefill --side-channel-port 5558/);
});

Deno.test("vLLM-Ascend (model as first argument) with Mooncake and TP 2", () => {
  const plan = planContainer({
    image: "ghcr.io/volcano-sh/kthena-engine:vllm-ascend_v0.10.1rc1_mooncake_v0.3.5",
    args: [
      "/mnt/cache/x/",
      "--served-model-name",
      "deepseek-ai/DeepSeekV2",
      "--tensor-parallel-size",
      "2",
      "--kv-transfer-config",
      '{"kv_connector":"MooncakeConnectorV1","kv_role":"kv_consumer","kv_port":"20002"}',
    ],
  }, {});
  assert.equal(plan.kind, "engine");
  if (plan.kind !== "engine") return;
  assert.equal(plan.model, "deepseek-ai/DeepSeekV2");
  assert.match(
    plan.simArgs.join(" "),
    /--tp-size 2 --kv-connector mooncake --role decode --side-channel-port 20002/,
  );
});

Deno.test("SGLang disaggregation: prefill serves the bootstrap port, decode dials it", () => {
  const p = planContainer({
    image: "lmsysorg/sglang",
    command: ["python3", "-m", "sglang.launch_server"],
    args: ["--model-path", "Qwen/Q", "--port", "30001", "--disaggregation-mode", "prefill"],
  }, {});
  assert.equal(p.kind, "engine");
  if (p.kind !== "engine") return;
  assert.equal(p.engine, "sglang");
  assert.match(p.simArgs.join(" "), /--role prefill --kv-connector sglang --bootstrap-port 8998/);
});

Deno.test("LoRA modules become simulator adapters", () => {
  const p = planContainer({
    image: "vllm/vllm-openai",
    args: [
      "--model",
      "base",
      "--enable-lora",
      "--lora-modules",
      "a=/x",
      "b=/y",
      "--max-loras",
      "2",
    ],
  }, {});
  assert.equal(p.kind, "engine");
  if (p.kind === "engine") assert.match(p.simArgs.join(" "), /--lora a,b --max-loras 2/);
});

Deno.test("the runtime sidecar and unknown images are idle", () => {
  assert.equal(
    planContainer({ image: "ghcr.io/volcano-sh/runtime:latest", args: ["--port", "8100"] }, {})
      .kind,
    "idle",
  );
  assert.equal(planContainer({ image: "busybox", command: ["sleep", "inf"] }, {}).kind, "idle");
});

Deno.test("every engine container of examples/model-serving is understood", async () => {
  for await (const e of Deno.readDir(EXAMPLES)) {
    const doc = parse(await Deno.readTextFile(new URL(e.name, EXAMPLES))) as {
      spec: {
        template: {
          roles: { entryTemplate: { spec: { containers: { name: string; image: string }[] } } }[];
        };
      };
    };
    for (const role of doc.spec.template.roles) {
      const engines = role.entryTemplate.spec.containers.map((c) => planContainer(c, {}))
        .filter((p) => p.kind === "engine");
      assert.equal(engines.length, 1, `${e.name}: one engine per entry pod`);
    }
  }
});

Deno.test("llm-d-inference-sim in echo mode, as upstream's e2e mocks run it", () => {
  const p = planContainer({
    image: "ghcr.io/llm-d/llm-d-inference-sim:v0.5.1",
    args: ["--model", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "--port", "8000", "--mode=echo"],
  }, {});
  assert.equal(p.kind, "engine");
  if (p.kind === "engine") {
    assert.equal(p.model, "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B");
    assert.match(p.simArgs.join(" "), /--mode echo/);
  }
});
