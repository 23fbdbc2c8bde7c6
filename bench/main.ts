/**
 * `npm run bench`: performance benchmarks of qasynth on this machine, against the offline LLM simulator and
 * in-memory Temporal dev servers. Not part of the test suite. Results: bench/results/latest.json + latest.md.
 *
 *   npm run bench                                  # every benchmark (~45 min on 2 cores)
 *   npm run bench -- --only throughput,sdk         # a subset (names below); the other sections are kept
 *   npm run bench -- --quick                       # smaller settings (smoke run; figures not comparable)
 *   npm run bench -- --render [--out NAME]         # rewrite bench/results/NAME.md from NAME.json (no run)
 *   npm run bench -- --only sdk --dynamic-config history.transferProcessorMaxPollRPS=1000 --out poll-rps
 *                                                  # a server setting measured, results in bench/results/poll-rps.*
 *
 * One file per benchmark, a shared harness (bench/harness.ts):
 *   sdk         bare-SDK baseline: ms per activity round trip (other queue, own queue, local activity)
 *   throughput  qasynth vs the process pool it replaces: seeds/min, fraction of the LLM-bound ideal, CPU per seed,
 *               server tasks per tree node, per-seed latency; max_workers 1, 4, 16, 64
 *   storm       30 % random 429s with Retry-After 1 s: wall time vs no faults, QA lost (qasynth and the pool)
 *   recovery    kill -9 of a worker: time until the restarted worker's first LLM request
 *   explore     per-seed latency with explore_concurrency 1 and 4 (skipped while the config rejects the key)
 *   ratelimit   achieved LLM requests/min ÷ a simulated provider quota, with and without qasynth's rate_limits
 *   overhead    zero-latency LLM: Temporal vs the same activity functions called in a plain loop
 *   memory      peak RSS of a `qasynth worker` child process running 64 seeds at once
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  benchElapsedS, devServerDynamicConfig, devServerKind, describeTree, machine, machineStateSummary, pass, progress, RESULTS_DIR, ROOT, round, TREE, treeShape,
  type BenchContext, type Benchmark, type MachineFacts,
} from './harness';
import { sdkBaseline, type SdkBaselineResult } from './sdk-baseline';
import { throughput, type ThroughputResult } from './throughput';
import { storm, type StormResult } from './storm';
import { recovery, type RecoveryResult } from './recovery';
import { explore } from './explore';
import { ratelimit } from './ratelimit';
import { overhead, type OverheadResult } from './overhead';
import { memory } from './memory';

/** Version of latest.json's layout: 2 = one section per benchmark file (this one); 1 = bench/run.ts's. */
const FORMAT = 2;

const BENCHES: { bench: Benchmark<unknown>; title: string }[] = [
  { bench: sdkBaseline as Benchmark<unknown>, title: 'Bare-SDK baseline: one activity round trip on this dev server' },
  { bench: throughput as Benchmark<unknown>, title: 'Throughput: qasynth vs the process pool, per max_workers' },
  { bench: storm as Benchmark<unknown>, title: '429 storm' },
  { bench: recovery as Benchmark<unknown>, title: 'Recovery after kill -9 of the worker' },
  { bench: explore as Benchmark<unknown>, title: 'Per-seed latency with explore_concurrency 1 and 4' },
  { bench: ratelimit as Benchmark<unknown>, title: 'Rate-limit utilisation (simulated quota 600 requests/min)' },
  { bench: overhead as Benchmark<unknown>, title: 'Orchestration overhead (zero-latency LLM)' },
  { bench: memory as Benchmark<unknown>, title: 'Worker peak memory' },
];
const NAMES = BENCHES.map((b) => b.bench.name);

interface Results {
  format: number;
  machine: MachineFacts;
  /** Other processes' CPU during every measured span of this invocation (the machine was not ours alone). */
  machine_state?: ReturnType<typeof machineStateSummary>;
  settings: Record<string, unknown> & { quick: boolean; dev_server: string; dynamic_config?: Record<string, unknown> };
  errors: Record<string, string>;
  duration_s?: number;
  /** When each section was measured (sections not re-run by --only come from the previous latest.json). */
  section_dates: Record<string, string>;
  [section: string]: unknown;
}

