/**
 * The process-pool baseline: what the original tool does with `max_workers > 1` — a `ProcessPoolExecutor`
 * (../shared/reference/original-system.md §5): every seed submitted at once, `max_workers` processes, each
 * running one seed at a time, the seed's calls in series, against the same simulator, without Temporal.
 * Here the processes are Node children (bench/pool-child.ts, run through tsx) calling qasynth's own activity
 * functions in a plain loop (bench/plain.ts), with the OpenAI client's default retries (2, Retry-After honoured).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ROOT, progress, startMeter, type CpuSplit } from './harness';
import { finishPlainRun, preparePlainRun } from './plain';
import type { PoolReply, PoolSeedMessage } from './pool-child';

/** The OpenAI SDKs' default retries, which the original tool relied on (original-system.md §5 "Retries"). */
export const ORIGINAL_CLIENT_RETRIES = 2;

/** A pool of `size` processes, each loaded and waiting for seeds. */
export interface ProcessPool {
  pids: number[];
  /** Start-up time of the pool (spawn → every process ready), ms; not part of any measured batch. */
  startup_ms: number;
  close(): Promise<void>;
}

/** What one batch through the pool did. */
export interface PoolBatch {
  wall_ms: number;
  cpu: CpuSplit;
  qa: number;
  seeds_failed: number;
  llm_errors: number;
  /** Distinct LLM error messages (digits masked) → count. */
  llm_error_kinds: Record<string, number>;
  nodes: number;
  /** Dispatch → done of each seed, ms. */
  seed_latencies_ms: number[];
  /** Sum of the processes' VmRSS at its peak, MB. */
  peak_rss_mb: number;
}

/** Starts `size` pool processes and waits until every one has loaded (10 min at most, for 64 on a busy machine). */
export async function startPool(size: number): Promise<ProcessPool & { children: ChildProcess[] }> {
  const t0 = performance.now();
  const tsx = require.resolve('tsx/cjs');
  const children = Array.from({ length: size }, () =>
    spawn(process.execPath, ['--require', tsx, path.join(__dirname, 'pool-child.ts')], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] }),
  );
  for (const c of children) c.stderr!.on('data', (d: Buffer) => process.stderr.write(`[pool ${c.pid}] ${d}`));
  const close = async () => {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((r) => {
            if (c.exitCode !== null || c.signalCode !== null) return r();
            c.once('exit', () => r());
            if (c.connected) c.disconnect();
            else c.kill('SIGTERM');
          }),
      ),
    );
  };
  try {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`pool process ${c.pid} not ready in 10 min`)), 600_000);
            c.once('message', (m: PoolReply) => {
              if (m.type === 'ready') {
                clearTimeout(timer);
                resolve();
              }
            });
            c.once('exit', (code) => {
              clearTimeout(timer);
              reject(new Error(`pool process exited with ${code} before it was ready`));
            });
          }),
      ),
    );
  } catch (e) {
    for (const c of children) c.kill('SIGKILL');
    throw e;
  }
  const startup = performance.now() - t0;
  progress(`pool: ${size} processes ready in ${(startup / 1000).toFixed(1)} s`);
  return { pids: children.map((c) => c.pid!), startup_ms: startup, close, children };
}

/**
 * Runs one batch through a started pool: prepareRun here, then every seed submitted at once and handed to the
 * next idle process, writeOutputs here. Wall time and the pool's CPU (all its processes) cover exactly that.
 */
export async function runPoolBatch(
  pool: ProcessPool & { children: ChildProcess[] },
  opts: { label: string; llmUrl: string; config: Record<string, unknown>; seeds: string[]; clientRetries?: number },
): Promise<PoolBatch> {
  const meter = startMeter({ pool: pool.pids });
  const t0 = performance.now();
  const run = await preparePlainRun(opts.config, opts.seeds);
  const latencies: number[] = [];
  let qa = 0;
  let failed = 0;
  let llmErrors = 0;
  const errorKinds: Record<string, number> = {};
  let nodes = 0;
  let next = 0;
  let done = 0;
  const timer = setInterval(() => progress(`  ${opts.label}: ${done}/${run.seeds.length} seeds done (${((performance.now() - t0) / 1000).toFixed(0)} s)`), 2000);
  try {
    await Promise.all(
      pool.children.map(async (child) => {
        while (next < run.seeds.length) {
          const index = next++;
          const msg: PoolSeedMessage = {
            type: 'seed', index, seed: run.seeds[index]!, config: run.config, run_id: run.runId, output_dir: run.outputDir,
            llm_url: opts.llmUrl, max_retries: opts.clientRetries ?? ORIGINAL_CLIENT_RETRIES,
          };
          const s0 = performance.now();
          const reply = await new Promise<PoolReply>((resolve, reject) => {
            const onMessage = (m: PoolReply) => {
              if (m.type === 'ready' || m.index !== index) return;
              child.off('message', onMessage);
              child.off('exit', onExit);
              resolve(m);
            };
            const onExit = (code: number | null) => reject(new Error(`pool process ${child.pid} exited with ${code} during seed ${index}`));
            child.on('message', onMessage);
            child.once('exit', onExit);
            child.send(msg);
          });
          latencies.push(performance.now() - s0);
          done += 1;
          if (reply.type === 'done') {
            qa += reply.result.qa;
            llmErrors += reply.result.llm_errors;
            for (const m of reply.result.llm_error_messages) {
              const k = m.replace(/\d+/g, 'N');
              errorKinds[k] = (errorKinds[k] ?? 0) + 1;
            }
            nodes += reply.result.nodes;
          } else if (reply.type === 'failed') {
            failed += 1;
          }
        }
      }),
    );
    const files = await finishPlainRun(run);
    const cpu = meter.stop();
    if (files.qa_count !== qa) progress(`pool: warning: ${files.qa_count} QA in the output files, ${qa} reported by the processes`);
    return { wall_ms: cpu.wall_ms, cpu, qa: files.qa_count, seeds_failed: failed, llm_errors: llmErrors, llm_error_kinds: errorKinds, nodes, seed_latencies_ms: latencies, peak_rss_mb: cpu.peak_rss_mb.pool ?? NaN };
  } finally {
    clearInterval(timer);
  }
}
