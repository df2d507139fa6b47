import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { parseControllerFlags } from "../controller/flags.ts";
import { parseFlags as parseRouterFlags } from "../router/main.ts";

/** The container args of the first Deployment in a manifest file. */
async function deploymentArgs(file: string): Promise<string[]> {
  const text = await Deno.readTextFile(new URL(file, import.meta.url));
  for (const doc of parseAllDocuments(text, { version: "1.1" })) {
    const obj = doc.toJS() as {
      kind?: string;
      spec?: { template?: { spec?: { containers?: { args?: string[] }[] } } };
    };
    if (obj?.kind === "Deployment") return obj.spec?.template?.spec?.containers?.[0]?.args ?? [];
  }
  throw new Error(`no Deployment in ${file}`);
}

Deno.test("the controller Deployment's args parse with the controller's own flag parser", async () => {
  const flags = parseControllerFlags(await deploymentArgs("controller/deployment.yaml"));
  assert.equal(flags.leaderElect, true);
  assert.equal(flags.webhookPort, 8443);
  assert.equal(flags.healthPort, 8081);
});

Deno.test("the router Deployment's args parse with the router's own flag parser", async () => {
  const flags = parseRouterFlags(await deploymentArgs("router/deployment.yaml"));
  assert.equal(flags.source, "kubernetes");
  assert.equal(flags.port, 8080);
});
