/**
 * The simulator's HTTP servers: the OpenAI-compatible API (Hono on `Deno.serve`), plus the
 * side channel (NIXL/Mooncake reads, LMCache lookups) and the SGLang bootstrap server when the
 * role and connector need them.
 *
 * @module
 */

import { type Context, Hono } from "hono";
import { Engine, type Generation, type GenerationEvent } from "./engine.ts";
import { errorBody, errorResponse, SimHttpError } from "./errors.ts";
import { FAILURE_HEADER, FaultInjector } from "./faults.ts";
import { LoraRegistry } from "./lora.ts";
import {
  chatCompletion,
  completion,
  type FinalOutput,
  modelList,
  type ResponseMeta,
  SseFrames,
  type StreamApi,
  usage,
} from "./openai_format.ts";
import { resolveSimOptions, type SimOptions } from "./options.ts";
import { planOutput } from "./output_plan.ts";
import { resolvePd } from "./pd_directive.ts";
import { lmcacheRoutes } from "./pd_lmcache.ts";
import { nixlRoutes } from "./pd_nixl.ts";
import { sglangRoutes } from "./pd_sglang.ts";
import { mixSeed } from "./prng.ts";
import {
  type ChatRequest,
  chatRequestSchema,
  type CompletionRequest,
  completionRequestSchema,
  loadLoraSchema,
  tokenizeRequestSchema,
  unloadLoraSchema,
  validateBody,
} from "./request_schema.ts";
import { applyChatTemplate, contentText, encode, SPECIAL_TOKENS } from "./tokenizer.ts";

/** A running simulator. */
export interface SimulatorHandle {
  /** Base URL of the API, e.g. `http://127.0.0.1:8000`. */
  url: string;
  /** API port. */
  port: number;
  /** Side-channel port (NIXL/Mooncake/LMCache), if served. */
  sideChannelPort: number | undefined;
  /** SGLang bootstrap port, if served. */
  bootstrapPort: number | undefined;
  /** Engine id (`remote_engine_id`). */
  engineId: string;
  /** Options in force. */
  options: SimOptions;
  /** The engine (in-process inspection in tests). */
  engine: Engine;
  /** Stops everything: cancels requests, frees held KV, closes the servers. */
  close(): Promise<void>;
}

interface Served {
  server: Deno.HttpServer<Deno.NetAddr>;
  port: number;
}

function serve(host: string, port: number, app: Hono): Served {
  const server = Deno.serve({ hostname: host, port, onListen() {} }, app.fetch);
  return { server, port: server.addr.port };
}

function randomId(): string {
  return crypto.randomUUID().replaceAll("-", "");
}

function promptSeed(base: number, ids: readonly number[]): number {
  let h = 0x9e3779b9;
  for (const id of ids) h = Math.imul(h ^ id, 0x01000193);
  return mixSeed(base, h >>> 0, ids.length);
}

function lastUserText(messages: ChatRequest["messages"]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]!.role === "user") return contentText(messages[i]!.content);
  }
  return "";
}

/** Builds the prompt of a completion request (single prompt only). */
function completionPrompt(body: CompletionRequest): { ids: number[]; text: string } {
  let p: unknown = body.prompt;
  if (Array.isArray(p) && p.length > 0 && (typeof p[0] === "string" || Array.isArray(p[0]))) {
    if (p.length > 1) {
      throw new SimHttpError(
        400,
        "Batched prompts are not supported by the simulator; send one prompt per request",
        "prompt",
      );
    }
    p = p[0];
  }
  if (typeof p === "string") return { ids: encode(p, true).ids, text: p };
  const ids = (p as number[]).map(Number);
  if (ids.length === 0) throw new SimHttpError(400, "Prompt cannot be empty", "prompt");
  return { ids, text: "" };
}

/**
 * Starts a simulator in this process.
 *
 * @param overrides Options (a profile plus overrides); `port: 0` picks a free port.
 * @returns A handle with the URL and `close()`.
 *
 * @example
 * ```ts
 * import { startSimulator } from "./server.ts";
 * const sim = await startSimulator({ port: 0, profile: "fast", model: "m" });
 * const res = await fetch(`${sim.url}/v1/models`);
 * console.log((await res.json()).data[0].id); // "m"
 * await sim.close();
 * ```
 */
