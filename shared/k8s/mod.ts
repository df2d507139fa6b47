/**
 * The Kubernetes runtime both programs stand on: configuration and typed clients
 * (client-node underneath), a Deno-safe list/watch with informers and indexed caches, a
 * deduplicating rate-limited work queue, the controller runner, conditions, events, Lease
 * leader election, controller-runtime-compatible metrics and health endpoints.
 *
 * @example
 * ```ts ignore
 * import { Controller, customResource, KubeClient } from "@kthena/shared/k8s";
 * import { MODEL_SERVER, type ModelServer } from "@kthena/shared/api";
 *
 * const client = KubeClient.load();
 * const servers = client.informer(customResource<ModelServer>(MODEL_SERVER));
 * servers.start();
 * const controller = new Controller({
 *   name: "modelserver",
 *   informer: servers,
 *   reconcile: async (key) => {
 *     const server = servers.store.get(key);
 *     if (!server) return;
 *     return { requeueAfter: 60_000 };
 *   },
 * });
 * await controller.run();
 * ```
 *
 * @module
 */
export * from "./api_resource.ts";
export * from "./backoff.ts";
export * from "./client.ts";
export * from "./conditions.ts";
export * from "./controller.ts";
export * from "./errors.ts";
export * from "./events.ts";
export * from "./health.ts";
export * from "./informer.ts";
export * from "./kubeconfig.ts";
export * from "./leader_election.ts";
// The logger is not Kubernetes-specific (the router uses it too); re-exported for callers of
// this module that take a `logger` option.
export * from "../log.ts";
export * from "./metrics.ts";
export * from "./object.ts";
export * from "./object_client.ts";
export * from "./owner.ts";
export * from "./rate_limiter.ts";
export * from "./resource_client.ts";
export * from "./store.ts";
export * from "./transport.ts";
export * from "./watch.ts";
export * from "./work_queue.ts";
