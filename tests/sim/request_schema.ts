/**
 * Zod schemas of the request bodies the simulator accepts, loose like vLLM's pydantic models
 * (unknown fields are kept and ignored), and the mapping of validation failures to vLLM's
 * 400 error message.
 *
 * @module
 */

import { z } from "zod";
import { SimHttpError } from "./errors.ts";

const nullableBool = z.boolean().nullish();
const tokenLimit = z.number().int().nullish();

const streamOptions = z.looseObject({
  include_usage: nullableBool,
  continuous_usage_stats: nullableBool,
}).nullish();

/** Fields shared by chat and completion requests. */
const common = {
  model: z.string().nullish(),
  stream: nullableBool,
  stream_options: streamOptions,
  max_tokens: tokenLimit,
  max_completion_tokens: tokenLimit,
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  seed: z.number().int().nullish(),
  ignore_eos: nullableBool,
  n: z.number().int().min(1).nullish(),
  kv_transfer_params: z.record(z.string(), z.unknown()).nullish(),
  bootstrap_host: z.string().nullish(),
  bootstrap_port: z.number().int().nullish(),
  bootstrap_room: z.union([z.number(), z.string()]).nullish(),
};

/** A chat message (content may be a string, parts or null). */
export const chatMessageSchema = z.looseObject({
  role: z.string(),
  content: z.union([z.string(), z.array(z.unknown()), z.null()]).optional(),
  tool_calls: z.unknown().optional(),
});

/** `POST /v1/chat/completions` body. */
export const chatRequestSchema = z.looseObject({
  ...common,
  messages: z.array(chatMessageSchema).min(1),
  add_generation_prompt: nullableBool,
});

/** `POST /v1/completions` body. */
export const completionRequestSchema = z.looseObject({
  ...common,
  prompt: z.union([
    z.string(),
    z.array(z.string()),
    z.array(z.number().int()),
    z.array(z.array(z.number().int())),
  ]),
  echo: nullableBool,
});

/** `POST /tokenize` body (vLLM: completion or chat variant). */
export const tokenizeRequestSchema = z.looseObject({
  model: z.string().nullish(),
  prompt: z.string().nullish(),
  messages: z.array(chatMessageSchema).nullish(),
  add_special_tokens: nullableBool,
  add_generation_prompt: nullableBool,
  return_token_strs: nullableBool,
}).refine((b) => typeof b.prompt === "string" || Array.isArray(b.messages), {
  message: "Field required: either prompt or messages",
  path: ["prompt"],
});

/** `POST /v1/load_lora_adapter` body. */
export const loadLoraSchema = z.looseObject({
  lora_name: z.string().min(1),
  lora_path: z.string().nullish(),
});

/** `POST /v1/unload_lora_adapter` body. */
export const unloadLoraSchema = z.looseObject({ lora_name: z.string().min(1) });

/** Parsed chat request. */
export type ChatRequest = z.infer<typeof chatRequestSchema>;
/** Parsed completion request. */
export type CompletionRequest = z.infer<typeof completionRequestSchema>;
/** Parsed tokenize request. */
export type TokenizeRequest = z.infer<typeof tokenizeRequestSchema>;

function valueAt(body: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = body;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

/**
 * Validates a parsed JSON body, throwing vLLM's 400 on failure. The message imitates what
 * FastAPI/pydantic produce (`[{'type': 'missing', 'loc': ('body', 'messages'), 'msg': 'Field
 * required'}]`); `param` names the first offending field.
 *
 * @param schema Schema to apply.
 * @param body Parsed JSON.
 * @returns The typed body.
 * @throws {SimHttpError} 400 when invalid.
 *
 * @example
 * ```ts
 * import { chatRequestSchema, validateBody } from "./request_schema.ts";
 * try { validateBody(chatRequestSchema, { model: "m" }); } catch (e) { console.log((e as Error).message); }
 * // [{'type': 'missing', 'loc': ('body', 'messages'), 'msg': 'Field required'}]
 * ```
 */
export function validateBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => {
    const missing = valueAt(body, issue.path) === undefined;
    const loc = [
      "'body'",
      ...issue.path.map((p) => typeof p === "number" ? String(p) : `'${String(p)}'`),
    ];
    return `{'type': '${missing ? "missing" : issue.code}', 'loc': (${loc.join(", ")}), 'msg': '${
      missing ? "Field required" : issue.message.replaceAll("'", "\\'")
    }'}`;
  });
  const first = result.error.issues[0]?.path[0];
  throw new SimHttpError(400, `[${issues.join(", ")}]`, typeof first === "string" ? first : null);
}
