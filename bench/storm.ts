/**
 * 429 storm (issue 8's acceptance): the simulator answers 30 % of LLM requests, at random, with HTTP 429 and
 * `Retry-After: 1`; 4 workers, 20 seeds, 500 ms latency. qasynth and the process pool each run the same batch
 * without faults and in the storm; reported: wall time in the storm ÷ without faults, and QA lost.
 *
 * The 429s come at once (the rule's `latencyMs: 0`), as providers refuse before generating; the same for both
 * systems. The pool retries as the original did
 * (the OpenAI client's 2 retries, then the branch or the QA is dropped).
 */
import { describeTree, progress, round, TREE, type BenchContext, type Benchmark } from './harness';
import { poolRun, qasynthRun, type ThroughputRun } from './throughput';
import type { FaultRule } from '../src/llm/simulator';

function settings(ctx: BenchContext) {
  return {
    latency_ms: 500,
    max_workers: 4,
    seeds: ctx.quick ? 8 : 20,
    fault: { match: { kind: 'any' }, probability: 0.3, respond: { status: 429, latencyMs: 0, headers: { 'retry-after': '1' } } } satisfies FaultRule,
  };
}

export interface StormSystem {
  system: 'qasynth' | 'pool';
  clean: ThroughputRun;
  storm: ThroughputRun;
  /** Wall time in the storm ÷ without faults. */
  wall_ratio: number;
  /** QA without faults − QA in the storm. */
  qa_lost: number;
  requests_429: number;
}

export interface StormResult {
  systems: StormSystem[];
}

async function run(ctx: BenchContext): Promise<StormResult> {
  const s = settings(ctx);
  const systems: StormSystem[] = [];
  for (const system of ['qasynth', 'pool'] as const) {
    const go = (label: string, script?: FaultRule[]) => {
      const opts = { label, maxWorkers: s.max_workers, seeds: s.seeds, latencyMs: s.latency_ms, script };
      return system === 'qasynth' ? qasynthRun(opts) : poolRun(opts);
    };
    progress(`storm: ${system} without faults (${s.seeds} seeds, max_workers ${s.max_workers})`);
    const clean = await go('storm-clean');
    progress(`storm: ${system} in a 30 % 429 storm`);
    const storm = await go('storm-429', [s.fault]);
    const r: StormSystem = {
      system,
      clean,
      storm,
      wall_ratio: round(storm.wall_s / clean.wall_s, 2),
      qa_lost: clean.qa - storm.qa,
      requests_429: storm.llm_requests_429,
    };
    progress(`storm ${system}: ${clean.wall_s} s → ${storm.wall_s} s (${r.wall_ratio}×), QA ${clean.qa} → ${storm.qa}, ${r.requests_429} 429s`);
    systems.push(r);
  }
  return { systems };
}

function markdown(r: StormResult, ctx: BenchContext): string[] {
  const s = settings(ctx);
  return [
    `Tree: ${describeTree(TREE)}; ${s.seeds} seeds, max_workers ${s.max_workers}, LLM latency ${s.latency_ms} ms; storm: ${s.fault.probability * 100} % of LLM requests answered 429 with Retry-After ${s.fault.respond.headers['retry-after']} s, at once (no generation latency, as providers refuse). ` +
      'Pool: the OpenAI client’s default 2 retries, then the branch is skipped or the QA dropped (as the original).',
    '',
    '| system | wall s without faults | wall s in the storm | ratio | QA without faults | QA in the storm | QA lost | failed seeds | LLM requests (429s) | others’ CPU % (storm run) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.systems.map((x) => `| ${x.system} | ${x.clean.wall_s} | ${x.storm.wall_s} | ${x.wall_ratio}× | ${x.clean.qa} | ${x.storm.qa} | ${x.qa_lost} | ${x.storm.failed_seeds} | ${x.storm.llm_requests} (${x.requests_429}) | ${x.storm.other_processes_cpu_pct} |`),
    '',
  ];
}

export const storm: Benchmark<StormResult> = { name: 'storm', settings, run, markdown };
