/**
 * HTTP to the API server on Deno's native `fetch`, for the long-lived and streaming calls
 * (list pages and watches) that client-node 2.0.1 cannot do reliably on Deno: its undici-based
 * `Watch` never notices an aborted body, so after 30 s without events an informer goes deaf
 * (reference: ecosystem.md §1.3). Deno's fetch rejects a pending body read on abort, which is
 * what an idle timeout and a clean `stop()` need.
 *
 * Configuration and authentication still come from client-node's `KubeConfig`: TLS material
 * (CA, client certificate) is read once into a `Deno.HttpClient`, and the request headers
 * (bearer token, token file, exec plugin, impersonation) are asked of
 * `KubeConfig.applyToHTTPSOptions` on every request, so rotating tokens keep working.
 *
 * @module
 */
import { bufferFromFileOrString, type KubeConfig } from "@kubernetes/client-node";
import { kubeErrorFrom } from "./errors.ts";

/** Query parameters; `undefined` values are left out. */
export type Query = Record<string, string | number | boolean | undefined>;

/** Options of one request. */
export interface TransportRequest {
  method?: string;
  query?: Query;
  /** A JSON body (objects are stringified). */
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

/** A connection to one API server, as configured by a KubeConfig. */
export class KubeTransport {
  /** The API server's base URL. */
  readonly server: string;
  readonly #kc: KubeConfig;
  readonly #client: Deno.HttpClient | undefined;

  /**
   * @param kc A loaded KubeConfig; its current context picks the cluster and user.
   * @throws {Error} when the KubeConfig has no current cluster.
   * @example
   * ```ts ignore
   * import { KubeTransport } from "./transport.ts";
   * import { loadKubeConfig } from "./kubeconfig.ts";
   * const transport = new KubeTransport(loadKubeConfig());
   * const res = await transport.request("/version");
   * ```
   */
  constructor(kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error("the KubeConfig has no current cluster");
    this.server = cluster.server.replace(/\/+$/, "");
    this.#kc = kc;
    const user = kc.getCurrentUser();
    const dec = new TextDecoder();
    const ca = bufferFromFileOrString(cluster.caFile, cluster.caData);
    const cert = user ? bufferFromFileOrString(user.certFile, user.certData) : null;
    const key = user ? bufferFromFileOrString(user.keyFile, user.keyData) : null;
    // `skipTLSVerify` has no per-client equivalent on Deno (only the process-wide
    // --unsafely-ignore-certificate-errors flag); such clusters need that flag.
    const options: Deno.CreateHttpClientOptions = ca ? { caCerts: [dec.decode(ca)] } : {};
    this.#client = cert && key
      ? Deno.createHttpClient({ ...options, cert: dec.decode(cert), key: dec.decode(key) })
      : ca
      ? Deno.createHttpClient(options)
      : undefined;
  }

  /**
   * The full URL of a path with query parameters.
   *
   * @example
   * ```ts ignore
   * transport.url("/api/v1/pods", { watch: true }).href; // "https://…/api/v1/pods?watch=true"
   * ```
   */
  url(path: string, query: Query = {}): URL {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    return url;
  }

  /**
   * Sends a request and returns the response as it is (any status). The caller owns the body.
   *
   * @example
   * ```ts ignore
   * const res = await transport.request("/api/v1/namespaces/default/pods", { query: { limit: 1 } });
   * await res.json();
   * ```
   */
  async request(path: string, req: TransportRequest = {}): Promise<Response> {
    const opts: { headers?: Record<string, string>; auth?: string } = { headers: {} };
    await this.#kc.applyToHTTPSOptions(opts as never);
    const headers = new Headers(opts.headers ?? {});
    if (opts.auth) headers.set("authorization", `Basic ${btoa(opts.auth)}`);
    headers.set("accept", "application/json");
    headers.set("user-agent", "kthena-ts");
    let body: string | undefined;
    if (req.body !== undefined) {
      body = typeof req.body === "string" ? req.body : JSON.stringify(req.body);
      headers.set("content-type", req.contentType ?? "application/json");
    }
    return await fetch(this.url(path, req.query), {
      method: req.method ?? "GET",
      headers,
      body,
      signal: req.signal,
      client: this.#client,
    });
  }

  /**
   * Sends a request and parses the JSON answer.
   *
   * @throws {import("./errors.ts").KubeError} on a non-2xx answer.
   * @example
   * ```ts ignore
   * const list = await transport.json<{ items: unknown[] }>("/api/v1/namespaces/default/pods");
   * ```
   */
  async json<T>(path: string, req: TransportRequest = {}): Promise<T> {
    const res = await this.request(path, req);
    const text = await res.text();
    if (!res.ok) throw kubeErrorFrom(res.status, text);
    return JSON.parse(text) as T;
  }

  /**
   * Closes the pooled connections.
   *
   * @example
   * ```ts ignore
   * transport.close();
   * ```
   */
  close(): void {
    this.#client?.close();
  }
}
