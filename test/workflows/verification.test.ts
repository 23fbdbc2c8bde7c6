/**
 * The verification stage in real runs (real Temporal dev server, in-process worker, LLM simulator over HTTP, real
 * calculator). The simulator's QAs are first learnt by a run without verification; the same run with verification
 * then meets a script (keyed by question) in which the baseline knows some answers and the solver finds others, so
 * the kept set, every verdict, the difficulty labels and the requests made are known in advance, by hand.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startSimulator, type VerificationScript } from '../../src/llm/simulator';
import { submitBatch } from '../../src/api';
import type { BatchResult, QaRecord, QaVerification, SeedResultFile } from '../../src/shared/types';
import { readJsonl, smallConfig, startTestWorker, tempDir, testTemporal, uniqueQueue, type TestTemporal } from '../helpers/temporal';

const SEEDS = ['prime numbers', 'Fibonacci sequence', 'compound interest'];

let t: TestTemporal;
before(async () => {
  t = await testTemporal();
});
after(async () => {
  await t.close();
});

const VERIFY = { enabled: true, baseline_attempts: 3, solver_attempts: 2, solver_max_steps: 3 };

/** Seed results of a run: kept and rejected QAs of every seed. */
function seedResults(outDir: string, runId: string): SeedResultFile[] {
  const dir = path.join(outDir, runId, 'seeds');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as SeedResultFile);
}

/** What each of the six QAs (in qa_id order) is scripted to be, and what verification must conclude. */
interface Case {
  name: string;
  script: (ref: string) => { baseline?: string[]; solver?: { answers: string[]; tool_steps?: number } };
  judge?: (ref: string) => { candidate: string; correct: boolean; reason: string }[];
  expected: (ref: string) => Omit<QaVerification, 'verdicts'> & { verdicts: [string, number, string, boolean, string][] };
  /** Verification requests expected: baseline, solver, judge. */
  requests: { baseline: number; solver: number; judge: number };
}

