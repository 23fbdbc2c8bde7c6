/**
 * Recovery after kill -9 (issue 8's acceptance): a `qasynth worker` child process runs a batch (4 workers,
 * 500 ms latency); when the simulator has received the K-th LLM request (so calls are in flight), the worker is
 * SIGKILLed and a new one started at once. Measured on the simulator's clock: kill → the new worker is polling,
 * kill → the first LLM request after the kill reaches the simulator (only the new worker can send it), and
 * whether the batch still completes with every seed, and how many LLM calls were paid twice. Then the same with
 * `local_llm: true` (LLM calls as local activities; both workers share a call cache folder): a dead worker's
 * seeds wait for their workflow task to time out (10 s) instead of a heartbeat timeout (3 s).
 */
import type { RequestLogEntry } from '../src/llm/simulator';
import { submitBatch } from '../src/api';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  benchConfig, benchSeeds, chatLog, delay, describeTree, privateBuild, progress, round, startChildWorker, startMeter, TREE, withServer, withSimulator,
  workerCaps, type BenchContext, type Benchmark, type ChildWorker,
} from './harness';

function settings(ctx: BenchContext) {
  return {
    latency_ms: 500,
    max_workers: 4,
    seeds: ctx.quick ? 4 : 8,
    /** Kill when the simulator has received this many LLM requests (one kill per entry, in order). */
    kill_at_requests: ctx.quick ? [10] : [12, 60],
  };
}

export interface KillResult {
  kill_at_request: number;
  /** LLM requests that had arrived within one latency before the kill: calls in flight at the kill. */
  in_flight_at_kill: number;
  kill_to_worker_ready_s: number;
  /** Kill → first LLM request received after it (from the restarted worker). */
  kill_to_first_request_s: number;
  worker_ready_to_first_request_s: number;
}

export interface RecoveryResult {
  kills: KillResult[];
  wall_s: number;
  seeds_succeeded: number;
  failed_seeds: number;
  qa: number;
  llm_requests: number;
  /** LLM requests answered 200 whose body (fingerprint) had already been answered 200: calls paid twice. */
  repeated_llm_calls: number;
  worker_start_command: string;
  other_processes_cpu_pct: number;
  /** The same with `local_llm: true` (absent in results recorded before it). */
  local_llm?: Omit<RecoveryResult, 'local_llm'>;
}

/** First chat request with n > afterN, or null. */
function firstAfter(log: RequestLogEntry[], afterN: number): RequestLogEntry | null {
  return log.find((e) => e.n > afterN) ?? null;
}

async function run(ctx: BenchContext): Promise<RecoveryResult> {
  const activities = await runOnce(ctx, false);
  return { ...activities, local_llm: await runOnce(ctx, true) };
}

