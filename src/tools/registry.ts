/**
 * Tool registry: looks tools up by name, exposes their JSON Schemas to the model and executes calls with
 * validated arguments. Bad arguments and tool exceptions become error observations the agent can react to;
 * configuration problems (unknown tool, missing corpus) are thrown as non-retryable ApplicationFailures.
 */
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { FailureType, MAX_OBSERVATION_CHARS, MAX_TOOL_RESULT_BYTES } from '../shared/constants';
import type { Observation, ToolSchema } from '../shared/types';
import { calculatorTool } from './calculator';
import { localSearchTool } from './local-search';
import { pythonInterpreterTool } from './python-interpreter';
import type { ToolContext, ToolDefinition, ToolResult } from './tool';
import { describeValue, formatPath, valueAt } from '../domain/format';
import { webSearchTool } from './web-search';
import { webVisitTool } from './web-visit';

const TOOLS: ReadonlyMap<string, ToolDefinition> = new Map<string, ToolDefinition>(
  [calculatorTool, pythonInterpreterTool, localSearchTool, webSearchTool, webVisitTool].map((t) => [t.name, t as ToolDefinition]),
);

/** Tools of the original that are not implemented yet (none: every original tool is implemented). */
export const LATER_TOOLS: readonly string[] = [];

/** Names of the implemented tools. */
export function toolNames(): string[] {
  return [...TOOLS.keys()];
}

/** The tool named `name`; throws a non-retryable `ToolUnavailable` failure for unknown names. */
export function getTool(name: string): ToolDefinition {
  const tool = TOOLS.get(name);
  if (tool) return tool;
  throw ApplicationFailure.create({
    message: `Unknown tool ${JSON.stringify(name)}: expected one of ${toolNames().join(', ')}`,
    type: FailureType.ToolUnavailable,
    nonRetryable: true,
  });
}

const schemaCache = new Map<string, ToolSchema>();

/** JSON Schemas (input side: defaults are optional) of the named tools, as offered to the model. */
export function toolSchemas(names: string[]): ToolSchema[] {
  return names.map((name) => {
    const cached = schemaCache.get(name);
    if (cached) return structuredClone(cached);
    const tool = getTool(name);
    const json = z.toJSONSchema(tool.schema, { io: 'input' }) as Record<string, unknown>;
    delete json.$schema;
    const schema: ToolSchema = { name: tool.name, description: tool.description, parameters: { ...json, type: 'object' } };
    schemaCache.set(name, schema);
    return structuredClone(schema);
  });
}

// ------------------------------------------------------------------------------------------- arguments

function pathText(path: readonly PropertyKey[]): string {
  return formatPath(path) || '(arguments)';
}

function bound(issue: { origin?: string; minimum?: unknown; maximum?: unknown; inclusive?: boolean }, small: boolean): string {
  const n = small ? issue.minimum : issue.maximum;
  const rel = small ? (issue.inclusive === false ? 'more than' : 'at least') : issue.inclusive === false ? 'fewer than' : 'at most';
  if (issue.origin === 'array' || issue.origin === 'set') return `${rel} ${String(n)} item(s)`;
  if (issue.origin === 'string') return `${rel} ${String(n)} character(s)`;
  const op = small ? (issue.inclusive === false ? '>' : '≥') : issue.inclusive === false ? '<' : '≤';
  return `a number ${op} ${String(n)}`;
}

function actualSize(v: unknown): string {
  if (Array.isArray(v)) return `${v.length} item(s)`;
  if (typeof v === 'string') return `${v.length} character(s)`;
  return describeValue(v);
}