const IDK = "I don't know";
const CASES: Case[] = [
  {
    name: 'trivial: the baseline knows it every time; the solver is not run',
    script: (ref) => ({ baseline: [ref] }),
    expected: (ref) => ({
      baseline: { attempts: 3, correct: 3, answers: [ref, ref, ref] },
      solver: { attempts: 0, correct: 0, answers: [], steps: 0 },
      judged_by: { match: 3, llm: 0 },
      difficulty: 'trivial',
      kept: false,
      reason: 'baseline_solved',
      verdicts: [['baseline', 0, ref, true, 'match'], ['baseline', 1, ref, true, 'match'], ['baseline', 2, ref, true, 'match']],
    }),
    requests: { baseline: 3, solver: 0, judge: 0 },
  },
  {
    name: 'easy: the baseline knows it once (another format), the LLM judge refuses a wrong answer',
    script: (ref) => ({ baseline: ['Atlantis', `The ${ref.toUpperCase()}.`, IDK] }),
    expected: (ref) => ({
      baseline: { attempts: 3, correct: 1, answers: ['Atlantis', `The ${ref.toUpperCase()}.`, IDK] },
      solver: { attempts: 0, correct: 0, answers: [], steps: 0 },
      judged_by: { match: 2, llm: 1 },
      difficulty: 'easy',
      kept: false,
      reason: 'baseline_solved',
      verdicts: [['baseline', 0, 'Atlantis', false, 'llm'], ['baseline', 1, `The ${ref.toUpperCase()}.`, true, 'match'], ['baseline', 2, IDK, false, 'match']],
    }),
    requests: { baseline: 3, solver: 0, judge: 1 },
  },
  {
    name: 'medium: the baseline does not know; the solver finds it in both attempts (once judged by the LLM)',
    script: (ref) => ({ solver: { answers: [ref, `It is ${ref}`], tool_steps: 1 } }),
    expected: (ref) => ({
      baseline: { attempts: 3, correct: 0, answers: [IDK, IDK, IDK] },
      solver: { attempts: 2, correct: 2, answers: [ref, `It is ${ref}`], steps: 2 },
      judged_by: { match: 4, llm: 1 },
      difficulty: 'medium',
      kept: true,
      verdicts: [
        ['baseline', 0, IDK, false, 'match'], ['baseline', 1, IDK, false, 'match'], ['baseline', 2, IDK, false, 'match'],
        ['solver', 0, ref, true, 'match'], ['solver', 1, `It is ${ref}`, true, 'llm'],
      ],
    }),
    requests: { baseline: 3, solver: 4, judge: 1 },
  },
  {
    name: 'hard: the baseline guesses wrong; the solver finds it in one attempt of two, after two tool calls',
    script: (ref) => ({ baseline: ['Atlantis', 'Lemuria', IDK], solver: { answers: ['El Dorado', ref], tool_steps: 2 } }),
    expected: (ref) => ({
      baseline: { attempts: 3, correct: 0, answers: ['Atlantis', 'Lemuria', IDK] },
      solver: { attempts: 2, correct: 1, answers: ['El Dorado', ref], steps: 4 },
      judged_by: { match: 2, llm: 3 },
      difficulty: 'hard',
      kept: true,
      verdicts: [
        ['baseline', 0, 'Atlantis', false, 'llm'], ['baseline', 1, 'Lemuria', false, 'llm'], ['baseline', 2, IDK, false, 'match'],
        ['solver', 0, 'El Dorado', false, 'llm'], ['solver', 1, ref, true, 'match'],
      ],
    }),
    requests: { baseline: 3, solver: 6, judge: 3 },
  },
  {
    name: 'unsolved: the solver runs out of steps and answers wrong twice (judged once)',
    script: () => ({ solver: { answers: ['Atlantis'], tool_steps: 5 } }),
    expected: () => ({
      baseline: { attempts: 3, correct: 0, answers: [IDK, IDK, IDK] },
      solver: { attempts: 2, correct: 0, answers: ['Atlantis', 'Atlantis'], steps: 4 },
      judged_by: { match: 3, llm: 2 },
      difficulty: 'unsolved',
      kept: false,
      reason: 'solver_failed',
      verdicts: [
        ['baseline', 0, IDK, false, 'match'], ['baseline', 1, IDK, false, 'match'], ['baseline', 2, IDK, false, 'match'],
        ['solver', 0, 'Atlantis', false, 'llm'], ['solver', 1, 'Atlantis', false, 'llm'],
      ],
    }),
    requests: { baseline: 3, solver: 6, judge: 1 },
  },
  {
    name: 'unsolved: nothing scripted — nobody knows, no LLM judge needed',
    script: () => ({}),
    expected: () => ({
      baseline: { attempts: 3, correct: 0, answers: [IDK, IDK, IDK] },
      solver: { attempts: 2, correct: 0, answers: ['unknown', 'unknown'], steps: 2 },
      judged_by: { match: 5, llm: 0 },
      difficulty: 'unsolved',
      kept: false,
      reason: 'solver_failed',
      verdicts: [
        ['baseline', 0, IDK, false, 'match'], ['baseline', 1, IDK, false, 'match'], ['baseline', 2, IDK, false, 'match'],
        ['solver', 0, 'unknown', false, 'match'], ['solver', 1, 'unknown', false, 'match'],
      ],
    }),
    requests: { baseline: 3, solver: 4, judge: 0 },
  },
];

/** The script of the six cases for the learnt QAs (sorted by qa_id). */
export function scriptFor(qas: QaRecord[]): VerificationScript {
  const script: Required<VerificationScript> = { baseline: {}, solver: {}, judge: [] };
  qas.forEach((qa, i) => {
    const s = CASES[i]!.script(qa.answer);
    if (s.baseline) script.baseline[qa.question] = s.baseline;
    if (s.solver) script.solver[qa.question] = s.solver;
  });
  return script;
}

async function run(queue: string, outDir: string, runId: string, config: Record<string, unknown>): Promise<BatchResult> {
  const sub = await submitBatch(t.client, { run_id: runId, config, seeds: SEEDS, output_dir: outDir }, { taskQueue: queue });
  return sub.handle.result();
}

