/**
 * Response bodies and SSE chunks shaped like vLLM's OpenAI server (field order included), for
 * chat completions, completions, `/v1/models` and `/tokenize`.
 *
 * @module
 */

import type { FinishReason } from "./output_plan.ts";

/** Token usage (vLLM `UsageInfo`). */
export interface Usage {
  /** Prompt tokens. */
  prompt_tokens: number;
  /** Prompt + completion tokens. */
  total_tokens: number;
  /** Generated tokens. */
  completion_tokens: number;
  /** Null unless prompt-token details are enabled (they are not). */
  prompt_tokens_details: null;
}

/**
 * Builds a usage object.
 *
 * @example
 * ```ts
 * import { usage } from "./openai_format.ts";
 * console.log(usage(3, 2).total_tokens); // 5
 * ```
 */
export function usage(promptTokens: number, completionTokens: number): Usage {
  return {
    prompt_tokens: promptTokens,
    total_tokens: promptTokens + completionTokens,
    completion_tokens: completionTokens,
    prompt_tokens_details: null,
  };
}

/** What every response of one request shares. */
export interface ResponseMeta {
  /** `chatcmpl-…` or `cmpl-…`. */
  id: string;
  /** Unix seconds. */
  created: number;
  /** The request's model (echoed). */
  model: string;
}

/** The outcome of a finished generation. */
export interface FinalOutput {
  /** Generated text. */
  text: string;
  /** Finish reason. */
  finishReason: FinishReason;
  /** Matched stop string or null. */
  stopReason: string | null;
  /** Token usage. */
  usage: Usage;
  /** Prefill → decode handoff parameters (NIXL/Mooncake), else null. */
  kvTransferParams: Record<string, unknown> | null;
}

/**
 * A non-streaming chat completion.
 *
 * @example
 * ```ts
 * import { chatCompletion, usage } from "./openai_format.ts";
 * const body = chatCompletion({ id: "chatcmpl-1", created: 0, model: "m" }, {
 *   text: "Hi", finishReason: "stop", stopReason: null, usage: usage(5, 2), kvTransferParams: null,
 * });
 * console.log(body.choices[0]!.message.content); // "Hi"
 * ```
 */
export function chatCompletion(meta: ResponseMeta, out: FinalOutput) {
  return {
    id: meta.id,
    object: "chat.completion" as const,
    created: meta.created,
    model: meta.model,
    choices: [{
      index: 0,
      message: {
        role: "assistant" as const,
        content: out.text,
        refusal: null,
        annotations: null,
        audio: null,
        function_call: null,
        tool_calls: [] as unknown[],
        reasoning_content: null,
      },
      logprobs: null,
      finish_reason: out.finishReason,
      stop_reason: out.stopReason,
    }],
    service_tier: null,
    system_fingerprint: null,
    usage: out.usage,
    prompt_logprobs: null,
    prompt_token_ids: null,
    kv_transfer_params: out.kvTransferParams,
  };
}

/**
 * A non-streaming text completion.
 *
 * @example
 * ```ts
 * import { completion, usage } from "./openai_format.ts";
 * const body = completion({ id: "cmpl-1", created: 0, model: "m" }, {
 *   text: " x", finishReason: "length", stopReason: null, usage: usage(1, 1), kvTransferParams: null,
 * });
 * console.log(body.object, body.choices[0]!.text); // "text_completion" " x"
 * ```
 */
export function completion(meta: ResponseMeta, out: FinalOutput) {
  return {
    id: meta.id,
    object: "text_completion" as const,
    created: meta.created,
    model: meta.model,
    choices: [{
      index: 0,
      text: out.text,
      logprobs: null,
      finish_reason: out.finishReason,
      stop_reason: out.stopReason,
      prompt_logprobs: null,
    }],
    service_tier: null,
    system_fingerprint: null,
    usage: out.usage,
    kv_transfer_params: out.kvTransferParams,
  };
}

/** Which API a stream belongs to. */
export type StreamApi = "chat" | "completion";

/**
 * Builds the SSE `data:` frames of a stream. Chat: a role delta first, then content deltas, then
 * a finish chunk with an empty delta; completions: text chunks then a finish chunk. With
 * `include_usage` a final chunk with empty `choices` carries the usage; `[DONE]` ends it.
 *
 * @example
 * ```ts
 * import { SseFrames, usage } from "./openai_format.ts";
 * const f = new SseFrames("chat", { id: "chatcmpl-1", created: 0, model: "m" }, false);
 * console.log(f.done()); // "data: [DONE]\n\n"
 * ```
 */
export class SseFrames {
  readonly #api: StreamApi;
  readonly #head: string;
  readonly #continuousUsage: boolean;

