/**
 * Per-seed latency with `explore_concurrency` 1 and 4 (issue 8, "Concurrency inside a seed"): one seed at a
 * time, 500 ms latency, on the bench tree and on the web configs' D=10 b=2 t=2 tree (38 nodes), compared with
 * the seed's LLM-bound serial time and its critical path.
 *
 * ──────────────────────────────────────────────────────────────────────────────────────────────────────────
 * PLACEHOLDER until `explore_concurrency` exists: when the config schema rejects the key, the section is
 * recorded as skipped, with the schema's message, and nothing runs.
 * ──────────────────────────────────────────────────────────────────────────────────────────────────────────
 */
import { parseConfig } from '../src/config/schema';
import { benchConfig, describeTree, progress, round, treeShape, TREE, type BenchContext, type Benchmark, type Tree } from './harness';
import { qasynthRun } from './throughput';

/** The web configs' tree (original-system.md §1.4: N = 2 + 4 + 8·4 = 38 nodes, 4 leaves). */
const DEEP_TREE: Tree = { max_depth: 10, branching_factor: 2, depth_threshold: 2, min_depth: 2, max_selected_traj: 3, max_retries: 3 };

function settings(ctx: BenchContext) {
  return {
    latency_ms: 500,
    explore_concurrency: [1, 4],
    trees: ctx.quick ? [TREE] : [TREE, DEEP_TREE],
    /** Seeds per case, one at a time (max_workers 1). */
    seeds: ctx.quick ? 1 : 2,
    critical_path: '(max_depth action calls + 1 QA call) × latency: the deepest path’s actions in series, then its QA',
  };
}

export interface ExploreRow {
  tree: Tree;
  explore_concurrency: number;
  seed_latency_median_s: number;
  serial_s: number;
  critical_path_s: number;
  /** Median seed latency ÷ critical path (issue 8's acceptance for D=10 at explore_concurrency 4: ≤ 1.5). */
  of_critical_path: number;
  qa: number;
}

export type ExploreResult = { skipped: true; reason: string } | { skipped: false; rows: ExploreRow[] };

async function run(ctx: BenchContext): Promise<ExploreResult> {
  const s = settings(ctx);
  const probe = parseConfig(benchConfig(1, { explore_concurrency: 4 }));
  if (!probe.ok) {
    // The schema's message, without its list of valid keys.
    const reason = `the config rejects explore_concurrency (not implemented yet): ${probe.issues.map((i) => i.split('; valid keys')[0]).join('; ')}`;
    progress(`explore: skipped — ${reason}`);
    return { skipped: true, reason };
  }
  const rows: ExploreRow[] = [];
  for (const tree of s.trees) {
    const shape = treeShape(tree);
    for (const ec of s.explore_concurrency) {
      progress(`explore: D=${tree.max_depth} explore_concurrency ${ec}, ${s.seeds} seed(s) one at a time`);
      const r = await qasynthRun({ label: `explore-d${tree.max_depth}-ec${ec}`, maxWorkers: 1, seeds: s.seeds, latencyMs: s.latency_ms, tree, configExtra: { explore_concurrency: ec } });
      const critical = (shape.critical_path_llm_calls * s.latency_ms) / 1000;
      rows.push({
        tree,
        explore_concurrency: ec,
        seed_latency_median_s: r.seed_latency.median_s,
        serial_s: (shape.serial_llm_calls * s.latency_ms) / 1000,
        critical_path_s: critical,
        of_critical_path: round(r.seed_latency.median_s / critical, 2),
        qa: r.qa,
      });
    }
  }
  return { skipped: false, rows };
}

function markdown(r: ExploreResult, ctx: BenchContext): string[] {
  const s = settings(ctx);
  if (r.skipped) return [`**Skipped:** ${r.reason}.`, ''];
  return [
    `One seed at a time, LLM latency ${s.latency_ms} ms; serial = every LLM call of the seed in series; critical path = ${s.critical_path}.`,
    '',
    '| tree | explore_concurrency | seed latency median s | serial s | critical path s | ÷ critical path | QA |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...r.rows.map((x) => `| ${describeTree(x.tree)} | ${x.explore_concurrency} | ${x.seed_latency_median_s} | ${x.serial_s} | ${x.critical_path_s} | ${x.of_critical_path} | ${x.qa} |`),
    '',
  ];
}

export const explore: Benchmark<ExploreResult> = { name: 'explore', settings, run, markdown };
