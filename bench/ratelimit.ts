/**
 * Rate-limit utilisation: achieved LLM requests/min ÷ a simulated provider quota, with and without qasynth's
 * `rate_limits.llm_requests_per_second` (applied by the worker as Temporal's task-queue rate limit), when the
 * provider counts its quota per minute (`quota`) or per second (`strict`). In-process worker, fresh dev server
 * per case.
 */
import type { RequestLogEntry } from '../src/llm/simulator';
import type { RateLimits } from '../src/shared/types';
import {
  benchConfig, benchSeeds, chatLog, pass, pctOfCore, progress, round, runBatch, withInProcessWorker, withServer, withSimulator, workerCaps,
  type BenchContext, type Benchmark,
} from './harness';

interface RateCase {
  name: string;
  window_ms: number;
  /** qasynth's `rate_limits.llm_requests_per_second`, as a fraction of the quota (null = unset). */
  qasynth_fraction_of_quota: number | null;
  seeds: number;
}

function settings(ctx: BenchContext) {
  const q = ctx.quick;
  return {
    requests_per_minute: 600,
    latency_ms: 50,
    max_workers: 32,
    /** Seeds of the unlimited probe that measures the natural demand. */
    demand_probe_seeds: q ? 8 : 32,
    /** Steady state = the middle 80 % of the answered (200) requests: [p10, p90] of their arrival times. */
    steady_state: 'middle 80% of 200-answered requests',
    /**
     * `quota`: the provider's per-minute quota as a 60 s sliding window; `strict`: the same quota enforced per
     * second (10 per sliding 1 s, as providers that quantise their limits do); qasynth's limit at the quota ÷ 60.
     */
    cases: [
      { name: 'quota-limited', window_ms: 60_000, qasynth_fraction_of_quota: 1, seeds: q ? 20 : 60 },
      { name: 'quota-unlimited', window_ms: 60_000, qasynth_fraction_of_quota: null, seeds: q ? 20 : 60 },
      { name: 'strict-limited', window_ms: 1000, qasynth_fraction_of_quota: 1, seeds: q ? 12 : 30 },
      { name: 'strict-unlimited', window_ms: 1000, qasynth_fraction_of_quota: null, seeds: q ? 12 : 30 },
    ] satisfies RateCase[],
  };
}

export interface RateRun {
  case: string;
  window_ms: number;
  qasynth_llm_rps: number | null;
  seeds: number;
  wall_s: number;
  requests: number;
  answered_200: number;
  answered_429: number;
  share_429: number;
  steady_window_s: number;
  steady_requests_per_min: number;
  /** 429 share among the requests that arrived inside the steady-state window. */
  steady_share_429: number;
  utilisation: number;
  overall_200_per_min: number;
  /** Most requests (any status) that arrived in one sliding second. */
  max_arrivals_per_s: number;
  failed_seeds: number;
  other_processes_cpu_pct: number;
}

export interface RateLimitResult {
  demand_requests_per_min: number;
  runs: RateRun[];
}

type RateStats = Omit<RateRun, 'case' | 'window_ms' | 'qasynth_llm_rps' | 'seeds' | 'wall_s' | 'failed_seeds' | 'other_processes_cpu_pct'>;

function rateStats(log: RequestLogEntry[], rpm: number): RateStats {
  const ok = log.filter((e) => e.status === 200).map((e) => e.at_ms).sort((a, b) => a - b);
  const n429 = log.filter((e) => e.status === 429).length;
  const lo = Math.floor(ok.length * 0.1);
  const hi = Math.ceil(ok.length * 0.9) - 1;
  const tLo = ok[lo]!;
  const tHi = ok[hi]!;
  const spanMs = tHi - tLo;
  const steady = spanMs > 0 ? ((hi - lo) / spanMs) * 60_000 : NaN;
  const inSteady = log.filter((e) => e.at_ms >= tLo && e.at_ms <= tHi);
  const overallSpan = ok[ok.length - 1]! - ok[0]!;
  const all = log.map((e) => e.at_ms).sort((a, b) => a - b);
  let maxPerS = 0;
  for (let i = 0, j = 0; i < all.length; i++) {
    while (all[i]! - all[j]! >= 1000) j++;
    maxPerS = Math.max(maxPerS, i - j + 1);
  }
  return {
    requests: log.length,
    answered_200: ok.length,
    answered_429: n429,
    share_429: round(n429 / log.length, 4),
    steady_window_s: round(spanMs / 1000, 1),
    steady_requests_per_min: round(steady, 1),
    steady_share_429: round(inSteady.filter((e) => e.status === 429).length / Math.max(1, inSteady.length), 4),
    utilisation: round(steady / rpm, 3),
    overall_200_per_min: round(overallSpan > 0 ? ((ok.length - 1) / overallSpan) * 60_000 : NaN, 1),
    max_arrivals_per_s: maxPerS,
  };
}