/** `path: expected X, got Y` for each zod issue. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], raw: unknown): string {
  return issues
    .map((issue) => {
      const where = pathText(issue.path);
      const actual = valueAt(raw, issue.path);
      switch (issue.code) {
        case 'invalid_type':
          return `${where}: expected ${issue.expected}, got ${describeValue(actual)}`;
        case 'too_small':
          return `${where}: expected ${bound(issue, true)}, got ${actualSize(actual)}`;
        case 'too_big':
          return `${where}: expected ${bound(issue, false)}, got ${actualSize(actual)}`;
        case 'invalid_value':
          return `${where}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${describeValue(actual)}`;
        default:
          return `${where}: ${issue.message}`;
      }
    })
    .join('; ');
}

/**
 * Light, schema-driven repairs of common model mistakes at the top level (as the original's HEAD did):
 * a numeric string for a number/integer parameter becomes a number; a bare string for an array-of-strings
 * parameter becomes a one-element array. Everything else is left to validation.
 */
export function coerceArguments(parameters: Record<string, unknown>, raw: unknown): unknown {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const props = (parameters.properties ?? {}) as Record<string, { type?: unknown; items?: { type?: unknown } }>;
  const out: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  for (const [key, value] of Object.entries(out)) {
    const prop = props[key];
    if (!prop) continue;
    if ((prop.type === 'integer' || prop.type === 'number') && typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) {
      out[key] = Number(value);
    } else if (prop.type === 'array' && prop.items?.type === 'string' && typeof value === 'string') {
      out[key] = [value];
    }
  }
  return out;
}

/**
 * Caps observation text at `max` characters. Keeps the head (¾) and the tail (¼) around a marker saying how much
 * was dropped, so trailing status lines (`[exit code 1]`, a traceback's last line) survive.
 */
export function capObservation(text: string, max = MAX_OBSERVATION_CHARS): Observation {
  if (text.length <= max) return { text };
  const marker = (n: number) => `\n[… ${n} characters truncated …]\n`;
  const isHigh = (i: number) => i > 0 && text.charCodeAt(i - 1) >= 0xd800 && text.charCodeAt(i - 1) <= 0xdbff;
  let head = 0;
  let tailStart = text.length;
  let markerLen = marker(text.length).length;
  // The marker's length depends on the count it reports: settle it in a couple of rounds.
  for (let round = 0; round < 3; round++) {
    const budget = Math.max(0, max - markerLen);
    head = Math.floor((budget * 3) / 4);
    tailStart = text.length - (budget - head);
    if (isHigh(head)) head--; // don't split a surrogate pair
    if (isHigh(tailStart)) tailStart++;
    const len = marker(tailStart - head).length;
    if (len === markerLen) break;
    markerLen = len;
  }
  const dropped = tailStart - head;
  return { text: text.slice(0, head) + marker(dropped) + text.slice(tailStart), truncated_chars: dropped };
}

/** Sources kept per tool result (web_search lists at most 5 queries × 10 results). */
export const MAX_SOURCES = 50;
/** Characters kept per source (a URL or a document name); longer ones are cut and end with "…". */
export const MAX_SOURCE_CHARS = 2048;
/** Characters kept of a thrown failure's message (and of each message in its cause chain). */
export const MAX_FAILURE_MESSAGE_CHARS = 2000;
/** Causes kept below a thrown failure. */
const MAX_CAUSE_DEPTH = 3;
/** Largest JSON of a failure's `details` kept (bytes); larger details are replaced by a note. */
const MAX_DETAILS_BYTES = 4096;

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
}

function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--; // don't split a surrogate pair
  return `${text.slice(0, end)}…`;
}

/** De-duplicated, non-empty string sources, each ≤ MAX_SOURCE_CHARS, at most MAX_SOURCES, in order. */
export function boundSources(sources: readonly unknown[] | undefined): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const s of sources ?? []) {
    if (out.length >= MAX_SOURCES) break;
    if (typeof s !== 'string' || !s.trim()) continue;
    const kept = cutText(s.trim(), MAX_SOURCE_CHARS);
    if (seen.has(kept)) continue;
    seen.add(kept);
    out.push(kept);
  }
  return out;
}

