/**
 * LeaderWorkerSet (`leaderworkerset.x-k8s.io/v1`, kubernetes-sigs/lws), in the shape the
 * LeaderWorkerSet → ModelServing controller reads and writes: replicas, group size, the leader
 * and worker pod templates, and the two status counts it mirrors. The LWS project owns this
 * CRD; ours (generated from this schema into `manifests/testing/`) is only installed in test
 * clusters. Its templates are free-form there (`x-kubernetes-preserve-unknown-fields`), so
 * the controller checks them itself when it builds a ModelServing from them.
 *
 * @module
 */
import { z } from "zod";
import { resourceSchema } from "./common.ts";
import { freeForm, int32 } from "./schema.ts";

/** LeaderWorkerSet's API group. */
export const LWS_GROUP = "leaderworkerset.x-k8s.io";

/** LeaderWorkerSet's apiVersion. */
export const LEADER_WORKER_SET_API_VERSION = `${LWS_GROUP}/v1` as const;

/** A group: one leader and `size - 1` workers. */
export const LeaderWorkerTemplate = z.object({
  size: int32().min(1).default(1).describe("Pods per group, the leader included."),
  leaderTemplate: freeForm().optional()
    .describe("Pod template of the leader; the worker template when absent."),
  workerTemplate: freeForm().describe("Pod template of the workers."),
});

/** LeaderWorkerSet's spec (the fields the controller maps). */
export const LeaderWorkerSetSpec = z.object({
  replicas: int32().min(0).default(1).describe("Number of groups."),
  leaderWorkerTemplate: LeaderWorkerTemplate,
});
/** LeaderWorkerSet's spec. */
export type LeaderWorkerSetSpec = z.output<typeof LeaderWorkerSetSpec>;

/** LeaderWorkerSet's status (the fields the controller writes). */
export const LeaderWorkerSetStatus = z.object({
  replicas: int32().optional().describe("Groups that exist."),
  readyReplicas: int32().optional().describe("Groups whose pods are all ready."),
});
/** LeaderWorkerSet's status. */
export type LeaderWorkerSetStatus = z.output<typeof LeaderWorkerSetStatus>;

/** A whole LeaderWorkerSet object. */
export const LeaderWorkerSet = resourceSchema(
  LEADER_WORKER_SET_API_VERSION,
  "LeaderWorkerSet",
  LeaderWorkerSetSpec,
  LeaderWorkerSetStatus,
);
/** A LeaderWorkerSet. */
export type LeaderWorkerSet = z.output<typeof LeaderWorkerSet>;