function usage(): string {
  return (
    'usage: npm run bench -- [--quick] [--only <names>] [--dynamic-config KEY=JSON ...] [--out <name>] [--render]\n' +
    `  names (comma-separated): ${NAMES.join(', ')}\n` +
    '  --dynamic-config: a dynamic config value for every dev server the bench starts (repeatable), e.g. history.transferProcessorMaxPollRPS=1000\n' +
    '  --out: write bench/results/<name>.json + .md instead of latest.json + latest.md (sections of an earlier <name>.json are kept under --only)\n' +
    '  --render: rewrite bench/results/<name>.md from its .json without running anything\n'
  );
}

/** Parses `KEY=JSON` (a bare string value is taken as a string). */
function parseDynamicConfig(arg: string | undefined): [string, unknown] {
  const m = /^([A-Za-z][\w.-]*)=(.+)$/.exec(arg ?? '');
  if (!m) throw new Error(`--dynamic-config: expected KEY=JSON, e.g. history.transferProcessorMaxPollRPS=1000, got ${JSON.stringify(arg ?? '')}`);
  try {
    return [m[1]!, JSON.parse(m[2]!)];
  } catch {
    return [m[1]!, m[2]!];
  }
}

function parseArgs(argv: string[]): { ctx: BenchContext; only: Set<string>; out: string; render: boolean } {
  let only: string[] = NAMES;
  let quick = false;
  let render = false;
  let out = 'latest';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--render') render = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? argv[++i] : a.slice('--only='.length);
      if (!v) throw new Error(`--only: expected a comma-separated list of benchmarks, got nothing\n${usage()}`);
      only = v.split(',').map((s) => s.trim()).filter(Boolean);
      const unknown = only.filter((n) => !NAMES.includes(n));
      if (unknown.length) throw new Error(`--only: unknown benchmark ${unknown.join(', ')}; valid: ${NAMES.join(', ')}`);
    } else if (a === '--dynamic-config' || a.startsWith('--dynamic-config=')) {
      const [k, v] = parseDynamicConfig(a === '--dynamic-config' ? argv[++i] : a.slice('--dynamic-config='.length));
      devServerDynamicConfig[k] = v;
    } else if (a === '--out' || a.startsWith('--out=')) {
      const v = a === '--out' ? argv[++i] : a.slice('--out='.length);
      if (!v || !/^[\w.-]+$/.test(v)) throw new Error(`--out: expected a file name stem (letters, digits, . _ -), got ${JSON.stringify(v ?? '')}`);
      out = v;
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(usage());
      process.exit(0);
    } else throw new Error(`unknown argument ${JSON.stringify(a)}\n${usage()}`);
  }
  return { ctx: { quick }, only: new Set(only), out, render };
}

/** Issue 8's acceptance floor for the fraction of the LLM-bound ideal, per max_workers. */
const IDEAL_TARGET: Record<number, number> = { 1: 0.97, 4: 0.94, 16: 0.9, 64: 0.75 };

