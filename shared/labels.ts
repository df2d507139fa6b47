/**
 * Label, annotation and environment variable names shared by the controller and the router.
 * They are upstream Kthena's, byte for byte: ModelServers written for upstream select our pods.
 *
 * @module
 */

/** Labels the ModelServing controller puts on pods, services, PodGroups and revisions. */
export const ModelServingLabels = {
  /** The ModelServing's name. */
  name: "modelserving.volcano.sh/name",
  /** The serving group, `{ms}-{groupIdx}`; also the PD group key. */
  groupName: "modelserving.volcano.sh/group-name",
  /** The role name (`prefill`, `decode`, …). */
  role: "modelserving.volcano.sh/role",
  /** The role replica, `{role}-{roleIdx}`. */
  roleId: "modelserving.volcano.sh/role-id",
  /** `"true"` on entry pods only. */
  entry: "modelserving.volcano.sh/entry",
  /** The ModelServing revision the pod was created from. */
  revision: "modelserving.volcano.sh/revision",
  /** The hash of the role template the pod was created from. */
  roleTemplateHash: "modelserving.volcano.sh/role-template-hash",
} as const;

/** Labels the ModelBooster controller puts on everything it generates. */
export const ModelBoosterLabels = {
  modelName: "workload.serving.volcano.sh/model-name",
  backendName: "workload.serving.volcano.sh/backend-name",
  managedBy: "workload.serving.volcano.sh/managed-by",
  revision: "workload.serving.volcano.sh/revision",
  modelUid: "workload.serving.volcano.sh/model-uid",
} as const;

/** The value of {@linkcode ModelBoosterLabels.managedBy}. */
export const MANAGED_BY_VALUE = "workload.serving.volcano.sh";

/** Annotations read or written by the controllers. */
export const Annotations = {
  /** Volcano: the PodGroup a pod belongs to. */
  podGroupName: "scheduling.k8s.io/group-name",
  /** Volcano: the task (role replica) of a pod within its PodGroup. */
  taskSpec: "volcano.sh/task-spec",
  /** On a ModelServing: the Volcano queue of its PodGroups. */
  queueName: "scheduling.volcano.sh/queue-name",
  /** On a pod: the cost of deleting it when scaling down (lower goes first). */
  podDeletionCost: "controller.kubernetes.io/pod-deletion-cost",
} as const;

/** Environment variables injected into every container of a ModelServing pod. */
export const InjectedEnv = {
  /** Pods in this role replica: `workerReplicas + 1`. */
  groupSize: "GROUP_SIZE",
  /** `{entryPodName}.{namespace}`, resolvable through the role replica's headless Service. */
  entryAddress: "ENTRY_ADDRESS",
  /** `0` for the entry pod, `1..workerReplicas` for workers. */
  workerIndex: "WORKER_INDEX",
} as const;

/**
 * Labels the `lws-standard-labels` plugin puts on the pods of a ModelServing that a
 * LeaderWorkerSet owns: the labels the LeaderWorkerSet controller itself would put on its pods,
 * so tools written for LeaderWorkerSet find them.
 */
export const LeaderWorkerSetLabels = {
  /** The LeaderWorkerSet's name. */
  name: "leaderworkerset.sigs.k8s.io/name",
  /** The group (serving group) ordinal. */
  groupIndex: "leaderworkerset.sigs.k8s.io/group-index",
  /** `0` for the leader (entry) pod, `1..size-1` for workers. */
  workerIndex: "leaderworkerset.sigs.k8s.io/worker-index",
  /** Lowercase hex SHA-1 of `{lwsName}-{groupIndex}`: one value per group. */
  groupKey: "leaderworkerset.sigs.k8s.io/group-key",
} as const;

/** Annotations of the LeaderWorkerSet → ModelServing controller. */
export const LeaderWorkerSetAnnotations = {
  /**
   * On a ModelServing made from a LeaderWorkerSet: the hash of the spec the controller last
   * applied, so removals from the LeaderWorkerSet (which a compare of the fields it sets cannot
   * see) still reach the ModelServing.
   */
  specHash: "workload.serving.volcano.sh/lws-spec-hash",
} as const;
