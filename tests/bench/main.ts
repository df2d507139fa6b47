/**
 * `deno task bench [name…]`: runs benchmarks on demand (they are not part of the test suite).
 * With no name it lists them; `deno task bench controller` runs `controller_bench.ts`.
 *
 * @module
 */
// deno-lint-ignore no-console
const say = (s: string) => console.log(s);

const dir = new URL("./", import.meta.url);
const available: string[] = [];
for await (const e of Deno.readDir(dir)) {
  if (e.isFile && e.name.endsWith("_bench.ts")) available.push(e.name.replace(/_bench\.ts$/, ""));
}
available.sort();

const [name, ...rest] = Deno.args;
if (!name || !available.includes(name)) {
  if (name) say(`no benchmark named ${JSON.stringify(name)}`);
  say(`benchmarks: ${available.join(", ")}\nrun one: deno task bench <name> [args…]`);
  Deno.exit(name ? 1 : 0);
}
const child = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    "--unstable-no-legacy-abort",
    new URL(`${name}_bench.ts`, dir).pathname,
    ...rest,
  ],
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
Deno.exit((await child.status).code);
