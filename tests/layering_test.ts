import { deepEqual, equal, ok } from "node:assert/strict";
import {
  checkLayering,
  findCycles,
  findImports,
  type ImportEdge,
  type ImportGraph,
  isProductFile,
  loadImportGraph,
  resolveSpecifier,
  workspaceAliases,
} from "./layering.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/**
 * Files not held to the product rules. Keep this list empty but for files on their way out.
 */
const EXEMPT = new Set([
  // The demo launcher imports router/testing/ (object builders); it is being moved to tests/
  // (issue #15), where that import is allowed. Remove this entry once it has moved.
  "router/dev.ts",
]);

Deno.test("layering: the repository's imports follow the rules", async () => {
  const graph = await loadImportGraph(ROOT);
  ok(graph.has("router/main.ts") && graph.has("shared/k8s/mod.ts"), "the walk found the code");
  ok(!graph.has("node_modules") && ![...graph.keys()].some((f) => f.startsWith("node_modules/")));
  const problems = checkLayering(graph, { exempt: EXEMPT });
  deepEqual(problems, [], `layering violations:\n  ${problems.join("\n  ")}`);
});

Deno.test("layering: workspace aliases resolve to the members' exports", async () => {
  const aliases = await workspaceAliases(ROOT);
  equal(aliases.get("@kthena/shared/k8s"), "shared/k8s/mod.ts");
  equal(aliases.get("@kthena/shared/log"), "shared/log.ts");
  equal(aliases.get("@kthena/router"), "router/main.ts");
  equal(resolveSpecifier("controller/main.ts", "@kthena/router", aliases), "router/main.ts");
  equal(resolveSpecifier("router/a/b.ts", "../../shared/x.ts", aliases), "shared/x.ts");
  equal(resolveSpecifier("router/main.ts", "hono/streaming", aliases), undefined);
  equal(resolveSpecifier("router/main.ts", "node:util", aliases), undefined);
  const local = new Map([["~/", "shared/"], ["~/k8s/", "shared/k8s/"]]);
  equal(resolveSpecifier("router/x.ts", "~/k8s/mod.ts", local), "shared/k8s/mod.ts", "longest");
});

Deno.test("layering: findImports sees declarations, not comments, strings or templates", () => {
  const source = `
/**
 * @example
 * \`\`\`ts
 * import { fake } from "./in_a_comment.ts";
 * \`\`\`
 */
import { a } from "./a.ts";
import type { B } from "../b.ts";
import c, { type D } from "@kthena/shared/k8s";
import { type H, type I as J } from "./types_only.ts";
import type from "./named_type.ts";
import "./side_effect.ts";
export * from "./all.ts";
export * as ns from "./ns.ts";
export { e, type F } from "./e.ts";
export type { G } from "./g.ts";
export type * from "./all_types.ts";
export { local };
export type Alias = typeof import("./typeof.ts");
export const s = "import { no } from './in_a_string.ts'";
export const t = \`\${"x"} import { no } from "./in_a_template.ts" \${\`\${1}\`}\`;
const re = /import { no } from "\\.\\/in_a_regex.ts"/;
export function f() {
  return import("./lazy.ts");
}
const meta = import.meta.url;
const obj = { import: 1 }.import;
// import { no } from "./line_comment.ts";
`;
  deepEqual(findImports(source), [
    { specifier: "./a.ts", typeOnly: false },
    { specifier: "../b.ts", typeOnly: true },
    { specifier: "@kthena/shared/k8s", typeOnly: false },
    { specifier: "./types_only.ts", typeOnly: true },
    { specifier: "./named_type.ts", typeOnly: false },
    { specifier: "./side_effect.ts", typeOnly: false },
    { specifier: "./all.ts", typeOnly: false },
    { specifier: "./ns.ts", typeOnly: false },
    { specifier: "./e.ts", typeOnly: false },
    { specifier: "./g.ts", typeOnly: true },
    { specifier: "./all_types.ts", typeOnly: true },
    { specifier: "./typeof.ts", typeOnly: true },
    { specifier: "./lazy.ts", typeOnly: false },
  ]);
});

function graphOf(edges: Record<string, string[]>): ImportGraph {
  const graph = new Map<string, ImportEdge[]>();
  for (const [file, targets] of Object.entries(edges)) {
    graph.set(file, targets.map((target) => ({ specifier: `./${target}`, target })));
  }
  return graph;
}

