/**
 * Orchestration overhead with a zero-latency LLM: the same activity functions driven by `sampleTree` in a plain
 * loop (bench/plain.ts) vs. through Temporal (in-process worker, fresh dev server), one seed at a time and 16 at
 * once. Per node = wall time × seeds at once ÷ tree nodes; added = Temporal − plain.
 */
import {
  benchConfig, benchSeeds, historyStats, pctOfCore, progress, round, runBatch, treeShape, TREE, withInProcessWorker, withServer, withSimulator,
  workerCaps, type BenchContext, type Benchmark,
} from './harness';
import { plainBatch } from './plain';

function settings(ctx: BenchContext) {
  return {
    latency_ms: 0,
    serial_seeds: ctx.quick ? 4 : 10,
    concurrent_seeds: ctx.quick ? 16 : 48,
    concurrency: 16,
    warmup_seeds: 2,
  };
}

export interface OverheadCase {
  seeds: number;
  concurrency: number;
  nodes: number;
  temporal_wall_s: number;
  /** Activities in the histories: activity tasks + local activities (markers). */
  temporal_activities: number;
  temporal_activities_per_s: number;
  temporal_workflow_tasks: number;
  /** Wall time × seeds at once ÷ activities: what one activity costs a seed, end to end. */
  temporal_ms_per_activity: number;
  temporal_server_cpu_s: number;
  temporal_worker_process_cpu_s: number;
  temporal_other_processes_cpu_pct: number;
  plain_wall_s: number;
  plain_activities: number;
  plain_activities_per_s: number;
  plain_cpu_s: number;
  temporal_ms_per_node: number;
  plain_ms_per_node: number;
  added_ms_per_node: number;
  added_ms_per_activity: number;
}

export interface OverheadResult {
  serial: OverheadCase;
  concurrent: OverheadCase;
}

async function run(ctx: BenchContext): Promise<OverheadResult> {
  const s = settings(ctx);
  const nodesPerSeed = treeShape(TREE).nodes;
  return withSimulator({ latencyMs: s.latency_ms }, async (sim) => {
    const one = async (seedCount: number, concurrency: number): Promise<OverheadCase> => {
      const seeds = benchSeeds(seedCount);
      const warm = benchSeeds(s.warmup_seeds, 'warm-up ');
      const caps = workerCaps(concurrency);
      const q = `bench-oh-${concurrency}`;
      progress(`overhead: Temporal, ${seedCount} seeds, max_workers ${concurrency}, zero LLM latency`);
      const t = await withServer(q, (env) =>
        withInProcessWorker(env, { taskQueue: q, llmUrl: sim.url, caps }, async () => {
          await runBatch(env, { label: `${q} warm-up`, taskQueue: q, runId: `${q}-warm-${Date.now()}`, config: benchConfig(concurrency), seeds: warm, meter: {} });
          const runId = `${q}-${Date.now()}`;
          const run = await runBatch(env, { label: q, taskQueue: q, runId, config: benchConfig(concurrency), seeds, meter: { server: env.server.pid } });
          if (run.result.seeds_failed + run.result.seeds_missing) throw new Error(`overhead: ${run.result.seeds_failed} seeds failed`);
          return { run, counts: await historyStats(env, runId, seedCount) };
        }),
      );
      progress(`overhead: plain loop, ${seedCount} seeds, ${concurrency} at once`);
      await plainBatch(sim.url, benchConfig(concurrency), warm, concurrency);
      const p = await plainBatch(sim.url, benchConfig(concurrency), seeds, concurrency);
      const nodes = seedCount * nodesPerSeed;
      const tWall = t.run.wall_ms;
      const atOnce = Math.min(concurrency, seedCount);
      const activities = t.counts.activity_tasks + t.counts.local_activities;
      // Per node = per unit of tree work, normalised by concurrency (wall time × seeds at once ÷ nodes).
      const perNode = (wall: number) => (wall * atOnce) / nodes;
      const c: OverheadCase = {
        seeds: seedCount,
        concurrency,
        nodes,
        temporal_wall_s: round(tWall / 1000, 2),
        temporal_activities: activities,
        temporal_activities_per_s: round(activities / (tWall / 1000), 1),
        temporal_workflow_tasks: t.counts.workflow_tasks,
        temporal_ms_per_activity: round((tWall * atOnce) / activities, 1),
        temporal_server_cpu_s: round(t.run.cpu.cpu_ms.server! / 1000, 1),
        temporal_worker_process_cpu_s: round(t.run.cpu.bench_process_cpu_ms / 1000, 1),
        temporal_other_processes_cpu_pct: pctOfCore(t.run.cpu.others_cpu_ms, t.run.cpu),
        plain_wall_s: round(p.wall_ms / 1000, 2),
        plain_activities: p.activities,
        plain_activities_per_s: round(p.activities / (p.wall_ms / 1000), 1),
        plain_cpu_s: round(p.cpu_ms / 1000, 1),
        temporal_ms_per_node: round(perNode(tWall), 1),
        plain_ms_per_node: round(perNode(p.wall_ms), 1),
        added_ms_per_node: round(perNode(tWall) - perNode(p.wall_ms), 1),
        added_ms_per_activity: round(((tWall - p.wall_ms) * atOnce) / activities, 1),
      };
      progress(`overhead (${concurrency} at once): Temporal ${c.temporal_activities_per_s} activities/s, plain ${c.plain_activities_per_s}/s; +${c.added_ms_per_node} ms per node`);
      return c;
    };
    const serial = await one(s.serial_seeds, 1);
    const concurrent = await one(s.concurrent_seeds, s.concurrency);
    return { serial, concurrent };
  });
}

function markdown(o: OverheadResult): string[] {
  return [
    'The same activity functions (createLlmActivities / createToolActivities / createOutputActivities) driven by `sampleTree` in a plain loop vs. ' +
      'through Temporal (in-process worker). Per node = wall time × seeds at once ÷ tree nodes; ms/activity = wall time × seeds at once ÷ activities; added = Temporal − plain. ' +
      'Activities counted from the histories (Temporal: activity tasks + local activities) or calls (plain). Worker CPU = the bench process (worker, simulator, driver).',
    '',
    '| seeds at once | seeds | Temporal wall s | plain wall s | Temporal activities/s | plain activities/s | Temporal ms/activity | Temporal ms/node | plain ms/node | added ms/node | added ms/activity | workflow tasks | server CPU s | worker CPU s | others’ CPU % |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...[o.serial, o.concurrent].map(
      (x) =>
        `| ${x.concurrency} | ${x.seeds} | ${x.temporal_wall_s} | ${x.plain_wall_s} | ${x.temporal_activities_per_s} | ${x.plain_activities_per_s} | ${x.temporal_ms_per_activity} | ${x.temporal_ms_per_node} | ${x.plain_ms_per_node} | ${x.added_ms_per_node} | ${x.added_ms_per_activity} | ${x.temporal_workflow_tasks} | ${x.temporal_server_cpu_s} | ${x.temporal_worker_process_cpu_s} | ${x.temporal_other_processes_cpu_pct} |`,
    ),
    '',
  ];
}

export const overhead: Benchmark<OverheadResult> = { name: 'overhead', settings, run, markdown };
