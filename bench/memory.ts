/**
 * Worker peak memory: VmRSS of a `qasynth worker` child process (the launcher's bounded heap) running 64 seeds
 * at once at 500 ms latency, sampled every 200 ms.
 */
import {
  benchConfig, benchSeeds, delay, pass, pctOfCore, privateBuild, procStatusKb, progress, round, runBatch, startChildWorker, withServer, withSimulator,
  type BenchContext, type Benchmark,
} from './harness';
import { DEFAULT_CONCURRENCY, type WorkerConcurrency } from '../src/worker/worker';

function settings(ctx: BenchContext) {
  return { latency_ms: 500, max_workers: 64, seeds: ctx.quick ? 64 : 128, sample_every_ms: 200 };
}

export interface MemoryResult {
  max_workers: number;
  seeds: number;
  wall_s: number;
  failed_seeds: number;
  idle_rss_mb: number;
  peak_rss_mb: number;
  vm_hwm_mb: number;
  samples: number;
  worker_cpu_pct: number;
  server_cpu_pct: number;
  other_processes_cpu_pct: number;
  caps: WorkerConcurrency;
  worker_command: string;
}

async function run(ctx: BenchContext): Promise<MemoryResult> {
  const s = settings(ctx);
  const dist = await privateBuild();
  const caps = { ...DEFAULT_CONCURRENCY, llm: Math.max(DEFAULT_CONCURRENCY.llm, s.max_workers), tools: s.max_workers };
  return withServer('memory', (env) =>
    withSimulator({ latencyMs: s.latency_ms }, async (sim) => {
      const q = 'bench-mem';
      const worker = await startChildWorker({ dist, address: env.server.address, taskQueue: q, llmUrl: sim.url, caps });
      const pid = worker.pid;
      try {
        await delay(1000);
        const idle = procStatusKb(pid, 'VmRSS');
        let peak = idle;
        let samples = 0;
        const sampler = setInterval(() => {
          const rss = procStatusKb(pid, 'VmRSS');
          if (rss > peak) peak = rss;
          samples += 1;
        }, s.sample_every_ms);
        progress(`memory: worker pid ${pid} idle RSS ${(idle / 1024).toFixed(0)} MB; running ${s.seeds} seeds at max_workers ${s.max_workers}`);
        let run: Awaited<ReturnType<typeof runBatch>>;
        try {
          run = await runBatch(env, { label: 'memory', taskQueue: q, runId: `bench-mem-${Date.now()}`, config: benchConfig(s.max_workers), seeds: benchSeeds(s.seeds), sim, meter: { server: env.server.pid, worker: pid } });
        } finally {
          clearInterval(sampler);
        }
        const hwm = procStatusKb(pid, 'VmHWM');
        const r: MemoryResult = {
          max_workers: s.max_workers,
          seeds: s.seeds,
          wall_s: round(run.wall_ms / 1000, 1),
          failed_seeds: run.result.seeds_failed + run.result.seeds_missing,
          idle_rss_mb: round(idle / 1024, 0),
          peak_rss_mb: round(peak / 1024, 0),
          vm_hwm_mb: round(hwm / 1024, 0),
          samples,
          worker_cpu_pct: pctOfCore(run.cpu.cpu_ms.worker!, run.cpu),
          server_cpu_pct: pctOfCore(run.cpu.cpu_ms.server!, run.cpu),
          other_processes_cpu_pct: pctOfCore(run.cpu.others_cpu_ms, run.cpu),
          caps,
          worker_command: worker.command,
        };
        progress(`memory: peak RSS ${r.peak_rss_mb} MB (VmHWM ${r.vm_hwm_mb} MB), ${r.samples} samples`);
        return r;
      } finally {
        await worker.stop();
      }
    }),
  );
}

function markdown(x: MemoryResult, ctx: BenchContext): string[] {
  const s = settings(ctx);
  return [
    `Child process \`${x.worker_command}\`; VmRSS sampled every ${s.sample_every_ms} ms (${x.samples} samples), LLM latency ${s.latency_ms} ms.`,
    '',
    '| seeds at once | seeds | wall s | failed | idle RSS MB | peak RSS MB | VmHWM MB | worker CPU % | server CPU % | others’ CPU % |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| ${x.max_workers} | ${x.seeds} | ${x.wall_s} | ${x.failed_seeds} | ${x.idle_rss_mb} | ${x.peak_rss_mb} ${pass(x.peak_rss_mb <= 500)} (≤ 500) | ${x.vm_hwm_mb} | ${x.worker_cpu_pct} | ${x.server_cpu_pct} | ${x.other_processes_cpu_pct} |`,
    '',
  ];
}

export const memory: Benchmark<MemoryResult> = { name: 'memory', settings, run, markdown };
