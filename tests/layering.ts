/**
 * The repository's layering rules, checked on its import graph:
 *
 * 1. `shared/` imports neither `router/` nor `controller/` (both programs stand on it; an import
 *    the other way would drag one program into the other's bundle).
 * 2. `router/` and `controller/` never import each other (separate programs, separate images).
 * 3. Product files (under `shared/`, `router/`, `controller/`, except `*_test.ts` files and
 *    `testing/` folders) import neither `tests/` nor any `testing/` folder: test helpers must not
 *    end up in a shipped bundle.
 * 4. Product files have no import cycles (a cycle makes module initialisation order matter, and
 *    makes the modules in it one unit that cannot be understood or tested alone). Type-only
 *    imports do not count here: they are erased before anything runs.
 *
 * Imports are found by a small scanner that skips comments (so JSDoc examples do not count),
 * strings and template literals, and are resolved like Deno does for this repository:
 * relative paths, the workspace members' `name`/`exports` (`@kthena/shared/k8s`), and local
 * entries of the root import map. Everything else (npm:, node:, URLs) is external and ignored.
 *
 * @module
 */

/** One import (or re-export, or dynamic import) of a file. */
export interface ImportEdge {
  /** As written. */
  readonly specifier: string;
  /** The imported file, relative to the repository root; undefined when external. */
  readonly target: string | undefined;
  /**
   * Types only (erased at run time). Such edges count for the folder rules but not for
   * cycles: they do not take part in module initialisation.
   */
  readonly typeOnly?: boolean;
}

/** Every scanned file (relative to the repository root, `/`-separated) and its imports. */
export type ImportGraph = ReadonlyMap<string, readonly ImportEdge[]>;

/** Options of {@linkcode checkLayering}. */
export interface LayeringOptions {
  /** Files not held to the product rules (3 and 4). Each one needs a comment saying why. */
  readonly exempt?: ReadonlySet<string>;
}

const PRODUCT_ROOTS = ["shared", "router", "controller"] as const;

function topFolder(path: string): string {
  return path.slice(0, path.indexOf("/") + 1 || undefined).replace(/\/$/, "");
}

function inTestingFolder(path: string): boolean {
  return path.split("/").slice(0, -1).includes("testing");
}

/**
 * Whether `path` is a product file: under `shared/`, `router/` or `controller/`, not a
 * `*_test.ts` file and not in a `testing/` folder.
 *
 * @example
 * ```ts
 * import { isProductFile } from "./layering.ts";
 * isProductFile("router/router.ts"); // true
 * isProductFile("router/testing/objects.ts"); // false
 * isProductFile("shared/log_test.ts"); // false
 * ```
 */
export function isProductFile(path: string): boolean {
  return (PRODUCT_ROOTS as readonly string[]).includes(topFolder(path)) &&
    !path.endsWith("_test.ts") && !inTestingFolder(path);
}

/**
 * The violations of the layering rules in `graph`, one message each naming the importing
 * file, the import as written and what it resolved to. Empty when the graph is clean.
 *
 * @example
 * ```ts
 * import { checkLayering } from "./layering.ts";
 * const graph = new Map([
 *   ["shared/a.ts", [{ specifier: "../router/b.ts", target: "router/b.ts" }]],
 *   ["router/b.ts", []],
 * ]);
 * checkLayering(graph).length; // 1
 * ```
 */
