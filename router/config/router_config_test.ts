import { deepEqual, match, throws } from "node:assert/strict";
import { parseRouterConfig } from "./router_config.ts";

Deno.test("parseRouterConfig: unknown keys are errors naming the key, at every level", () => {
  for (
    const [text, key] of [
      ["proxyPath: [/v1/load_lora_adapter]\n", "proxyPath"],
      ["scheduler:\n  plugin: {}\n", "plugin"],
      ["scheduler:\n  plugins:\n    Filters: {enabled: []}\n", "Filters"],
      ["auth:\n  issuerUrl: x\n", "issuerUrl"],
    ] as const
  ) {
    throws(() => parseRouterConfig(text), (e: Error) => {
      match(e.message, new RegExp(key));
      return true;
    }, text);
  }
});

Deno.test("parseRouterConfig: an auth section is refused while it is not enforced", () => {
  throws(
    () => parseRouterConfig("auth:\n  issuer: https://issuer.example\n"),
    /auth: JWT authentication is not implemented yet/,
  );
});

Deno.test("parseRouterConfig: proxyPaths takes /v1/ paths and /v1/ prefixes", () => {
  deepEqual(
    parseRouterConfig("proxyPaths: [/v1/load_lora_adapter, /v1/*]\n").proxyPaths,
    ["/v1/load_lora_adapter", "/v1/*"],
  );
  for (const bad of ["/rerank", "/v1/../x", "/v1/a*", "v1/x", "/v1//x"]) {
    throws(() => parseRouterConfig(`proxyPaths: ["${bad}"]\n`), /proxyPaths/, bad);
  }
});
