import { equal, throws } from "node:assert/strict";
import { INFERENCE_PATHS, isProxyPathPattern, ProxyPaths } from "./endpoints.ts";

Deno.test("ProxyPaths: inference endpoints by default, configured paths and prefixes on top", () => {
  const def = new ProxyPaths();
  for (const p of INFERENCE_PATHS) equal(def.allows(p), true, p);
  for (
    const p of [
      "/v1/load_lora_adapter",
      "/v1/unload_lora_adapter",
      "/v1/chat/completions/",
      "/v1/chat",
      "/v1/audio/transcriptions",
      "/v1/CHAT/completions",
    ]
  ) equal(def.allows(p), false, p);
  const extra = new ProxyPaths(["/v1/load_lora_adapter", "/v1/audio/*"]);
  equal(extra.allows("/v1/load_lora_adapter"), true);
  equal(extra.allows("/v1/audio/transcriptions"), true);
  equal(extra.allows("/v1/unload_lora_adapter"), false);
  throws(() => new ProxyPaths(["/score"]), /proxyPaths/);
  equal(isProxyPathPattern("/v1/a/./b"), false);
});