Deno.test("layering: checkLayering reports each broken rule and the cycle path", () => {
  const graph = graphOf({
    "shared/a.ts": ["shared/b.ts"],
    "shared/b.ts": ["shared/c.ts"],
    "shared/c.ts": ["shared/a.ts"],
    "shared/d.ts": ["router/r.ts", "controller/c.ts"],
    "router/r.ts": ["controller/c.ts", "tests/cluster/mod.ts", "router/testing/objects.ts"],
    "router/r_test.ts": ["tests/cluster/mod.ts", "router/testing/objects.ts", "router/r.ts"],
    "router/testing/objects.ts": ["tests/sim/server.ts"],
    "controller/c.ts": ["router/r.ts", "shared/d.ts"],
    "controller/self.ts": ["controller/self.ts"],
    "tests/cluster/mod.ts": ["router/r.ts"],
  });
  deepEqual(checkLayering(graph), [
    'controller/c.ts imports "./router/r.ts" (router/r.ts): controller/ and router/ must not import each other',
    'router/r.ts imports "./controller/c.ts" (controller/c.ts): router/ and controller/ must not import each other',
    'router/r.ts imports "./tests/cluster/mod.ts" (tests/cluster/mod.ts): product files must not import tests/',
    'router/r.ts imports "./router/testing/objects.ts" (router/testing/objects.ts): product files must not import a testing/ folder',
    'shared/d.ts imports "./router/r.ts" (router/r.ts): shared/ must not import router/',
    'shared/d.ts imports "./controller/c.ts" (controller/c.ts): shared/ must not import controller/',
    "import cycle among product files: controller/c.ts -> router/r.ts -> controller/c.ts (also in this cycle group: shared/d.ts)",
    "import cycle among product files: controller/self.ts -> controller/self.ts",
    "import cycle among product files: shared/a.ts -> shared/b.ts -> shared/c.ts -> shared/a.ts",
  ]);
});

Deno.test("layering: exempt files and test code are not held to the product rules", () => {
  const graph = graphOf({
    "router/dev.ts": ["router/testing/objects.ts", "tests/sim/server.ts"],
    "router/x_test.ts": ["router/y_test.ts", "tests/sim/server.ts"],
    "router/y_test.ts": ["router/x_test.ts"],
  });
  (graph as Map<string, ImportEdge[]>).set("router/z.ts", [{
    specifier: "zod",
    target: undefined,
  }]);
  deepEqual(checkLayering(graph, { exempt: new Set(["router/dev.ts"]) }), []);
  equal(checkLayering(graph).length, 2, "without the exemption router/dev.ts is reported");
  ok(isProductFile("controller/main.ts"));
  ok(!isProductFile("tests/run.ts"));
  ok(!isProductFile("shared/k8s/testing/fake.ts"));
});

Deno.test("layering: findCycles finds one shortest cycle per strongly connected component", () => {
  const graph = graphOf({
    "a.ts": ["b.ts", "d.ts"],
    "b.ts": ["c.ts"],
    "c.ts": ["a.ts", "b.ts"],
    "d.ts": ["e.ts"],
    "e.ts": [],
  });
  deepEqual(findCycles(graph), [{
    path: ["a.ts", "b.ts", "c.ts", "a.ts"],
    group: ["a.ts", "b.ts", "c.ts"],
  }]);
  deepEqual(findCycles(graph, (f) => f !== "c.ts"), []);
  // A type-only import closes no cycle: it is erased before modules initialise.
  const typed = new Map([
    ["x.ts", [{ specifier: "./y.ts", target: "y.ts" }]],
    ["y.ts", [{ specifier: "./x.ts", target: "x.ts", typeOnly: true }]],
  ]);
  deepEqual(findCycles(typed), []);
  equal(
    findCycles(new Map([...typed, ["y.ts", [{ specifier: "./x.ts", target: "x.ts" }]]])).length,
    1,
  );
});

Deno.test("layering: loadImportGraph walks a repository, skips dependencies and caches, resolves aliases", async () => {
  const root = await Deno.makeTempDir({ prefix: "kthena-layering-" });
  const write = async (path: string, text: string) => {
    await Deno.mkdir(`${root}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
    await Deno.writeTextFile(`${root}/${path}`, text);
  };
  try {
    await write(
      "deno.json",
      JSON.stringify({ workspace: ["./shared", "./router"], imports: { "#cfg/": "./config/" } }),
    );
    await write(
      "shared/deno.json",
      JSON.stringify({ name: "@x/shared", exports: { "./k": "./k.ts" } }),
    );
    await write("router/deno.json", JSON.stringify({ name: "@x/router", exports: "./main.ts" }));
    await write("shared/k.ts", 'import { r } from "@x/router";\nexport const k = r;\n');
    await write(
      "router/main.ts",
      'import { k } from "@x/shared/k";\nimport "#cfg/a.ts";\nexport const r = k;\n',
    );
    await write("config/a.ts", "export {};\n");
    for (
      const skipped of ["node_modules/p/i.ts", ".cache/c.ts", "cov/c.ts", "dist/d.ts", ".git/g.ts"]
    ) {
      await write(skipped, 'import "../../router/main.ts";\n');
    }
    const graph = await loadImportGraph(root);
    deepEqual([...graph.keys()].sort(), ["config/a.ts", "router/main.ts", "shared/k.ts"]);
    deepEqual(graph.get("router/main.ts"), [
      { specifier: "@x/shared/k", target: "shared/k.ts", typeOnly: false },
      { specifier: "#cfg/a.ts", target: "config/a.ts", typeOnly: false },
    ]);
    deepEqual(checkLayering(graph), [
      'shared/k.ts imports "@x/router" (router/main.ts): shared/ must not import router/',
      "import cycle among product files: router/main.ts -> shared/k.ts -> router/main.ts",
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
