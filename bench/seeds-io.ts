/**
 * `npx tsx bench/seeds-io.ts` — the seed-file and output side of a big run, measured (not part of `npm test`):
 *   1. `qasynth validate` of an N-seed JSONL file (the compiled CLI, as a user runs it): wall time, peak RSS;
 *   2. `prepareSeeds` of that file (validation + seeds.jsonl + offset index), then `readSeedPage` through it;
 *   3. `writeOutputs` over M seeds, each with a small result file (1 QA, 1 trajectory of 2 nodes, as a D=1 tree).
 * Each step runs in its own process with qasynth's V8 flags (NODE_FLAGS), so its peak RSS (getrusage maxrss) is
 * its own. Files go to a temp folder,
 * deleted afterwards. Records bench/results/seeds-io.json + seeds-io.md.
 *
 *   npx tsx bench/seeds-io.ts                        # 1,000,000 seeds to validate/prepare, 100,000 to write
 *   npx tsx bench/seeds-io.ts --seeds 200000 --results 20000
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';

const ROOT = path.resolve(__dirname, '..');
/** The V8 flags `qasynth` (bin/qasynth.js) and the Dockerfile run with: what a worker's memory is measured under. */
const NODE_FLAGS = ['--max-old-space-size=384', '--max-semi-space-size=4'];

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** A seed line: a mix of strings and objects with metadata, ~50 bytes, as the generator of a real seed list. */
function seedLine(i: number): string {
  return JSON.stringify(i % 3 === 0 ? { text: `Topic ${i}: the history of item ${(i * 7919) % 100_003}`, metadata: { k: i } } : `Seed ${i} about entity ${(i * 31) % 99_991}`);
}

function writeSeedsFile(file: string, n: number): void {
  const fd = fs.openSync(file, 'w');
  let buf: string[] = [];
  for (let i = 0; i < n; i++) {
    buf.push(seedLine(i));
    if (buf.length === 10_000) {
      fs.writeSync(fd, `${buf.join('\n')}\n`);
      buf = [];
    }
  }
  if (buf.length) fs.writeSync(fd, `${buf.join('\n')}\n`);
  fs.closeSync(fd);
}

interface Step {
  wall_s: number;
  peak_rss_mb: number;
  [k: string]: unknown;
}

