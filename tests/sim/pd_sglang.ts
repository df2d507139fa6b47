/**
 * SGLang PD disaggregation, bootstrap protocol.
 *
 * Both legs carry `bootstrap_host`, `bootstrap_port` and `bootstrap_room` at the top level of
 * the body (kthena sends only host and room; the decode then dials `--bootstrap-default-port`,
 * SGLang's 8998). Without a room, a PD engine answers 400 "Disaggregated request received
 * without bootstrap room id".
 *
 * - The prefill request first waits in the bootstrap queue until the decode engine connects to
 *   the prefill's bootstrap server for the same room, then prefills, then hands the KV over and
 *   answers. No decode within `--bootstrap-timeout-ms` ⇒ the prefill fails with a
 *   `KVTransferError` (500). So a router that sends the prefill first and waits for its answer
 *   before sending the decode deadlocks until that timeout, exactly as with real SGLang.
 * - The decode request connects to `http://bootstrap_host:bootstrap_port` at once (the
 *   simulator's stand-in for SGLang's bootstrap HTTP + ZMQ handshake), waits for the KV, checks
 *   it and decodes. No prefill within the timeout ⇒ the decode fails.
 *
 * Bootstrap endpoint (served by the prefill engine on `--bootstrap-port`):
 * `POST /sim/sglang/bootstrap/{room}` `{engine_id, pd_group}` → the KV payload once the prefill
 * is done; 403 refused group, 409 room already taken, 500 prefill failed, 504 timeout.
 *
 * @module
 */

import { Hono } from "hono";
import { SimHttpError } from "./errors.ts";
import {
  crossGroupRefused,
  fetchPeerJson,
  parseRemoteKv,
  type PeerIdentity,
  type RemoteKv,
  remoteKvJson,
} from "./kv_transfer.ts";

/** The bootstrap fields of a request. */
export interface BootstrapFields {
  /** Room id as decimal text (read from the raw body so 63-bit ids keep every digit). */
  room: string | undefined;
  /** Prefill host. */
  host: string | undefined;
  /** Prefill bootstrap port. */
  port: number | undefined;
}

/**
 * Reads the bootstrap fields. The room is taken from the raw JSON text when possible, because
 * `JSON.parse` rounds integers above 2^53 and rooms are drawn from [0, 2^63).
 *
 * @param body Parsed body.
 * @param raw Raw body text.
 * @returns The fields.
 *
 * @example
 * ```ts
 * import { bootstrapFields } from "./pd_sglang.ts";
 * const raw = '{"bootstrap_room": 9223372036854775807, "bootstrap_host": "10.0.0.1"}';
 * console.log(bootstrapFields(JSON.parse(raw), raw).room); // "9223372036854775807"
 * ```
 */
export function bootstrapFields(body: Record<string, unknown>, raw: string): BootstrapFields {
  let room: string | undefined;
  const value = body.bootstrap_room;
  if (typeof value === "number" || typeof value === "string") {
    const exact = /"bootstrap_room"\s*:\s*(-?\d+)\s*[,}]/.exec(raw);
    room = exact?.[1] ?? String(value);
  }
  const host = typeof body.bootstrap_host === "string" && body.bootstrap_host !== ""
    ? body.bootstrap_host
    : undefined;
  const port = typeof body.bootstrap_port === "number" ? body.bootstrap_port : undefined;
  return { room, host, port };
}

interface Room {
  connected: PromiseWithResolvers<void>;
  data: PromiseWithResolvers<RemoteKv>;
  prefill: boolean;
  decode: boolean;
}

function newRoom(): Room {
  const room: Room = {
    connected: Promise.withResolvers<void>(),
    data: Promise.withResolvers<RemoteKv>(),
    prefill: false,
    decode: false,
  };
  // Either side may be gone when the other settles; never leave a rejection unhandled.
  room.connected.promise.catch(() => {});
  room.data.promise.catch(() => {});
  return room;
}

/** Waits for `p` up to `ms`, aborting with `signal`; rejects with `onTimeout()` on expiry. */
function within<T>(
  p: Promise<T>,
  ms: number,
  signal: AbortSignal,
  onTimeout: () => Error,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      done();
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      done();
      reject(onTimeout());
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then((v) => {
      done();
      resolve(v);
    }, (e) => {
      done();
      reject(e);
    });
  });
}

/**
 * Prefill side: the bootstrap rooms and the bootstrap server's handler.
 *
 * @example
 * ```ts
 * import { SglangBootstrap } from "./pd_sglang.ts";
 * const b = new SglangBootstrap({ engineId: "p", pdGroup: "", refuseCrossGroup: false, blockSize: 16 }, 50);
 * try { await b.waitForDecode("1", "req-1", new AbortController().signal); } catch (e) { console.log((e as Error).message.startsWith("KVTransferError")); } // true
 * ```
 */
export class SglangBootstrap {
  readonly #identity: PeerIdentity;
  readonly #timeoutMs: number;
  readonly #rooms = new Map<string, Room>();
  #waiting = 0;

  /**
   * @param identity Own identity.
   * @param timeoutMs Bootstrap timeout (wall clock) for both sides.
   */
  constructor(identity: PeerIdentity, timeoutMs: number) {
    this.#identity = identity;
    this.#timeoutMs = timeoutMs;
  }

