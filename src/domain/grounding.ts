/**
 * Grounding (issue 10): is a QA's answer supported by the observations of the path it was written from? No LLM;
 * workflow-safe (pure code, run inside the seed workflow between QA attempts).
 */
import type { QaEvidence } from '../shared/types';
import { isNumberToken, normalizedTokens, UNIT_WORDS } from './normalize';

/** A step of the path as grounding reads it (a TreeNode has these fields). */
export interface GroundingStep {
  node_id: string;
  observation: string;
  /** Tool that produced the observation (`calculator`, `python_interpreter` count as computing tools). */
  action?: { tool_name: string } | null;
  /** Error observations (failed tool calls, refused repeats) ground nothing. */
  is_error?: boolean;
}

/** How an answer is grounded: the method and the node whose observation supports it. */
export type Grounding = NonNullable<QaEvidence['grounding']>;

/** Tools whose output is a computed result: an answer equal to a number in it is grounded (`tool_output`). */
export const COMPUTING_TOOLS: ReadonlySet<string> = new Set(['calculator', 'python_interpreter']);

/**
 * Relative tolerance of a numeric match with a tool output: |a − b| ≤ 1e-6 · max(|a|, |b|). Besides it, an answer
 * that is the output rounded to the answer's own decimals matches (`3.14` for `3.14159…`, `1235` for `1234.6`).
 */
export const NUMERIC_RELATIVE_TOLERANCE = 1e-6;

/** Tokens that may follow the number of a numeric answer (`12.5 km`, `40 percent`, `3 usd`). */
const UNIT_TOKENS = new Set(Object.values(UNIT_WORDS).concat(['m', 'g', 'l', 's', 'c', 'f', 'k', 't', 'lb']));

/** True when `needle` occurs in `hay` as a contiguous run of whole tokens. */
export function containsTokens(hay: readonly string[], needle: readonly string[]): boolean {
  if (needle.length === 0 || needle.length > hay.length) return false;
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

const WORD_CHAR = /[\p{L}\p{N}]/u;

/**
 * True when `needle` occurs in `hay` as written, not inside a longer word or number: `19` is not found in `1990`,
 * `Paris` is not found in `Parisian` (a needle that starts or ends with punctuation needs no boundary there).
 */
export function containsExact(hay: string, needle: string): boolean {
  const startsWord = WORD_CHAR.test(needle[0] ?? '');
  const endsWord = WORD_CHAR.test(needle[needle.length - 1] ?? '');
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) {
    const before = i > 0 ? hay[i - 1]! : '';
    const after = hay[i + needle.length] ?? '';
    if ((!startsWord || !WORD_CHAR.test(before)) && (!endsWord || !WORD_CHAR.test(after))) return true;
  }
  return false;
}

/** The number of a numeric answer (`42`, `-3.5 km`, `$1,200` → 1200), with its decimals; null for other answers. */
function numericAnswer(answer: string): { value: number; decimals: number } | null {
  const toks = normalizedTokens(answer);
  if (toks.length === 0 || toks.length > 2 || !isNumberToken(toks[0]!)) return null;
  if (toks.length === 2 && !UNIT_TOKENS.has(toks[1]!)) return null;
  const frac = toks[0]!.split('.')[1] ?? '';
  return { value: Number(toks[0]), decimals: frac.length };
}

/** True when `value` (from the answer, written with `decimals` decimals) equals `output` as NUMERIC_RELATIVE_TOLERANCE says. */
export function numbersMatch(value: number, decimals: number, output: number): boolean {
  if (!Number.isFinite(value) || !Number.isFinite(output)) return false;
  if (Math.abs(value - output) <= NUMERIC_RELATIVE_TOLERANCE * Math.max(Math.abs(value), Math.abs(output))) return true;
  // The answer is the output rounded to the answer's precision (at most 10 decimals).
  if (decimals > 10) return false;
  const f = 10 ** decimals;
  return Math.round(output * f) / f === value;
}

/**
 * Where `answer` is supported by the non-error observations of `steps` (the path, root excluded), or null.
 * Tried in this order, each over the steps from the last to the first (the deepest support wins):
 * 1. `exact`: the trimmed answer is a substring of an observation, case and spacing as written, not inside a
 *    longer word or number (containsExact);
 * 2. `normalized`: the answer's normalised tokens (src/domain/normalize.ts) occur as a contiguous run in an
 *    observation's normalised tokens (`1,234.50 km` matches `1234.5 kilometres`);
 * 3. `tool_output`: a numeric answer (a number, optionally with one unit/currency/percent token) equals a number
 *    in the output of a computing tool (calculator, python_interpreter), see numbersMatch.
 * An answer with nothing left after normalisation (punctuation only, only articles) is never grounded.
 */
export function groundAnswer(answer: string, steps: readonly GroundingStep[]): Grounding | null {
  const usable = steps.filter((s) => !s.is_error && s.observation);
  const trimmed = String(answer ?? '').trim();
  if (!trimmed || usable.length === 0) return null;
  const reversed = [...usable].reverse();
  for (const s of reversed) if (containsExact(s.observation, trimmed)) return { method: 'exact', node_id: s.node_id };
  const needle = normalizedTokens(trimmed);
  if (needle.length === 0) return null;
  for (const s of reversed) {
    if (containsTokens(normalizedTokens(s.observation), needle)) return { method: 'normalized', node_id: s.node_id };
  }
  const num = numericAnswer(trimmed);
  if (num) {
    for (const s of reversed) {
      if (!COMPUTING_TOOLS.has(s.action?.tool_name ?? '')) continue;
      for (const t of normalizedTokens(s.observation)) {
        if (isNumberToken(t) && numbersMatch(num.value, num.decimals, Number(t))) return { method: 'tool_output', node_id: s.node_id };
      }
    }
  }
  return null;
}

/** The message shown to the model when its answer was not grounded (the `previous_rejection` of the next attempt). */
export function ungroundedReason(answer: string): string {
  return (
    `ungrounded: the answer "${String(answer).trim()}" is not supported by the observations of the path ` +
    '(not found in any successful tool output, even after normalising case, punctuation, numbers and units); ' +
    'answer with a fact stated in the observations, written as it appears there'
  );
}