/** Runs `node --import tsx bench/seeds-io.ts --step <name> …` and returns what the child printed. */
function child(step: string, args: string[]): Step {
  const r = spawnSync(process.execPath, [...NODE_FLAGS, '--import', 'tsx', __filename, '--step', step, ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`step ${step} failed (${r.status}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Step;
}

const activity = <A extends unknown[], R>(fn: (...a: A) => Promise<R>, ...args: A): Promise<R> =>
  new MockActivityEnvironment({ startToCloseTimeoutMs: 3_600_000 }).run(fn, ...args) as Promise<R>;

async function runStep(step: string): Promise<void> {
  const dir = process.argv[process.argv.indexOf('--dir') + 1]!;
  const t0 = performance.now();
  let extra: Record<string, unknown> = {};
  if (step === 'baseline') {
    // The same process with the same modules loaded, doing nothing: what the other steps' RSS starts from.
    await import('../src/activities/seeds');
    await import('../src/activities/outputs');
    await activity(async () => null);
  } else if (step === 'prepare') {
    const { createSeedActivities } = await import('../src/activities/seeds');
    const acts = createSeedActivities();
    const r = await activity(acts.prepareSeeds, { run_id: 'bench', output_dir: path.join(dir, 'out'), seeds_file: path.join(dir, 'seeds.jsonl'), number_of_seed: null });
    const prepared_s = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    let start = 0;
    let pages = 0;
    while (start < r.seeds_total) {
      const page = await activity(acts.readSeedPage, { run_id: 'bench', output_dir: path.join(dir, 'out'), start, max_seeds: 1000, max_bytes: 1_000_000, with_finished: false });
      start = page.next;
      pages += 1;
    }
    extra = { seeds_total: r.seeds_total, prepare_s: round(prepared_s), pages_of_1000: pages, read_all_pages_s: round((performance.now() - t1) / 1000) };
  } else if (step === 'write') {
    const { createOutputActivities } = await import('../src/activities/outputs');
    const out = createOutputActivities();
    const w = await activity(out.writeOutputs, { run_id: 'bench', output_dir: path.join(dir, 'out'), mode: 'math', timestamp: '20260101_000000', completion: 'complete' });
    extra = { seeds_succeeded: w.seeds_succeeded, qa: w.qa_count, trajectories: w.trajectory_count };
  }
  const wall_s = round((performance.now() - t0) / 1000);
  process.stdout.write(`${JSON.stringify({ wall_s, peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024), ...extra })}\n`);
}

/** M small seed results, as a finished run of D=1 trees leaves them, plus the run's manifest (seeds by reference). */
async function writeResults(dir: string, m: number): Promise<void> {
  const { createSeedActivities } = await import('../src/activities/seeds');
  const { createOutputActivities } = await import('../src/activities/outputs');
  const { parseConfig } = await import('../src/config/schema');
  const { emptySeedCounters } = await import('../src/domain/statistics');
  const out = path.join(dir, 'out');
  const seedsFile = path.join(dir, 'results-seeds.jsonl');
  writeSeedsFile(seedsFile, m);
  const prepared = await activity(createSeedActivities().prepareSeeds, { run_id: 'bench', output_dir: out, seeds_file: seedsFile, number_of_seed: null });
  const cfg = parseConfig({ environment_mode: 'math', model_name: 'sim', max_depth: 1, branching_factor: 1, min_depth: 1 });
  if (!cfg.ok) throw new Error(cfg.issues.join('\n'));
  await activity(createOutputActivities().prepareRun, { run_id: 'bench', output_dir: out, config: cfg.config, prepared_seeds: prepared, duplicates_dropped: 0, started_at: new Date().toISOString() });
  const { preparedSeeds } = await import('../src/activities/prepared-seeds');
  const seedsDir = path.join(out, 'bench', 'seeds');
  fs.mkdirSync(seedsDir, { recursive: true });
  let index = 0;
  for await (const s of preparedSeeds(path.join(out, 'bench'))) {
    const traj = `${s.source_id}_traj_0`;
    const node = (id: string, depth: number) => ({ node_id: id, observation: depth ? '6 * 7 = 42' : s.text, intent: depth ? 'compute' : '', action: depth ? { tool_name: 'calculator', parameters: { expressions: ['6 * 7'] } } : null, parent_id: depth ? 'root' : null, children_ids: depth ? [] : ['n1'], depth });
    const result = {
      run_id: 'bench', source_id: s.source_id, index: index++, seed_data: s.text, status: 'succeeded', started_at: 'x', finished_at: 'y',
      qas: [{ question: `What is 6 * 7, given ${s.text}?`, answer: '42', trajectory_id: traj, reasoning_steps: [], source_id: s.source_id, qa_id: `${traj}_qa_0`, metadata: { seed_data: s.text, seed_description: '', trajectory_depth: 1, synthesis_date: '2026-01-01', environment_mode: 'math' } }],
      trajectories: [{ trajectory_id: traj, source_id: s.source_id, seed_data: s.text, total_depth: 1, nodes: [node('root', 0), node('n1', 1)] }],
      counters: { ...emptySeedCounters(), llm_calls: 2, llm_requests: 2, input_tokens: 900, output_tokens: 120, nodes: 2, leaves: 1, tool_calls: { calculator: 1 } },
    };
    fs.writeFileSync(path.join(seedsDir, `${s.source_id}.json`), JSON.stringify(result));
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

async function main(): Promise<void> {
  const stepIdx = process.argv.indexOf('--step');
  if (stepIdx >= 0) return runStep(process.argv[stepIdx + 1]!);
  const n = arg('seeds', 1_000_000);
  const m = arg('results', 100_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qasynth-seeds-io-'));
  const log = (s: string) => process.stderr.write(`${s}\n`);
  try {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    const seedsFile = path.join(dir, 'seeds.jsonl');
    writeSeedsFile(seedsFile, n);
    const bytes = fs.statSync(seedsFile).size;
    log(`seeds-io: ${n} seeds, ${(bytes / 1e6).toFixed(1)} MB JSONL`);
    const config = path.join(dir, 'config.json');
    fs.writeFileSync(config, JSON.stringify({ environment_mode: 'math', model_name: 'sim' }));
    const validateRun = (seeds: string) => {
      const t0 = performance.now();
      const v = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, ...NODE_FLAGS, path.join(ROOT, 'bin', 'qasynth.js'), 'validate', '--config', config, '--seeds', seeds], { encoding: 'utf8' });
      if (v.status !== 0) throw new Error(`validate failed:\n${v.stderr}`);
      return { wall_s: round((performance.now() - t0) / 1000), peak_rss_mb: Math.round(Number(v.stderr.trim().split('\n').pop()) / 1024), output: v.stdout.trim() };
    };
    const oneSeed = path.join(dir, 'one.json');
    fs.writeFileSync(oneSeed, '["one seed"]');
    const cliBaseline = validateRun(oneSeed);
    const validate = validateRun(seedsFile);
    log(`validate: ${JSON.stringify(validate)}`);
    const baseline = child('baseline', ['--dir', dir]);
    log(`baseline (modules loaded, no work): ${JSON.stringify(baseline)}`);
    const prepare = child('prepare', ['--dir', dir]);
    log(`prepareSeeds + readSeedPage: ${JSON.stringify(prepare)}`);
    fs.rmSync(path.join(dir, 'out'), { recursive: true, force: true });
    const g0 = performance.now();
    await writeResults(dir, m);
    log(`generated ${m} seed results in ${round((performance.now() - g0) / 1000)} s`);
    const write = child('write', ['--dir', dir]);
    log(`writeOutputs: ${JSON.stringify(write)}`);
    const result = {
      date: new Date().toISOString(),
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 1e9)} GB, Node ${process.version}`,
      loadavg_1m: round(os.loadavg()[0]!),
      seeds_file: { seeds: n, bytes },
      step_process_baseline_rss_mb: baseline.peak_rss_mb,
      cli_baseline_rss_mb: cliBaseline.peak_rss_mb,
      validate,
      prepare_seeds: prepare,
      write_outputs: { seeds: m, ...write, seeds_per_s: Math.round(m / write.wall_s) },
    };
    const out = path.join(ROOT, 'bench', 'results');
    fs.mkdirSync(out, { recursive: true });
    fs.writeFileSync(path.join(out, 'seeds-io.json'), `${JSON.stringify(result, null, 2)}\n`);
    fs.writeFileSync(
      path.join(out, 'seeds-io.md'),
      [
        `# Seeds by reference and outputs at scale (${result.date.slice(0, 10)})`,
        '',
        `${result.machine}; load average at the end ${result.loadavg_1m}. \`npx tsx bench/seeds-io.ts --seeds ${n} --results ${m}\`; every step with qasynth's V8 flags (\`${NODE_FLAGS.join(' ')}\`).`,
        '',
        `Peak RSS is the whole process's; the prepareSeeds and writeOutputs processes (tsx) start at ${baseline.peak_rss_mb} MB with the modules loaded and no work done, \`qasynth validate\` of a one-seed file peaks at ${cliBaseline.peak_rss_mb} MB.`,
        '',
        '| step | size | wall | peak RSS |',
        '|---|---|---|---|',
        `| \`qasynth validate\` (stream-validate, run id) | ${n.toLocaleString('en')} seeds, ${(bytes / 1e6).toFixed(1)} MB JSONL | ${validate.wall_s} s | ${validate.peak_rss_mb} MB |`,
        `| \`prepareSeeds\` (validate + seeds.jsonl + index) | same | ${prepare.prepare_s} s | ${prepare.peak_rss_mb} MB (with the paging below) |`,
        `| \`readSeedPage\` × ${prepare.pages_of_1000} (1,000 seeds a page) | same | ${prepare.read_all_pages_s} s | |`,
        `| \`writeOutputs\` | ${m.toLocaleString('en')} seed results (1 QA, 1 trajectory each) | ${write.wall_s} s (${result.write_outputs.seeds_per_s.toLocaleString('en')} seeds/s) | ${write.peak_rss_mb} MB |`,
        '',
      ].join('\n'),
    );
    log(`recorded bench/results/seeds-io.json and seeds-io.md`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
