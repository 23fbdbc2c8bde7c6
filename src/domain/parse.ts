/**
 * Model output → typed results. Never throws. Pure (no I/O); used by the LLM activities.
 *
 * Real servers put the same answer in many places and shapes (found against vLLM, Ollama, llama.cpp, LiteLLM,
 * OpenRouter and reasoning models): native `tool_calls` with `arguments` as a string or an object; a tool call
 * written into `content` as JSON or in a chat template's tags (`<tool_call>…</tool_call>`, `[TOOL_CALLS]`,
 * `<|python_tag|>`, `<function=…>`); the answer only in `reasoning_content` / `reasoning`, or after a
 * `<think>…</think>` block; JSON in a fence, with trailing commas or prose around it. This module reads all of
 * them, and never takes an object nested inside the answer for the answer itself.
 *
 * Failure reasons are short stable keys with detail after a colon (`unknown_tool: foo …`); statistics count
 * them by the key (see reasonKey in tree.ts).
 */
import { jsonrepair } from 'jsonrepair';
import type { ToolAction, ToolSchema } from '../shared/types';
import { isPlainObject, truncate, typeName } from './format';

export const ParseReason = {
  InvalidJson: 'invalid_json',
  InvalidAction: 'invalid_action',
  InvalidArguments: 'invalid_arguments',
  UnknownTool: 'unknown_tool',
  MissingArgument: 'missing_argument',
  NoToolCall: 'no_tool_call',
  /** The server cut the answer at its token limit (`finish_reason: "length"`) before it was complete. */
  TruncatedOutput: 'truncated_output',
  /** The answer is larger than qasynth keeps (see MAX_REPLY_CHARS in src/llm/response.ts). */
  OutputTooLarge: 'output_too_large',
  /** The reply has no text and no tool call at all. */
  EmptyOutput: 'empty_output',
  /**
   * The prompt does not fit the model's context window (the server refused it). Final for that prompt: the
   * branch (or path) is given up without re-sampling, the rest of the seed goes on.
   */
  ContextOverflow: 'context_overflow',
} as const;

export type ExtractResult = { ok: true; value: Record<string, unknown> } | { ok: false; reason: string };
export type ActionParseResult = { ok: true; intent: string; action: ToolAction } | { ok: false; reason: string };
export type QaParseResult =
  | { ok: true; question: string; answer: string; reasoning_steps: unknown[] }
  | { ok: false; reason: string };

/** A tool call as a server sent it: `arguments` may be a JSON string (OpenAI) or an object (llama.cpp). */
export interface RawToolCall {
  name: string;
  arguments: unknown;
}

/**
 * One chat-completion choice, normalised by src/llm/response.ts: `content` with content parts joined,
 * `reasoning` from `reasoning_content` / `reasoning` (empty when absent), native tool calls, finish reason.
 */
export interface ModelReply {
  content: string;
  reasoning: string;
  tool_calls: RawToolCall[];
  finish_reason: string | null;
}

