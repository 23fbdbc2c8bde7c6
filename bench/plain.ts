/**
 * qasynth's seed logic without Temporal: the same activity functions (createLlmActivities / createToolActivities /
 * createOutputActivities) driven by `sampleTree`, selection and QA synthesis in a plain loop. Used in-process by
 * the overhead benchmark and, one seed at a time per child process, by the process pool (bench/pool.ts).
 *
 * LLM errors follow the original tool (../shared/reference/original-system.md §1.4, §1.6, §5): the OpenAI client's
 * own retries (its default 2, honouring Retry-After) when the caller builds it so, then an action call that still
 * throws skips its branch (no further attempts for that slot), and a QA call that throws drops that QA.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { DefaultLogger } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import { parseBatchInput } from '../src/config/schema';
import { createLlmActivities } from '../src/activities/llm';
import { createToolActivities } from '../src/activities/tools';
import { createOutputActivities } from '../src/activities/outputs';
import { sampleTree } from '../src/domain/tree';
import { selectTrajectories } from '../src/domain/selection';
import { buildQaRecord, buildTrajectoryRecord } from '../src/domain/records';
import { validateQa } from '../src/domain/validate';
import { emptySeedCounters } from '../src/domain/statistics';
import { qaId } from '../src/domain/ids';
import { MODE_TOOLS } from '../src/shared/constants';
import type { ChooseActionResult, QaRecord, Seed, SeedResultFile, SynthesisConfig } from '../src/shared/types';

const QUIET = new DefaultLogger('WARN');
/** Token usage of a call that got no answer. */
const NO_USAGE = { input_tokens: 0, output_tokens: 0 };

/** The activity functions a plain seed calls. */
export interface PlainActivities {
  llm: ReturnType<typeof createLlmActivities>;
  tools: ReturnType<typeof createToolActivities>;
  out: ReturnType<typeof createOutputActivities>;
}

/**
 * Activity functions over a fresh OpenAI client for `llmUrl`. `maxRetries`: the client's own retries (0 = none,
 * as qasynth's worker; 2 = the OpenAI SDKs' default, which the original tool relied on).
 */
export function plainActivities(llmUrl: string, maxRetries: number): PlainActivities {
  const llm = new OpenAI({ baseURL: llmUrl, apiKey: 'bench-key', maxRetries, timeout: 120_000 });
  return { llm: createLlmActivities({ client: () => llm }), tools: createToolActivities({ llmClient: () => llm }), out: createOutputActivities() };
}

/** Start-to-close of output activities, as qasynth's OUTPUT_ACTIVITY options (src/workflows/options.ts). */
const OUTPUT_TIMEOUT_MS = 120_000;

/**
 * Runs an activity function outside a worker (MockActivityEnvironment: heartbeats and cancellation are no-ops)
 * with the start-to-close timeout qasynth's workflow gives it: the activities bound their calls by it, and the
 * mock's default (1 s) would time out every LLM call slower than that.
 */
function act<A extends unknown[], R>(startToCloseMs: number, fn: (...a: A) => Promise<R>, ...args: A): Promise<R> {
  const info = { startToCloseTimeoutMs: startToCloseMs, scheduleToCloseTimeoutMs: startToCloseMs };
  return new MockActivityEnvironment(info, { logger: QUIET }).run(fn, ...args) as Promise<R>;
}

/** What one plain seed did. */
export interface PlainSeedResult {
  /** Activity function calls (LLM, tool and output). */
  activities: number;
  nodes: number;
  qa: number;
  /** LLM calls that threw after the client's retries (branches skipped, QA dropped). */
  llm_errors: number;
  /** Their messages (first 200 characters each). */
  llm_error_messages: string[];
}