export function checkLayering(graph: ImportGraph, options: LayeringOptions = {}): string[] {
  const exempt = options.exempt ?? new Set<string>();
  const product = (path: string) => isProductFile(path) && !exempt.has(path);
  const problems: string[] = [];
  const files = [...graph.keys()].sort();
  for (const file of files) {
    const from = topFolder(file);
    for (const edge of graph.get(file) ?? []) {
      const target = edge.target;
      if (target === undefined) continue;
      const to = topFolder(target);
      const say = (rule: string) =>
        problems.push(`${file} imports "${edge.specifier}" (${target}): ${rule}`);
      if (from === "shared" && (to === "router" || to === "controller")) {
        say(`shared/ must not import ${to}/`);
      }
      if (
        (from === "router" && to === "controller") || (from === "controller" && to === "router")
      ) {
        say(`${from}/ and ${to}/ must not import each other`);
      }
      if (product(file) && to === "tests") say("product files must not import tests/");
      if (product(file) && inTestingFolder(target)) {
        say("product files must not import a testing/ folder");
      }
    }
  }
  for (const { path, group } of findCycles(graph, product)) {
    const others = group.filter((f) => !path.includes(f));
    problems.push(
      `import cycle among product files: ${path.join(" -> ")}` +
        (others.length > 0 ? ` (also in this cycle group: ${others.join(", ")})` : ""),
    );
  }
  return problems;
}

/** One group of files that import each other, directly or not. */
export interface Cycle {
  /** A shortest cycle through the group's first file: starts and ends with it. */
  readonly path: readonly string[];
  /** Every file of the group (a strongly connected component), sorted. */
  readonly group: readonly string[];
}

/**
 * The import cycles among the files `include` accepts, one per strongly connected component
 * (fixing one may reveal another in the same group). Type-only edges are ignored.
 *
 * @example
 * ```ts
 * import { findCycles } from "./layering.ts";
 * const edge = (target: string) => ({ specifier: target, target });
 * const graph = new Map([["a.ts", [edge("b.ts")]], ["b.ts", [edge("a.ts")]]]);
 * findCycles(graph)[0]?.path; // ["a.ts", "b.ts", "a.ts"]
 * ```
 */
export function findCycles(
  graph: ImportGraph,
  include: (path: string) => boolean = () => true,
): Cycle[] {
  const next = (file: string) =>
    [
      ...new Set(
        (graph.get(file) ?? []).filter((e) => !e.typeOnly).map((e) => e.target).filter((
          t,
        ): t is string => t !== undefined && graph.has(t) && include(t)),
      ),
    ].sort();
  // Tarjan's strongly connected components, iteratively (no recursion limit on deep graphs).
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  for (const root of [...graph.keys()].filter(include).sort()) {
    if (index.has(root)) continue;
    const work: { file: string; children: string[]; i: number }[] = [];
    const visit = (file: string) => {
      index.set(file, counter);
      low.set(file, counter++);
      stack.push(file);
      onStack.add(file);
      work.push({ file, children: next(file), i: 0 });
    };
    visit(root);
    while (work.length > 0) {
      const frame = work.at(-1)!;
      if (frame.i < frame.children.length) {
        const child = frame.children[frame.i++]!;
        if (!index.has(child)) visit(child);
        else if (onStack.has(child)) {
          low.set(frame.file, Math.min(low.get(frame.file)!, index.get(child)!));
        }
        continue;
      }
      work.pop();
      const parent = work.at(-1);
      if (parent) low.set(parent.file, Math.min(low.get(parent.file)!, low.get(frame.file)!));
      if (low.get(frame.file) !== index.get(frame.file)) continue;
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== frame.file);
      const selfLoop = next(frame.file).includes(frame.file);
      if (component.length > 1 || selfLoop) components.push(component);
    }
  }
  return components.map((component) => {
    const group = component.sort();
    return { path: cyclePath(group, next), group };
  }).sort((a, b) => a.group[0]! < b.group[0]! ? -1 : 1);
}

/** A shortest cycle through the first file of a strongly connected component (BFS). */
function cyclePath(component: string[], next: (file: string) => string[]): string[] {
  const members = new Set(component);
  const start = component[0]!;
  const parent = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const child of next(file)) {
      if (!members.has(child)) continue;
      if (child === start) {
        const path = [file];
        while (path[0] !== start) path.unshift(parent.get(path[0]!)!);
        return [...path, start];
      }
      if (!parent.has(child)) {
        parent.set(child, file);
        queue.push(child);
      }
    }
  }
  return [start, start]; // unreachable for a real component
}

