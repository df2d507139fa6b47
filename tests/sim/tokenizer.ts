/**
 * A deterministic tokenizer approximation and a fixed ChatML chat template.
 *
 * Rule (documented in README.md):
 * 1. Special tokens (`<s>`, `</s>`, `<|im_start|>`, `<|im_end|>`) are single tokens.
 * 2. The rest is pre-tokenized GPT-2 style: an optional leading space plus a run of letters,
 *    of digits or of other symbols; whitespace runs are pieces of their own.
 * 3. A piece longer than 4 characters (not counting its leading space) is cut into 4-character
 *    chunks; the first chunk keeps the space. So short words are one token and long words
 *    cost about one token per 4 characters, close to real BPE vocabularies on English text.
 * 4. A piece's id is `256 + FNV-1a(piece) mod (128256 − 256)`; ids 0–4 are the special tokens.
 *
 * Tokenization is context-free across special tokens, so every chat turn rendered through the
 * template yields the same ids wherever it appears: a conversation prefix gives a token
 * prefix, which is what prefix caching and prefix-aware routing need.
 *
 * Hand-written: real tokenizers need model files we cannot download, and the approximation
 * must be fast and exactly reproducible.
 *
 * @module
 */

/** Special token strings and ids. */
export const SPECIAL_TOKENS = {
  pad: { text: "<pad>", id: 0 },
  bos: { text: "<s>", id: 1 },
  eos: { text: "</s>", id: 2 },
  imStart: { text: "<|im_start|>", id: 3 },
  imEnd: { text: "<|im_end|>", id: 4 },
} as const;

/** Vocabulary size (Llama 3's), the modulus of piece ids. */
export const VOCAB_SIZE = 128256;
const FIRST_REGULAR_ID = 256;
const MAX_PIECE = 4;

const SPECIAL_BY_TEXT: ReadonlyMap<string, number> = new Map(
  Object.values(SPECIAL_TOKENS).map((t) => [t.text, t.id]),
);
const SPECIAL_SPLIT = /(<s>|<\/s>|<\|im_start\|>|<\|im_end\|>|<pad>)/;
const PRETOKEN = / ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Result of {@linkcode encode}: ids and the text of each token. */
export interface Encoded {
  /** Token ids. */
  ids: number[];
  /** The text each id stands for; joining them gives back the input. */
  pieces: string[];
}

/**
 * Id of one piece (a special-token string or a regular piece as {@linkcode encode} cuts them).
 *
 * @param piece Token text.
 * @returns Its id.
 *
 * @example
 * ```ts
 * import { encode, pieceId } from "./tokenizer.ts";
 * console.log(pieceId(" the") === encode(" the").ids[0]); // true
 * ```
 */
export function pieceId(piece: string): number {
  const special = SPECIAL_BY_TEXT.get(piece);
  if (special !== undefined) return special;
  let h = 0x811c9dc5;
  for (let i = 0; i < piece.length; i++) {
    h ^= piece.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return FIRST_REGULAR_ID + ((h >>> 0) % (VOCAB_SIZE - FIRST_REGULAR_ID));
}

function pushPiece(out: Encoded, pre: string): void {
  const lead = pre.startsWith(" ") && pre.length > 1 ? 1 : 0;
  if (pre.length - lead <= MAX_PIECE) {
    out.pieces.push(pre);
    out.ids.push(pieceId(pre));
    return;
  }
  for (let i = lead; i < pre.length; i += MAX_PIECE) {
    const chunk = (i === lead ? pre.slice(0, lead) : "") + pre.slice(i, i + MAX_PIECE);
    out.pieces.push(chunk);
    out.ids.push(pieceId(chunk));
  }
}

/**
 * Tokenizes text.
 *
 * @param text Input text; special-token strings in it become special tokens.
 * @param addBos Prepend `<s>` (vLLM's `add_special_tokens` for completions). @default false
 * @returns Ids and pieces.
 *
 * @example
 * ```ts
 * import { encode } from "./tokenizer.ts";
 * console.log(encode("Hello wonderful world").pieces); // ["Hell", "o", " wond", "erfu", "l", " worl", "d"]
 * ```
 */
export function encode(text: string, addBos = false): Encoded {
  const out: Encoded = { ids: [], pieces: [] };
  if (addBos) {
    out.ids.push(SPECIAL_TOKENS.bos.id);
    out.pieces.push(SPECIAL_TOKENS.bos.text);
  }
  for (const part of text.split(SPECIAL_SPLIT)) {
    if (part === "") continue;
    const special = SPECIAL_BY_TEXT.get(part);
    if (special !== undefined) {
      out.ids.push(special);
      out.pieces.push(part);
      continue;
    }
    for (const m of part.matchAll(PRETOKEN)) pushPiece(out, m[0]);
  }
  return out;
}

/**
 * Counts tokens without keeping the pieces.
 *
 * @param text Input text.
 * @returns Number of tokens {@linkcode encode} would produce (without BOS).
 *
 * @example
 * ```ts
 * import { countTokens } from "./tokenizer.ts";
 * console.log(countTokens("a b c")); // 3
 * ```
 */
export function countTokens(text: string): number {
  return encode(text).ids.length;
}

/** A chat message as the template reads it (OpenAI shape, loosely typed). */
export interface ChatMessageLike {
  /** `system`, `user`, `assistant`, `tool`, … */
  role: string;
  /** String, array of content parts, or null. */
  content?: unknown;
  /** Assistant tool calls (rendered as JSON). */
  tool_calls?: unknown;
}

/**
 * Flattens OpenAI message content to text: strings as they are, text parts joined with a
 * newline (as vLLM does), other parts as a `<type>` placeholder.
 *
 * @param content Message content.
 * @returns Plain text.
 *
 * @example
 * ```ts
 * import { contentText } from "./tokenizer.ts";
 * console.log(contentText([{ type: "text", text: "a" }, { type: "text", text: "b" }])); // "a\nb"
 * ```
 */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((part) => {
    if (typeof part === "string") return part;
    if (part !== null && typeof part === "object") {
      const p = part as { type?: unknown; text?: unknown };
      if (p.type === "text" && typeof p.text === "string") return p.text;
      return `<${String(p.type ?? "part")}>`;
    }
    return "";
  }).join("\n");
}

/**
 * Renders messages through the fixed ChatML template:
 * `<|im_start|>{role}\n{content}<|im_end|>\n` per message, then `<|im_start|>assistant\n`
 * when a generation prompt is wanted.
 *
 * @param messages Conversation.
 * @param addGenerationPrompt Append the assistant header. @default true
 * @returns The prompt text.
 *
 * @example
 * ```ts
 * import { applyChatTemplate } from "./tokenizer.ts";
 * console.log(applyChatTemplate([{ role: "user", content: "hi" }]));
 * // "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
 * ```
 */
export function applyChatTemplate(
  messages: readonly ChatMessageLike[],
  addGenerationPrompt = true,
): string {
  let text = "";
  for (const m of messages) {
    let body = contentText(m.content);
    if (m.tool_calls !== undefined && m.tool_calls !== null) {
      body += (body ? "\n" : "") + JSON.stringify(m.tool_calls);
    }
    text += `${SPECIAL_TOKENS.imStart.text}${m.role}\n${body}${SPECIAL_TOKENS.imEnd.text}\n`;
  }
  if (addGenerationPrompt) text += `${SPECIAL_TOKENS.imStart.text}assistant\n`;
  return text;
}