/** The seed workflow's logic (tree → selection → QA → result file) with the activity functions called directly. */
export async function plainSeed(acts: PlainActivities, config: SynthesisConfig, seed: Seed, runId: string, outputDir: string, index: number): Promise<PlainSeedResult> {
  let activities = 1;
  const errors: string[] = [];
  await act(OUTPUT_TIMEOUT_MS, acts.out.loadSeedResult, { run_id: runId, output_dir: outputDir, source_id: seed.source_id });
  const toolNames = config.available_tools.length ? config.available_tools : [...MODE_TOOLS[config.environment_mode]];
  const counters = emptySeedCounters();
  /** Action slots (node + branch) whose call threw: the original skips the branch, so no further attempts. */
  const failedSlots = new Set<string>();
  const tree = await sampleTree({
    config,
    seedText: seed.text,
    sourceId: seed.source_id,
    deps: {
      chooseAction: async (req): Promise<ChooseActionResult> => {
        const slot = `${req.current.node_id}/${req.branch}`;
        if (failedSlots.has(slot)) return { ok: false, reason: 'llm_error (branch skipped)', requests: 0, usage: NO_USAGE };
        activities += 1;
        try {
          return await act(config.llm_timeout_seconds * 1000, acts.llm.chooseAction, {
            model: config.model_name, tool_calling: config.tool_calling, temperature: req.temperature, sampling_seed: req.samplingSeed,
            seed_text: seed.text, seed_description: config.seed_description, sampling_tips: config.sampling_tips,
            qa_examples: config.qa_examples.slice(0, 2), tools: toolNames, history: req.history,
            current_observation: req.current.observation, attempt: req.attempt, executed_actions: req.executedActions,
          });
        } catch (e) {
          errors.push((e as Error).message.slice(0, 200));
          failedSlots.add(slot);
          return { ok: false, reason: `llm_error: ${(e as Error).message}`, requests: 1, usage: NO_USAGE };
        }
      },
      runTool: (action) => {
        activities += 1;
        return act(config.tool_timeout_seconds * 1000, acts.tools.runTool, {
          mode: config.environment_mode, environment_kwargs: config.environment_kwargs, tool_name: action.tool_name,
          parameters: action.parameters, summary_model: config.model_name,
        });
      },
    },
  });
  counters.nodes = tree.nodes.length - 1;
  const selected = selectTrajectories(tree.nodes, { min_depth: config.min_depth, max_selected_traj: config.max_selected_traj, toolCount: toolNames.length, sourceId: seed.source_id });
  const qas: QaRecord[] = [];
  for (const [rank, sel] of selected.entries()) {
    const steps = sel.path.map((n) => ({ intent: n.intent, tool_name: n.action?.tool_name ?? '', parameters: n.action?.parameters ?? {}, observation: n.observation }));
    let rejection: string | undefined;
    for (let attempt = 0; attempt < config.max_retries; attempt++) {
      activities += 1;
      let res: Awaited<ReturnType<typeof acts.llm.synthesizeQa>>;
      try {
        res = await act(config.llm_timeout_seconds * 1000, acts.llm.synthesizeQa, {
          model: config.qa_model_name ?? config.model_name, temperature: Math.round((0.7 + 0.1 * attempt) * 10) / 10, seed_text: seed.text,
          seed_description: config.seed_description, synthesis_tips: config.synthesis_tips, qa_examples: config.qa_examples, steps, previous_rejection: rejection,
        });
      } catch (e) {
        errors.push((e as Error).message.slice(0, 200));
        break; // the original drops the QA on any exception
      }
      const problem = res.ok ? validateQa(res) : res.reason;
      if (res.ok && !problem) {
        qas.push(buildQaRecord({
          question: res.question, answer: res.answer, reasoning_steps: res.reasoning_steps, trajectory_id: sel.trajectory_id,
          source_id: seed.source_id, qa_id: qaId(sel.trajectory_id, rank), seed_data: seed.text, seed_description: config.seed_description,
          trajectory_depth: sel.path.length, synthesis_date: new Date().toISOString(), environment_mode: config.environment_mode, attempts: attempt + 1,
        }));
        break;
      }
      rejection = problem ?? 'unknown';
    }
  }
  const result: SeedResultFile = {
    run_id: runId, source_id: seed.source_id, index, seed_data: seed.text, started_at: new Date().toISOString(), counters,
    status: 'succeeded', finished_at: new Date().toISOString(), qas,
    trajectories: selected.map((sel) => buildTrajectoryRecord(sel, seed.source_id, seed.text)),
  };
  activities += 1;
  await act(OUTPUT_TIMEOUT_MS, acts.out.writeSeedResult, { output_dir: outputDir, result });
  return { activities, nodes: counters.nodes, qa: qas.length, llm_errors: errors.length, llm_error_messages: errors };
}

/** A parsed plain run: its config and seeds (with source ids) and its output folder, prepared with prepareRun. */
export interface PlainRun {
  runId: string;
  outputDir: string;
  config: SynthesisConfig;
  seeds: Seed[];
}

/** Parses the batch input as qasynth does and records the run manifest (prepareRun) in a fresh temp folder. */
export async function preparePlainRun(config: Record<string, unknown>, seedTexts: string[]): Promise<PlainRun> {
  const outputDir = fs.mkdtempSync(path.join(os.tmpdir(), 'qasynth-bench-plain-'));
  const runId = `plain-${Date.now()}`;
  const parsed = parseBatchInput({ run_id: runId, config, seeds: seedTexts, output_dir: outputDir });
  if (!parsed.ok) throw new Error(`bench config invalid: ${parsed.issues.join('; ')}`);
  const out = createOutputActivities();
  await act(OUTPUT_TIMEOUT_MS, out.prepareRun, { run_id: runId, output_dir: outputDir, config: parsed.config, seeds: parsed.seeds, duplicates_dropped: 0, started_at: new Date().toISOString() });
  return { runId, outputDir, config: parsed.config, seeds: parsed.seeds };
}

/** Writes the run's output files (writeOutputs) and removes its temp folder; returns the QA count written. */
export async function finishPlainRun(run: PlainRun): Promise<{ qa_count: number }> {
  const out = createOutputActivities();
  try {
    const r = await act(OUTPUT_TIMEOUT_MS, out.writeOutputs, { run_id: run.runId, output_dir: run.outputDir, mode: run.config.environment_mode, timestamp: '20000101_000000', completion: 'complete' as const });
    return { qa_count: r.qa_count };
  } finally {
    fs.rmSync(run.outputDir, { recursive: true, force: true });
  }
}

/** A batch in a plain loop inside this process: prepareRun, ≤ `concurrency` seeds at a time, writeOutputs — no Temporal. */
export async function plainBatch(
  llmUrl: string,
  config: Record<string, unknown>,
  seedTexts: string[],
  concurrency: number,
): Promise<{ wall_ms: number; activities: number; cpu_ms: number; qa: number }> {
  const acts = plainActivities(llmUrl, 0);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const run = await preparePlainRun(config, seedTexts);
  let activities = 2;
  let qa = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, run.seeds.length) }, async () => {
      while (next < run.seeds.length) {
        const i = next++;
        // (not `activities += await …`: that reads `activities` before the await and loses concurrent updates)
        const done = await plainSeed(acts, run.config, run.seeds[i]!, run.runId, run.outputDir, i);
        activities += done.activities;
        qa += done.qa;
      }
    }),
  );
  await finishPlainRun(run);
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wall_ms: wall, activities, cpu_ms: (cpu.user + cpu.system) / 1000, qa };
}
