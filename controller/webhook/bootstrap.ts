/**
 * Webhook certificates at start-up, in the three modes upstream's chart offers:
 *
 * - **files** (cert-manager or manual): `--tls-cert-file` and `--tls-private-key-file` exist on
 *   disk (a mounted Secret); they are used as they are, and whoever made them owns `caBundle`
 *   (cert-manager's `inject-ca-from` annotation, or the operator).
 * - **auto** (the default): no files. The Secret `--cert-secret-name` in the controller's
 *   namespace is read, or created with a fresh CA and serving certificate for the webhook
 *   Service's DNS names; the CA goes into `caBundle` of our ValidatingWebhookConfiguration.
 *   The certificates are served from memory, so unlike upstream there is no wait for the
 *   Secret to be mounted and no restart.
 *
 * @module
 */
import { AdmissionregistrationV1Api } from "@kubernetes/client-node";
import { isAlreadyExists, isNotFound, type KubeClient, type Logger } from "@kthena/shared/k8s";
import { generateWebhookCerts, serviceDnsNames, type WebhookCerts } from "./certs.ts";

/** Where the webhook's certificates come from and go. */
export interface WebhookCertOptions {
  client: KubeClient;
  namespace: string;
  secretName: string;
  serviceName: string;
  /** The ValidatingWebhookConfiguration whose `caBundle` we own in auto mode. */
  webhookConfigName: string;
  certFile: string;
  keyFile: string;
  logger: Logger;
}

/** The name of our ValidatingWebhookConfiguration (manifests/controller/webhook.yaml). */
export const VALIDATING_WEBHOOK_CONFIG = "kthena-controller-manager-validating-webhook";

const b64 = (s: string) => btoa(s);
const unb64 = (s: string | undefined) => (s ? atob(s) : "");

/**
 * Returns the certificates to serve the webhook with, creating and publishing them in auto mode.
 *
 * @example
 * ```ts ignore
 * import { webhookCertificates } from "./bootstrap.ts";
 * const certs = await webhookCertificates({ client, namespace: "kthena-system", … });
 * Deno.serve({ port: 8443, cert: certs.cert, key: certs.key }, handler);
 * ```
 */
export async function webhookCertificates(opts: WebhookCertOptions): Promise<WebhookCerts> {
  const fromFiles = await readFiles(opts.certFile, opts.keyFile);
  if (fromFiles) {
    opts.logger.info("webhook: serving the mounted certificate", { file: opts.certFile });
    return fromFiles;
  }
  const certs = await secretCerts(opts);
  await injectCaBundle(opts, certs.caCert);
  return certs;
}

async function readFiles(certFile: string, keyFile: string): Promise<WebhookCerts | undefined> {
  try {
    const [cert, key] = await Promise.all([
      Deno.readTextFile(certFile),
      Deno.readTextFile(keyFile),
    ]);
    return { cert, key, caCert: "" };
  } catch {
    return undefined;
  }
}

/** Reads the certificate Secret, or creates it (another replica may win the race). */
async function secretCerts(opts: WebhookCertOptions): Promise<WebhookCerts> {
  const core = opts.client.core;
  const read = async (): Promise<WebhookCerts | undefined> => {
    try {
      const s = await core.readNamespacedSecret({
        name: opts.secretName,
        namespace: opts.namespace,
      });
      const d = s.data ?? {};
      if (d["tls.crt"] && d["tls.key"] && d["ca.crt"]) {
        return { cert: unb64(d["tls.crt"]), key: unb64(d["tls.key"]), caCert: unb64(d["ca.crt"]) };
      }
      return undefined;
    } catch (e) {
      if (isNotFound(e) || (e as { code?: number }).code === 404) return undefined;
      throw e;
    }
  };
  const existing = await read();
  if (existing) return existing;
  const certs = await generateWebhookCerts({
    dnsNames: serviceDnsNames(opts.serviceName, opts.namespace),
  });
  try {
    await core.createNamespacedSecret({
      namespace: opts.namespace,
      body: {
        metadata: { name: opts.secretName, namespace: opts.namespace },
        type: "kubernetes.io/tls",
        data: {
          "tls.crt": b64(certs.cert),
          "tls.key": b64(certs.key),
          "ca.crt": b64(certs.caCert),
        },
      },
    });
    opts.logger.info("webhook: generated a CA and serving certificate", {
      secret: opts.secretName,
    });
    return certs;
  } catch (e) {
    if (!isAlreadyExists(e) && (e as { code?: number }).code !== 409) throw e;
    return (await read()) ?? certs;
  }
}

/** Puts the CA into every webhook of our ValidatingWebhookConfiguration. */
async function injectCaBundle(opts: WebhookCertOptions, caCert: string): Promise<void> {
  const api = opts.client.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  const caBundle = b64(caCert);
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const cfg = await api.readValidatingWebhookConfiguration({ name: opts.webhookConfigName });
      if ((cfg.webhooks ?? []).every((w) => w.clientConfig.caBundle === caBundle)) return;
      for (const w of cfg.webhooks ?? []) w.clientConfig.caBundle = caBundle;
      await api.replaceValidatingWebhookConfiguration({ name: opts.webhookConfigName, body: cfg });
      opts.logger.info("webhook: CA bundle injected", { config: opts.webhookConfigName });
      return;
    } catch (e) {
      const code = (e as { code?: number }).code;
      if (code === 404) {
        opts.logger.warn("webhook: configuration not installed; nothing to inject", {
          config: opts.webhookConfigName,
        });
        return;
      }
      if (code !== 409) throw e; // a concurrent update: read again
    }
  }
}