async function run(ctx: BenchContext): Promise<RateLimitResult> {
  const s = settings(ctx);
  const caps = workerCaps(s.max_workers);
  // Natural demand: the same settings with no limit anywhere.
  progress(`ratelimit: probing natural demand (${s.demand_probe_seeds} seeds, max_workers ${s.max_workers}, no limits)`);
  const demand = await withServer('ratelimit-demand', (env) =>
    withSimulator({ latencyMs: s.latency_ms }, (sim) =>
      withInProcessWorker(env, { taskQueue: 'bench-rl-demand', llmUrl: sim.url, caps }, async () => {
        await runBatch(env, { label: 'demand', taskQueue: 'bench-rl-demand', runId: `bench-rl-demand-${Date.now()}`, config: benchConfig(s.max_workers), seeds: benchSeeds(s.demand_probe_seeds), sim, meter: { server: env.server.pid } });
        return rateStats(chatLog(sim), s.requests_per_minute).steady_requests_per_min;
      }),
    ),
  );
  progress(`ratelimit: natural demand ≈ ${demand} requests/min vs quota ${s.requests_per_minute}/min`);

  const runs: RateRun[] = [];
  for (const c of s.cases) {
    const rps = c.qasynth_fraction_of_quota === null ? null : round((s.requests_per_minute / 60) * c.qasynth_fraction_of_quota, 3);
    const rateLimits: RateLimits = rps ? { llm_requests_per_second: rps } : {};
    const config = benchConfig(s.max_workers, rps ? { rate_limits: rateLimits } : {});
    const q = `bench-rl-${c.name}`;
    progress(`ratelimit ${c.name}: ${c.seeds} seeds, simulator quota ${s.requests_per_minute}/min over a ${c.window_ms} ms sliding window, qasynth llm_requests_per_second=${rps ?? 'unset'}`);
    const r = await withServer(q, (env) =>
      withSimulator({ latencyMs: s.latency_ms, rateLimit: { requestsPerMinute: s.requests_per_minute, windowMs: c.window_ms } }, (sim) =>
        // The config's rate_limits are applied by the worker (createWorkers({rateLimits})), as `qasynth run` does.
        withInProcessWorker(env, { taskQueue: q, llmUrl: sim.url, caps, rateLimits }, async () => {
          const run = await runBatch(env, { label: q, taskQueue: q, runId: `${q}-${Date.now()}`, config, seeds: benchSeeds(c.seeds), sim, meter: { server: env.server.pid } });
          return {
            case: c.name,
            window_ms: c.window_ms,
            qasynth_llm_rps: rps,
            seeds: c.seeds,
            wall_s: round(run.wall_ms / 1000, 1),
            ...rateStats(chatLog(sim), s.requests_per_minute),
            failed_seeds: run.result.seeds_failed + run.result.seeds_missing,
            other_processes_cpu_pct: pctOfCore(run.cpu.others_cpu_ms, run.cpu),
          } satisfies RateRun;
        }),
      ),
    );
    progress(`ratelimit ${c.name}: utilisation ${r.utilisation}, 429 share ${(r.share_429 * 100).toFixed(1)} % (steady ${(r.steady_share_429 * 100).toFixed(1)} %), failed seeds ${r.failed_seeds}`);
    runs.push(r);
  }
  return { demand_requests_per_min: demand, runs };
}

function markdown(rl: RateLimitResult, ctx: BenchContext): string[] {
  const s = settings(ctx);
  const L: string[] = [];
  L.push(
    `max_workers ${s.max_workers}, LLM latency ${s.latency_ms} ms; natural demand without limits ≈ ${rl.demand_requests_per_min} requests/min. ` +
      `The simulator admits ${s.requests_per_minute} requests per 60 s sliding window (\`quota\`), or the same quota per second, 10 per sliding 1 s (\`strict\`); over it: 429 + retry-after-ms. ` +
      'Utilisation = answered (200) requests/min in steady state ÷ quota; steady state = the middle 80 % of the answered requests ' +
      '(10th to 90th percentile of their arrival times), leaving out the start-up and the drain at the end. 429 share = 429 answers ÷ all LLM requests (in brackets: within the steady state).',
    '',
  );
  L.push('| case | window | qasynth `llm_requests_per_second` | seeds | wall s | requests | 429 | 429 share | steady s | steady req/min | utilisation | max req in 1 s | failed seeds | others’ CPU % |');
  L.push('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const x of rl.runs) {
    const lim = x.qasynth_llm_rps !== null;
    L.push(`| ${x.case} | ${x.window_ms / 1000} s | ${lim ? x.qasynth_llm_rps : 'unset'} | ${x.seeds} | ${x.wall_s} | ${x.requests} | ${x.answered_429} | ${(x.share_429 * 100).toFixed(1)} % (${(x.steady_share_429 * 100).toFixed(1)} %)${lim ? ` ${pass(x.share_429 <= 0.05)}` : ''} | ${x.steady_window_s} | ${x.steady_requests_per_min} | ${x.utilisation}${lim ? ` ${pass(x.utilisation >= 0.9)}` : ''} | ${x.max_arrivals_per_s} | ${x.failed_seeds}${lim ? ` ${pass(x.failed_seeds === 0)}` : ''} | ${x.other_processes_cpu_pct} |`);
  }
  L.push('');
  return L;
}

export const ratelimit: Benchmark<RateLimitResult> = { name: 'ratelimit', settings, run, markdown };