/**
 * Makes `obs` fit MAX_TOOL_RESULT_BYTES of JSON: its text is already capped (≤ 48,000 bytes as JSON), so dropping
 * sources from the end always gets there. Returns `obs` (changed in place).
 */
export function fitObservation(obs: Observation): Observation {
  while (obs.sources?.length && jsonBytes(obs) > MAX_TOOL_RESULT_BYTES) {
    obs.sources.pop();
    if (obs.sources.length === 0) delete obs.sources;
  }
  return obs;
}

function boundError(err: Error, depth: number): void {
  const message = typeof err.message === 'string' ? err.message : String(err.message);
  if (message.length > MAX_FAILURE_MESSAGE_CHARS) {
    const cut = cutText(message, MAX_FAILURE_MESSAGE_CHARS);
    const frames = (err.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l)).slice(0, 30);
    err.message = cut;
    err.stack = [`${err.name}: ${cut}`, ...frames].join('\n');
  } else if (err.stack && err.stack.length > MAX_FAILURE_MESSAGE_CHARS + 8192) {
    err.stack = err.stack.slice(0, MAX_FAILURE_MESSAGE_CHARS + 8192);
  }
  const withDetails = err as { details?: unknown };
  if (Array.isArray(withDetails.details) && jsonBytes(withDetails.details) > MAX_DETAILS_BYTES) {
    withDetails.details = [{ note: `details dropped: larger than ${MAX_DETAILS_BYTES} bytes` }];
  }
  const withCause = err as { cause?: unknown };
  if (withCause.cause instanceof Error) {
    if (depth >= MAX_CAUSE_DEPTH) withCause.cause = undefined;
    else boundError(withCause.cause, depth + 1);
  } else if (withCause.cause !== undefined) {
    withCause.cause = undefined; // a non-Error cause is not serialised usefully
  }
}

/**
 * Bounds what a thrown failure carries into workflow history (changed in place, type and retry options kept):
 * messages ≤ MAX_FAILURE_MESSAGE_CHARS (stack trace rewritten to match), ≤ 3 causes, details ≤ 4 KB of JSON.
 */
export function boundFailure(f: ApplicationFailure): ApplicationFailure {
  boundError(f, 0);
  return f;
}

/**
 * Runs one tool call. Invalid arguments → `{error: true, text: "Invalid arguments for <tool>: …"}`; a tool
 * exception → `{error: true, text: "[Error] <tool>: <message>"}`; text capped at MAX_OBSERVATION_CHARS;
 * the tool's `sources` (URLs, documents) are passed through, bounded (boundSources); the whole result stays
 * under MAX_TOOL_RESULT_BYTES of JSON (fitObservation).
 * ApplicationFailures (configuration problems, unknown tools) are thrown, not observed, bounded (boundFailure).
 */
export async function executeTool(name: string, rawArgs: unknown, ctx: ToolContext): Promise<Observation> {
  const tool = getTool(name);
  const [schema] = toolSchemas([name]);
  const args = coerceArguments(schema!.parameters, rawArgs ?? {});
  const parsed = tool.schema.safeParse(args);
  if (!parsed.success) {
    return { ...capObservation(`Invalid arguments for ${name}: ${formatIssues(parsed.error.issues, args)}`), error: true };
  }
  let result: ToolResult;
  try {
    result = await tool.execute(parsed.data, ctx);
  } catch (err) {
    if (err instanceof ApplicationFailure) throw boundFailure(err);
    const msg = err instanceof Error ? err.message : String(err);
    return { ...capObservation(`[Error] ${name}: ${msg}`), error: true };
  }
  const obs: Observation = capObservation(typeof result.text === 'string' ? result.text : String(result.text));
  if (result.error) obs.error = true;
  const sources = boundSources(result.sources);
  if (sources.length) obs.sources = sources;
  if (result.llm_usage) obs.llm_usage = result.llm_usage;
  return fitObservation(obs);
}