  /**
   * @param api Chat or completion.
   * @param meta Id, created and model of the stream.
   * @param continuousUsage Add usage to every chunk (`continuous_usage_stats`).
   */
  constructor(api: StreamApi, meta: ResponseMeta, continuousUsage: boolean) {
    this.#api = api;
    this.#continuousUsage = continuousUsage;
    const object = api === "chat" ? "chat.completion.chunk" : "text_completion";
    // The shared prefix is serialised once; each frame only adds its choices.
    this.#head = `{"id":${
      JSON.stringify(meta.id)
    },"object":"${object}","created":${meta.created},"model":${JSON.stringify(meta.model)}`;
  }

  #frame(choices: string, u?: Usage): string {
    const tail = u !== undefined ? `,"usage":${JSON.stringify(u)}` : "";
    return `data: ${this.#head},"choices":${choices}${tail}}\n\n`;
  }

  /** The opening chat chunk (`delta.role`), or "" for completions. */
  start(u?: Usage): string {
    if (this.#api !== "chat") return "";
    return this.#frame(
      `[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]`,
      this.#continuousUsage ? u : undefined,
    );
  }

  /** A content chunk. */
  content(text: string, u?: Usage): string {
    const t = JSON.stringify(text);
    const choice = this.#api === "chat"
      ? `[{"index":0,"delta":{"content":${t}},"logprobs":null,"finish_reason":null}]`
      : `[{"index":0,"text":${t},"logprobs":null,"finish_reason":null,"stop_reason":null}]`;
    return this.#frame(choice, this.#continuousUsage ? u : undefined);
  }

  /** The chunk carrying the finish reason. */
  finish(reason: FinishReason, stopReason: string | null, u?: Usage): string {
    const s = JSON.stringify(stopReason);
    const choice = this.#api === "chat"
      ? `[{"index":0,"delta":{},"logprobs":null,"finish_reason":"${reason}","stop_reason":${s}}]`
      : `[{"index":0,"text":"","logprobs":null,"finish_reason":"${reason}","stop_reason":${s}}]`;
    return this.#frame(choice, this.#continuousUsage ? u : undefined);
  }

  /** The usage-only chunk (`choices: []`). */
  usage(u: Usage): string {
    return this.#frame("[]", u);
  }

  /** An error frame in the middle of a stream (vLLM sends the error JSON as data). */
  error(body: unknown): string {
    return `data: ${JSON.stringify(body)}\n\n`;
  }

  /** The terminator. */
  done(): string {
    return "data: [DONE]\n\n";
  }
}

/** One entry of `/v1/models`. */
export interface ModelCard {
  /** Served name. */
  id: string;
  /** Always "model". */
  object: "model";
  /** Unix seconds. */
  created: number;
  /** `vllm` or `sglang`. */
  owned_by: string;
  /** Base model path or adapter path. */
  root: string;
  /** Base model name for adapters, else null. */
  parent: string | null;
  /** Context length (null for adapters, as vLLM). */
  max_model_len: number | null;
  /** vLLM's fixed permission list. */
  permission: unknown[];
}

/**
 * Builds the `/v1/models` list: the base model then its adapters.
 *
 * @example
 * ```ts
 * import { modelList } from "./openai_format.ts";
 * const l = modelList({ base: "m", maxModelLen: 8, ownedBy: "vllm", created: 0, adapters: [{ name: "a", path: "/a", created: 0 }] });
 * console.log(l.data.map((d) => d.id)); // ["m", "a"]
 * ```
 */
export function modelList(input: {
  base: string;
  maxModelLen: number;
  ownedBy: string;
  created: number;
  adapters: ReadonlyArray<{ name: string; path: string; created: number }>;
}): { object: "list"; data: ModelCard[] } {
  const permission = (created: number) => [{
    id: `modelperm-${crypto.randomUUID().replaceAll("-", "")}`,
    object: "model_permission",
    created,
    allow_create_engine: false,
    allow_sampling: true,
    allow_logprobs: true,
    allow_search_indices: false,
    allow_view: true,
    allow_fine_tuning: false,
    organization: "*",
    group: null,
    is_blocking: false,
  }];
  return {
    object: "list",
    data: [
      {
        id: input.base,
        object: "model",
        created: input.created,
        owned_by: input.ownedBy,
        root: input.base,
        parent: null,
        max_model_len: input.maxModelLen,
        permission: permission(input.created),
      },
      ...input.adapters.map((a): ModelCard => ({
        id: a.name,
        object: "model",
        created: a.created,
        owned_by: input.ownedBy,
        root: a.path,
        parent: input.base,
        max_model_len: null,
        permission: permission(a.created),
      })),
    ],
  };
}