  /** Prefill requests waiting for their decode (SGLang's bootstrap queue). */
  get numWaiting(): number {
    return this.#waiting;
  }

  /** Open rooms. */
  get numRooms(): number {
    return this.#rooms.size;
  }

  #room(id: string): Room {
    let room = this.#rooms.get(id);
    if (room === undefined) {
      room = newRoom();
      this.#rooms.set(id, room);
    }
    return room;
  }

  /**
   * Prefill request: waits until the decode engine connected for `room`.
   *
   * @throws {SimHttpError} 400 for a room already used by another prefill, 500 on timeout or
   *   when the decode was refused.
   */
  async waitForDecode(room: string, requestId: string, signal: AbortSignal): Promise<void> {
    const r = this.#room(room);
    if (r.prefill) {
      throw new SimHttpError(400, `bootstrap_room ${room} is already in use`, "bootstrap_room");
    }
    r.prefill = true;
    this.#waiting++;
    try {
      await within(r.connected.promise, this.#timeoutMs, signal, () =>
        new SimHttpError(
          500,
          `KVTransferError(bootstrap_room=${room}): Request ${requestId} timed out after ${
            this.#timeoutMs / 1000
          }s in KVPoll.Bootstrapping (no decode connected)`,
        ));
    } catch (err) {
      if (!r.decode) this.#rooms.delete(room);
      throw err;
    } finally {
      this.#waiting--;
    }
  }

  /** Prefill request: hands the KV to the connected decode. */
  deliver(room: string, kv: RemoteKv): void {
    this.#rooms.get(room)?.data.resolve(kv);
  }

  /** Prefill request failed after the handshake: fails the decode side too. */
  fail(room: string, message: string): void {
    const r = this.#rooms.get(room);
    if (r === undefined) return;
    r.data.reject(new Error(message));
    if (!r.decode) this.#rooms.delete(room);
  }

  /** Handles a decode engine's connection for `room` (long poll until the KV is ready). */
  async connect(
    room: string,
    body: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<Response> {
    const peerGroup = typeof body.pd_group === "string" ? body.pd_group : "";
    const r = this.#room(room);
    if (crossGroupRefused(this.#identity.pdGroup, peerGroup, this.#identity.refuseCrossGroup)) {
      const message =
        `cross-group transfer refused: PD group "${this.#identity.pdGroup}" does not serve group "${peerGroup}"`;
      r.connected.reject(
        new SimHttpError(500, `KVTransferError(bootstrap_room=${room}): ${message}`),
      );
      if (!r.prefill) this.#rooms.delete(room);
      return Response.json({ error: { message } }, { status: 403 });
    }
    if (r.decode) {
      return Response.json({ error: { message: `room ${room} already has a decode` } }, {
        status: 409,
      });
    }
    r.decode = true;
    r.connected.resolve();
    try {
      const kv = await within(
        r.data.promise,
        this.#timeoutMs,
        signal,
        () =>
          new SimHttpError(
            504,
            `no prefill for bootstrap_room ${room} within ${this.#timeoutMs / 1000}s`,
          ),
      );
      return Response.json(remoteKvJson(kv));
    } catch (err) {
      const status = err instanceof SimHttpError ? err.status : 500;
      return Response.json({
        error: { message: `KVTransferError(bootstrap_room=${room}): ${(err as Error).message}` },
      }, {
        status,
      });
    } finally {
      this.#rooms.delete(room);
    }
  }

  /** Rejects every open room (shutdown). */
  close(): void {
    for (const [id, r] of this.#rooms) {
      r.connected.reject(new SimHttpError(503, "engine shutting down"));
      r.data.reject(new Error("engine shutting down"));
      this.#rooms.delete(id);
    }
  }
}

/**
 * The bootstrap server's routes.
 *
 * @example
 * ```ts ignore
 * Deno.serve({ port: 8998 }, sglangRoutes(bootstrap).fetch);
 * ```
 */
export function sglangRoutes(bootstrap: SglangBootstrap): Hono {
  const app = new Hono();
  app.get("/health", (c) => c.text(""));
  app.post("/sim/sglang/bootstrap/:room", async (c) => {
    const body = await c.req.json<Record<string, unknown>>().catch(() => ({}));
    return bootstrap.connect(c.req.param("room"), body, c.req.raw.signal);
  });
  return app;
}

/**
 * Decode side: connects to the prefill's bootstrap server and waits for the KV.
 *
 * @param host Prefill host.
 * @param port Prefill bootstrap port.
 * @param room Room id.
 * @param self Own identity.
 * @param timeoutMs Wall-clock timeout.
 * @param signal Aborts (client gone).
 * @returns The KV content.
 *
 * @example
 * ```ts ignore
 * const kv = await connectToPrefill("10.0.0.1", 8998, "42", identity, 30_000, signal);
 * ```
 */
export async function connectToPrefill(
  host: string,
  port: number,
  room: string,
  self: PeerIdentity,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<RemoteKv> {
  const h = host.includes(":") ? `[${host}]` : host;
  const body = await fetchPeerJson(
    `http://${h}:${port}/sim/sglang/bootstrap/${encodeURIComponent(room)}`,
    {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ engine_id: self.engineId, pd_group: self.pdGroup }),
    },
    timeoutMs + 1000,
    signal,
  );
  return parseRemoteKv(body);
}
