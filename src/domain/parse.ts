/**
 * Model output → typed results. Never throws. Workflow-safe.
 *
 * Failure reasons are short stable keys with detail after a colon (`unknown_tool: foo …`); statistics count
 * them by the key (see reasonKey in tree.ts).
 */
import type { ToolAction, ToolSchema } from '../shared/types';
import { isPlainObject, truncate, typeName } from './format';

export const ParseReason = {
  InvalidJson: 'invalid_json',
  InvalidAction: 'invalid_action',
  InvalidArguments: 'invalid_arguments',
  UnknownTool: 'unknown_tool',
  MissingArgument: 'missing_argument',
  NoToolCall: 'no_tool_call',
} as const;

export type ExtractResult = { ok: true; value: Record<string, unknown> } | { ok: false; reason: string };
export type ActionParseResult = { ok: true; intent: string; action: ToolAction } | { ok: false; reason: string };
export type QaParseResult =
  | { ok: true; question: string; answer: string; reasoning_steps: unknown[] }
  | { ok: false; reason: string };

function tryParse(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

function asObject(value: unknown): Record<string, unknown> | null {
  if (isPlainObject(value)) return value;
  if (Array.isArray(value)) {
    const first = value.find(isPlainObject);
    return first ?? null;
  }
  return null;
}

/** The end index (exclusive) of the balanced {…} or […] starting at `start`, skipping string contents. */
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

/**
 * Recovers a JSON object from model text: JSON.parse; else the content of a ``` fence; else the first
 * balanced {…} (or […]) that parses. An array yields its first object element.
 */
export function extractJsonObject(text: string): ExtractResult {
  const trimmed = (text ?? '').trim();
  if (!trimmed) return { ok: false, reason: `${ParseReason.InvalidJson}: empty output` };
  const direct = tryParse(trimmed);
  if (direct.ok) {
    const obj = asObject(direct.value);
    if (obj) return { ok: true, value: obj };
    return { ok: false, reason: `${ParseReason.InvalidJson}: expected a JSON object, got ${typeName(direct.value)}` };
  }
  const fence = /```[A-Za-z]*\s*\n?([\s\S]*?)```/.exec(trimmed);
  if (fence) {
    const inner = tryParse(fence[1]!.trim());
    if (inner.ok) {
      const obj = asObject(inner.value);
      if (obj) return { ok: true, value: obj };
    }
  }
  for (let i = 0, tries = 0; i < trimmed.length && tries < 50; i++) {
    const c = trimmed[i];
    if (c !== '{' && c !== '[') continue;
    tries++;
    const end = balancedEnd(trimmed, i);
    if (end === -1) continue;
    const parsed = tryParse(trimmed.slice(i, end));
    if (parsed.ok) {
      const obj = asObject(parsed.value);
      if (obj) return { ok: true, value: obj };
    }
  }
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
  const tool = tools.find((t) => t.name === toolName);
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

/**
 * Parses the json-mode reply `{"intent", "action": {"tool_name", "parameters"}}`. Also accepts the action
 * keys at the top level (`{"intent", "tool_name", "parameters"}`), a common model slip.
 */
export function parseActionJson(text: string, tools: readonly ToolSchema[]): ActionParseResult {
  const extracted = extractJsonObject(text);
  if (!extracted.ok) return extracted;
  const obj = extracted.value;
  const intent = typeof obj.intent === 'string' ? obj.intent : '';
  let action: unknown = obj.action;
  if (action === undefined && 'tool_name' in obj) action = obj;
  if (!isPlainObject(action)) {
    return { ok: false, reason: `${ParseReason.InvalidAction}: expected "action" to be an object {tool_name, parameters}, got ${typeName(action)}` };
  }
  const checked = validateAction(action.tool_name, action.parameters, tools);
  if (!checked.ok) return checked;
  return { ok: true, intent, action: checked.action };
}

/** Parses a native tool call; `intent` comes from (and is removed from) the arguments; missing intent is "". */
export function parseToolCall(name: string, argumentsJson: string, tools: readonly ToolSchema[]): ActionParseResult {
  let args: Record<string, unknown> = {};
  const raw = (argumentsJson ?? '').trim();
  if (raw) {
    const parsed = tryParse(raw);
    if (!parsed.ok) {
      const recovered = extractJsonObject(raw);
      if (!recovered.ok) return { ok: false, reason: `${ParseReason.InvalidArguments}: ${truncate(parsed.error, 120)}` };
      args = recovered.value;
    } else if (!isPlainObject(parsed.value)) {
      return { ok: false, reason: `${ParseReason.InvalidArguments}: expected an object, got ${typeName(parsed.value)}` };
    } else {
      args = parsed.value;
    }
  }
  const { intent, ...params } = args;
  const checked = validateAction(name, params, tools);
  if (!checked.ok) return checked;
  return { ok: true, intent: typeof intent === 'string' ? intent : '', action: checked.action };
}

function asText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}

/**
 * Parses the QA reply. Missing keys become "" / [] as the original (a non-string scalar answer such as 1953
 * becomes its string); validateQa decides what is acceptable.
 */
export function parseQaJson(text: string): QaParseResult {
  const extracted = extractJsonObject(text);
  if (!extracted.ok) return extracted;
  const obj = extracted.value;
  return {
    ok: true,
    question: asText(obj.question).trim(),
    answer: asText(obj.answer).trim(),
    reasoning_steps: Array.isArray(obj.reasoning_steps) ? obj.reasoning_steps : [],
  };
}