async function runOnce(ctx: BenchContext, localLlm: boolean): Promise<Omit<RecoveryResult, 'local_llm'>> {
  const s = settings(ctx);
  const dist = await privateBuild();
  const caps = workerCaps(s.max_workers);
  return withServer(localLlm ? 'recovery-local-llm' : 'recovery', (env) =>
    withSimulator({ latencyMs: s.latency_ms }, async (sim) => {
      const q = 'bench-recovery';
      const outputDir = fs.mkdtempSync(path.join(os.tmpdir(), 'qasynth-bench-recovery-'));
      const cacheDir = localLlm ? path.join(outputDir, '.cache') : undefined;
      const start = () => startChildWorker({ dist, address: env.server.address, taskQueue: q, llmUrl: sim.url, caps, ...(cacheDir ? { cacheDir } : {}) });
      let worker: ChildWorker = await start();
      const meter = startMeter({ server: env.server.pid });
      try {
        const config = benchConfig(s.max_workers, localLlm ? { local_llm: true } : {});
        const sub = await submitBatch(env.client, { run_id: `${q}-${Date.now()}`, config, seeds: benchSeeds(s.seeds), output_dir: outputDir }, { taskQueue: q });
        const kills: KillResult[] = [];
        let done = false;
        const result = sub.handle.result().finally(() => (done = true));
        for (const k of s.kill_at_requests) {
          while (!done && chatLog(sim).length < k) await delay(5);
          if (done) throw new Error(`recovery: the batch finished before the ${k}-th LLM request; raise seeds or lower kill_at_requests`);
          await worker.kill9();
          const killAt = Date.now() - sim.started_at;
          const nAtKill = sim.requests().length;
          const inFlight = chatLog(sim).filter((e) => e.at_ms > killAt - s.latency_ms).length;
          progress(`recovery${localLlm ? ' (local_llm)' : ''}: worker ${worker.pid} killed at LLM request ${nAtKill} (${inFlight} calls in flight); restarting`);
          worker = await start();
          const readyAt = Date.now() - sim.started_at;
          let first: RequestLogEntry | null = null;
          const deadline = Date.now() + 300_000;
          while (!(first = firstAfter(chatLog(sim), nAtKill)) && Date.now() < deadline) await delay(5);
          if (!first) throw new Error('recovery: no LLM request within 300 s after the restart');
          const kr: KillResult = {
            kill_at_request: nAtKill,
            in_flight_at_kill: inFlight,
            kill_to_worker_ready_s: round((readyAt - killAt) / 1000, 2),
            kill_to_first_request_s: round((first.at_ms - killAt) / 1000, 2),
            worker_ready_to_first_request_s: round((first.at_ms - readyAt) / 1000, 2),
          };
          progress(`recovery: new worker ready ${kr.kill_to_worker_ready_s} s after the kill; first LLM request ${kr.kill_to_first_request_s} s after the kill`);
          kills.push(kr);
        }
        const r = await result;
        const cpu = meter.stop();
        const seen = new Set<string>();
        let repeated = 0;
        for (const e of chatLog(sim)) {
          if (e.status !== 200) continue;
          if (seen.has(e.fingerprint)) repeated += 1;
          seen.add(e.fingerprint);
        }
        return {
          kills,
          wall_s: round(cpu.wall_ms / 1000, 1),
          seeds_succeeded: r.seeds_succeeded,
          failed_seeds: r.seeds_failed + r.seeds_missing,
          qa: r.qa_count,
          llm_requests: chatLog(sim).length,
          repeated_llm_calls: repeated,
          worker_start_command: worker.command,
          other_processes_cpu_pct: round((cpu.others_cpu_ms / cpu.wall_ms) * 100, 0),
        };
      } finally {
        await worker.stop();
        fs.rmSync(outputDir, { recursive: true, force: true });
      }
    }),
  );
}

function markdown(r: RecoveryResult, ctx: BenchContext): string[] {
  const s = settings(ctx);
  const local = r.local_llm;
  return [
    `Tree: ${describeTree(TREE)}; ${s.seeds} seeds, max_workers ${s.max_workers}, LLM latency ${s.latency_ms} ms. The \`qasynth worker\` child process is SIGKILLed as soon as the simulator has received ` +
      `LLM request no. ${s.kill_at_requests.join(' (then no. ')}${s.kill_at_requests.length > 1 ? ')' : ''} (“kill at request” = the count at the kill), and a new one started at once. Times on the simulator’s clock; “first request” = the first LLM request the simulator received after the kill.`,
    '',
    '| kill at request | calls in flight | kill → new worker polling s | kill → first LLM request s | new worker polling → first request s |',
    '|---:|---:|---:|---:|---:|',
    ...r.kills.map((k) => `| ${k.kill_at_request} | ${k.in_flight_at_kill} | ${k.kill_to_worker_ready_s} | ${k.kill_to_first_request_s} | ${k.worker_ready_to_first_request_s} |`),
    '',
    `Batch: ${r.wall_s} s, ${r.seeds_succeeded} seeds succeeded, ${r.failed_seeds} failed or missing, ${r.qa} QA, ${r.llm_requests} LLM requests, ${r.repeated_llm_calls} LLM calls paid twice; others’ CPU ${r.other_processes_cpu_pct} %.`,
    '',
    ...(local
      ? [
          'With `local_llm: true` (LLM calls as local activities; the two workers share a call cache folder):',
          '',
          '| kill at request | calls in flight | kill → new worker polling s | kill → first LLM request s | new worker polling → first request s |',
          '|---:|---:|---:|---:|---:|',
          ...local.kills.map((k) => `| ${k.kill_at_request} | ${k.in_flight_at_kill} | ${k.kill_to_worker_ready_s} | ${k.kill_to_first_request_s} | ${k.worker_ready_to_first_request_s} |`),
          '',
          `Batch: ${local.wall_s} s, ${local.seeds_succeeded} seeds succeeded, ${local.failed_seeds} failed or missing, ${local.qa} QA, ${local.llm_requests} LLM requests, ${local.repeated_llm_calls} LLM calls paid twice.`,
          '',
        ]
      : []),
  ];
}

export const recovery: Benchmark<RecoveryResult> = { name: 'recovery', settings, run, markdown };