/** The headline table: issue 8's figures, from whichever sections are present. */
function summary(r: Results): string[] {
  const L: string[] = [];
  const tp = r.throughput as ThroughputResult | undefined;
  const sdk = r.sdk as SdkBaselineResult | undefined;
  const st = r.storm as StormResult | undefined;
  const rec = r.recovery as RecoveryResult | undefined;
  const oh = r.overhead as OverheadResult | undefined;
  if (tp) {
    L.push(`Tree: ${describeTree(TREE)}; LLM latency 500 ms. Targets: issue 8’s acceptance (fraction of ideal; CPU ≤ 0.25 s per seed, server + worker).`, '');
    L.push('| max_workers | seeds | pool seeds/min (of ideal) | qasynth seeds/min (of ideal) | bare SDK, same routing: of ideal | qasynth CPU s/seed server + worker | pool CPU s/seed | server tasks/node |');
    L.push('|---:|---:|---:|---:|---:|---:|---:|---:|');
    const ws = [...new Set(tp.runs.map((x) => x.max_workers))];
    for (const w of ws) {
      const p = tp.runs.find((x) => x.system === 'pool' && x.max_workers === w);
      if (!p) continue;
      // The default (LLM calls as activities), then local_llm (LLM calls as local activities) when measured.
      for (const q of tp.runs.filter((x) => x.system !== 'pool' && x.max_workers === w)) {
        const target = IDEAL_TARGET[w];
        const cpu = (q.server_cpu_s_per_seed ?? NaN) + q.worker_cpu_s_per_seed;
        const bare = tp.bare?.find((b) => b.max_workers === w && b.form === (q.system === 'qasynth-local-llm' ? 'local' : 'own-queue'));
        L.push(
          `| ${w}${q.system === 'qasynth-local-llm' ? ' local_llm' : ''} | ${q.seeds} | ${p.seeds_per_min} (${p.fraction_of_ideal}) | ${q.seeds_per_min} (${q.fraction_of_ideal}${target ? ` ${pass(q.fraction_of_ideal >= target)} ≥ ${target}` : ''}) | ` +
            `${bare ? `${bare.fraction_of_ideal} (${bare.form === 'local' ? 'local activities' : 'activities'})` : '–'} | ` +
            `${round(cpu, 3)} ${pass(cpu <= 0.25)} (${q.server_cpu_s_per_seed} + ${q.worker_cpu_s_per_seed}) | ${p.worker_cpu_s_per_seed} | ${q.server_tasks_per_node} |`,
        );
      }
    }
    L.push('');
    const q64 = tp.runs.find((x) => x.system === 'qasynth' && x.max_workers === Math.max(...ws));
    const p64 = tp.runs.find((x) => x.system === 'pool' && x.max_workers === Math.max(...ws));
    if (q64 && p64) {
      L.push(
        `Peak RSS at max_workers ${q64.max_workers}: qasynth dev server ${q64.peak_rss_mb.server} MB + worker ${q64.peak_rss_mb.worker} MB; ` +
          `pool ${p64.peak_rss_mb.pool} MB summed over its ${p64.max_workers} processes (shared pages counted in each, as ps does).`,
        '',
      );
    }
  }
  const lines: string[] = [];
  if (sdk) {
    const f = (form: string) => sdk.forms.find((x) => x.form === form)?.ms_per_activity ?? '–';
    lines.push(`- Bare SDK, ms per activity round trip: another task queue **${f('other-queue')}**, the workflow’s own queue **${f('own-queue')}** (without eager dispatch ${f('own-queue-no-eager')}), local activity **${f('local')}**.`);
  }
  if (oh) lines.push(`- qasynth with a zero-latency LLM, one seed at a time: **${oh.serial.temporal_ms_per_activity} ms per activity** (${oh.serial.temporal_ms_per_node} ms per tree node; the plain loop ${oh.serial.plain_ms_per_node}).`);
  if (st) {
    for (const x of st.systems) lines.push(`- 429 storm, ${x.system}: ${x.clean.wall_s} s → ${x.storm.wall_s} s (**${x.wall_ratio}×**${x.system === 'qasynth' ? ` ${pass(x.wall_ratio <= 1.6 && x.qa_lost <= 0)} ≤ 1.6, nothing lost` : ''}), QA lost ${x.qa_lost}.`);
  }
  if (rec) lines.push(`- kill -9 of the worker: first LLM request of the restarted worker ${rec.kills.map((k) => `**${k.kill_to_first_request_s} s**`).join(', ')} after the kill ${pass(rec.kills.every((k) => k.kill_to_first_request_s <= 5))} (≤ 5 s); the new worker was polling after ${rec.kills.map((k) => `${k.kill_to_worker_ready_s} s`).join(', ')}; ${rec.repeated_llm_calls} LLM calls paid twice.`);
  if (rec?.local_llm) lines.push(`- kill -9 with \`local_llm: true\`: first LLM request ${rec.local_llm.kills.map((k) => `**${k.kill_to_first_request_s} s**`).join(', ')} after the kill (the workflow task timeout); ${rec.local_llm.repeated_llm_calls} LLM calls paid twice (the shared call cache answered the others).`);
  if (lines.length) L.push(...lines, '');
  return L;
}

function markdown(r: Results, ctx: BenchContext): string {
  const m = r.machine;
  const L: string[] = [];
  L.push('# qasynth benchmarks', '');
  L.push(`${m.date} · ${m.cpu_model}, ${m.cpu_cores} cores, ${m.memory_total_gb} GB · ${m.os} · Node ${m.node} · ${m.temporal_cli} · SDK ${m.temporal_sdk} · commit ${m.git_commit}${m.git_dirty ? ' (dirty)' : ''}${r.settings.quick ? ' · **--quick**' : ''}`, '');
  const shape = treeShape(TREE);
  L.push(`Tree of every benchmark unless stated: ${describeTree(TREE)}, ${shape.leaves} leaves. Dev server: ${r.settings.dev_server}.`, '');
  if (r.machine_state) {
    const s = r.machine_state;
    L.push(
      `**Machine state:** the machine was shared. Over the ${s.measured_s} s measured in this invocation, other processes used on average ${s.others_cpu_pct_mean} % of one core ` +
        `(up to ${s.others_cpu_pct_max} % in one measured span; 200 % = the whole machine); the whole machine was busy ${s.machine_busy_pct_mean} % of one core on average. ` +
        `Load average at the start: ${m.load_avg_1m_at_start}. Each table’s “others’ CPU %” is that share during its own run.`,
      '',
    );
  }
  L.push('## Summary (issue 8’s figures)', '', ...summary(r));
  BENCHES.forEach(({ bench, title }, i) => {
    if (r[bench.name] === undefined) return;
    L.push(`## ${i + 1}. ${title} \`--only ${bench.name}\``, '');
    L.push(...bench.markdown(r[bench.name], ctx));
  });
  const dates = Object.entries(r.section_dates).filter(([, d]) => d !== m.date);
  if (dates.length) L.push(`Sections measured earlier (kept from the previous run): ${dates.map(([b, d]) => `${b} ${d}`).join(', ')}.`, '');
  for (const [k, v] of Object.entries(r.errors)) L.push(`**${k} failed:** \`${v.split('\n')[0]}\``, '');
  return L.join('\n');
}

