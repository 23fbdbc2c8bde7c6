/**
 * A real finished run for the artefact tests (export, report, show): `qasynth run` (compiled dist/) against a
 * real Temporal server with the LLM simulator, in math mode, with a seed whose text is markup (`<script>`) so the
 * report's escaping is tested on what a run really writes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startSimulator } from '../../src/llm/simulator';
import { tempDir, testTemporal, uniqueQueue } from './temporal';
import { runCli } from './cli';

const ROOT = path.join(__dirname, '..', '..');
export const CLI = path.join(ROOT, 'bin', 'qasynth.js');

/** The seeds of the run: the second is hostile markup (report escaping). */
export const RUN_SEEDS = ['prime numbers', '<script>window.__xss = 1</script><img src=x onerror="window.__xss=2"> Fibonacci & "golden" ratio', 'perfect squares'];

export interface FinishedRun {
  /** `<out>/<run_id>`. */
  runDir: string;
  outputDir: string;
  runId: string;
  /** The `qasynth run --json` result line. */
  result: { qa_path: string; trajectories_path: string; statistics_path: string; qa_count: number; trajectory_count: number };
}

/** The compiled CLI, as a user runs it (test/helpers/cli.ts). */
export { runCli };

/** Runs a small math-mode batch to completion (3 seeds, depth 2, branching 2) and returns its folder. */
export async function produceFinishedRun(): Promise<FinishedRun> {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('run `npm run build` first (npm test does)');
  const t = await testTemporal();
  const sim = await startSimulator();
  try {
    const dir = tempDir('qasynth-artefacts-');
    const config = path.join(dir, 'config.json');
    fs.writeFileSync(
      config,
      JSON.stringify({ environment_mode: 'math', max_depth: 2, branching_factor: 2, depth_threshold: 1, min_depth: 1, max_selected_traj: 1, model_name: 'sim', max_workers: 3, prices: { sim: { input_per_million: 1, output_per_million: 2 } },
        // The simulator writes questions from two templates: dedup would keep one QA of three (tested elsewhere).
        dedup: { enabled: false } }),
    );
    const seeds = path.join(dir, 'seeds.json');
    fs.writeFileSync(seeds, JSON.stringify(RUN_SEEDS));
    const outputDir = path.join(dir, 'out');
    const r = await runCli(
      ['run', '--config', config, '--seeds', seeds, '--output-dir', outputDir, '--run-id', 'artefacts', '--task-queue', uniqueQueue('art'), '--json', '--no-progress'],
      { TEMPORAL_ADDRESS: t.address, OPENAI_BASE_URL: sim.url, OPENAI_API_KEY: 'sk-artefacts' },
    );
    if (r.code !== 0) throw new Error(`qasynth run exited ${r.code}: ${r.stderr}`);
    const result = JSON.parse(r.stdout.trim().split('\n').pop()!);
    return { runDir: path.join(outputDir, 'artefacts'), outputDir, runId: 'artefacts', result };
  } finally {
    await sim.close();
    await t.close();
  }
}
