/**
 * What the node agent runs for a container it cannot simulate (the runtime sidecar, unknown
 * images): a process that listens on the container's ports and answers 200 to every HTTP
 * request, so its probes pass, until SIGTERM.
 *
 * ```sh
 * deno run -A tests/dev/idle_container.ts --host 127.1.0.7 --port 8100 --port 9090
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";

/**
 * Serves every port until a signal arrives.
 *
 * @param args `--host <ip>` and any number of `--port <n>`.
 * @returns The exit code.
 * @example
 * ```ts ignore
 * Deno.exit(await main(["--host", "127.0.0.1", "--port", "8100"]));
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", multiple: true, default: [] },
    },
  });
  const servers = (values.port ?? []).map((p) =>
    Deno.serve(
      { hostname: values.host, port: Number(p), onListen: () => {} },
      () => new Response("ok\n"),
    )
  );
  const stopped = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGTERM", () => stopped.resolve());
  Deno.addSignalListener("SIGINT", () => stopped.resolve());
  await stopped.promise;
  await Promise.all(servers.map((s) => s.shutdown()));
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
