/**
 * Bare-SDK baseline: what one activity round trip costs on this dev server with nothing of qasynth in it.
 * A workflow (bench/sdk-baseline-workflows.ts, its own bundle) awaits 50 no-op activities in a loop, in four
 * forms: on another task queue, on the workflow's own queue (eager dispatch), the same with eager dispatch
 * refused, and as local activities. Workers in this process with the SDK's default options.
 *
 * ms per activity = (median wall of a 50-activity loop − median wall of a 0-activity loop) ÷ 50, client-side
 * (start → result), so the workflow's own start and completion are taken out.
 */
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';
import { UnguardedSandboxWorker } from '../src/worker/sandbox';
import { Client } from '@temporalio/client';
import { median, pctOfCore, progress, round, startMeter, withServer, type BenchContext, type Benchmark, type CpuSplit, type Env } from './harness';
import type { FanOutInput, LoopForm, NoopLoopInput } from './sdk-baseline-workflows';

const FORMS: LoopForm[] = ['other-queue', 'own-queue', 'own-queue-no-eager', 'local'];
const QUEUE = 'bench-sdk';
const OTHER_QUEUE = 'bench-sdk-other';

function settings(ctx: BenchContext) {
  return {
    activities_per_loop: 50,
    repetitions: ctx.quick ? 2 : 5,
    forms: FORMS,
    worker_options: 'SDK defaults (in this process); activity = async () => {}',
  };
}

export interface SdkFormResult {
  form: LoopForm;
  /** ms per activity round trip (see the module comment). */
  ms_per_activity: number;
  /** Median wall of the 50- and the 0-activity loops, ms. */
  loop_ms: number;
  empty_loop_ms: number;
  /** Server tasks per activity in one loop's history: (WorkflowTaskStarted + ActivityTaskStarted − those of the empty loop) ÷ n. */
  server_tasks_per_activity: number;
  workflow_tasks_per_activity: number;
  /** CPU ms per activity of the dev server and of this process (worker + client), over the 50-activity loops. */
  server_cpu_ms_per_activity: number;
  bench_process_cpu_ms_per_activity: number;
  other_processes_cpu_pct: number;
}

export interface SdkBaselineResult {
  forms: SdkFormResult[];
}

let bundled: ReturnType<typeof bundleWorkflowCode> | null = null;
/** The baseline workflows' bundle (bench/sdk-baseline-workflows.ts), built once per bench process. */
function baselineBundle(): ReturnType<typeof bundleWorkflowCode> {
  if (!bundled) {
    progress('sdk-baseline: bundling the baseline workflows');
    bundled = bundleWorkflowCode({ workflowsPath: require.resolve('./sdk-baseline-workflows'), logger: new DefaultLogger('WARN') });
  }
  return bundled;
}

async function loop(client: Client, form: LoopForm, n: number, id: string): Promise<number> {
  const t0 = performance.now();
  const input: NoopLoopInput = { form, n, other_queue: OTHER_QUEUE };
  await client.workflow.execute('noopLoop', { taskQueue: QUEUE, workflowId: id, args: [input] });
  return performance.now() - t0;
}

async function tasksIn(env: Env, id: string): Promise<{ wft: number; at: number }> {
  const h = await env.client.workflow.getHandle(id).fetchHistory();
  let wft = 0;
  let at = 0;
  for (const e of h.events ?? []) {
    if (e.workflowTaskStartedEventAttributes) wft += 1;
    if (e.activityTaskStartedEventAttributes) at += 1;
  }
  return { wft, at };
}

