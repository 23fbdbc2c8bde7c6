/**
 * Scripted answers for qasynth's verification stage (src/domain/verification.ts): the simulator tells the
 * no-tool baseline, the solver agent and the LLM judge apart by the first line of their prompts
 * (VERIFY_MARKERS) and answers from a script that a test sets (`Simulator.verification(script)`,
 * `POST /_sim/verification`), keyed by the question (baseline, solver) or by reference and candidate (judge):
 * - baseline: `baseline[question]` is the answer of each attempt (attempt = the request's `seed`, the list is
 *   cycled); a question not in the script is answered "I don't know";
 * - solver: `solver[question]` = `{answers, tool_steps}`: the solver makes `tool_steps` tool calls (default 1; as
 *   the simulator makes any tool call), then calls `final_answer` with `answers[attempt]` (cycled); on the last
 *   step (only `final_answer` offered) it answers at once. A question not in the script: one tool call, then
 *   "unknown";
 * - judge: the first `judge` entry whose reference and candidate equal the request's (trimmed, case-insensitive)
 *   gives the verdict; otherwise the candidate is correct when one of the two contains the other (case-insensitive).
 * Requests of the three roles are logged with `role`.
 */
import { VERIFY_MARKERS, FINAL_ANSWER_TOOL } from '../../domain/verification';
import { answerAction, type Analysed, type ChatAnswer } from './answers';

/** The verification role of a request. */
export type VerifyRole = keyof typeof VERIFY_MARKERS;

/** What the verification roles answer (see the module comment). */
export interface VerificationScript {
  baseline?: Record<string, string[]>;
  solver?: Record<string, { answers: string[]; tool_steps?: number }>;
  judge?: { reference: string; candidate: string; correct: boolean; reason?: string }[];
}

/** The role of a request whose prompt starts with one of the VERIFY_MARKERS, else null. */
export function verificationRole(a: Pick<Analysed, 'lastUser'>): VerifyRole | null {
  const text = a.lastUser.trimStart();
  for (const [role, marker] of Object.entries(VERIFY_MARKERS) as [VerifyRole, string][]) if (text.startsWith(marker)) return role;
  return null;
}

/** Checks a script's shape; throws an Error naming every problem as `path: expected X, got Y`. */
export function validateVerificationScript(script: unknown): VerificationScript {
  const problems: string[] = [];
  const got = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));
  const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
  const strings = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string');
  if (!isObj(script)) throw new Error(`verification script: expected an object {baseline?, solver?, judge?}, got ${got(script)}`);
  for (const k of Object.keys(script)) if (!['baseline', 'solver', 'judge'].includes(k)) problems.push(`${k}: expected one of baseline, solver, judge`);
  if (script.baseline !== undefined) {
    if (!isObj(script.baseline)) problems.push(`baseline: expected an object {question: [answer per attempt]}, got ${got(script.baseline)}`);
    else for (const [q, v] of Object.entries(script.baseline)) if (!strings(v)) problems.push(`baseline[${JSON.stringify(q)}]: expected a non-empty array of strings, got ${got(v)}`);
  }
  if (script.solver !== undefined) {
    if (!isObj(script.solver)) problems.push(`solver: expected an object {question: {answers, tool_steps?}}, got ${got(script.solver)}`);
    else {
      for (const [q, v] of Object.entries(script.solver)) {
        const p = `solver[${JSON.stringify(q)}]`;
        if (!isObj(v)) problems.push(`${p}: expected {answers: [...], tool_steps?}, got ${got(v)}`);
        else {
          if (!strings(v.answers)) problems.push(`${p}.answers: expected a non-empty array of strings, got ${got(v.answers)}`);
          if (v.tool_steps !== undefined && !(Number.isInteger(v.tool_steps) && (v.tool_steps as number) >= 0)) problems.push(`${p}.tool_steps: expected an integer ≥ 0, got ${got(v.tool_steps)}`);
        }
      }
    }
  }
  if (script.judge !== undefined) {
    if (!Array.isArray(script.judge)) problems.push(`judge: expected an array of {reference, candidate, correct, reason?}, got ${got(script.judge)}`);
    else {
      script.judge.forEach((e, i) => {
        if (!isObj(e) || typeof e.reference !== 'string' || typeof e.candidate !== 'string' || typeof e.correct !== 'boolean') {
          problems.push(`judge[${i}]: expected {reference: string, candidate: string, correct: boolean, reason?: string}, got ${got(e)}`);
        }
      });
    }
  }
  if (problems.length) throw new Error(`verification script: ${problems.join('; ')}`);
  return script as VerificationScript;
}

function questionOf(text: string): string {
  return /^Question: (.*)$/m.exec(text)?.[1]?.trim() ?? '';
}

function lineAfter(text: string, label: string): string {
  return new RegExp(`^${label}: (.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
}

function jsonContent(kind: ChatAnswer['kind'], obj: Record<string, unknown>): ChatAnswer {
  const content = JSON.stringify(obj);
  return { kind, message: { content }, finishReason: 'stop', outChars: content.length, value: obj };
}

function finalAnswer(a: Analysed, answer: string): ChatAnswer {
  const args = { answer };
  if (a.nativeTools) {
    const argText = JSON.stringify(args);
    const id = `call_${a.fingerprint.slice(24, 48)}`;
    return {
      kind: 'action',
      message: { content: null, tool_calls: [{ id, type: 'function', function: { name: FINAL_ANSWER_TOOL, arguments: argText } }] },
      finishReason: 'tool_calls',
      outChars: argText.length + FINAL_ANSWER_TOOL.length,
      call: { id, name: FINAL_ANSWER_TOOL, argText, args },
      value: null,
    };
  }
  return jsonContent('action', { action: { tool_name: FINAL_ANSWER_TOOL, parameters: args } });
}

const norm = (s: string) => s.trim().toLowerCase();

/** The answer of a verification request (see the module comment). */
export function verificationAnswer(a: Analysed, role: VerifyRole, script: VerificationScript): ChatAnswer {
  const text = a.lastUser;
  const question = questionOf(text);
  const attempt = typeof a.body.seed === 'number' ? a.body.seed : 0;
  if (role === 'baseline') {
    const answers = script.baseline?.[question];
    return jsonContent('qa', { answer: answers ? answers[attempt % answers.length]! : "I don't know" });
  }
  if (role === 'judge') {
    const reference = lineAfter(text, 'Reference answer');
    const candidate = lineAfter(text, 'Candidate answer');
    const entry = script.judge?.find((e) => norm(e.reference) === norm(reference) && norm(e.candidate) === norm(candidate));
    const correct = entry ? entry.correct : norm(candidate).includes(norm(reference)) || norm(reference).includes(norm(candidate));
    const reason = entry?.reason ?? (correct ? 'the candidate names the reference' : 'the candidate names something else');
    return jsonContent('qa', { verdict: correct ? 'correct' : 'incorrect', reason });
  }
  const tools = a.nativeTools ?? a.jsonTools ?? [];
  const realTools = tools.filter((t) => t.name !== FINAL_ANSWER_TOOL);
  const stepsDone = (text.match(/^Step \d+: tool:/gm) ?? []).length;
  const entry = script.solver?.[question];
  const toolSteps = entry ? (entry.tool_steps ?? 1) : 1;
  if (realTools.length && stepsDone < toolSteps) {
    return answerAction(a.nativeTools ? { ...a, nativeTools: realTools } : { ...a, jsonTools: realTools });
  }
  return finalAnswer(a, entry ? entry.answers[attempt % entry.answers.length]! : 'unknown');
}
