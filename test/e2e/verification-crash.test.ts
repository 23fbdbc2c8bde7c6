/**
 * Crash mid-verification: a real `qasynth worker` process is SIGKILLed while a verification call (the solver's) is
 * in flight, after others have finished, and a new worker is started. The run must complete with every QA verified,
 * and no finished verification call (baseline, solver or judge) may be sent again: counted by fingerprint in the
 * simulator's request log. Only the call in flight at the kill is repeated.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startSimulator, type Simulator, type VerificationScript } from '../../src/llm/simulator';
import { submitBatch } from '../../src/api';
import { VERIFY_MARKERS } from '../../src/domain/verification';
import type { QaRecord, SeedResultFile } from '../../src/shared/types';
import { readJsonl, smallConfig, startTestWorker, tempDir, testTemporal, uniqueQueue, waitFor, type TestTemporal } from '../helpers/temporal';
import { CLI, startWorkerProcess, stopWorkerProcess } from '../helpers/worker-process';

const SEEDS = ['prime numbers', 'Fibonacci sequence'];

let t: TestTemporal;
let sim: Simulator;
before(async () => {
  assert.ok(fs.existsSync(CLI), `${CLI} is missing: run \`npm run build\` first (npm test does)`);
  t = await testTemporal();
  sim = await startSimulator();
});
after(async () => {
  await sim.close();
  await t.close();
});

/**
 * The scenario, with verification calls as activities (`localLlm` false) or as local activities with a call cache
 * the two workers share: a local activity's result reaches the history only with its workflow task, so the new
 * worker runs again the calls made since then, and the cache must answer every one that had finished.
 */
async function crashMidVerification(label: string, localLlm: boolean): Promise<void> {
  const outDir = tempDir();
  const base = smallConfig({ max_workers: 1, pause_after_failures: 0 });
  const runId = localLlm ? 'vcrash-local' : 'vcrash';
  const workerArgs = localLlm ? ['--cache-dir', path.join(tempDir(), 'cache')] : [];

  // Learn the QAs (an in-process worker on its own queue), to script the verification by question.
  const learnQueue = uniqueQueue('vcrash-learn');
  const learner = await startTestWorker({ t, taskQueue: learnQueue, llmBaseUrl: sim.url });
  let qas: QaRecord[];
  try {
    const learnt = await (await submitBatch(t.client, { run_id: `${runId}-learn`, config: base, seeds: SEEDS, output_dir: outDir }, { taskQueue: learnQueue })).handle.result();
    qas = readJsonl<QaRecord>(learnt.qa_path);
  } finally {
    await learner.stop();
  }
  assert.equal(qas.length, 4);
  // Every QA: the baseline guesses wrong (3 calls, 1 judge call for the repeated guess), the solver finds the
  // answer after one tool call in each of 2 attempts (4 calls): 8 verification calls per QA.
  const script: Required<VerificationScript> = { baseline: {}, solver: {}, judge: [] };
  for (const qa of qas) {
    script.baseline[qa.question] = ['Atlantis'];
    script.solver[qa.question] = { answers: [qa.answer], tool_steps: 1 };
  }
  sim.verification(script);
  sim.resetLog();
  // The 6th solver request hangs: the worker is killed while it is in flight.
  sim.script([{ match: { contains: VERIFY_MARKERS.solver }, after: 5, times: 1, respond: { delayMs: 120_000 } }]);

  const queue = uniqueQueue('vcrash');
  const w1 = startWorkerProcess({ address: t.address, taskQueue: queue, llmUrl: sim.url, args: workerArgs });
  await w1.ready;
  const config = { ...base, local_llm: localLlm, verification: { enabled: true, baseline_attempts: 3, solver_attempts: 2, solver_max_steps: 3 } };
  const sub = await submitBatch(t.client, { run_id: runId, config, seeds: SEEDS, output_dir: outDir }, { taskQueue: queue });
  await waitFor(() => sim.requests().some((r) => r.fault?.includes('delay')), 120_000, 'the hanging solver request');
  await w1.kill('SIGKILL');
  const atKill = sim.requests();

  const w2 = startWorkerProcess({ address: t.address, taskQueue: queue, llmUrl: sim.url, args: workerArgs });
  await w2.ready;
  try {
    const result = await sub.handle.result();
    const log = sim.requests();
    const verification = log.filter((r) => r.role);
    const finishedAtKill = atKill.filter((r) => r.role && r.status === 200 && r.answered_ms !== undefined);
    const inFlight = atKill.filter((r) => r.role && r.answered_ms === undefined);
    const count = (fp: string) => verification.filter((r) => r.fingerprint === fp).length;
    process.stdout.write(
      `# verification crash (${label}): ${finishedAtKill.length} verification calls finished before the kill, ${inFlight.length} in flight, ` +
        `${verification.length} in all (${verification.length - atKill.filter((r) => r.role).length} after the restart)\n`,
    );
    assert.ok(finishedAtKill.length >= 8, 'the kill came after a whole QA and more had been verified');
    assert.equal(inFlight.length, 1, 'one verification call was in flight at the kill: the hanging one');
    for (const r of finishedAtKill) assert.equal(count(r.fingerprint), 1, `finished call #${r.n} (${r.role}) was not sent again`);
    assert.equal(count(inFlight[0]!.fingerprint), 2, 'the call in flight at the kill was made again, once');
    assert.equal(verification.length, qas.length * 8 + 1, 'exactly the calls the script needs, plus the one repeated');
    assert.equal(new Set(verification.map((r) => r.fingerprint)).size, qas.length * 8);

    // Every QA verified as scripted: the baseline never, the solver always → medium, kept.
    assert.equal(result.seeds_succeeded, SEEDS.length);
    const written = readJsonl<QaRecord>(result.qa_path);
    assert.equal(written.length, qas.length);
    for (const qa of written) {
      assert.equal(qa.verification?.difficulty, 'medium');
      assert.deepEqual(qa.verification?.judged_by, { match: 2, llm: 3 });
    }
    // Counters: every finished LLM call is counted once; the attempt killed in flight never finished.
    const files = fs.readdirSync(path.join(outDir, runId, 'seeds')).map((f) => JSON.parse(fs.readFileSync(path.join(outDir, runId, 'seeds', f), 'utf8')) as SeedResultFile);
    assert.ok(files.every((f) => (f.rejected_qas ?? []).length === 0));
    assert.equal(files.reduce((n, f) => n + f.counters.llm_calls, 0), log.filter((r) => r.status === 200).length - 1);
  } finally {
    await stopWorkerProcess(w2);
  }
}

test('SIGKILL of the worker mid-verification: the run completes and no finished verification call is sent again', async () => {
  await crashMidVerification('LLM activities', false);
});

test('SIGKILL mid-verification with LLM calls as local activities (local_llm) and a shared call cache: no finished verification call is sent again', async () => {
  await crashMidVerification('local_llm', true);
});
