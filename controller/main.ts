/**
 * kthena-controller-manager: reconciles ModelBooster, ModelServing, ModelServer, ModelRoute and
 * autoscaling policies into pods.
 *
 * Not implemented yet (issue #5).
 *
 * @module
 */
if (import.meta.main) {
  // deno-lint-ignore no-console
  console.error("kthena-controller-manager is not implemented yet (issue #5).");
  Deno.exit(2);
}
