/**
 * The yield funnel of a run (statistics `funnel`, type YieldFunnel): built while writeOutputs streams the seed
 * results, in bounded memory (counters and count maps keyed by reason). Workflow-safe (pure code).
 *
 * Stages and where each loss comes from (units differ by stage, as the losses themselves do):
 * - exploration: branches skipped because no valid action came back (SeedCounters.skipped_branches, by reason);
 *   seeds that failed (`seed_failed:<error_type>`) or never ran (`seed_not_run`): one per seed;
 * - selection: leaves not turned into a path: below min_depth (`below_min_depth`) or beyond max_selected_traj
 *   (`over_max_selected_traj`): one per leaf;
 * - synthesis: paths whose QA attempts all failed the cheap validators (SeedCounters.qa_rejected, by reason) or were
 *   never attempted because the budget ran out (`budget_exhausted`): one per path;
 * - grounding / verification: QA in the seed's `rejected_qas` with that stage, by reason;
 * - dedup: QA dropped by writeOutputs' deduplication, by reason.
 */
import type { RejectedQaRecord, SeedResultFile, YieldFunnel } from '../shared/types';

type Stage = YieldFunnel['losses'][number]['stage'];

const STAGE_ORDER: readonly Stage[] = ['exploration', 'selection', 'synthesis', 'grounding', 'verification', 'dedup'];

/** Accumulates a YieldFunnel one seed at a time (see the module comment). */
export class FunnelBuilder {
  private seeds = 0;
  private seedsWithQa = 0;
  private nodes = 0;
  private paths = 0;
  private written = 0;
  private lostGrounding = 0;
  private lostVerification = 0;
  private lostDedup = 0;
  private readonly losses = new Map<string, { stage: Stage; reason: string; count: number }>();

  constructor(private readonly minDepth: number) {}

  private lose(stage: Stage, reason: string, count = 1): void {
    if (count <= 0) return;
    const key = `${stage}\u0000${reason}`;
    const l = this.losses.get(key);
    if (l) l.count += count;
    else this.losses.set(key, { stage, reason, count });
  }

  /**
   * Counts one seed of the run: its result (undefined: it never ran) and how many of its QA the dedup kept.
   * Its dedup drops are counted with `dropped` (called by the caller for each).
   */
  addSeed(result: SeedResultFile | undefined, keptQa: number): void {
    this.seeds += 1;
    if (keptQa > 0) this.seedsWithQa += 1;
    if (!result) {
      this.lose('exploration', 'seed_not_run');
      return;
    }
    const c = result.counters;
    this.nodes += c.nodes;
    for (const [reason, n] of Object.entries(c.skipped_branches ?? {})) this.lose('exploration', reason, n);
    if (result.status === 'failed') this.lose('exploration', `seed_failed:${result.error_type ?? 'unknown'}`);
    const paths = result.trajectories.length;
    this.paths += paths;
    if (result.tree) {
      const parents = new Set(result.tree.map((n) => n.parent_id));
      const leaves = result.tree.filter((n) => n.depth > 0 && !parents.has(n.node_id));
      const shallow = leaves.filter((n) => n.depth < this.minDepth).length;
      this.lose('selection', 'below_min_depth', shallow);
      this.lose('selection', 'over_max_selected_traj', leaves.length - shallow - paths);
    }
    const rejected: readonly RejectedQaRecord[] = result.rejected_qas ?? [];
    const written = result.qas.length + rejected.length;
    this.written += written;
    let cheap = 0;
    for (const [reason, n] of Object.entries(c.qa_rejected ?? {})) {
      this.lose('synthesis', reason, n);
      cheap += n;
    }
    this.lose('synthesis', 'budget_exhausted', paths - written - cheap);
    for (const r of rejected) {
      const stage = r.rejection.stage;
      if (stage === 'grounding') this.lostGrounding += 1;
      else if (stage === 'verification') this.lostVerification += 1;
      else continue; // a seed never drops by dedup; writeOutputs does
      this.lose(stage, r.rejection.reason);
    }
  }

  /** Counts one QA dropped by deduplication. */
  dropped(reason: string): void {
    this.lostDedup += 1;
    this.lose('dedup', reason);
  }

  /**
   * The funnel so far. Invariants: qa_written ≥ qa_grounded ≥ qa_verified ≥ qa_kept, and qa_written − qa_kept = the
   * grounding, verification and dedup losses (the lines of the rejected-QA file). Losses in stage order, then most
   * frequent first, then by reason.
   */
  finish(): YieldFunnel {
    const grounded = this.written - this.lostGrounding;
    const verified = grounded - this.lostVerification;
    return {
      seeds: this.seeds,
      seeds_with_qa: this.seedsWithQa,
      nodes: this.nodes,
      paths: this.paths,
      qa_written: this.written,
      qa_grounded: grounded,
      qa_verified: verified,
      qa_kept: verified - this.lostDedup,
      losses: [...this.losses.values()].sort(
        (a, b) =>
          STAGE_ORDER.indexOf(a.stage) - STAGE_ORDER.indexOf(b.stage) || b.count - a.count || (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0),
      ),
    };
  }
}
