/**
 * The verification stage's plain code (README "Verification"): the prompts of the no-tool baseline, the solver agent
 * and the LLM judge; readers of their replies; the difficulty label and the keep policy. Pure, workflow-safe.
 * The normalised match and the judge's reply reader are in src/domain/judge.ts.
 */
import type { QaVerification, SolverStepInput, ToolSchema, VerificationKeep } from '../shared/types';
import type { ChatMessage } from './prompts';
import { formatToolList, TOOLS_BLOCK_CLOSE, TOOLS_BLOCK_OPEN } from './prompts';
import { truncate } from './format';

/**
 * The first line of each verification prompt. Each names its role, and the simulator (src/llm/simulator/verification.ts)
 * tells the three requests apart by it.
 */
export const VERIFY_MARKERS = {
  baseline: 'Answer the question below from your own knowledge, without tools and without searching.',
  solver: 'You are a research agent. Answer the question below; use the tools offered to find what you do not know.',
  judge: 'You are grading an answer to a question against the reference answer.',
} as const;

/** Observation characters of each earlier solver step shown in (and sent to) the solver prompt. */
export const SOLVER_OBSERVATION_CHARS = 1500;

/** Name of the pseudo-tool the solver answers with. */
export const FINAL_ANSWER_TOOL = 'final_answer';

/** The pseudo-tool the solver answers with (offered beside the real tools; alone on the last step). */
export const FINAL_ANSWER_SCHEMA: ToolSchema = {
  name: FINAL_ANSWER_TOOL,
  description: 'Give your final answer to the question: one entity, number or short phrase, no explanation.',
  parameters: {
    type: 'object',
    properties: { answer: { type: 'string', description: 'The final answer, as short as possible.' } },
    required: ['answer'],
  },
};

/** Baseline prompt: the question alone; the reply is `{"answer": "…"}`. */
export function buildBaselineMessages(question: string): ChatMessage[] {
  return [
    {
      role: 'user',
      content: [
        VERIFY_MARKERS.baseline,
        `Question: ${question}`,
        'Give your best answer even if you are unsure: one entity, number or short phrase, no explanation.',
        'Reply with only a JSON object: {"answer": "..."}',
      ].join('\n\n'),
    },
  ];
}

/**
 * Solver prompt: the question, the solver's own steps so far (observations cut to SOLVER_OBSERVATION_CHARS) and
 * the instruction. `tools` are the tools offered on this step (FINAL_ANSWER_SCHEMA alone when it must answer); in
 * `json` mode they are listed in a `<tools>` block as in the action prompt.
 */
export function buildSolverMessages(input: Pick<SolverStepInput, 'question' | 'steps' | 'must_answer' | 'tool_calling'>, tools: readonly ToolSchema[]): ChatMessage[] {
  const parts: string[] = [VERIFY_MARKERS.solver, `Question: ${input.question}`];
  if (input.steps.length === 0) parts.push('Steps so far: none.');
  else {
    parts.push(
      `Steps so far:\n${input.steps
        .map((s, i) => `Step ${i + 1}: tool: ${s.tool_name} | parameters: ${JSON.stringify(s.parameters)}\nObservation: ${truncate(s.observation, SOLVER_OBSERVATION_CHARS)}`)
        .join('\n\n')}`,
    );
  }
  parts.push(`Available tools:\n${formatToolList(tools)}`);
  parts.push(
    input.must_answer
      ? `You have no steps left: call ${FINAL_ANSWER_TOOL} now with your best answer.`
      : `Call exactly one tool to find what you still need, or call ${FINAL_ANSWER_TOOL} with the answer once you know it.`,
  );
  if (input.tool_calling === 'json') {
    parts.push(
      [
        'Reply with only a JSON object of this form:',
        '{"action": {"tool_name": "<one of the tool names above>", "parameters": {<the tool\'s arguments>}}}',
        TOOLS_BLOCK_OPEN,
        JSON.stringify(tools),
        TOOLS_BLOCK_CLOSE,
      ].join('\n'),
    );
  }
  return [{ role: 'user', content: parts.join('\n\n') }];
}

/** Judge prompt: question, reference, candidate; the reply is `{"verdict": "correct"|"incorrect", "reason": "…"}`. */
export function buildJudgeMessages(question: string, reference: string, candidate: string): ChatMessage[] {
  return [
    {
      role: 'user',
      content: [
        VERIFY_MARKERS.judge,
        `Question: ${question}`,
        `Reference answer: ${reference}`,
        `Candidate answer: ${candidate}`,
        'The candidate is correct when it names the same thing as the reference (another spelling, format, unit or level ' +
          'of precision that still identifies it is fine); it is incorrect when it names something else, adds a wrong ' +
          'claim, hedges between several answers, or gives none.',
        'Reply with only a JSON object: {"verdict": "correct" or "incorrect", "reason": "<one line>"}',
      ].join('\n\n'),
    },
  ];
}

/** Passes out of attempts for one role. */
export interface PassCount {
  attempts: number;
  correct: number;
}

/**
 * The difficulty label from the pass counts, first rule that applies:
 * - `trivial`: the baseline answered correctly in at least half of its attempts (and at least once);
 * - `easy`: the baseline answered correctly at least once;
 * - `medium`: the baseline never, the solver in every attempt;
 * - `hard`: the baseline never, the solver in some attempts;
 * - `unsolved`: neither ever (also when the solver did not run).
 */
export function difficultyOf(baseline: PassCount, solver: PassCount): QaVerification['difficulty'] {
  if (baseline.correct > 0 && baseline.correct * 2 >= baseline.attempts) return 'trivial';
  if (baseline.correct > 0) return 'easy';
  if (solver.attempts > 0 && solver.correct === solver.attempts) return 'medium';
  if (solver.correct > 0) return 'hard';
  return 'unsolved';
}

/** Reasons a QA is dropped by verification (RejectedQaRecord.rejection.reason). */
export const VerificationReason = {
  /** The baseline answered it without tools (policy `solver_pass_baseline_fail`). */
  BaselineSolved: 'baseline_solved',
  /** The solver never answered it correctly (policies `solver_pass_baseline_fail`, `solver_pass`). */
  SolverFailed: 'solver_failed',
  /** The budget ran out before its verification was complete. */
  BudgetExhausted: 'budget_exhausted',
} as const;

/**
 * Whether a QA with these pass counts is kept under `keep`, and why not. `solver_pass_baseline_fail`: drop when the
 * baseline passed at least once (`baseline_solved`, checked first), else when the solver never passed
 * (`solver_failed`); `solver_pass`: drop when the solver never passed; `all`: keep.
 */
export function keepDecision(keep: VerificationKeep, baseline: PassCount, solver: PassCount): { kept: true } | { kept: false; reason: string } {
  if (keep === 'all') return { kept: true };
  if (keep === 'solver_pass_baseline_fail' && baseline.correct > 0) return { kept: false, reason: VerificationReason.BaselineSolved };
  if (solver.correct === 0) return { kept: false, reason: VerificationReason.SolverFailed };
  return { kept: true };
}

/**
 * Whether the solver needs to run: not when the policy drops the QA for its baseline anyway
 * (`solver_pass_baseline_fail` and a baseline pass) — the label (trivial/easy) depends on the baseline alone.
 */
export function solverNeeded(keep: VerificationKeep, baseline: PassCount): boolean {
  return !(keep === 'solver_pass_baseline_fail' && baseline.correct > 0);
}
