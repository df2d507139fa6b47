/**
 * Certificates and keys for a loopback test cluster, made with the `openssl` command: a CA,
 * the apiserver's serving certificate for 127.0.0.1, and the service-account signing key pair.
 *
 * @module
 */

/** Paths of the files {@linkcode makeCerts} writes. */
export interface ClusterCerts {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output().catch((e) => {
      throw new Error(`cannot run openssl (apt-get install openssl): ${e}`);
    });
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/**
 * Writes a fresh CA, serving certificate and service-account key pair into `dir`.
 *
 * @example
 * ```ts
 * import { makeCerts } from "./certs.ts";
 * const certs = await makeCerts(await Deno.makeTempDir());
 * ```
 */
export async function makeCerts(dir: string): Promise<ClusterCerts> {
  const c: ClusterCerts = {
    caCert: `${dir}/ca.crt`,
    caKey: `${dir}/ca.key`,
    serverCert: `${dir}/apiserver.crt`,
    serverKey: `${dir}/apiserver.key`,
    serviceAccountKey: `${dir}/sa.key`,
    serviceAccountPub: `${dir}/sa.pub`,
  };
  // EC keys: generating them is instant, unlike RSA.
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(
    [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      c.caKey,
      "-out",
      c.caCert,
      "-days",
      "30",
      "-subj",
      "/CN=kthena-test-ca",
    ],
    dir,
  );
  await Deno.writeTextFile(
    `${dir}/san.ext`,
    "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n" +
      "extendedKeyUsage=serverAuth\n",
  );
  await openssl(
    [
      "req",
      ...ec,
      "-keyout",
      c.serverKey,
      "-out",
      `${dir}/apiserver.csr`,
      "-subj",
      "/CN=kube-apiserver",
    ],
    dir,
  );
  await openssl(
    [
      "x509",
      "-req",
      "-in",
      `${dir}/apiserver.csr`,
      "-CA",
      c.caCert,
      "-CAkey",
      c.caKey,
      "-CAcreateserial",
      "-out",
      c.serverCert,
      "-days",
      "30",
      "-extfile",
      `${dir}/san.ext`,
    ],
    dir,
  );
  await openssl(["genrsa", "-out", c.serviceAccountKey, "2048"], dir);
  await openssl(["rsa", "-in", c.serviceAccountKey, "-pubout", "-out", c.serviceAccountPub], dir);
  return c;
}
