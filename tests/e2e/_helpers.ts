/**
 * Shared pieces of the end-to-end suites: one full stack (`tests/dev/stack.ts`) per test file,
 * an egress watch over it, and small waits and requests.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { V1Pod } from "@kubernetes/client-node";
import { type Stack, startStack } from "../dev/stack.ts";
import { watchEgress } from "../dev/egress.ts";

/** Test options: the stack outlives single tests. */
export const E2E = { sanitizeOps: false, sanitizeResources: false };

/** The repository root, as a path. */
export const ROOT: string = decodeURIComponent(new URL("../../", import.meta.url).pathname);

/** A stack with an egress watch. */
export interface E2EStack extends Stack {
  /** kubectl on the stack's cluster; throws with stderr on failure. */
  k(args: string[], stdin?: string): Promise<string>;
  /** Stops the egress watch and asserts that nothing dialed outside loopback. */
  assertNoEgress(): Promise<void>;
}

/**
 * Starts a stack (router on a free port, `fast` engines) and watches its sockets.
 *
 * @example
 * ```ts ignore
 * const stack = await e2eStack();
 * ```
 */
export async function e2eStack(): Promise<E2EStack> {
  const egress = watchEgress();
  const stack = await startStack({ routerPort: 0, profile: "fast" });
  // A file whose last test (which stops the stack) is filtered out: the reapers end the
  // processes when this one exits; the working directory goes here.
  globalThis.addEventListener("unload", () => {
    if (Deno.env.get("KTHENA_KEEP_CLUSTER_DIR") === "1") return;
    try {
      Deno.removeSync(stack.cluster.dir, { recursive: true });
    } catch { /* stopped already */ }
  });
  const k = async (args: string[], stdin?: string) => {
    const r = await stack.cluster.kubectl(args, stdin);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  return Object.assign(stack, {
    k,
    async assertNoEgress() {
      const seen = await egress.stop();
      assert.deepEqual(
        seen,
        [],
        `sockets dialing or listening outside 127.0.0.0/8: ${JSON.stringify(seen, null, 2)}`,
      );
    },
  });
}

/** Polls `fn` until it returns a truthy value; throws with the last state after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 120_000,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${what}: not after ${timeoutMs} ms${last ? ` (${last})` : ""}`);
}

/** The pods of a namespace matching a label selector. */
export async function pods(stack: Stack, ns: string, selector = ""): Promise<V1Pod[]> {
  const r = await stack.client.transport.json<{ items: V1Pod[] }>(
    `/api/v1/namespaces/${ns}/pods`,
    { query: { labelSelector: selector || undefined } },
  );
  return r.items;
}

/** Whether a pod is Running and Ready and not terminating. */
export function runningReady(p: V1Pod): boolean {
  return p.status?.phase === "Running" && !p.metadata?.deletionTimestamp &&
    (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
}

/** Waits until exactly `n` pods of the selector are Running and Ready; returns them. */
export function waitPodsReady(
  stack: Stack,
  ns: string,
  selector: string,
  n: number,
  timeoutMs = 120_000,
): Promise<V1Pod[]> {
  return eventually(`${n} ready pods ${selector} in ${ns}`, async () => {
    const all = (await pods(stack, ns, selector)).filter((p) => !p.metadata?.deletionTimestamp);
    return all.length === n && all.every(runningReady) ? all : undefined;
  }, timeoutMs);
}

/** The result of one chat completion through the router. */
export interface ChatResult {
  status: number;
  text: string;
  headers: Headers;
}

/**
 * One chat completion through the router (`stream` reads the whole SSE body).
 *
 * @example
 * ```ts ignore
 * const r = await chat(stack.routerUrl, "Qwen/Qwen3-0.6B", { stream: true });
 * ```
 */
export async function chat(
  url: string,
  model: string,
  opts: { stream?: boolean; headers?: Record<string, string>; content?: string } = {},
): Promise<ChatResult> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...opts.headers },
    body: JSON.stringify({
      model,
      messages: [{ role: "user", content: opts.content ?? "Hello there" }],
      max_tokens: 16,
      stream: opts.stream ?? false,
    }),
  });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/** Waits for a 200 chat completion of `model`. */
export function waitForChat(
  url: string,
  model: string,
  opts: { headers?: Record<string, string> } = {},
  timeoutMs = 60_000,
): Promise<ChatResult> {
  return eventually(`a chat completion of ${model}`, async () => {
    const r = await chat(url, model, opts);
    return r.status === 200 ? r : undefined;
  }, timeoutMs);
}

/** Asserts a non-streamed chat completion body: choices with text, usage. */
export function assertCompletion(r: ChatResult): Record<string, unknown> {
  assert.equal(r.status, 200, r.text);
  const body = JSON.parse(r.text) as {
    choices: { message: { content: string } }[];
    usage: { completion_tokens: number };
  };
  assert.ok(body.choices[0]!.message.content.length > 0, r.text);
  assert.ok(body.usage.completion_tokens > 0, r.text);
  return body as unknown as Record<string, unknown>;
}

/** Asserts a streamed chat completion: SSE chunks with content, then `[DONE]`. */
export function assertStream(r: ChatResult): void {
  assert.equal(r.status, 200, r.text);
  const events = r.text.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6));
  assert.equal(events.at(-1), "[DONE]", r.text);
  const content = events.slice(0, -1).map((e) =>
    JSON.parse(e) as {
      choices?: { delta?: { content?: string } }[];
    }
  ).map((e) => e.choices?.[0]?.delta?.content ?? "").join("");
  assert.ok(content.length > 0, r.text);
}