/** An import as found in a source, before resolution. */
export interface FoundImport {
  /** As written. */
  readonly specifier: string;
  /** `import type`, `export type`, every specifier marked `type`, or `typeof import(…)`. */
  readonly typeOnly: boolean;
}

/**
 * The module specifiers a TypeScript source imports: static imports and re-exports (type-only
 * ones too, marked: a layer that needs another's types still depends on it), side-effect
 * imports, and `import("…")` with a literal. Comments, strings and template literals are
 * skipped.
 *
 * @example
 * ```ts
 * import { findImports } from "./layering.ts";
 * findImports('// import "./no.ts"\nimport { a } from "./a.ts";\nexport type * from "./b.ts";');
 * // [{ specifier: "./a.ts", typeOnly: false }, { specifier: "./b.ts", typeOnly: true }]
 * ```
 */
export function findImports(source: string): FoundImport[] {
  const tokens = tokenize(source);
  const out: FoundImport[] = [];
  const isString = (t: Token | undefined): t is Token & { kind: "string" } => t?.kind === "string";
  const isWord = (t: Token | undefined, text: string) => t?.kind === "word" && t.text === text;
  const isPunct = (t: Token | undefined, text: string) => t?.kind === "punct" && t.text === text;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.kind !== "word" || (t.text !== "import" && t.text !== "export")) continue;
    // `x.import`, `{ import: 1 }` and the like are property names, not declarations.
    const before = tokens[i - 1];
    if (isPunct(before, ".") || isPunct(before, "?.")) continue;
    const after = tokens[i + 1];
    if (t.text === "import") {
      if (isString(after)) { // import "./side-effect.ts";
        out.push({ specifier: after.text, typeOnly: false });
        continue;
      }
      if (isPunct(after, "(")) { // import("./lazy.ts"), or a type: typeof import("./x.ts")
        const arg = tokens[i + 2];
        if (isString(arg)) out.push({ specifier: arg.text, typeOnly: isWord(before, "typeof") });
        continue;
      }
      if (isPunct(after, ".")) continue; // import.meta
    }
    // A declaration: its specifier follows the first `from` before the statement ends.
    for (let j = i + 1; j < tokens.length; j++) {
      const u = tokens[j]!;
      // `export type X = …` and `import x = require(…)` end at `=`; a call is no declaration.
      if (isPunct(u, ";") || isPunct(u, "=") || isPunct(u, "(")) break;
      const spec = tokens[j + 1];
      if (isWord(u, "from") && isString(spec)) {
        out.push({ specifier: spec.text, typeOnly: typeOnlyClause(tokens.slice(i + 1, j)) });
        i = j + 1;
        break;
      }
      // `export const x`, `export function f`, `export default …`: no specifier.
      if (
        u.kind === "word" && j === i + 1 &&
        /^(const|let|var|function|class|interface|enum|default|abstract|declare|async|namespace)$/
          .test(u.text)
      ) break;
    }
  }
  return out;
}

/**
 * Whether the tokens between `import`/`export` and `from` bring in types only: `type …`
 * (but not `import type from`, a default import named `type`), or braces where every
 * specifier starts with `type`.
 */
function typeOnlyClause(clause: Token[]): boolean {
  const first = clause[0];
  if (first?.kind === "word" && first.text === "type" && clause.length > 1) return true;
  if (first?.kind !== "punct" || first.text !== "{") return false;
  const inner = clause.slice(1, clause.findIndex((t) => t.kind === "punct" && t.text === "}"));
  if (clause.length !== inner.length + 2) return false; // a default or namespace import too
  const specifiers: Token[][] = [[]];
  for (const token of inner) {
    if (token.kind === "punct" && token.text === ",") specifiers.push([]);
    else specifiers.at(-1)!.push(token);
  }
  const named = specifiers.filter((s) => s.length > 0);
  // `{ type }` imports a binding named `type`; `{ type A }` and `{ type A as B }` are types.
  return named.length > 0 && named.every((s) => s[0]?.text === "type" && s.length > 1);
}

interface Token {
  kind: "word" | "string" | "punct";
  text: string;
}

