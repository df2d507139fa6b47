/**
 * Polling helper for tests.
 *
 * @module
 */

/**
 * Resolves when `cond()` holds; rejects after `timeoutMs` with `what` in the message.
 *
 * @example
 * ```ts
 * import { waitUntil } from "./_wait.ts";
 * await waitUntil(() => true, "always");
 * ```
 */
export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
  intervalMs = 10,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