function tryParse(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

/** Strict JSON first, then a repair of common slips (trailing commas, single quotes, unquoted keys, comments). */
function parseLenient(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  const strict = tryParse(text);
  if (strict.ok) return strict;
  // A repair may only fix syntax, never complete a cut-off answer: only a text that is one balanced {…} or
  // […] region is repaired (jsonrepair would happily close `{"answer": "Par` as "Par").
  if (!/^[[{]/.test(text) || balancedEnd(text, 0) !== text.length || !/["']/.test(text) || !text.includes(':')) return strict;
  try {
    return tryParse(jsonrepair(text));
  } catch {
    return strict;
  }
}

/** The end index (exclusive) of the balanced {…} or […] starting at `start`, skipping string contents; -1 if unbalanced. */
function balancedEnd(text: string, start: number): number {
  const stack: string[] = [];
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') stack.push(c === '{' ? '}' : ']');
    else if (c === '}' || c === ']') {
      if (stack.pop() !== c) return -1;
      if (stack.length === 0) return i + 1;
    }
  }
  return -1;
}

const THINK_RE = /<(think|thinking|reasoning)>[\s\S]*?<\/\1>/gi;

/**
 * Splits `<think>…</think>` (also `<thinking>`, `<reasoning>`) out of a content string: servers without a
 * reasoning parser leave a reasoning model's thoughts there. An unclosed leading `<think>` swallows everything
 * (the answer never came).
 */
export function splitThinking(text: string): { answer: string; thinking: string } {
  const thinking: string[] = [];
  let answer = text.replace(THINK_RE, (m) => {
    thinking.push(m.replace(/^<[^>]+>|<\/[^>]+>$/g, ''));
    return '';
  });
  // "…</think>" with the opening tag in the prompt template (DeepSeek-R1's template adds it).
  const close = /<\/think>/i.exec(answer);
  if (close) {
    thinking.push(answer.slice(0, close.index));
    answer = answer.slice(close.index + close[0].length);
  }
  const open = /^\s*<think>/i.exec(answer);
  if (open) {
    thinking.push(answer.slice(open[0].length));
    answer = '';
  }
  return { answer: answer.trim(), thinking: thinking.join('\n').trim() };
}

/**
 * Top-level JSON values in `text`, in order: the whole text, the content of each ``` fence, then each balanced
 * {…} / […] region at the top level of the text. Regions are never entered: an object nested in another one
 * (a `{"step": 1}` inside `reasoning_steps`) is never a candidate of its own, even when its parent is broken.
 */
function jsonCandidates(text: string): unknown[] {
  const out: unknown[] = [];
  const trimmed = text.trim();
  if (!trimmed) return out;
  const whole = parseLenient(trimmed);
  if (whole.ok) out.push(whole.value);
  for (const m of trimmed.matchAll(/```[A-Za-z0-9_-]*[ \t]*\r?\n?([\s\S]*?)```/g)) {
    const inner = m[1]!.trim();
    if (!inner) continue;
    const parsed = parseLenient(inner);
    if (parsed.ok) out.push(parsed.value);
    else out.push(...regions(inner));
  }
  out.push(...regions(trimmed));
  return out;
}

function regions(text: string): unknown[] {
  const out: unknown[] = [];
  for (let i = 0, tries = 0; i < text.length && tries < 50; i++) {
    const c = text[i];
    if (c !== '{' && c !== '[') continue;
    tries++;
    const end = balancedEnd(text, i);
    // Never closed (a cut-off answer): everything after it is inside it, so nothing there is top-level.
    if (end === -1) break;
    const parsed = parseLenient(text.slice(i, end));
    if (parsed.ok) out.push(parsed.value);
    // Skip the whole region, parsed or not: what is nested inside belongs to it.
    i = end - 1;
  }
  return out;
}

/** An object candidate: the object itself, or the first object element of an array. */
function asObject(value: unknown): Record<string, unknown> | null {
  if (isPlainObject(value)) return value;
  if (Array.isArray(value)) return value.find(isPlainObject) ?? null;
  return null;
}

/** The top-level object candidates of a text (see jsonCandidates), arrays replaced by their first object. */
function candidateObjects(text: string): Record<string, unknown>[] {
  return jsonCandidates(text).map(asObject).filter((o): o is Record<string, unknown> => o !== null);
}

/**
 * Recovers a JSON object from model text (see jsonCandidates). With `accept`, the first top-level object it
 * accepts wins; otherwise (or when none is accepted) the first top-level object. An array yields its first
 * object element. `<think>` blocks are ignored.
 */
export function extractJsonObject(text: string, accept?: (obj: Record<string, unknown>) => boolean): ExtractResult {
  const { answer } = splitThinking(text ?? '');
  const trimmed = answer.trim();
  if (!trimmed) return { ok: false, reason: `${ParseReason.InvalidJson}: empty output` };
  const objects = candidateObjects(trimmed);
  const chosen = (accept ? objects.find(accept) : undefined) ?? objects[0];
  if (chosen) return { ok: true, value: chosen };
  const direct = tryParse(trimmed);
  if (direct.ok) return { ok: false, reason: `${ParseReason.InvalidJson}: expected a JSON object, got ${typeName(direct.value)}` };
  return { ok: false, reason: `${ParseReason.InvalidJson}: ${truncate(direct.error, 120)}` };
}

function propertySchema(tool: ToolSchema, name: string): Record<string, unknown> | null {
  const props = tool.parameters.properties;
  if (!isPlainObject(props)) return null;
  const s = props[name];
  return isPlainObject(s) ? s : null;
}

function schemaTypes(schema: Record<string, unknown>): string[] {
  const t = schema.type;
  if (typeof t === 'string') return [t];
  if (Array.isArray(t)) return t.filter((x): x is string => typeof x === 'string');
  return [];
}

/**
 * Light coercion of obviously mistyped arguments, as HEAD did: a numeric string where the schema wants a
 * number/integer becomes a number; a bare string where it wants an array of strings becomes a one-item array.
 * Anything else is left for the tool's own validation.
 */
export function coerceParameters(tool: ToolSchema, params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...params };
  for (const [name, value] of Object.entries(params)) {
    const schema = propertySchema(tool, name);
    if (!schema) continue;
    const types = schemaTypes(schema);
    if (typeof value === 'string' && (types.includes('array') || types.includes('object')) && !types.includes('string')) {
      // An array or object sent as its JSON text (Moonshot Kimi and others double-encode nested values).
      const trimmed = value.trim();
      if (/^[[{]/.test(trimmed)) {
        const parsed = tryParse(trimmed);
        if (parsed.ok && (Array.isArray(parsed.value) ? types.includes('array') : isPlainObject(parsed.value) && types.includes('object'))) {
          out[name] = parsed.value;
          continue;
        }
      }
    }
    if (typeof value === 'string') {
      if ((types.includes('integer') || types.includes('number')) && !types.includes('string') && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) {
        const n = Number(value);
        if (types.includes('number') || Number.isInteger(n)) out[name] = n;
      } else if (types.includes('array') && !types.includes('string')) {
        const items = isPlainObject(schema.items) ? schemaTypes(schema.items) : [];
        if (items.length === 0 || items.includes('string')) out[name] = [value];
      }
    }
  }
  return out;
}

/**
 * A tool name with template debris removed: a leaked special-token suffix (`calculator<|channel|>commentary`,
 * gpt-oss behind vLLM, vllm-project/vllm#32587), a `functions.` namespace prefix, quotes and spaces.
 */
export function cleanToolName(name: string): string {
  return name
    .split('<|')[0]!
    .replace(/^\s*["'`]?(functions\.)?/, '')
    .replace(/["'`]?\s*$/, '');
}

/** Validates a proposed action against the offered tools: known tool, parameters an object, required ones present. */
export function validateAction(
  toolName: unknown,
  parameters: unknown,
  tools: readonly ToolSchema[],
): { ok: true; action: ToolAction } | { ok: false; reason: string } {
  const valid = tools.map((t) => t.name).join(', ') || '(none)';
  if (typeof toolName !== 'string' || !toolName) {
    return { ok: false, reason: `${ParseReason.InvalidAction}: expected action.tool_name to be one of ${valid}, got ${typeName(toolName)}` };
  }
  const tool = tools.find((t) => t.name === toolName) ?? tools.find((t) => t.name === cleanToolName(toolName));
  if (!tool) return { ok: false, reason: `${ParseReason.UnknownTool}: ${truncate(toolName, 80)} (valid tools: ${valid})` };
  const params = parameters === undefined || parameters === null ? {} : parameters;
  if (!isPlainObject(params)) {
    return { ok: false, reason: `${ParseReason.InvalidArguments}: expected ${tool.name} parameters to be an object, got ${typeName(params)}` };
  }
  const required = Array.isArray(tool.parameters.required) ? (tool.parameters.required as unknown[]) : [];
  for (const r of required) {
    if (typeof r === 'string' && r !== 'intent' && (params[r] === undefined || params[r] === null)) {
      return { ok: false, reason: `${ParseReason.MissingArgument}: ${tool.name}.${r}` };
    }
  }
  return { ok: true, action: { tool_name: tool.name, parameters: coerceParameters(tool, params) } };
}

/** True for an object that reads as a json-mode action: `{action: {…}}` or the action keys at the top level. */
function isJsonAction(obj: Record<string, unknown>): boolean {
  return 'action' in obj || typeof obj.tool_name === 'string';
}

/**
 * Parses the json-mode reply `{"intent", "action": {"tool_name", "parameters"}}`. Also accepts the action
 * keys at the top level (`{"intent", "tool_name", "parameters"}`), a common model slip, and a tool call
 * written as text in any of the shapes {@link toolCallsInText} reads.
 */
export function parseActionJson(text: string, tools: readonly ToolSchema[]): ActionParseResult {
  const { answer } = splitThinking(text ?? '');
  const obj = answer ? candidateObjects(answer).find(isJsonAction) : undefined;
  if (!obj) {
    const calls = toolCallsInText(answer);
    if (calls.length) return parseToolCall(calls[0]!.name, calls[0]!.arguments, tools);
    const extracted = extractJsonObject(answer);
    if (!extracted.ok) return extracted;
    return { ok: false, reason: `${ParseReason.InvalidAction}: expected "action" to be an object {tool_name, parameters}, got ${typeName(extracted.value.action)}` };
  }
  const intent = typeof obj.intent === 'string' ? obj.intent : '';
  const action: unknown = isPlainObject(obj.action) ? obj.action : obj;
  if (!isPlainObject(action)) {
    return { ok: false, reason: `${ParseReason.InvalidAction}: expected "action" to be an object {tool_name, parameters}, got ${typeName(action)}` };
  }
  const checked = validateAction(action.tool_name, action.parameters, tools);
  if (!checked.ok) return checked;
  return { ok: true, intent, action: checked.action };
}

/**
 * Parses a native tool call; `intent` comes from (and is removed from) the arguments; missing intent is "".
 * `args` may be a JSON string (OpenAI), an already-decoded object (llama.cpp) or a JSON string of a JSON string.
 */
export function parseToolCall(name: string, args: unknown, tools: readonly ToolSchema[]): ActionParseResult {
  let decoded: Record<string, unknown> = {};
  let value: unknown = args;
  for (let depth = 0; typeof value === 'string' && depth < 2; depth++) {
    const raw = value.trim();
    if (!raw) {
      value = {};
      break;
    }
    const parsed = tryParse(raw);
    if (parsed.ok) {
      value = parsed.value;
      continue;
    }
    const recovered = extractJsonObject(raw);
    if (!recovered.ok) return { ok: false, reason: `${ParseReason.InvalidArguments}: ${truncate(parsed.error, 120)}` };
    value = recovered.value;
  }
  if (value === undefined || value === null) value = {};
  if (!isPlainObject(value)) {
    return { ok: false, reason: `${ParseReason.InvalidArguments}: expected an object, got ${typeName(value)}` };
  }
  decoded = value;
  const { intent, ...params } = decoded;
  const checked = validateAction(name, params, tools);
  if (!checked.ok) return checked;
  return { ok: true, intent: typeof intent === 'string' ? intent : '', action: checked.action };
}

/** `{"name", "arguments"|"parameters"}`, `{"function": {…}}`, `{"type": "function", "function": {…}}`, `{"tool_calls": [...]}`. */
function toolCallFromObject(obj: unknown): RawToolCall | null {
  if (!isPlainObject(obj)) return null;
  if (Array.isArray(obj.tool_calls)) {
    for (const c of obj.tool_calls) {
      const call = toolCallFromObject(c);
      if (call) return call;
    }
    return null;
  }
  if (isPlainObject(obj.function)) return toolCallFromObject(obj.function);
  const name = obj.name ?? obj.tool_name;
  if (typeof name !== 'string' || !name.trim()) return null;
  const args = obj.arguments ?? obj.parameters ?? obj.args ?? obj.input;
  // {"name": …} alone is not a call (a QA or a person record can have a name): require an argument object.
  if (args === undefined) return null;
  return { name: name.trim(), arguments: args };
}

function callsFromJsonText(text: string): RawToolCall[] {
  for (const value of jsonCandidates(text)) {
    const list = Array.isArray(value) ? value : [value];
    const calls = list.map(toolCallFromObject).filter((c): c is RawToolCall => c !== null);
    if (calls.length) return calls;
  }
  return [];
}

/** Qwen3-Coder style `<function=NAME><parameter=KEY>value</parameter>…</function>`. */
function xmlParameters(body: string): Record<string, unknown> | null {
  const params: Record<string, unknown> = {};
  let found = false;
  for (const m of body.matchAll(/<parameter=([^>\s]+)>\s*([\s\S]*?)\s*<\/parameter>/g)) {
    found = true;
    const raw = m[2]!;
    const parsed = tryParse(raw);
    params[m[1]!] = parsed.ok ? parsed.value : raw;
  }
  return found ? params : null;
}

/**
 * Tool calls written as text into `content` by servers without a tool parser, in the formats of the common chat
 * templates: Hermes / Qwen `<tool_call>{…}</tool_call>`, Mistral `[TOOL_CALLS] [{…}]` and
 * `[TOOL_CALLS]name[ARGS]{…}`, Llama 3.1 `<|python_tag|>{"name", "parameters"}`, `<function=name>{…}</function>`
 * (also with `<parameter=…>` children), Granite `<|tool_call|>[…]`, DeepSeek
 * `<｜tool▁call▁begin｜>function<｜tool▁sep｜>name ```json {…}```<｜tool▁call▁end｜>`, and a bare JSON object
 * `{"name", "arguments"}` (or `{"tool_calls": […]}`). `<think>` blocks are skipped. Empty when there is none.
 */
export function toolCallsInText(text: string): RawToolCall[] {
  const { answer } = splitThinking(text ?? '');
  if (!answer) return [];
  const calls: RawToolCall[] = [];

  for (const m of answer.matchAll(/<tool_call>\s*([\s\S]*?)\s*(?:<\/tool_call>|$)/g)) {
    const body = m[1]!;
    const fn = /<function=([^>\s]+)>([\s\S]*?)(?:<\/function>|$)/.exec(body);
    if (fn) {
      const params = xmlParameters(fn[2]!);
      calls.push({ name: fn[1]!, arguments: params ?? fn[2]!.trim() });
    } else calls.push(...callsFromJsonText(body));
  }
  if (calls.length) return calls;

  for (const m of answer.matchAll(/<function=([^>\s]+)>([\s\S]*?)(?:<\/function>|$)/g)) {
    const params = xmlParameters(m[2]!);
    calls.push({ name: m[1]!, arguments: params ?? (m[2]!.trim() || '{}') });
  }
  if (calls.length) return calls;

  const deepseek = /tool▁sep｜>\s*([^\s`]+)\s*(?:```(?:json)?\s*([\s\S]*?)```|(\{[\s\S]*?\}))/g;
  for (const m of answer.matchAll(deepseek)) calls.push({ name: m[1]!, arguments: (m[2] ?? m[3] ?? '').trim() });
  if (calls.length) return calls;

  const mistralArgs = /\[TOOL_CALLS\]\s*([A-Za-z_][\w.-]*)\s*\[ARGS\]\s*(\{[\s\S]*)$/.exec(answer);
  if (mistralArgs) {
    const end = balancedEnd(mistralArgs[2]!, 0);
    return [{ name: mistralArgs[1]!, arguments: end === -1 ? mistralArgs[2]! : mistralArgs[2]!.slice(0, end) }];
  }
  for (const tag of ['[TOOL_CALLS]', '<|python_tag|>', '<|tool_call|>', '<|tool_calls|>', '<tool_calls>', 'functools']) {
    const at = answer.indexOf(tag);
    if (at === -1) continue;
    const found = callsFromJsonText(answer.slice(at + tag.length));
    if (found.length) return found;
  }
  return callsFromJsonText(answer);
}

/**
 * Reads an action out of a whole reply, trying in order: native tool calls; a tool call or a json-mode action
 * in `content` (outside `<think>`); the same in `reasoning` (a reasoning model that answered only there).
 * A reply cut by the token limit that yields nothing is `truncated_output`; one with no text at all, `empty_output`.
 */
export function parseActionReply(reply: ModelReply, tools: readonly ToolSchema[]): ActionParseResult {
  const native = reply.tool_calls[0];
  if (native) return parseToolCall(native.name, native.arguments, tools);
  const texts = [reply.content, reply.reasoning].filter((t) => t.trim());
  if (!texts.length) return { ok: false, reason: `${ParseReason.EmptyOutput}: the reply had no text and no tool call` };
  let first: ActionParseResult | null = null;
  for (const text of texts) {
    const r = parseActionJson(text, tools);
    if (r.ok) return r;
    first ??= r;
  }
  if (reply.finish_reason === 'length') {
    return { ok: false, reason: `${ParseReason.TruncatedOutput}: the answer was cut at the server's token limit (finish_reason "length")` };
  }
  // A reply that is prose only: say so rather than "invalid_json", it reads better in statistics.
  const r = first!;
  if (!r.ok && r.reason.startsWith(ParseReason.InvalidJson)) {
    return { ok: false, reason: `${ParseReason.NoToolCall}: the reply had no tool call (${r.reason})` };
  }
  return r;
}

function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}

/** An object that reads as a QA answer (has a question or an answer key). */
function isQaObject(obj: Record<string, unknown>): boolean {
  return 'question' in obj || 'answer' in obj;
}

/** `{"qa": {question, answer}}`-style wrappers: the single object value that is a QA object. */
function unwrapQa(obj: Record<string, unknown>): Record<string, unknown> {
  if (isQaObject(obj)) return obj;
  const inner = Object.values(obj).filter(isPlainObject);
  return inner.length === 1 && isQaObject(inner[0]!) ? inner[0]! : obj;
}

/**
 * Parses the QA reply. Missing keys become "" / [] as the original (a non-string scalar answer such as 1953
 * becomes its string); validateQa decides what is acceptable. The QA object is the top-level object with a
 * `question` or `answer` key (one wrapper level such as `{"qa": {…}}` is looked through).
 */
export function parseQaJson(text: string): QaParseResult {
  const extracted = extractJsonObject(text, (o) => isQaObject(unwrapQa(o)));
  if (!extracted.ok) return extracted;
  const obj = unwrapQa(extracted.value);
  return {
    ok: true,
    question: asText(obj.question).trim(),
    answer: asText(obj.answer).trim(),
    reasoning_steps: Array.isArray(obj.reasoning_steps) ? obj.reasoning_steps : [],
  };
}

/**
 * Reads a QA out of a whole reply: `content` (outside `<think>`), else `reasoning` (a reasoning model that put
 * its answer there). A reply cut by the token limit that yields nothing usable is `truncated_output`.
 */
export function parseQaReply(reply: ModelReply): QaParseResult {
  const texts = [reply.content, reply.reasoning].filter((t) => t.trim());
  if (!texts.length) return { ok: false, reason: `${ParseReason.EmptyOutput}: the reply had no text` };
  let first: QaParseResult | null = null;
  for (const text of texts) {
    const r = parseQaJson(text);
    if (r.ok && (r.question || r.answer)) return r;
    first ??= r;
  }
  if (reply.finish_reason === 'length') {
    return { ok: false, reason: `${ParseReason.TruncatedOutput}: the answer was cut at the server's token limit (finish_reason "length")` };
  }
  return first!;
}