/**
 * Just enough of a JavaScript lexer for finding imports: words, string literal values and
 * punctuation; comments dropped; template literals and regular expression literals skipped
 * (so quotes inside them do not open strings).
 */
function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  // Brace depth at which each open template literal's `${` started.
  const templates: number[] = [];
  let depth = 0;
  let i = 0;
  const regexMayFollow = () => {
    const last = tokens.at(-1);
    if (!last) return true;
    if (last.kind === "string") return false;
    if (last.kind === "word") {
      return /^(return|typeof|instanceof|in|of|new|delete|void|throw|case|do|else|yield|await)$/
        .test(last.text);
    }
    return !(last.text === ")" || last.text === "]" || last.text === "}");
  };
  const skipTemplate = () => {
    // At the character after "`" or after the `}` closing a substitution.
    while (i < src.length) {
      const c = src[i]!;
      if (c === "\\") i += 2;
      else if (c === "`") {
        i++;
        tokens.push({ kind: "string", text: "" }); // a template is a value
        return;
      } else if (c === "$" && src[i + 1] === "{") {
        i += 2;
        templates.push(depth);
        depth++;
        tokens.push({ kind: "punct", text: "${" });
        return;
      } else i++;
    }
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === "/" && src[i + 1] === "/") {
      const end = src.indexOf("\n", i);
      i = end < 0 ? src.length : end;
    } else if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      i = end < 0 ? src.length : end + 2;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      let text = "";
      while (j < src.length && src[j] !== c && src[j] !== "\n") {
        if (src[j] === "\\") {
          text += src[j + 1] ?? "";
          j += 2;
        } else text += src[j++];
      }
      tokens.push({ kind: "string", text });
      i = j + 1;
    } else if (c === "`") {
      i++;
      skipTemplate();
    } else if (c === "/" && regexMayFollow()) {
      let j = i + 1;
      let inClass = false;
      while (j < src.length && src[j] !== "\n") {
        const d = src[j]!;
        if (d === "\\") j++;
        else if (d === "[") inClass = true;
        else if (d === "]") inClass = false;
        else if (d === "/" && !inClass) break;
        j++;
      }
      i = j + 1;
      while (i < src.length && /[a-z]/i.test(src[i]!)) i++;
      tokens.push({ kind: "string", text: "" }); // a regular expression is a value
    } else if (/[A-Za-z_$]/.test(c)) {
      let j = i + 1;
      while (j < src.length && /[\w$]/.test(src[j]!)) j++;
      tokens.push({ kind: "word", text: src.slice(i, j) });
      i = j;
    } else if (/\s/.test(c)) i++;
    else if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < src.length && /[\w.]/.test(src[j]!)) j++;
      tokens.push({ kind: "word", text: src.slice(i, j) });
      i = j;
    } else {
      if (c === "{") depth++;
      else if (c === "}") {
        depth--;
        if (templates.length > 0 && templates.at(-1) === depth) {
          templates.pop();
          i++;
          tokens.push({ kind: "punct", text: "}" });
          skipTemplate();
          continue;
        }
      }
      const two = src.slice(i, i + 2);
      const text = two === "?." ? two : c;
      tokens.push({ kind: "punct", text });
      i += text.length;
    }
  }
  return tokens;
}

/** How bare specifiers map to files: prefixes (ending in `/`) and exact names. */
export type Aliases = ReadonlyMap<string, string>;

/**
 * Resolves `specifier`, imported by `from` (both relative to the repository root), to a file
 * relative to the root; undefined for external modules.
 *
 * @example
 * ```ts
 * import { resolveSpecifier } from "./layering.ts";
 * const aliases = new Map([["@kthena/shared/k8s", "shared/k8s/mod.ts"]]);
 * resolveSpecifier("router/main.ts", "./log.ts", aliases); // "router/log.ts"
 * resolveSpecifier("router/main.ts", "@kthena/shared/k8s", aliases); // "shared/k8s/mod.ts"
 * resolveSpecifier("router/main.ts", "npm:zod", aliases); // undefined
 * ```
 */
