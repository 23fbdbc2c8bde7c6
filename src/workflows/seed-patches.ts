/**
 * The seed workflow's versioning (Temporal patches): which history-changing branches of `synthesizeSeed` an
 * execution takes. Executions recorded before a patch keep the branch they started with (the replay test over
 * test/fixtures/histories/ checks it); every execution started now records one marker for all of them.
 */
import { patched } from '@temporalio/workflow';

/** Patch id: executions with this marker route activities as src/domain/routing.ts says. */
const PATCH_ROUTING = 'qasynth-routing-v2';
/**
 * Patch id: executions with this marker may run their LLM calls as local activities (config `local_llm`, see
 * src/domain/routing.ts); older ones keep scheduling them as activities (another command: ScheduleActivityTask,
 * not a marker).
 */
const PATCH_LOCAL_LLM = 'qasynth-local-llm';
/** Patch id: executions with this marker run the verification stage when config `verification.enabled`. */
const PATCH_VERIFICATION = 'qasynth-verification';
/**
 * Patch id: executions with this marker end a failed or no-QA seed as a failed workflow (after writing its result
 * and reporting to the parent), so the Web UI shows it as Failed; older ones complete with the summary.
 */
const PATCH_SEED_FAILS = 'qasynth-seed-fails-visibly';

/**
 * Patch id: executions with this marker check that each QA's answer is grounded in its path (config `grounding`),
 * which may cost another QA attempt. Executions recorded before it replay without the check.
 */
const PATCH_GROUNDING = 'qasynth-grounding';

/**
 * Patch id that stands for every seed-workflow patch above it (routing-v2, local-llm, grounding, verification,
 * seed-fails-visibly): an execution with this one marker takes all of their new branches. Each patch marker costs a
 * seed's history a marker and an upsert of the TemporalChangeVersion search attribute (sdk-core adds it; a
 * visibility write on the server): a new seed recorded 2–3 of each (routing, grounding, local-llm), now 1.
 * Executions recorded before it answer by their own markers (see {@link seedPatches}).
 */
const PATCH_SEED_2026_11 = 'qasynth-seed-2026-11';

/**
 * Patch id that stands for {@link PATCH_SEED_2026_11} and everything it stands for, and adds: the seed result is
 * first written where the workflow runs (a local activity, writeSeedResultHere), and goes to the output queue only
 * when that worker does not own the output folder. Executions recorded before it schedule the output queue's
 * activity as before.
 */
const PATCH_SEED_2026_12 = 'qasynth-seed-2026-12';

/** Which branches of the seed workflow's history-changing patches this execution takes (see {@link seedPatches}). */
export interface SeedPatches {
  routing(): boolean;
  localLlm(): boolean;
  grounding(): boolean;
  verification(): boolean;
  seedFails(): boolean;
  /** Whether the seed result is first written by a local activity (PATCH_SEED_2026_12). */
  localOutput(): boolean;
}

/**
 * Asks for {@link PATCH_SEED_2026_12}, else {@link PATCH_SEED_2026_11}, once each, as the execution's first command:
 * an execution that has either takes every patched branch it stands for without a marker of its own; one recorded
 * before both (no such marker at its start, so the answer is false for the whole execution, also past the end of its
 * replay) asks each patch by its own id, when it reaches it, as before.
 */
export function seedPatches(): SeedPatches {
  // Executions started from now on record PATCH_SEED_2026_12 alone; those recorded with PATCH_SEED_2026_11 find it
  // next (the first is false for them, as it was never recorded), older ones neither.
  const dec = patched(PATCH_SEED_2026_12);
  const all = dec || patched(PATCH_SEED_2026_11);
  const ask = (id: string) => () => all || patched(id);
  return {
    routing: ask(PATCH_ROUTING),
    localLlm: ask(PATCH_LOCAL_LLM),
    grounding: ask(PATCH_GROUNDING),
    verification: ask(PATCH_VERIFICATION),
    seedFails: ask(PATCH_SEED_FAILS),
    localOutput: () => dec,
  };
}
