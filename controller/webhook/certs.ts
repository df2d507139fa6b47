/**
 * Self-signed certificates for the admission webhook ("auto" mode, as upstream's chart
 * default): a CA, and a serving certificate for the webhook Service's DNS names signed by it.
 * The API server trusts the CA through the `caBundle` of the webhook configuration.
 *
 * Uses @peculiar/x509 over WebCrypto, so no openssl binary is needed in the image.
 *
 * @module
 */
// @peculiar/x509 resolves its ASN.1 helpers through tsyringe, which needs this polyfill.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(crypto);

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

/** PEM-encoded webhook certificates. */
export interface WebhookCerts {
  /** The CA certificate (goes into `caBundle`, base64). */
  caCert: string;
  /** The serving certificate. */
  cert: string;
  /** The serving key, PKCS#8. */
  key: string;
}

/**
 * The DNS names of a webhook Service: `{svc}.{ns}.svc` and `{svc}.{ns}.svc.cluster.local`.
 *
 * @example
 * ```ts
 * import { serviceDnsNames } from "./certs.ts";
 * serviceDnsNames("kthena-controller-manager-webhook", "kthena-system");
 * ```
 */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [`${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}

/**
 * Generates a CA and a serving certificate valid for `dnsNames` and `ipAddresses`.
 *
 * @example
 * ```ts
 * import { generateWebhookCerts } from "./certs.ts";
 * const certs = await generateWebhookCerts({ dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
 * ```
 */
export async function generateWebhookCerts(opts: {
  dnsNames: string[];
  ipAddresses?: string[];
  validDays?: number;
}): Promise<WebhookCerts> {
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + (opts.validDays ?? 3650) * 86_400_000);
  const caKeys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: "CN=kthena-webhook-ca, O=Volcano",
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const keys = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${opts.dnsNames[0] ?? "kthena-webhook"}`,
    issuer: ca.subject,
    notBefore,
    notAfter,
    signingKey: caKeys.privateKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...opts.dnsNames.map((value) => ({ type: "dns" as const, value })),
        ...(opts.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  });
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return {
    caCert: ca.toString("pem"),
    cert: leaf.toString("pem"),
    key: x509.PemConverter.encode(pkcs8.buffer, "PRIVATE KEY"),
  };
}

function randomSerial(): string {
  const b = crypto.getRandomValues(new Uint8Array(8));
  b[0] = b[0]! & 0x7f; // positive
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}