/** Writes bench/results/<out>.md from `results` and prints it; returns the file's path. */
function writeMarkdown(results: Results, ctx: BenchContext, out: string): string {
  const md = path.join(RESULTS_DIR, `${out}.md`);
  const text = markdown(results, ctx);
  fs.writeFileSync(md, `${text}\n`);
  process.stdout.write(`${text}\n`);
  return md;
}

async function main(): Promise<void> {
  const { ctx, only, out, render } = parseArgs(process.argv.slice(2));
  if (render) {
    // The tables again from recorded results (after a change to how they are written): nothing is run.
    const json = path.join(RESULTS_DIR, `${out}.json`);
    if (!fs.existsSync(json)) throw new Error(`--render: ${path.relative(ROOT, json)} does not exist; run the benchmarks first (npm run bench)`);
    const recorded = JSON.parse(fs.readFileSync(json, 'utf8')) as Results;
    writeMarkdown(recorded, { quick: !!recorded.settings?.quick }, out);
    return;
  }
  const results: Results = {
    format: FORMAT,
    machine: machine(),
    settings: { quick: ctx.quick, dev_server: devServerKind(), dynamic_config: { ...devServerDynamicConfig }, tree: TREE },
    errors: {},
    section_dates: {},
  };
  for (const { bench } of BENCHES) results.settings[bench.name] = bench.settings(ctx);
  progress(`machine: ${results.machine.cpu_model} × ${results.machine.cpu_cores}, Node ${results.machine.node}, ${results.machine.temporal_cli}, load ${results.machine.load_avg_1m_at_start}; running ${[...only].join(', ')}`);
  for (const { bench } of BENCHES) {
    if (!only.has(bench.name)) continue;
    const t = Date.now();
    try {
      results[bench.name] = await bench.run(ctx);
      results.section_dates[bench.name] = results.machine.date;
    } catch (e) {
      results.errors[bench.name] = (e as Error).stack ?? String(e);
      progress(`${bench.name} FAILED: ${(e as Error).message}`);
    }
    progress(`${bench.name} done in ${((Date.now() - t) / 1000).toFixed(0)} s`);
  }
  results.machine_state = machineStateSummary();
  results.duration_s = round(benchElapsedS(), 0);
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const json = path.join(RESULTS_DIR, `${out}.json`);
  // --only re-runs some benchmarks: keep the others' sections from the previous latest.json (same layout), with their date.
  if (only.size < NAMES.length && fs.existsSync(json)) {
    const prev = JSON.parse(fs.readFileSync(json, 'utf8')) as Partial<Results>;
    const sameServer = JSON.stringify(prev.settings?.dynamic_config ?? {}) === JSON.stringify(devServerDynamicConfig);
    if (prev.format === FORMAT && !!prev.settings?.quick === ctx.quick && sameServer) {
      for (const name of NAMES) {
        if (only.has(name) || prev[name] === undefined) continue;
        results[name] = prev[name];
        results.section_dates[name] = prev.section_dates?.[name] ?? prev.machine!.date;
      }
    } else progress(`previous ${path.relative(ROOT, json)} has another layout, --quick or --dynamic-config setting: its sections are not kept`);
  }
  fs.writeFileSync(json, `${JSON.stringify(results, null, 2)}\n`);
  const md = writeMarkdown(results, ctx, out);
  progress(`results: ${path.relative(ROOT, json)}, ${path.relative(ROOT, md)} (${results.duration_s} s in all)`);
  if (Object.keys(results.errors).length) process.exitCode = 1;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e) => {
    process.stderr.write(`bench failed: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