export async function startSimulator(
  overrides: Partial<SimOptions> = {},
): Promise<SimulatorHandle> {
  const options = resolveSimOptions(overrides);
  const loras = new LoraRegistry(options.model, options.loras);
  const engine = new Engine(options, () => loras.enabled);
  const faults = new FaultInjector(
    options.failureRate,
    options.failureKinds,
    options.seed ?? Math.floor(Math.random() * 2 ** 32),
  );
  const started = Math.floor(Date.now() / 1000);
  let ready = options.startupDelayMs <= 0;
  const startupTimer = ready ? undefined : setTimeout(() => {
    ready = true;
  }, options.startupDelayMs);
  let counter = 0;

  const fail = (err: SimHttpError, headers: Record<string, string> = {}) =>
    errorResponse(options.engine, err, headers);

  const app = new Hono();
  app.onError((err) => {
    if (err instanceof SimHttpError) return fail(err);
    return fail(new SimHttpError(500, (err as Error).message ?? "internal error"));
  });
  app.notFound(() => Response.json({ detail: "Not Found" }, { status: 404 }));

  app.get("/health", () => new Response(null, { status: ready ? 200 : 503 }));
  app.get("/version", (c) => c.json({ version: `0.11.0+kthena-sim.${options.engine}` }));
  app.get(
    "/metrics",
    async () =>
      new Response(await engine.metrics.text(), {
        headers: { "content-type": engine.metrics.contentType },
      }),
  );
  app.get("/v1/models", (c) => {
    return c.json(modelList({
      base: options.model,
      maxModelLen: options.maxModelLen,
      ownedBy: options.engine,
      created: started,
      adapters: loras.adapters,
    }));
  });

  const readJson = async (c: Context): Promise<{ raw: string; body: unknown }> => {
    const raw = await c.req.text();
    try {
      return { raw, body: JSON.parse(raw) };
    } catch (err) {
      throw new SimHttpError(
        400,
        `[{'type': 'json_invalid', 'loc': ('body', 0), 'msg': 'JSON decode error', 'ctx': {'error': '${
          (err as Error).message.replaceAll("'", "")
        }'}}]`,
      );
    }
  };
  const notReady = () => new SimHttpError(503, "The engine is starting up");
  const resolveModel = (model: string | null | undefined) => {
    const m = loras.resolve(model ?? undefined);
    if (m === undefined) {
      throw new SimHttpError(404, `The model \`${model}\` does not exist.`, "model");
    }
    return m;
  };

  app.post("/tokenize", async (c) => {
    if (!ready) throw notReady();
    const body = validateBody(tokenizeRequestSchema, (await readJson(c)).body);
    resolveModel(body.model);
    const enc = Array.isArray(body.messages)
      ? encode(
        applyChatTemplate(body.messages, body.add_generation_prompt ?? true),
        body.add_special_tokens ?? false,
      )
      : encode(body.prompt ?? "", body.add_special_tokens ?? true);
    return c.json({
      count: enc.ids.length,
      max_model_len: options.maxModelLen,
      tokens: enc.ids,
      token_strs: body.return_token_strs === true ? enc.pieces : null,
    });
  });

  app.post("/v1/load_lora_adapter", async (c) => {
    const body = validateBody(loadLoraSchema, (await readJson(c)).body);
    if (!loras.load(body.lora_name, body.lora_path ?? `/loras/${body.lora_name}`)) {
      throw new SimHttpError(
        400,
        `The lora adapter '${body.lora_name}' has already been loaded.`,
        "lora_name",
      );
    }
    return c.text(`Success: LoRA adapter '${body.lora_name}' added successfully.`);
  });
  app.post("/v1/unload_lora_adapter", async (c) => {
    const body = validateBody(unloadLoraSchema, (await readJson(c)).body);
    if (!loras.unload(body.lora_name)) {
      throw new SimHttpError(
        404,
        `The lora adapter '${body.lora_name}' cannot be found.`,
        "lora_name",
      );
    }
    return c.text(`Success: LoRA adapter '${body.lora_name}' removed successfully.`);
  });

  const generate = async (c: Context, api: StreamApi): Promise<Response> => {
    if (!ready) throw notReady();
    const { raw, body: parsed } = await readJson(c);
    let body: ChatRequest | CompletionRequest;
    let promptIds: number[];
    let echoText: string;
    if (api === "chat") {
      const chat = validateBody(chatRequestSchema, parsed);
      body = chat;
      const text = applyChatTemplate(chat.messages, chat.add_generation_prompt ?? true);
      promptIds = encode(text).ids;
      echoText = lastUserText(chat.messages);
    } else {
      const comp = validateBody(completionRequestSchema, parsed);
      body = comp;
      const p = completionPrompt(comp);
      promptIds = p.ids;
      echoText = p.text;
    }
    if (options.engine === "vllm" && body.stream_options != null && body.stream !== true) {
      // vLLM's request validator; routers must drop stream_options on non-streaming legs.
      throw new SimHttpError(
        400,
        "Stream options can only be defined when `stream=True`.",
        "stream_options",
      );
    }
    const resolved = resolveModel(body.model);
    if ((body.n ?? 1) > 1) {
      throw new SimHttpError(400, "n > 1 is not supported by the simulator", "n");
    }
    const requested = body.max_completion_tokens ?? body.max_tokens ?? undefined;
    const limitName = body.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens";
    if (requested !== undefined && requested < 1) {
      throw new SimHttpError(400, `${limitName} must be at least 1, got ${requested}.`, limitName);
    }
    const promptLen = promptIds.length;
    if (promptLen >= options.maxModelLen) {
      throw new SimHttpError(
        400,
        `This model's maximum context length is ${options.maxModelLen} tokens. However, your request has ${promptLen} input tokens. Please reduce the length of the input messages.`,
        "messages",
      );
    }
    if (requested !== undefined && promptLen + requested > options.maxModelLen) {
      throw new SimHttpError(
        400,
        `'max_tokens' or 'max_completion_tokens' is too large: ${requested}. This model's maximum context length is ${options.maxModelLen} tokens and your request has ${promptLen} input tokens (${requested} > ${options.maxModelLen} - ${promptLen}).`,
        limitName,
      );
    }
    const xRequestId = c.req.header("x-request-id");
    const echoHeaders: Record<string, string> = xRequestId !== undefined
      ? { "x-request-id": xRequestId }
      : {};
    const failure = faults.pick(c.req.header(FAILURE_HEADER) ?? null);
    if (failure !== undefined) engine.metrics.injectedFailure(failure);
    if (failure === "5xx") {
      return fail(new SimHttpError(500, "Injected failure: internal server error"), echoHeaders);
    }
    if (failure === "429") {
      return fail(new SimHttpError(429, "Injected failure: too many requests"), {
        ...echoHeaders,
        "retry-after": "1",
      });
    }
    const pd = resolvePd(options, parsed as Record<string, unknown>, raw);
    if (pd.invalid !== undefined) engine.metrics.kvTransfer(options.kvConnector, "invalid_params");

    const stop = body.stop == null ? [] : typeof body.stop === "string" ? [body.stop] : body.stop;
    const seed = body.seed ??
      (options.seed !== undefined
        ? promptSeed(options.seed, promptIds)
        : Math.floor(Math.random() * 2 ** 32));
    const plan = planOutput({
      seed,
      maxTokens: requested ?? options.maxModelLen - promptLen,
      ignoreEos: body.ignore_eos === true,
      stop,
      mode: options.mode,
      echoText,
      minLen: options.outputLenMin,
      maxLen: options.outputLenMax,
      eosId: api === "chat" ? SPECIAL_TOKENS.imEnd.id : SPECIAL_TOKENS.eos.id,
    });
    const baseId = xRequestId ?? randomId();
    const meta: ResponseMeta = {
      id: `${api === "chat" ? "chatcmpl" : "cmpl"}-${baseId}`,
      created: Math.floor(Date.now() / 1000),
      model: body.model ?? options.model,
    };
    const gen = engine.submit({
      id: `${meta.id}-${(counter++).toString(16)}`,
      lora: resolved.lora,
      promptIds,
      plan,
      pd: pd.directive,
      extraTtftMs: failure === "slow-start" ? options.slowStartMs : 0,
    });
    const signal = c.req.raw.signal;
    const onAbort = () => gen.cancel();
    signal.addEventListener("abort", onAbort, { once: true });
    const drop = failure === "drop-mid-stream";
    const stall = failure === "stall";
    const cleanup = () => signal.removeEventListener("abort", onAbort);
    const it = gen.events();
    let first: IteratorResult<GenerationEvent>;
    try {
      // Headers go out as soon as the engine accepted the request: at once, or after the KV
      // handoff of a PD leg (so a failed transfer or bootstrap is a visible 5xx). Sending them
      // early matters: Deno notices a client disconnect while a handler is still pending only
      // for small request bodies, but always notices it while a response body is pending.
      first = await it.next();
    } catch (err) {
      cleanup();
      throw err;
    }
    if (body.stream === true) {
      return streamResponse(
        gen,
        it,
        first,
        api,
        meta,
        body,
        promptLen,
        {
          drop,
          stall,
        },
        echoHeaders,
        cleanup,
      );
    }
    const prefix = api === "completion" && (body as CompletionRequest).echo === true
      ? echoText
      : "";
    const json = async (): Promise<string> => {
      let text = prefix;
      for await (const ev of it) if (ev.type === "token") text += ev.token.text;
      const result = gen.result!;
      const out: FinalOutput = {
        text,
        finishReason: plan.finishReason,
        stopReason: plan.stopReason,
        usage: usage(promptLen, result.completionTokens),
        kvTransferParams: result.kvTransferParams,
      };
      return JSON.stringify(api === "chat" ? chatCompletion(meta, out) : completion(meta, out));
    };
    return new Response(jsonBody(json, gen, { drop, stall }, cleanup), {
      headers: { "content-type": "application/json", ...echoHeaders },
    });
  };

  const streamResponse = (
    gen: Generation,
    it: AsyncGenerator<GenerationEvent, unknown, void>,
    first: IteratorResult<GenerationEvent, unknown>,
    api: StreamApi,
    meta: ResponseMeta,
    body: ChatRequest | CompletionRequest,
    promptLen: number,
    fault: Fault,
    headers: Record<string, string>,
    cleanup: () => void,
  ): Response => {
    const { drop, stall } = fault;
    let unstall: () => void = () => {};
    const stalled = new Promise<void>((resolve) => unstall = resolve);
    const includeUsage = body.stream_options?.include_usage === true;
    const continuous = body.stream_options?.continuous_usage_stats === true;
    const frames = new SseFrames(api, meta, continuous);
    const enc = new TextEncoder();
    const dropAt = Math.max(1, Math.floor(gen.init.plan.tokens.length / 2));
    let generated = 0;
    let pending: IteratorResult<GenerationEvent, unknown> | undefined = first;
    let finished = false;
    const end = (controller: ReadableStreamDefaultController<Uint8Array>, tail: string) => {
      finished = true;
      cleanup();
      try {
        controller.enqueue(enc.encode(tail));
        controller.close();
      } catch {
        // The client went away while we were finishing; nothing left to tell it.
      }
    };
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          for (;;) {
            const r = pending ?? await it.next();
            pending = undefined;
            if (r.done) {
              const u = usage(promptLen, generated);
              const plan = gen.init.plan;
              let tail = frames.finish(plan.finishReason, plan.stopReason, u);
              if (includeUsage) tail += frames.usage(u);
              end(controller, tail + frames.done());
              return;
            }
            if (r.value.type !== "token") continue;
            const { index, token } = r.value;
            generated = index + 1;
            if (stall && generated > dropAt) {
              // Frozen: the connection stays open, nothing more comes.
              await stalled;
              return;
            }
            if (drop && generated > dropAt) {
              finished = true;
              cleanup();
              gen.cancel();
              controller.error(new Error("injected failure: connection dropped mid-stream"));
              return;
            }
            let out = index === 0 ? frames.start(usage(promptLen, 0)) : "";
            if (token.text !== "") {
              out += frames.content(
                token.text,
                continuous ? usage(promptLen, generated) : undefined,
              );
            }
            if (out !== "") {
              controller.enqueue(enc.encode(out));
              return;
            }
          }
        } catch (err) {
          if (finished) return;
          const e = err instanceof SimHttpError
            ? err
            : new SimHttpError(500, (err as Error).message);
          end(controller, frames.error(errorBody(options.engine, e)) + frames.done());
        }
      },
      cancel() {
        finished = true;
        unstall();
        cleanup();
        gen.cancel();
      },
    });
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        ...headers,
      },
    });
  };

  app.post("/v1/chat/completions", (c) => generate(c, "chat"));
  app.post("/v1/completions", (c) => generate(c, "completion"));

  const main = serve(options.host, options.port, app);
  let side: Served | undefined;
  let bootstrap: Served | undefined;
  try {
    if (engine.nixl !== undefined || engine.lmcache !== undefined) {
      const sideApp = new Hono();
      if (engine.nixl !== undefined) sideApp.route("/", nixlRoutes(engine.nixl));
      if (engine.lmcache !== undefined) {
        sideApp.route("/", lmcacheRoutes(engine.lmcache, engine.identity));
      }
      side = serve(options.host, options.sideChannelPort, sideApp);
      if (engine.nixl !== undefined) engine.nixl.port = side.port;
    }
    if (engine.sglang !== undefined) {
      bootstrap = serve(options.host, options.bootstrapPort, sglangRoutes(engine.sglang));
    }
  } catch (err) {
    await main.server.shutdown();
    if (side !== undefined) await side.server.shutdown();
    throw err;
  }

  const urlHost = options.host.includes(":") ? `[${options.host}]` : options.host;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${main.port}`,
    port: main.port,
    sideChannelPort: side?.port,
    bootstrapPort: bootstrap?.port,
    engineId: options.engineId,
    options,
    engine,
    close() {
      closing ??= (async () => {
        clearTimeout(startupTimer);
        await engine.close();
        await Promise.all([main, side, bootstrap].map((s) => s?.server.shutdown()));
      })();
      return closing;
    },
  };
}

/**
 * The body of a non-streaming answer: produced when generation ends, while the headers are
 * already out. A late failure (or the `drop-mid-stream` fault, after half the JSON) breaks
 * the connection instead of sending a 200 with an error inside; a client that goes away
 * cancels the generation.
 */
function jsonBody(
  produce: () => Promise<string>,
  gen: Generation,
  fault: Fault,
  cleanup: () => void,
): ReadableStream<Uint8Array> {
  const { drop, stall } = fault;
  let tail: Uint8Array | undefined;
  let unstall: () => void = () => {};
  const stalled = new Promise<void>((resolve) => unstall = resolve);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (stall) {
        // Frozen after the headers: nothing comes until the client goes away.
        await stalled;
        return;
      }
      if (tail !== undefined) {
        controller.error(new Error("injected failure: connection dropped"));
        return;
      }
      try {
        const bytes = new TextEncoder().encode(await produce());
        cleanup();
        if (drop) {
          tail = bytes.subarray(Math.floor(bytes.length / 2));
          controller.enqueue(bytes.subarray(0, Math.floor(bytes.length / 2)));
          return;
        }
        controller.enqueue(bytes);
        controller.close();
      } catch (err) {
        cleanup();
        try {
          controller.error(err);
        } catch {
          // already cancelled by the client
        }
      }
    },
    cancel() {
      unstall();
      cleanup();
      gen.cancel();
    },
  });
}

/** The injected faults that change how an answer's body is sent. */
interface Fault {
  /** The connection breaks midway. */
  readonly drop: boolean;
  /** The engine freezes midway, the connection open. */
  readonly stall: boolean;
}
