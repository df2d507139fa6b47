/**
 * kthena-router: the OpenAI-compatible, prefill/decode-aware router.
 *
 * Not implemented yet (issue #4); `deno task dev` tells what exists today.
 *
 * @module
 */
if (import.meta.main) {
  // deno-lint-ignore no-console
  console.error("kthena-router is not implemented yet (issue #4).");
  Deno.exit(2);
}
