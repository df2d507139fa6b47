/**
 * `deno task test`: the whole test suite, with its own set-up.
 *
 * 1. finds or builds the cluster binaries (Go; minutes on the first run, cached after);
 * 2. starts one loopback test cluster for the run;
 * 3. runs `deno test` over the repository (or the paths given) with the cluster passed down;
 * 4. prints `N passed, N failed` and stops the cluster.
 *
 * Extra arguments go to `deno test`: `deno task test router/` runs one folder.
 *
 * @module
 */
import { ensureBinaries } from "./cluster/binaries.ts";
import { type Cluster, startCluster } from "./cluster/cluster.ts";

// deno-lint-ignore no-console
const say = (line: string) => console.log(`[test] ${line}`);

const seconds = (since: number) => ((performance.now() - since) / 1000).toFixed(1);

let cluster: Cluster | undefined;
let exitCode = 1;
try {
  const t0 = performance.now();
  const binaries = await ensureBinaries(say);
  say(`cluster binaries ready in ${seconds(t0)} s (Kubernetes ${binaries.version})`);
  const t1 = performance.now();
  cluster = await startCluster({ binaries });
  say(`test cluster started in ${seconds(t1)} s at ${cluster.server}`);

  const args = Deno.args.length > 0 ? Deno.args : [];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--unstable-no-legacy-abort", ...args],
    env: {
      KTHENA_TEST_KUBECONFIG: cluster.kubeconfigPath,
      KTHENA_TEST_KUBECTL: binaries.kubectl,
      NO_COLOR: "1",
    },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();

  // Show deno test's output as it comes, and keep its end to read the summary from.
  let tail = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    await Deno.stdout.write(chunk);
    tail = (tail + decoder.decode(chunk, { stream: true })).slice(-8192);
  }
  const status = await child.status;
  const summary = parseSummary(tail);
  if (summary) {
    // The plain line CI reads; deno's own summary line is not in a format it knows.
    // deno-lint-ignore no-console
    console.log(`${summary.passed} passed, ${summary.failed} failed`);
  } else {
    // deno-lint-ignore no-console
    console.log(`0 passed, 1 failed`);
    say("could not read deno test's summary (did it crash?)");
  }
  exitCode = status.success && summary !== undefined ? 0 : 1;
} catch (e) {
  say(`set-up failed: ${e instanceof Error ? e.stack ?? e.message : e}`);
  // deno-lint-ignore no-console
  console.log(`0 passed, 1 failed`);
} finally {
  await cluster?.stop();
}
Deno.exit(exitCode);

/**
 * Reads deno test's closing line, e.g. `ok | 12 passed (3 steps) | 0 failed (2s)`.
 * Test steps count as tests; ignored tests are neither.
 */
export function parseSummary(text: string): { passed: number; failed: number } | undefined {
  const lines = text.split("\n").filter((l) => /\d+ passed.*\| \d+ failed/.test(l));
  const last = lines.at(-1);
  if (!last) return undefined;
  const passed = Number(last.match(/(\d+) passed/)?.[1] ?? 0);
  const passedSteps = Number(last.match(/\d+ passed \((\d+) steps?\)/)?.[1] ?? 0);
  const failed = Number(last.match(/(\d+) failed/)?.[1] ?? 0);
  const failedSteps = Number(last.match(/\d+ failed \((\d+) steps?\)/)?.[1] ?? 0);
  return { passed: passed + passedSteps, failed: failed + failedSteps };
}
