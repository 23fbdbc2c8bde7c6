/**
 * Training records from QA records (pure functions; the files are written by src/export/export.ts).
 *
 * A QA record becomes the conversation of an agent that answers it: a system prompt (AGENT_SYSTEM_PROMPT), the
 * question as the user turn, one assistant tool call per step of the path the QA was written from, each answered
 * by the tool's observation, and the answer as the last assistant turn.
 *
 * - `sft`: OpenAI's chat fine-tuning format with tools (https://platform.openai.com/docs/guides/supervised-fine-tuning,
 *   "function calling" examples): `{messages, tools, parallel_tool_calls}`; assistant turns carry `tool_calls`
 *   (`id`, `type: "function"`, `function.name`, `function.arguments` as a JSON string), `tool` turns answer them
 *   by `tool_call_id`.
 * - `sharegpt`: the ShareGPT variant LLaMA-Factory reads (data/README.md of hiyouga/LLaMA-Factory, "sharegpt format"):
 *   `conversations` of `{from, value}` with from = system | human | gpt | function_call | observation, where a
 *   `function_call` value is the JSON text `{"name", "arguments"}` and `tools` is the JSON text of the tool list.
 */
import type { QaRecord, RejectedQaRecord, ToolSchema, TrajectoryRecord } from '../shared/types';
import { AGENT_SYSTEM_PROMPT } from '../domain/prompts';

