/**
 * `deno task dev`: the local demo. Until the router lands (issue #4) it says what exists and
 * how to try it.
 *
 * @module
 */
// deno-lint-ignore no-console
const say = (line = "") => console.log(line);

say("Kthena (TypeScript) — what exists today:");
say();
say("  shared/api     typed model of every custom resource (zod), CRD generation");
say("  manifests/     CRDs, RBAC, Deployments:  kubectl apply -k manifests");
say("  examples/      the seed documents' custom resources, one per file");
say("  tests/cluster  a real kube-apiserver + etcd on loopback:  deno task cluster");
say("  tests/sim      the vLLM/SGLang engine simulator:  deno task sim --port 8000 --model m");
say();
say("Try the examples against a real API server:");
say("  npx -y deno@2.9.6 task cluster        # prints a kubeconfig path; keep it running");
say("  KUBECONFIG=<path> kubectl apply --dry-run=server -f examples/model-serving/");
say();
say("The router and the demo fleet arrive with issue #4; the controller with issue #5.");
