/**
 * The verification stage of a seed (config `verification`, README "Verification"): orchestration only. For each QA,
 * in order: the no-tool baseline's k attempts, then (unless the policy already drops the QA) the solver agent's
 * attempts — a loop of LLM step → tool call until an answer or its step budget —, each answer judged as it comes
 * (normalised match, then the LLM judge for what the match leaves open, once per distinct answer of a QA). Every LLM call is its own activity
 * (with its place for the call cache, which answers the finished calls a crash makes a local activity run again), so a
 * crash repeats no finished call; every one is charged to the seed (and through it to the run budget), and none
 * starts once the seed's allowance is spent. The rules are plain code: src/domain/verification.ts and judge.ts.
 */
import { isCancellation } from '@temporalio/workflow';
import type {
  AnswerVerdict,
  LlmCallAccounting,
  Observation,
  QaRecord,
  QaVerification,
  RejectedQaRecord,
  SolverStep,
  SynthesisConfig,
  ToolAction,
} from '../shared/types';
import type { LlmActivities } from '../activities/llm';
import { matchAnswer, normalizeAnswer } from '../domain/judge';
import { difficultyOf, keepDecision, SOLVER_OBSERVATION_CHARS, solverNeeded, VerificationReason } from '../domain/verification';
import { truncate } from '../domain/format';
import { verifyCallPlace } from '../domain/ids';

/** What the stage needs from the seed workflow. */
export interface VerifyDeps {
  llm: Pick<LlmActivities, 'answerBaseline' | 'solverStep' | 'judgeAnswer'>;
  /** Runs one tool call through the seed's tool routing (the same activities as exploration). */
  runTool(action: ToolAction): Promise<Observation>;
  /** Tools the solverStep activity runs itself when chosen (src/domain/routing.ts inCallTools). */
  inCallTools: string[];
  /**
   * Whether the run uses the call cache: each call then carries its place (src/domain/ids.ts verifyCallPlace), so
   * a call made again — after a crash of a worker running LLM calls as local activities, or in a re-run — is
   * answered from the cache, not paid again.
   */
  useCache: boolean;
  /** Charges one finished LLM call to the seed's counters and spend. */
  charge(model: string, r: LlmCallAccounting): void;
  /** Whether another LLM call may start (the seed's allowance). */
  mayCall(): boolean;
  /** Counts one solver tool call (and whether its observation is an error) in the seed's counters. */
  countTool(name: string, error: boolean): void;
  /** Counts one unusable model output. */
  countFailedOutput(): void;
  /** Progress text for the workflow's current details. */
  progress(text: string): void;
}

/** The stage's outcome: QAs kept (each with `verification`) and QAs dropped (with the reason); nothing else. */
export interface VerifyOutcome {
  kept: QaRecord[];
  rejected: RejectedQaRecord[];
  /** True when the seed's allowance ran out before every QA was verified (those QAs are rejected `budget_exhausted`). */
  budgetHit: boolean;
}

/** Signals that the allowance ran out mid-verification. */
class OutOfBudget extends Error {}

