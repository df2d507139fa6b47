/**
 * kthena-controller-manager: reconciles ModelServings into pods, headless Services, Volcano
 * PodGroups and ControllerRevisions, LeaderWorkerSets (when that API exists) into
 * ModelServings, and serves the validating admission webhook.
 *
 * ```sh
 * deno run -A controller/main.ts --kubeconfig ~/.kube/config --leader-elect
 * ```
 *
 * Serves `/healthz`, `/readyz` on `--health-port` and `/metrics` (controller-runtime's names)
 * on `--metrics-port`. With `--leader-elect`, only the holder of the Lease
 * `lease.kthena.controller-manager` reconciles; losing it ends the process (the Deployment
 * restarts it as a follower), which is what controller-runtime does too.
 *
 * @module
 */
import { hostname } from "node:os";
import {
  healthHandler,
  jsonLogger,
  KubeClient,
  LeaderElector,
  type Logger,
} from "@kthena/shared/k8s";
import { parseControllerFlags } from "./flags.ts";
import { ModelServingController } from "./model_serving/controller.ts";
import { LeaderWorkerSetController } from "./leader_worker_set/controller.ts";
import { admissionApp } from "./webhook/admission.ts";
import { VALIDATING_WEBHOOK_CONFIG, webhookCertificates } from "./webhook/bootstrap.ts";

/** What main runs, stops and asks for readiness. */
interface RunnableController {
  run(): Promise<void>;
  stop(): Promise<void>;
  ready(): boolean;
}

/** Runs the controller manager until SIGINT/SIGTERM. */
export async function main(args: string[]): Promise<number> {
  const flags = parseControllerFlags(args);
  const log: Logger = jsonLogger("info");
  const client = KubeClient.load({ path: flags.kubeconfig });
  const namespace = Deno.env.get("POD_NAMESPACE") ?? client.namespace;
  const servers: Deno.HttpServer[] = [];
  const controllers: RunnableController[] = [];
  let leading = !flags.leaderElect;
  let shuttingDown = false;

  const modelServing = flags.controllers.has("modelserving")
    ? new ModelServingController({
      client,
      workers: flags.workers,
      resyncPeriodMs: flags.resyncSeconds * 1000,
      logger: log,
    })
    : undefined;
  if (modelServing) controllers.push(modelServing);
  if (flags.controllers.has("leaderworkerset")) {
    // One worker, as upstream: one LeaderWorkerSet maps to one object, there is little to do.
    controllers.push(
      new LeaderWorkerSetController({
        client,
        workers: 1,
        resyncPeriodMs: flags.resyncSeconds * 1000,
        logger: log,
      }),
    );
  }

  const health = healthHandler({
    healthz: { ping: () => true },
    readyz: {
      // A follower is ready (it serves the webhook); the leader once its caches synced.
      caches: () => !leading || controllers.every((c) => c.ready()),
    },
  });
  const listen = (port: number) => ({ port, hostname: flags.bindAddress, onListen: () => {} });
  servers.push(Deno.serve(listen(flags.healthPort), health));
  if (flags.metricsPort !== flags.healthPort) {
    servers.push(Deno.serve(listen(flags.metricsPort), health));
  }

  if (flags.enableWebhook) {
    const certs = await webhookCertificates({
      client,
      namespace,
      secretName: flags.certSecretName,
      serviceName: flags.serviceName,
      webhookConfigName: VALIDATING_WEBHOOK_CONFIG,
      certFile: flags.tlsCertFile,
      keyFile: flags.tlsPrivateKeyFile,
      logger: log,
    });
    servers.push(Deno.serve(
      { ...listen(flags.webhookPort), cert: certs.cert, key: certs.key },
      admissionApp().fetch,
    ));
    log.info("webhook serving", { port: flags.webhookPort });
  }

  const runControllers = () => Promise.all(controllers.map((c) => c.run()));
  const stopControllers = () => Promise.all(controllers.map((c) => c.stop()));

  let elector: LeaderElector | undefined;
  let done: Promise<unknown>;
  if (flags.leaderElect) {
    elector = new LeaderElector({
      client,
      namespace: flags.leaderElectionNamespace ?? namespace,
      name: "lease.kthena.controller-manager",
      identity: `${hostname()}_${crypto.randomUUID()}`,
      logger: log,
      onStartedLeading: () => {
        leading = true;
        log.info("became the leader; starting controllers");
        runControllers().catch((e) => log.error("controllers failed", { error: String(e) }));
      },
      onStoppedLeading: () => {
        if (shuttingDown) return; // we handed the Lease back ourselves
        // Fatal by design: another replica may already be reconciling.
        log.error("lost the leader lease; exiting");
        Deno.exit(1);
      },
    });
    done = elector.run();
  } else {
    done = runControllers();
  }

  const stopped = new Promise<void>((resolve) => {
    const stop = () => resolve();
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
  await Promise.race([stopped, done]);
  shuttingDown = true;
  log.info("shutting down");
  await elector?.stop();
  await stopControllers();
  await Promise.all(servers.map((s) => s.shutdown()));
  client.close();
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    // deno-lint-ignore no-console
    console.error(`kthena-controller-manager: ${e instanceof Error ? e.message : e}`);
    Deno.exit(2);
  }
}