export function resolveSpecifier(
  from: string,
  specifier: string,
  aliases: Aliases,
): string | undefined {
  if (specifier.startsWith("./") || specifier.startsWith("../")) {
    return normalize(`${from.slice(0, from.lastIndexOf("/") + 1)}${specifier}`);
  }
  const exact = aliases.get(specifier);
  if (exact !== undefined) return exact;
  // The longest prefix entry (`"hono/": …`) wins, as in an import map.
  let best: string | undefined;
  for (const key of aliases.keys()) {
    if (key.endsWith("/") && specifier.startsWith(key) && key.length > (best?.length ?? 0)) {
      best = key;
    }
  }
  return best === undefined
    ? undefined
    : normalize(aliases.get(best)! + specifier.slice(best.length));
}

function normalize(path: string): string {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return out.join("/");
}

interface DenoJson {
  name?: string;
  exports?: string | Record<string, string>;
  workspace?: string[];
  imports?: Record<string, string>;
}

async function readJson(path: string): Promise<DenoJson> {
  return JSON.parse(await Deno.readTextFile(path)) as DenoJson;
}

/**
 * The bare specifiers of the repository at `root`: each workspace member's `name` with its
 * `exports` (`@kthena/shared/k8s` → `shared/k8s/mod.ts`, `@kthena/router` → `router/main.ts`),
 * and the root import map's entries that point at local paths.
 *
 * @example
 * ```ts ignore
 * import { workspaceAliases } from "./layering.ts";
 * (await workspaceAliases(".")).get("@kthena/shared/k8s"); // "shared/k8s/mod.ts"
 * ```
 */
export async function workspaceAliases(root: string): Promise<Aliases> {
  const aliases = new Map<string, string>();
  const rootJson = await readJson(`${root}/deno.json`);
  for (const [key, value] of Object.entries(rootJson.imports ?? {})) {
    if (value.startsWith("./") || value.startsWith("../")) {
      aliases.set(key, normalize(value) + (value.endsWith("/") ? "/" : ""));
    }
  }
  for (const member of rootJson.workspace ?? []) {
    const dir = normalize(member);
    const json = await readJson(`${root}/${dir}/deno.json`);
    if (!json.name) continue;
    const exports = typeof json.exports === "string" ? { ".": json.exports } : json.exports ?? {};
    for (const [sub, file] of Object.entries(exports)) {
      const name = sub === "." ? json.name : `${json.name}/${sub.replace(/^\.\//, "")}`;
      aliases.set(name, normalize(`${dir}/${file}`));
    }
  }
  return aliases;
}

/** Folders never scanned: dependencies, caches, coverage, build output, VCS and hidden ones. */
const SKIPPED_FOLDERS = new Set(["node_modules", ".cache", "cov", "dist"]);

/**
 * Scans every `.ts` file under `root` (skipping `node_modules`, `.cache`, `cov`, `dist` and
 * hidden folders) into an {@linkcode ImportGraph}.
 *
 * @example
 * ```ts ignore
 * import { checkLayering, loadImportGraph } from "./layering.ts";
 * checkLayering(await loadImportGraph(".")); // [] when clean
 * ```
 */
export async function loadImportGraph(root: string): Promise<ImportGraph> {
  const aliases = await workspaceAliases(root);
  const graph = new Map<string, ImportEdge[]>();
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir === "" ? root : `${root}/${dir}`)) {
      const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
      if (entry.isDirectory) {
        if (!SKIPPED_FOLDERS.has(entry.name) && !entry.name.startsWith(".")) await walk(path);
      } else if (entry.isFile && entry.name.endsWith(".ts")) {
        const source = await Deno.readTextFile(`${root}/${path}`);
        graph.set(
          path,
          findImports(source).map(({ specifier, typeOnly }) => ({
            specifier,
            target: resolveSpecifier(path, specifier, aliases),
            typeOnly,
          })),
        );
      }
    }
  };
  await walk("");
  return graph;
}
