/**
 * Records the histories the replay test uses, on a fresh dev server with the simulator, and saves the parent's and
 * every child's history to test/fixtures/histories/:
 * - `replay-fixture`: a 2-seed batch (math mode), one seed refused by the endpoint;
 * - `replay-grounding`: a 1-seed batch whose first QA answer is ungrounded and regenerated (the `qasynth-grounding`
 *   patch marker and a retried QA call).
 * `npx tsx scripts/capture-histories.ts [run …]` records the named runs only (default: all); each replaces only its
 * own files, so histories recorded by older code can stay next to new ones.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startSimulator, type FaultRule } from '../src/llm/simulator';
import { submitBatch } from '../src/api';
import { startTestWorker, smallConfig, tempDir, testTemporal, waitFor } from '../test/helpers/temporal';

const RUNS: Record<string, { seeds: string[]; config: Record<string, unknown>; script: FaultRule[] }> = {
  'replay-fixture': {
    seeds: ['prime numbers', 'POISON seed'],
    config: smallConfig(),
    script: [{ match: { contains: 'POISON seed' }, respond: { status: 400 } }],
  },
  'replay-grounding': {
    seeds: ['golden ratio'],
    config: smallConfig({ max_selected_traj: 1 }),
    script: [{ match: { kind: 'qa' }, times: 1, respond: { ungrounded: true } }],
  },
};

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  for (const r of wanted) if (!RUNS[r]) throw new Error(`unknown run ${r}; expected one of ${Object.keys(RUNS).join(', ')}`);
  const t = await testTemporal();
  const sim = await startSimulator();
  const worker = await startTestWorker({ t, taskQueue: 'capture', llmBaseUrl: sim.url });
  const out = path.join(__dirname, '..', 'test', 'fixtures', 'histories');
  fs.mkdirSync(out, { recursive: true });
  const { historyToJSON } = await import('@temporalio/common/lib/proto-utils');
  try {
    for (const runId of wanted.length ? wanted : Object.keys(RUNS)) {
      const run = RUNS[runId]!;
      sim.script(run.script);
      const sub = await submitBatch(t.client, { run_id: runId, config: run.config, seeds: run.seeds, output_dir: tempDir() }, { taskQueue: 'capture' });
      await sub.handle.result();
      // Visibility is eventually consistent: wait until the parent and every child are listed.
      await waitFor(async () => (await t.client.workflow.count(`QasynthRunId = "${runId}"`)).count >= 1 + run.seeds.length, 30_000, 'visibility');
      const prefix = `qasynth-${runId}`;
      for (const f of fs.readdirSync(out)) if (f === `${prefix}.json` || f.startsWith(`${prefix}_`)) fs.rmSync(path.join(out, f));
      for await (const wf of t.client.workflow.list({ query: `QasynthRunId = "${runId}"` })) {
        const history = await t.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
        const name = wf.workflowId.replace(/[^A-Za-z0-9_.-]+/g, '_');
        fs.writeFileSync(path.join(out, `${name}.json`), historyToJSON(history));
        process.stdout.write(`saved ${name}.json (${history.events?.length} events)\n`);
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