async function run(ctx: BenchContext): Promise<SdkBaselineResult> {
  const s = settings(ctx);
  const bundle = await baselineBundle();
  return withServer('sdk-baseline', async (env) => {
    const activities = { noop: async (): Promise<void> => undefined };
    const workers = [
      await Worker.create({ connection: env.native, namespace: 'default', taskQueue: QUEUE, workflowBundle: bundle, activities }),
      await Worker.create({ connection: env.native, namespace: 'default', taskQueue: OTHER_QUEUE, activities }),
    ];
    const running = workers.map((w) => w.run());
    try {
      const forms: SdkFormResult[] = [];
      for (const form of FORMS) {
        const tag = `${form}-${Date.now()}`;
        await loop(env.client, form, 5, `sdk-warmup-${tag}`);
        const full: number[] = [];
        const empty: number[] = [];
        let cpuFull: CpuSplit | null = null;
        const cpuSum = { server: 0, bench: 0, others: 0, wall: 0 };
        for (let r = 0; r < s.repetitions; r++) {
          empty.push(await loop(env.client, form, 0, `sdk-empty-${tag}-${r}`));
          const meter = startMeter({ server: env.server.pid });
          full.push(await loop(env.client, form, s.activities_per_loop, `sdk-full-${tag}-${r}`));
          cpuFull = meter.stop();
          cpuSum.server += cpuFull.cpu_ms.server!;
          cpuSum.bench += cpuFull.bench_process_cpu_ms;
          cpuSum.others += cpuFull.others_cpu_ms;
          cpuSum.wall += cpuFull.wall_ms;
        }
        const t1 = await tasksIn(env, `sdk-full-${tag}-0`);
        const t0 = await tasksIn(env, `sdk-empty-${tag}-0`);
        const n = s.activities_per_loop * s.repetitions;
        const r: SdkFormResult = {
          form,
          ms_per_activity: round((median(full) - median(empty)) / s.activities_per_loop, 1),
          loop_ms: round(median(full), 0),
          empty_loop_ms: round(median(empty), 0),
          server_tasks_per_activity: round((t1.wft + t1.at - t0.wft - t0.at) / s.activities_per_loop, 2),
          workflow_tasks_per_activity: round((t1.wft - t0.wft) / s.activities_per_loop, 2),
          server_cpu_ms_per_activity: round(cpuSum.server / n, 2),
          bench_process_cpu_ms_per_activity: round(cpuSum.bench / n, 2),
          other_processes_cpu_pct: cpuFull ? pctOfCore(cpuSum.others, { ...cpuFull, wall_ms: cpuSum.wall }) : NaN,
        };
        progress(`sdk-baseline ${form}: ${r.ms_per_activity} ms per activity, ${r.server_tasks_per_activity} server tasks per activity`);
        forms.push(r);
      }
      return { forms };
    } finally {
      for (const w of workers) w.shutdown();
      await Promise.allSettled(running);
    }
  });
}

function markdown(r: SdkBaselineResult, ctx: BenchContext): string[] {
  const s = settings(ctx);
  return [
    `A workflow awaiting ${s.activities_per_loop} no-op activities in a loop, on its own dev server, SDK-default workers in the bench process. ` +
      `ms/activity = (median wall of the ${s.activities_per_loop}-activity loop − median wall of an empty loop) ÷ ${s.activities_per_loop}, over ${s.repetitions} repetitions. ` +
      'Server tasks = WorkflowTaskStarted + ActivityTaskStarted in the history (local activities are not server tasks). CPU per activity over the full loops.',
    '',
    '| form | ms/activity | loop ms | empty loop ms | server tasks/activity | of which workflow tasks | server CPU ms/activity | worker+client CPU ms/activity | others’ CPU % |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.forms.map((f) => `| ${f.form} | ${f.ms_per_activity} | ${f.loop_ms} | ${f.empty_loop_ms} | ${f.server_tasks_per_activity} | ${f.workflow_tasks_per_activity} | ${f.server_cpu_ms_per_activity} | ${f.bench_process_cpu_ms_per_activity} | ${f.other_processes_cpu_pct} |`),
    '',
  ];
}

export const sdkBaseline: Benchmark<SdkBaselineResult> = { name: 'sdk', settings, run, markdown };

