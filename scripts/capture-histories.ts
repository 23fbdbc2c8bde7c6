/**
 * Records the histories the replay test uses: runs a 2-seed batch (math mode, simulator) on a fresh dev
 * server and saves the parent's and every child's history to test/fixtures/histories/ (replacing them).
 * `--verification` records only a 1-seed batch with the verification stage on (scripted so that baseline, solver
 * tool calls and the LLM judge all occur), as `qasynth-replay-verification*.json`, beside the others.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startSimulator } from '../src/llm/simulator';
import { submitBatch } from '../src/api';
import { startTestWorker, smallConfig, tempDir, testTemporal, waitFor } from '../test/helpers/temporal';

async function main(): Promise<void> {
  const t = await testTemporal();
  const sim = await startSimulator();
  const worker = await startTestWorker({ t, taskQueue: 'capture', llmBaseUrl: sim.url });
  try {
    const verification = process.argv.includes('--verification');
    const runId = verification ? 'replay-verification' : 'replay-fixture';
    const out = path.join(__dirname, '..', 'test', 'fixtures', 'histories');
    if (verification) {
      // Learn the seed's QAs, then script: the baseline guesses wrong (LLM judge), the solver finds the answer.
      const learnt = await (await submitBatch(t.client, { run_id: 'learn', config: smallConfig(), seeds: ['prime numbers'], output_dir: tempDir() }, { taskQueue: 'capture' })).handle.result();
      const qas = fs.readFileSync(learnt.qa_path, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { question: string; answer: string });
      sim.verification({
        baseline: Object.fromEntries(qas.map((q) => [q.question, ['Atlantis', q.answer, "I don't know"]])),
        solver: Object.fromEntries(qas.map((q) => [q.question, { answers: [q.answer], tool_steps: 1 }])),
      });
      const config = smallConfig({ verification: { enabled: true, baseline_attempts: 3, solver_attempts: 1, solver_max_steps: 3, keep: 'all' } });
      await (await submitBatch(t.client, { run_id: runId, config, seeds: ['prime numbers'], output_dir: tempDir() }, { taskQueue: 'capture' })).handle.result();
      await waitFor(async () => (await t.client.workflow.count(`QasynthRunId = "${runId}"`)).count >= 2, 30_000, 'visibility');
    } else {
      sim.script([{ match: { contains: 'POISON seed' }, respond: { status: 400 } }]);
      const sub = await submitBatch(t.client, { run_id: runId, config: smallConfig(), seeds: ['prime numbers', 'POISON seed'], output_dir: tempDir() }, { taskQueue: 'capture' });
      await sub.handle.result();
      // Visibility is eventually consistent: wait until the parent and both children are listed.
      await waitFor(async () => (await t.client.workflow.count(`QasynthRunId = "${runId}"`)).count >= 3, 30_000, 'visibility');
      fs.rmSync(out, { recursive: true, force: true });
    }
    fs.mkdirSync(out, { recursive: true });
    for await (const wf of t.client.workflow.list({ query: `QasynthRunId = "${runId}"` })) {
      const history = await t.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
      const name = wf.workflowId.replace(/[^A-Za-z0-9_.-]+/g, '_');
      const { historyToJSON } = await import('@temporalio/common/lib/proto-utils');
      fs.writeFileSync(path.join(out, `${name}.json`), historyToJSON(history));
      process.stdout.write(`saved ${name}.json (${history.events?.length} events)\n`);
    }
  } finally {
    await worker.stop();
    await sim.close();
    await t.close();
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
