/**
 * A script that uses qasynth as a library: connect with the same settings as the CLI (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*), load and validate a config and a seeds file, submit
 * the batch, follow its progress, print where the results are.
 *
 *   npm run build                      # the package's dist/ (code and type declarations)
 *   node bin/qasynth.js worker &       # a worker must serve the task queue (the script warns when none does)
 *   npx tsx examples/submit-and-watch.ts --config configs/math.json --seeds examples/seeds.json [--output-dir out] [--task-queue qasynth] [--run-id ID]
 *
 * It imports `qasynth` as an installed package would be imported (through package.json `exports`), so it is
 * type-checked against the built declarations: `npx tsc -p examples`. Exit codes as the CLI: 0 every seed gave
 * QA, 1 some did not, 2 bad input, 3 the run could not be followed.
 */
import { parseArgs } from 'node:util';
import { ConfigError, connect, loadConfig, loadSeeds, submit, watch, type Config, type RunUpdate } from 'qasynth';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string' },
      seeds: { type: 'string' },
      'output-dir': { type: 'string', default: 'out' },
      'task-queue': { type: 'string', default: 'qasynth' },
      'run-id': { type: 'string' },
    },
  });
  if (!values.config || !values.seeds) {
    process.stderr.write('usage: submit-and-watch --config F --seeds F [--output-dir D] [--task-queue Q] [--run-id ID]\n');
    return 2;
  }
  let config: Config;
  try {
    // Validated here: a bad file throws ConfigError with one line per problem, before anything is started.
    config = { ...loadConfig(values.config), max_workers: 2 };
    const seeds = await loadSeeds(values.seeds);
    const conn = await connect();
    try {
      const sub = await submit(
        conn,
        { config, seeds, outputDir: values['output-dir'], runId: values['run-id'] },
        { taskQueue: values['task-queue'] },
      );
      process.stderr.write(`run ${sub.runId}: ${sub.state} (${sub.seedsTotal} seeds, workflow ${sub.workflowId})\n`);
      if (sub.warning) process.stderr.write(`warning: ${sub.warning}\n`);
      let last: RunUpdate | null = null;
      for await (const u of watch(conn, sub.runId, { intervalMs: 500 })) {
        last = u;
        if (u.state === 'running') {
          const c = u.progress.counters;
          process.stdout.write(`progress: ${c.seeds_done}/${u.progress.seeds_total} seeds, ${c.qa} QA, ${c.llm_calls} LLM calls (${u.progress.phase})\n`);
        } else if (u.state === 'no_worker') {
          process.stderr.write(`waiting: ${u.message}\n`);
        }
      }
      if (last?.state === 'completed') {
        const r = last.result;
        process.stdout.write(`done: ${r.seeds_succeeded}/${r.seeds_total} seeds, ${r.qa_count} QA in ${r.qa_path}\nstatistics: ${r.statistics_path}\n`);
        return r.seeds_failed || r.seeds_no_qa || r.status !== 'complete' ? 1 : 0;
      }
      process.stderr.write(`${last?.state === 'ended' ? last.message : 'the watch stopped'}\n`);
      return 3;
    } finally {
      await conn.close();
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const issue of e.issues) process.stderr.write(`error: ${issue}\n`);
      return 2;
    }
    throw e;
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exit(3);
  },
);
