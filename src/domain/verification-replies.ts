/**
 * Readers of the verification stage's replies (src/activities/llm.ts): the baseline's answer, the solver's step (a
 * tool call or the final answer) and the LLM judge's verdict, from whatever shape a server sends, with the helpers of
 * src/domain/parse.ts. Never throw. Pure, but kept out of the workflow bundle (parse.ts carries the JSON repair).
 */
import { extractJsonObject, parseActionReply, splitThinking, type ModelReply } from './parse';
import { isPlainObject, truncate } from './format';
import type { ToolSchema } from '../shared/types';
import { FINAL_ANSWER_TOOL } from './verification';

/** Most characters of an answer kept (a model that writes an essay instead of an answer is cut). */
export const MAX_ANSWER_CHARS = 300;

/** A plain-text answer: the first non-empty line, without an `Answer:` label, at most MAX_ANSWER_CHARS. */
function plainAnswer(text: string): string {
  const line = splitThinking(text).answer.split(/\r?\n/).map((l) => l.trim()).find((l) => l) ?? '';
  return truncate(line.replace(/^(final\s+)?answer\s*[:：]\s*/i, '').trim(), MAX_ANSWER_CHARS);
}

function asAnswer(v: unknown): string | null {
  if (typeof v === 'string') return truncate(v.trim(), MAX_ANSWER_CHARS);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return null;
}

/**
 * Reads the baseline's reply: `{"answer": …}` (or `final_answer`) anywhere parse.ts finds JSON, else the first line of
 * plain text. `ok: false` only for a reply without any text.
 */
export function parseAnswerReply(reply: ModelReply): { ok: true; answer: string } | { ok: false; reason: string } {
  const texts = [reply.content, reply.reasoning].filter((t) => t.trim());
  for (const text of texts) {
    const ex = extractJsonObject(text, (o) => 'answer' in o || 'final_answer' in o);
    if (ex.ok) {
      const a = asAnswer(ex.value.answer ?? ex.value.final_answer);
      if (a !== null) return { ok: true, answer: a };
    }
  }
  for (const text of texts) {
    const a = plainAnswer(text);
    if (a && !/^[{[]/.test(a)) return { ok: true, answer: a };
  }
  if (reply.finish_reason === 'length') return { ok: false, reason: 'truncated_output: the answer was cut at the server\'s token limit' };
  return { ok: false, reason: 'empty_output: the reply held no answer' };
}

/**
 * Reads the solver's reply: a tool call (native or written as text, parse.ts) of one of `tools`; a call of
 * FINAL_ANSWER_TOOL, or a JSON object `{"final_answer"|"answer": …}`, is the answer.
 */
export function parseSolverReply(
  reply: ModelReply,
  tools: readonly ToolSchema[],
): { ok: true; kind: 'tool'; action: { tool_name: string; parameters: Record<string, unknown> } } | { ok: true; kind: 'answer'; answer: string } | { ok: false; reason: string } {
  const parsed = parseActionReply(reply, tools);
  if (parsed.ok) {
    if (parsed.action.tool_name === FINAL_ANSWER_TOOL) {
      const a = asAnswer(parsed.action.parameters.answer);
      return a ? { ok: true, kind: 'answer', answer: a } : { ok: false, reason: 'empty_answer: final_answer without an answer' };
    }
    return { ok: true, kind: 'tool', action: parsed.action };
  }
  for (const text of [reply.content, reply.reasoning].filter((t) => t.trim())) {
    const ex = extractJsonObject(text, (o) => 'final_answer' in o || 'answer' in o);
    if (ex.ok) {
      const a = asAnswer(ex.value.final_answer ?? ex.value.answer);
      if (a) return { ok: true, kind: 'answer', answer: a };
    }
  }
  return parsed;
}

/** The LLM judge's reply, read: a verdict with a one-line reason, or why none could be read. */
export type JudgeReply = { ok: true; correct: boolean; reason: string } | { ok: false; reason: string };

/** Most characters of a judge's reason kept. */
export const JUDGE_REASON_CHARS = 200;

function oneLine(s: string): string {
  const line = s.replace(/\s+/g, ' ').trim();
  return line.length > JUDGE_REASON_CHARS ? `${line.slice(0, JUDGE_REASON_CHARS - 1)}…` : line;
}

/** `correct`/`yes`/`true`/`equivalent`… → true; `incorrect`/`no`/`false`/`wrong`… → false; else null. */
function verdictWord(v: unknown): boolean | null {
  if (typeof v === 'boolean') return v;
  if (typeof v !== 'string') return null;
  const w = v.trim().toLowerCase().replace(/^[^a-z]+/, '');
  if (/^(incorrect|not[\s_-]?correct|no\b|false|wrong|different|not[\s_-]?equivalent|mismatch|fail)/.test(w)) return false;
  if (/^(correct|yes\b|true|right|equivalent|same|match|pass)/.test(w)) return true;
  return null;
}

/**
 * Reads the LLM judge's reply: a JSON object `{"verdict": "correct"|"incorrect", "reason": "…"}` (also `correct:
 * true`, `equivalent`, `judgement`, in a fence or after `<think>`, via src/domain/parse.ts), else text that starts
 * with a verdict word (`Correct — same city`). Never throws.
 */
export function parseJudgeReply(reply: ModelReply): JudgeReply {
  const texts = [reply.content, reply.reasoning].filter((t) => t.trim());
  if (!texts.length) return { ok: false, reason: 'empty_output: the judge replied with no text' };
  for (const text of texts) {
    const ex = extractJsonObject(text, (o) => ['verdict', 'correct', 'equivalent', 'judgement', 'judgment', 'is_correct'].some((k) => k in o));
    if (ex.ok && isPlainObject(ex.value)) {
      const o = ex.value;
      const v = verdictWord(o.verdict ?? o.correct ?? o.is_correct ?? o.equivalent ?? o.judgement ?? o.judgment);
      if (v !== null) return { ok: true, correct: v, reason: oneLine(typeof o.reason === 'string' ? o.reason : typeof o.explanation === 'string' ? o.explanation : '') };
    }
    const plain = splitThinking(text).answer.trim().replace(/^(verdict|answer)\s*[:：]\s*/i, '');
    const v = verdictWord(plain);
    if (v !== null) return { ok: true, correct: v, reason: oneLine(plain.replace(/^\W*\w+\W*/, '')) };
  }
  return { ok: false, reason: `judge_unreadable: no verdict in the reply (${oneLine(texts[0]!).slice(0, 80)})` };
}