/** One bare-SDK fan-out run (bench/sdk-baseline-workflows.ts `fanOut`), measured like a qasynth throughput run. */
export interface BareFanOutRun {
  form: 'own-queue' | 'local';
  max_workers: number;
  seeds: number;
  calls_per_seed: number;
  latency_ms: number;
  wall_s: number;
  seeds_per_min: number;
  /** CPU s per seed: the dev server; the bench process (SDK-default worker and client, in process). */
  server_cpu_s_per_seed: number;
  worker_cpu_s_per_seed: number;
  /** Wall time per wave of seeds above its calls' latency, ms: wall ÷ waves − calls × latency, waves = ⌈seeds ÷ max_workers⌉ (a single wave's includes the batch's start and its slowest seed). */
  overhead_ms_per_wave: number;
  other_processes_cpu_pct: number;
}


/**
 * The bare SDK doing the throughput benchmark's job: on a fresh dev server, a parent workflow runs `seeds` child
 * workflows, `maxWorkers` at a time, each awaiting `callsPerSeed` activities in series that each sleep `latencyMs`
 * — as activities on the workflow's own queue (qasynth's default routing of LLM calls) or as local activities
 * (`local_llm`). A worker in this process set up as qasynth's worker is (no sandbox watchdog, the same workflow
 * task slots, pollers and cache size, activity slots for every seed). What Temporal itself costs for qasynth's shape on
 * this server, measured in the same bench run as qasynth.
 */
export async function bareFanOutRun(opts: { form: 'own-queue' | 'local'; maxWorkers: number; seeds: number; callsPerSeed: number; latencyMs: number }): Promise<BareFanOutRun> {
  const bundle = await baselineBundle();
  return withServer(`bare-${opts.form}-${opts.maxWorkers}`, async (env) => {
    const activities = { noop: (): Promise<void> => new Promise((resolve) => setTimeout(resolve, opts.latencyMs)) };
    // Set up as qasynth's worker is (src/worker/worker.ts; bench harness workerCaps), so that what differs is
    // qasynth's code and work: the sandbox without its execution watchdog (src/worker/sandbox.ts), 100 workflow
    // task slots and 40 pollers, activity slots for every seed. (With the SDK's 40 workflow task slots, 64 seeds
    // whose workflow tasks stay open while their local activities run queue behind each other: 0.32 of the ideal.)
    const slots = Math.max(100, opts.maxWorkers * 2);
    const worker = await UnguardedSandboxWorker.create({
      connection: env.native, namespace: 'default', taskQueue: QUEUE, workflowBundle: bundle, activities,
      maxConcurrentWorkflowTaskExecutions: 100, maxConcurrentWorkflowTaskPolls: 40, maxCachedWorkflows: opts.maxWorkers * 2 + 10,
      maxConcurrentActivityTaskExecutions: slots, maxConcurrentLocalActivityExecutions: slots,
    });
    const running = worker.run();
    try {
      const input: FanOutInput = { form: opts.form, seeds: opts.seeds, max_workers: opts.maxWorkers, calls_per_seed: opts.callsPerSeed };
      const meter = startMeter({ server: env.server.pid });
      const t0 = performance.now();
      await env.client.workflow.execute('fanOut', { taskQueue: QUEUE, workflowId: `bare-fanout-${opts.form}-${opts.maxWorkers}-${Date.now()}`, args: [input] });
      const wallMs = performance.now() - t0;
      const cpu = meter.stop();
      const waves = Math.ceil(opts.seeds / Math.max(1, opts.maxWorkers));
      return {
        form: opts.form,
        max_workers: opts.maxWorkers,
        seeds: opts.seeds,
        calls_per_seed: opts.callsPerSeed,
        latency_ms: opts.latencyMs,
        wall_s: round(wallMs / 1000, 1),
        seeds_per_min: round((opts.seeds / wallMs) * 60_000, 2),
        server_cpu_s_per_seed: round(cpu.cpu_ms.server! / 1000 / opts.seeds, 3),
        worker_cpu_s_per_seed: round(cpu.bench_process_cpu_ms / 1000 / opts.seeds, 3),
        overhead_ms_per_wave: round(wallMs / waves - opts.callsPerSeed * opts.latencyMs, 0),
        other_processes_cpu_pct: pctOfCore(cpu.others_cpu_ms, cpu),
      };
    } finally {
      worker.shutdown();
      await running;
    }
  });
}