/** Runs the verification stage over a seed's QAs (see the module comment). */
export async function verifyQas(args: { qas: QaRecord[]; config: SynthesisConfig; toolNames: string[]; deps: VerifyDeps }): Promise<VerifyOutcome> {
  const { qas, config, toolNames, deps } = args;
  const v = config.verification;
  const solverModel = v.solver_model ?? config.model_name;
  const judgeModel = v.judge_model ?? config.model_name;
  const maxTokens = config.max_tokens ? { max_tokens: config.max_tokens } : {};
  const out: VerifyOutcome = { kept: [], rejected: [], budgetHit: false };

  const gate = () => {
    if (!deps.mayCall()) throw new OutOfBudget();
  };

  for (const [i, qa] of qas.entries()) {
    /** The call-cache place of one of this QA's calls, when the run uses the cache. */
    const place = (role: 'baseline' | 'solver' | 'judge', attempt?: number, step?: number) =>
      deps.useCache ? { cache_place: verifyCallPlace(qa.qa_id, role, attempt, step) } : {};
    if (out.budgetHit) {
      out.rejected.push({ ...qa, rejection: { stage: 'verification', reason: VerificationReason.BudgetExhausted } });
      continue;
    }
    const verdicts: AnswerVerdict[] = [];
    const judged = { match: 0, llm: 0 };
    let solverSteps = 0;

    /** LLM verdicts of this QA by normalised answer: the same answer twice is judged once. */
    const llmVerdicts = new Map<string, { correct: boolean; reason: string }>();
    /** Judges one answer: the normalised match, else the LLM judge (once per distinct answer). */
    const judge = async (role: AnswerVerdict['role'], attempt: number, answer: string | null, failure?: string): Promise<void> => {
      if (answer === null) {
        judged.match += 1;
        verdicts.push({ role, attempt, answer: '', correct: false, by: 'match', reason: `no_answer: ${failure ?? 'none given'}` });
        return;
      }
      const m = matchAnswer(qa.answer, answer);
      if (m.verdict !== 'undecided') {
        judged.match += 1;
        verdicts.push({ role, attempt, answer, correct: m.verdict === 'match', by: 'match', reason: m.rule });
        return;
      }
      const key = normalizeAnswer(answer);
      let verdict = llmVerdicts.get(key);
      if (!verdict) {
        gate();
        const r = await deps.llm.judgeAnswer({ model: judgeModel, question: qa.question, reference: qa.answer, candidate: answer, ...maxTokens, ...place('judge') });
        deps.charge(judgeModel, r);
        if (!r.ok) deps.countFailedOutput();
        verdict = { correct: r.ok && r.correct, reason: r.ok ? r.reason || (r.correct ? 'correct' : 'incorrect') : r.reason };
        llmVerdicts.set(key, verdict);
      }
      judged.llm += 1;
      verdicts.push({ role, attempt, answer, correct: verdict.correct, by: 'llm', reason: verdict.reason });
    };

    try {
      deps.progress(`**verifying** QA ${i + 1}/${qas.length}: baseline`);
      for (let k = 0; k < v.baseline_attempts; k++) {
        gate();
        const r = await deps.llm.answerBaseline({ model: solverModel, question: qa.question, temperature: 0.7, sampling_seed: k, ...maxTokens, ...place('baseline', k) });
        deps.charge(solverModel, r);
        if (!r.ok) deps.countFailedOutput();
        await judge('baseline', k, r.ok ? r.answer : null, r.ok ? undefined : r.reason);
      }
      const baseline = count(verdicts, 'baseline', v.baseline_attempts);

      let solverAttempts = 0;
      if (solverNeeded(v.keep, baseline)) {
        for (let k = 0; k < v.solver_attempts; k++) {
          deps.progress(`**verifying** QA ${i + 1}/${qas.length}: solver ${k + 1}/${v.solver_attempts}`);
          solverAttempts += 1;
          const steps: SolverStep[] = [];
          let answer: string | null = null;
          let failure = 'step budget spent';
          for (let s = 0; s < v.solver_max_steps; s++) {
            gate();
            const r = await deps.llm.solverStep({
              model: solverModel,
              tool_calling: config.tool_calling,
              question: qa.question,
              tools: toolNames,
              steps,
              must_answer: s === v.solver_max_steps - 1,
              temperature: 0.7,
              sampling_seed: k,
              ...maxTokens,
              ...(deps.inCallTools.length ? { in_call_tools: deps.inCallTools } : {}),
              ...place('solver', k, s),
            });
            deps.charge(solverModel, r);
            if (!r.ok) {
              // The same request would get the same reply: the attempt ends without an answer.
              deps.countFailedOutput();
              failure = r.reason;
              break;
            }
            if (r.kind === 'answer') {
              answer = r.answer;
              break;
            }
            const obs = r.observation ?? (await runToolSafely(deps, r.action));
            deps.countTool(r.action.tool_name, !!obs.error);
            solverSteps += 1;
            steps.push({ tool_name: r.action.tool_name, parameters: r.action.parameters, observation: truncate(obs.text, SOLVER_OBSERVATION_CHARS) });
          }
          await judge('solver', k, answer, failure);
        }
      }
      const solver = count(verdicts, 'solver', solverAttempts);
      const decision = keepDecision(v.keep, baseline, solver);
      const verification: QaVerification = {
        baseline: { ...baseline, answers: verdicts.filter((x) => x.role === 'baseline').map((x) => x.answer) },
        solver: { ...solver, answers: verdicts.filter((x) => x.role === 'solver').map((x) => x.answer), steps: solverSteps },
        judged_by: judged,
        difficulty: difficultyOf(baseline, solver),
        kept: decision.kept,
        ...(decision.kept ? {} : { reason: decision.reason }),
        verdicts,
      };
      if (decision.kept) out.kept.push({ ...qa, verification });
      else out.rejected.push({ ...qa, verification, rejection: { stage: 'verification', reason: decision.reason } });
    } catch (err) {
      if (!(err instanceof OutOfBudget)) throw err;
      out.budgetHit = true;
      out.rejected.push({ ...qa, rejection: { stage: 'verification', reason: VerificationReason.BudgetExhausted } });
    }
  }
  return out;
}

function count(verdicts: AnswerVerdict[], role: AnswerVerdict['role'], attempts: number): { attempts: number; correct: number } {
  return { attempts, correct: verdicts.filter((x) => x.role === role && x.correct).length };
}

/** A tool call whose activity failed for good becomes an error observation: the solver goes on without it. */
async function runToolSafely(deps: VerifyDeps, action: ToolAction): Promise<Observation> {
  try {
    return await deps.runTool(action);
  } catch (err) {
    if (isCancellation(err)) throw err;
    return { text: `[Error] the tool call failed: ${(err as Error)?.message ?? String(err)}`, error: true };
  }
}