/** A tool definition in OpenAI's `tools` shape. */
export interface OpenAiTool {
  type: 'function';
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

/** An assistant tool call in OpenAI's shape (`arguments` is JSON text). */
export interface OpenAiToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** One message of an SFT record. */
export type SftMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string | null; tool_calls?: OpenAiToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

/** One line of the `sft` export: exactly the keys OpenAI's fine-tuning format accepts. */
export interface SftRecord {
  messages: SftMessage[];
  tools: OpenAiTool[];
  /** Always false: the paths call one tool per step. */
  parallel_tool_calls: false;
}

/** A negative of the `sft` export (its `.rejected.jsonl` file): the same conversation, with why it was not kept. */
export interface SftNegative extends SftRecord {
  qa_id: string;
  rejection: RejectedQaRecord['rejection'];
}

/** One turn of a ShareGPT record. */
export interface ShareGptTurn {
  from: 'system' | 'human' | 'gpt' | 'function_call' | 'observation';
  value: string;
}

/** One line of the `sharegpt` export. */
export interface ShareGptRecord {
  /** The QA's qa_id. */
  id: string;
  conversations: ShareGptTurn[];
  /** JSON text of the tool list (`[{name, description, parameters}]`), as LLaMA-Factory's `tools` column. */
  tools: string;
  /** With --include-rejected only: true for kept records, false for negatives (LLaMA-Factory's KTO column). */
  kto_tag?: boolean;
  /** Negatives only: why the record was not kept. */
  rejection?: RejectedQaRecord['rejection'];
}

/** A tool call of the path a QA rests on, as replayed to the trained agent. */
export interface AgentStep {
  node_id: string;
  tool_name: string;
  parameters: Record<string, unknown>;
  /** Why the step was taken (the tree node's intent; empty when only the QA's evidence was available). */
  intent: string;
  observation: string;
  /** URLs or corpus documents the observation came from. */
  sources: string[];
  is_error: boolean;
}

/** Where the steps' observations came from: the trajectory (full text), the QA's evidence (excerpts), or nothing. */
export type StepSource = 'trajectory' | 'evidence' | 'none';

/** Observation text given to a tool turn whose observation was empty (tool content may not be empty). */
export const EMPTY_OBSERVATION = '(no output)';

/**
 * The path of a QA as agent steps: the trajectory's nodes with an action (full observations), else the QA's
 * `evidence.steps` (observation excerpts of ≤ 500 characters, no intents), else none (a result file from before
 * evidence existed whose trajectory is lost).
 */
export function agentSteps(qa: QaRecord, trajectory: TrajectoryRecord | null): { steps: AgentStep[]; source: StepSource } {
  if (trajectory && trajectory.nodes.some((n) => n.action)) {
    const steps = trajectory.nodes
      .filter((n) => n.action)
      .map((n) => ({
        node_id: n.node_id,
        tool_name: n.action!.tool_name,
        parameters: n.action!.parameters ?? {},
        intent: n.intent ?? '',
        observation: n.observation ?? '',
        sources: n.sources ?? [],
        is_error: n.is_error === true,
      }));
    return { steps, source: 'trajectory' };
  }
  const ev = qa.evidence?.steps;
  if (ev?.length) {
    return {
      steps: ev.map((s) => ({
        node_id: s.node_id,
        tool_name: s.tool_name,
        parameters: s.parameters ?? {},
        intent: '',
        observation: s.observation_excerpt,
        sources: s.sources ?? [],
        is_error: s.is_error,
      })),
      source: 'evidence',
    };
  }
  return { steps: [], source: 'none' };
}

/** OpenAI `tools` entries for the tool schemas (as src/tools/registry.ts offers them to the model, without `intent`). */
export function openAiTools(schemas: readonly ToolSchema[]): OpenAiTool[] {
  return schemas.map((s) => ({ type: 'function', function: { name: s.name, description: s.description, parameters: s.parameters } }));
}

/** The id of the tool call made at a tree node: `call_<node_id>` (unique within a path, stable across exports). */
export function toolCallId(nodeId: string): string {
  return `call_${nodeId}`;
}

/** The SFT conversation of a QA: system, user question, (assistant tool call, tool result)*, assistant answer. */
export function sftRecord(qa: QaRecord, steps: readonly AgentStep[], tools: readonly OpenAiTool[], systemPrompt = AGENT_SYSTEM_PROMPT): SftRecord {
  const messages: SftMessage[] = [
    { role: 'system', content: systemPrompt },
    { role: 'user', content: qa.question },
  ];
  for (const s of steps) {
    const id = toolCallId(s.node_id);
    messages.push({
      role: 'assistant',
      content: s.intent.trim() ? s.intent : null,
      tool_calls: [{ id, type: 'function', function: { name: s.tool_name, arguments: JSON.stringify(s.parameters) } }],
    });
    messages.push({ role: 'tool', tool_call_id: id, content: s.observation.trim() ? s.observation : EMPTY_OBSERVATION });
  }
  messages.push({ role: 'assistant', content: qa.answer });
  return { messages, tools: [...tools], parallel_tool_calls: false };
}

/** The ShareGPT conversation of a QA (see the module comment for the dialect). */
export function shareGptRecord(qa: QaRecord, steps: readonly AgentStep[], tools: readonly ToolSchema[], systemPrompt = AGENT_SYSTEM_PROMPT): ShareGptRecord {
  const conversations: ShareGptTurn[] = [
    { from: 'system', value: systemPrompt },
    { from: 'human', value: qa.question },
  ];
  for (const s of steps) {
    conversations.push({ from: 'function_call', value: JSON.stringify({ name: s.tool_name, arguments: s.parameters }) });
    conversations.push({ from: 'observation', value: s.observation.trim() ? s.observation : EMPTY_OBSERVATION });
  }
  conversations.push({ from: 'gpt', value: qa.answer });
  return { id: qa.qa_id, conversations, tools: JSON.stringify(tools.map((t) => ({ name: t.name, description: t.description, parameters: t.parameters }))) };
}

/** Problems of one SFT record against OpenAI's chat fine-tuning format (empty list: valid). */
export function validateSftRecord(record: unknown): string[] {
  const problems: string[] = [];
  const r = record as Partial<SftRecord> & Record<string, unknown>;
  if (!r || typeof r !== 'object') return ['record: expected an object'];
  for (const k of Object.keys(r)) {
    if (!['messages', 'tools', 'parallel_tool_calls', 'qa_id', 'rejection'].includes(k)) problems.push(`${k}: not a key of the format`);
  }
  if (!Array.isArray(r.messages) || r.messages.length === 0) return [...problems, 'messages: expected a non-empty array'];
  const toolNames = new Set<string>();
  if (r.tools !== undefined) {
    if (!Array.isArray(r.tools)) problems.push('tools: expected an array');
    else
      r.tools.forEach((t, i) => {
        if (t?.type !== 'function' || typeof t.function?.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(t.function.name)) {
          problems.push(`tools[${i}]: expected {type: "function", function: {name (a-z, 0-9, _ or -, ≤ 64), …}}`);
        } else {
          toolNames.add(t.function.name);
          if (typeof t.function.parameters !== 'object' || t.function.parameters === null) problems.push(`tools[${i}].function.parameters: expected a JSON Schema object`);
        }
      });
  }
  const open = new Set<string>(); // tool calls not answered yet
  let sawAssistant = false;
  r.messages.forEach((m, i) => {
    const at = `messages[${i}]`;
    const role = (m as { role?: unknown }).role;
    if (role === 'system') {
      if (i !== 0) problems.push(`${at}: a system message must come first`);
      if (typeof (m as { content?: unknown }).content !== 'string' || !(m as { content: string }).content) problems.push(`${at}.content: expected a non-empty string`);
    } else if (role === 'user') {
      if (open.size) problems.push(`${at}: user turn before the tool calls ${[...open].join(', ')} were answered`);
      if (typeof (m as { content?: unknown }).content !== 'string' || !(m as { content: string }).content) problems.push(`${at}.content: expected a non-empty string`);
    } else if (role === 'assistant') {
      sawAssistant = true;
      if (open.size) problems.push(`${at}: assistant turn before the tool calls ${[...open].join(', ')} were answered`);
      const a = m as { content?: unknown; tool_calls?: unknown };
      const calls = a.tool_calls;
      if (calls !== undefined) {
        if (!Array.isArray(calls) || calls.length === 0) problems.push(`${at}.tool_calls: expected a non-empty array`);
        else
          calls.forEach((c: Partial<OpenAiToolCall>, j) => {
            const cat = `${at}.tool_calls[${j}]`;
            if (typeof c.id !== 'string' || !c.id) problems.push(`${cat}.id: expected a non-empty string`);
            else if (open.has(c.id)) problems.push(`${cat}.id: ${c.id} used twice`);
            else open.add(c.id);
            if (c.type !== 'function') problems.push(`${cat}.type: expected "function"`);
            if (typeof c.function?.name !== 'string' || (toolNames.size > 0 && !toolNames.has(c.function.name))) problems.push(`${cat}.function.name: not one of the record's tools`);
            if (typeof c.function?.arguments !== 'string') problems.push(`${cat}.function.arguments: expected JSON text`);
            else {
              try {
                const args = JSON.parse(c.function.arguments) as unknown;
                if (typeof args !== 'object' || args === null || Array.isArray(args)) problems.push(`${cat}.function.arguments: expected a JSON object`);
              } catch {
                problems.push(`${cat}.function.arguments: not valid JSON`);
              }
            }
          });
        if (a.content !== null && a.content !== undefined && (typeof a.content !== 'string' || !a.content)) problems.push(`${at}.content: expected null or a non-empty string`);
      } else if (typeof a.content !== 'string' || !a.content) problems.push(`${at}.content: an assistant turn without tool calls needs non-empty content`);
    } else if (role === 'tool') {
      const t = m as { tool_call_id?: unknown; content?: unknown };
      if (typeof t.tool_call_id !== 'string' || !open.has(t.tool_call_id)) problems.push(`${at}.tool_call_id: answers no open tool call`);
      else open.delete(t.tool_call_id);
      if (typeof t.content !== 'string' || !t.content) problems.push(`${at}.content: expected a non-empty string`);
    } else problems.push(`${at}.role: expected system, user, assistant or tool, got ${JSON.stringify(role)}`);
  });
  if (open.size) problems.push(`messages: tool calls never answered: ${[...open].join(', ')}`);
  const last = r.messages[r.messages.length - 1] as { role?: string; tool_calls?: unknown } | undefined;
  if (!sawAssistant || last?.role !== 'assistant' || last.tool_calls) problems.push('messages: must end with an assistant answer');
  if (!r.messages.some((m) => (m as { role?: string }).role === 'user')) problems.push('messages: no user turn');
  return problems;
}
