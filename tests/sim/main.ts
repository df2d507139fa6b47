/**
 * CLI entry point: `deno task sim --port 8000 --model m [flags]` (see README.md for flags).
 *
 * Once listening it prints one JSON line on stdout:
 * `{"event":"listening","url":…,"port":…,"side_channel_port":…,"bootstrap_port":…,"engine_id":…}`
 * (what {@linkcode spawnSimulator} reads). SIGINT/SIGTERM close it gracefully.
 *
 * @example
 * ```sh
 * deno run -A --unstable-no-legacy-abort tests/sim/main.ts --port 0 --model m --profile fast
 * ```
 *
 * @module
 */

import { FLAG_NAMES, parseSimArgs } from "./options.ts";
import { startSimulator } from "./server.ts";

const encoder = new TextEncoder();

/**
 * Runs the simulator with command-line flags until a signal arrives.
 *
 * @param args Flags.
 * @returns The exit code.
 *
 * @example
 * ```ts ignore
 * Deno.exit(await main(Deno.args));
 * ```
 */
export async function main(args: readonly string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    await Deno.stdout.write(encoder.encode(
      `usage: deno task sim [--${FLAG_NAMES.join(" <v>] [--")} <v>]\nsee tests/sim/README.md\n`,
    ));
    return 0;
  }
  let sim;
  try {
    sim = await startSimulator(parseSimArgs(args));
  } catch (err) {
    await Deno.stderr.write(encoder.encode(`kthena-sim: ${(err as Error).message}\n`));
    return 2;
  }
  const line = JSON.stringify({
    event: "listening",
    url: sim.url,
    port: sim.port,
    side_channel_port: sim.sideChannelPort ?? null,
    bootstrap_port: sim.bootstrapPort ?? null,
    engine_id: sim.engineId,
    model: sim.options.model,
    engine: sim.options.engine,
    role: sim.options.role,
    kv_connector: sim.options.kvConnector,
  });
  await Deno.stdout.write(encoder.encode(line + "\n"));
  const stopped = Promise.withResolvers<void>();
  const onSignal = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  await stopped.promise;
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  await sim.close();
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
