/**
 * Records histories for the replay test: on a fresh dev server (math mode, simulator) runs a 2-seed batch with
 * inline seeds (one fails) and a 12-seed batch with seeds by reference and max_workers 2 (the test server
 * suggests continue-as-new after 100 events, so the parent continues as new with seeds running) and a 1-seed
 * batch with the verification stage on (scripted so that baseline, solver tool calls and the LLM judge all
 * occur) and a 1-seed batch whose first QA answer is ungrounded (regenerated), and saves every
 * run of each parent and child to test/fixtures/histories/<label>/ (since v3-local-llm also a 1-seed batch with
 * LLM calls as local activities, one retried after a 429). Earlier labels are kept: they are what
 * executions started by older code look like. A label may keep only the runs that show what it changed
 * (v3-local-llm keeps its local-llm batch; v4-continue-as-new-room the by-reference batch's parent runs, which carry
 * the qasynth-continue-as-new-room marker; v5-seed-patches the seed runs, each with the one qasynth-seed-2026-11
 * marker in place of its routing / local-llm / grounding / verification / seed-fails markers; v6-watch-when-needed
 * the parent runs, whose waits set the watch timer only with seeds of an earlier run in the window;
 * v7-seed-in-call-local-output seed runs of each kind, with the one qasynth-seed-2026-12 marker, calculator calls
 * made inside chooseAction and the seed result written by a local activity; v8-report-by-result the parent runs of
 * the by-reference and inline batches, whose seeds report by their end — the two still running at the by-reference
 * parent's continue-as-new asked to report by signal (`reportBySignal`) — with a seed of each kind and the local-llm
 * batch; the other runs replay as in v2-*).
 *
 *   npx tsx scripts/capture-histories.ts <label>      # e.g. v2-sliding-window
 */
import fs from 'node:fs';
import path from 'node:path';
import { startSimulator, type FaultRule } from '../src/llm/simulator';
import { submitBatch } from '../src/api';
import type { BatchInput } from '../src/shared/types';
import { startTestWorker, smallConfig, tempDir, testTemporal, waitFor } from '../test/helpers/temporal';


async function main(): Promise<void> {
  const label = process.argv[2];
  if (!label || !/^[A-Za-z0-9_.-]+$/.test(label)) throw new Error('usage: npx tsx scripts/capture-histories.ts <label>');
  const t = await testTemporal();
  const sim = await startSimulator();
  const worker = await startTestWorker({ t, taskQueue: 'capture', llmBaseUrl: sim.url });
  const out = path.join(__dirname, '..', 'test', 'fixtures', 'histories');
  fs.mkdirSync(out, { recursive: true });
  const { historyToJSON } = await import('@temporalio/common/lib/proto-utils');
  try {
    const out = path.join(__dirname, '..', 'test', 'fixtures', 'histories', label);
    fs.rmSync(out, { recursive: true, force: true });
    fs.mkdirSync(out, { recursive: true });
    const dir = tempDir();
    const seedsFile = path.join(dir, 'seeds.jsonl');
    fs.writeFileSync(seedsFile, Array.from({ length: 12 }, (_, i) => JSON.stringify(`replay seed ${i}`)).join('\n') + '\n');
    // Learn a seed's QAs, then script verification: the baseline guesses (LLM judge), the solver finds the answer.
    const learnt = await (await submitBatch(t.client, { run_id: `${label}-learn`, config: smallConfig(), seeds: ['prime numbers'], output_dir: tempDir() }, { taskQueue: 'capture' })).handle.result();
    const qas = fs.readFileSync(learnt.qa_path, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { question: string; answer: string });
    sim.verification({
      baseline: Object.fromEntries(qas.map((q) => [q.question, ['Atlantis', q.answer, "I don't know"]])),
      solver: Object.fromEntries(qas.map((q) => [q.question, { answers: [q.answer], tool_steps: 1 }])),
    });
    const verification = { enabled: true, baseline_attempts: 3, solver_attempts: 1, solver_max_steps: 3, keep: 'all' };
    const poison: FaultRule[] = [{ match: { contains: 'POISON seed' }, respond: { status: 400 } }];
    const runs: (BatchInput & { script?: FaultRule[] })[] = [
      { run_id: `${label}-inline`, config: smallConfig(), seeds: ['prime numbers', 'POISON seed'], output_dir: dir, script: poison },
      { run_id: `${label}-by-ref`, config: smallConfig({ max_workers: 2 }), seeds_file: seedsFile, output_dir: dir },
      { run_id: `${label}-verification`, config: smallConfig({ verification }), seeds: ['prime numbers'], output_dir: tempDir() },
      // The first QA answer is ungrounded and regenerated (the qasynth-grounding marker and a retried QA call).
      {
        run_id: `${label}-grounding`,
        config: smallConfig({ max_selected_traj: 1 }),
        seeds: ['golden ratio'],
        output_dir: tempDir(),
        script: [{ match: { kind: 'qa' }, times: 1, respond: { ungrounded: true } }],
      },
      // LLM calls as local activities (the qasynth-local-llm marker), one of them retried after a 429.
      {
        run_id: `${label}-local-llm`,
        config: smallConfig({ local_llm: true, max_selected_traj: 1 }),
        seeds: ['harmonic series'],
        output_dir: tempDir(),
        script: [{ match: { kind: 'qa' }, times: 1, respond: { status: 429, headers: { 'retry-after': '1' } } }],
      },
    ];
    const { historyToJSON } = await import('@temporalio/common/lib/proto-utils');
    for (const { script, ...input } of runs) {
      sim.script(script ?? []);
      const sub = await submitBatch(t.client, input, { taskQueue: 'capture' });
      await sub.handle.result();
      const expected = 1 + (input.seeds?.length ?? 12);
      // Visibility is eventually consistent: wait until the parent and every child are listed.
      await waitFor(async () => (await t.client.workflow.count(`QasynthRunId = "${input.run_id}"`)).count >= expected, 30_000, 'visibility');
      for await (const wf of t.client.workflow.list({ query: `QasynthRunId = "${input.run_id}"` })) {
        const history = await t.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
        const name = `${wf.workflowId}_${wf.runId.slice(-12)}`.replace(/[^A-Za-z0-9_.-]+/g, '_');
        fs.writeFileSync(path.join(out, `${name}.json`), historyToJSON(history));
        process.stdout.write(`saved ${label}/${name}.json (${history.events?.length} events)\n`);
      }
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