describe('verification stage', () => {
  test('scripted baseline and solver: the kept set, every verdict, the difficulty labels and the requests are the expected ones', async () => {
    const sim = await startSimulator();
    const queue = uniqueQueue('verify');
    const worker = await startTestWorker({ t, taskQueue: queue, llmBaseUrl: sim.url });
    const outDir = tempDir();
    try {
      const base = smallConfig({ max_workers: 1, pause_after_failures: 0 });
      // 1. Learn the QAs the simulator writes for these seeds.
      const learnt = await run(queue, outDir, 'verify-learn', base);
      const qas = readJsonl<QaRecord>(learnt.qa_path).sort((a, b) => a.qa_id.localeCompare(b.qa_id));
      assert.equal(qas.length, CASES.length, 'the learning run writes one QA per case');
      assert.equal(new Set(qas.map((q) => q.question)).size, qas.length, 'questions are distinct (the script is keyed by question)');
      assert.ok(qas.every((q) => q.verification === undefined), 'no verification when it is off');
      assert.equal(sim.requests().filter((r) => r.role).length, 0, 'verification off: no verification request');

      // 2. The same run with verification, against the script.
      sim.verification(scriptFor(qas));
      sim.resetLog();
      const result = await run(queue, outDir, 'verify-on', { ...base, verification: VERIFY });
      const log = sim.requests();

      const files = seedResults(outDir, 'verify-on');
      const kept = files.flatMap((f) => f.qas);
      const rejected = files.flatMap((f) => f.rejected_qas ?? []);
      assert.equal(kept.length + rejected.length, qas.length, 'every QA written is kept or rejected, none silently lost');
      const byId = new Map([...kept, ...rejected].map((q) => [q.qa_id, q]));
      qas.forEach((qa, i) => {
        const c = CASES[i]!;
        const got = byId.get(qa.qa_id);
        assert.ok(got, `${qa.qa_id} is in the verified run`);
        assert.equal(got.question, qa.question, 'the same QA as in the learning run');
        const exp = c.expected(qa.answer);
        const { verdicts, ...summary } = got.verification!;
        const { verdicts: expVerdicts, ...expSummary } = exp;
        assert.deepEqual(summary, expSummary, c.name);
        assert.deepEqual(verdicts!.map((v) => [v.role, v.attempt, v.answer, v.correct, v.by]), expVerdicts, c.name);
        assert.ok(verdicts!.every((v) => v.reason && !v.reason.includes('\n')), 'every verdict has a one-line reason');
        const rejection = (got as { rejection?: { stage: string; reason: string } }).rejection;
        if (exp.kept) assert.equal(rejection, undefined, c.name);
        else assert.deepEqual(rejection, { stage: 'verification', reason: exp.reason }, c.name);
      });
      assert.deepEqual(kept.map((q) => q.qa_id).sort(), [qas[2]!.qa_id, qas[3]!.qa_id], 'kept: the medium and the hard QA');
      // Verdict reasons: the match rule, or the LLM judge's line.
      const medium = byId.get(qas[2]!.qa_id)!.verification!.verdicts!;
      assert.deepEqual(medium.map((v) => v.reason), ['no_answer', 'no_answer', 'no_answer', 'exact', 'the candidate names the reference']);

      // A seed whose QAs were all dropped ends without QA, saying why; the others succeed.
      for (const f of files) {
        const reasons = [...new Set((f.rejected_qas ?? []).map((q) => q.rejection.reason))];
        if (f.qas.length) assert.equal(f.status, 'succeeded');
        else {
          assert.equal(f.status, 'no_qa');
          assert.equal(reasons.length, 1, 'the cases of one seed share their drop reason (qa_id order groups seeds)');
          assert.equal(f.error_type, `no_qa:verification:${reasons[0]}`);
          assert.equal(f.error, `no QA: verification dropped all 2 QA written (${reasons[0]} ×2; keep: solver_pass_baseline_fail)`);
        }
      }
      assert.equal(result.seeds_no_qa, files.filter((f) => f.qas.length === 0).length);
      assert.equal(result.seeds_no_qa, 2);
      // The QA file holds the kept QAs with their verification.
      const written = readJsonl<QaRecord>(result.qa_path);
      assert.deepEqual(written.map((q) => q.qa_id).sort(), kept.map((q) => q.qa_id).sort());
      assert.ok(written.every((q) => q.verification?.kept === true));

      // Requests: exactly the verification calls the cases need, each once (no call made twice).
      const roles = (role: string) => log.filter((r) => r.role === role && r.status === 200).length;
      const sum = (k: keyof Case['requests']) => CASES.reduce((n, c) => n + c.requests[k], 0);
      assert.deepEqual({ baseline: roles('baseline'), solver: roles('solver'), judge: roles('judge') }, { baseline: sum('baseline'), solver: sum('solver'), judge: sum('judge') });
      const fingerprints = log.filter((r) => r.role).map((r) => r.fingerprint);
      assert.equal(new Set(fingerprints).size, fingerprints.length, 'no verification request was sent twice');

      // Every verification call is counted in the seeds' counters and the statistics.
      const stats = JSON.parse(fs.readFileSync(result.statistics_path, 'utf8'));
      assert.equal(stats.llm.calls, log.filter((r) => r.status === 200).length);
      const perSeedCalls = files.reduce((n, f) => n + f.counters.llm_calls, 0);
      assert.equal(perSeedCalls, log.filter((r) => r.status === 200).length);
      // Solver tool calls are real calculator calls, counted with the exploration's.
      const solverTools = CASES.reduce((n, c, i) => n + c.expected(qas[i]!.answer).solver.steps, 0);
      const calculatorCalls = (fs: SeedResultFile[]) => fs.reduce((n, f) => n + (f.counters.tool_calls.calculator ?? 0), 0);
      assert.equal(calculatorCalls(files), calculatorCalls(seedResults(outDir, 'verify-learn')) + solverTools);
    } finally {
      await worker.stop();
      await sim.close();
    }
  });

  test('the seed budget covers verification: no call past the cap, unverified QAs rejected as budget_exhausted (json tool calling)', async () => {
    const sim = await startSimulator();
    const queue = uniqueQueue('verify-budget');
    const worker = await startTestWorker({ t, taskQueue: queue, llmBaseUrl: sim.url });
    const outDir = tempDir();
    try {
      const base = smallConfig({ max_workers: 1, pause_after_failures: 0, tool_calling: 'json' });
      const seeds = SEEDS.slice(0, 1);
      const learnt = await (await submitBatch(t.client, { run_id: 'vbudget-learn', config: base, seeds, output_dir: outDir }, { taskQueue: queue })).handle.result();
      const [learnFile] = seedResults(outDir, 'vbudget-learn');
      assert.equal(learnt.qa_count, 2);
      const before = learnFile!.counters.llm_calls;
      // Nothing scripted: each QA needs 3 baseline calls + 2 solver attempts × 2 steps = 7 calls. With 5 calls left
      // after the QA stage, the first QA gets its baseline and one solver attempt, then the allowance is spent.
      sim.resetLog();
      const config = { ...base, budget: { per_seed_max_llm_calls: before + 5 }, verification: VERIFY };
      const result = await (await submitBatch(t.client, { run_id: 'vbudget-capped', config, seeds, output_dir: outDir }, { taskQueue: queue })).handle.result();
      const [file] = seedResults(outDir, 'vbudget-capped');
      assert.equal(file!.status, 'budget_exhausted');
      assert.equal(file!.counters.llm_calls, before + 5);
      assert.equal(sim.requests().filter((r) => r.status === 200).length, before + 5, 'no call past the cap');
      assert.deepEqual(
        sim.requests().filter((r) => r.role).map((r) => r.role),
        ['baseline', 'baseline', 'baseline', 'solver', 'solver'],
      );
      // json mode: the solver's tools travel in a <tools> block (no `tools` in the request), its first step a tool call.
      assert.ok(sim.requests().filter((r) => r.role === 'solver').every((r) => r.kind === 'action'));
      assert.equal(file!.counters.tool_calls.calculator, learnFile!.counters.tool_calls.calculator! + 1, 'the solver\'s one tool call ran');
      assert.equal(file!.qas.length, 0);
      assert.deepEqual(file!.rejected_qas!.map((q) => q.rejection), [
        { stage: 'verification', reason: 'budget_exhausted' },
        { stage: 'verification', reason: 'budget_exhausted' },
      ]);
      assert.equal(result.qa_count, 0);
    } finally {
      await worker.stop();
      await sim.close();
    }
  });
});
