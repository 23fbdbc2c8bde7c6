/**
 * `--dry-run`: what a run will cost before it starts, from the config and the seed count, using the
 * original's call-count formula (one action call and one tool call per node, one QA call per selected path)
 * and stated assumptions for prompt sizes. Pure; no I/O.
 */
import type { EnvironmentMode, SynthesisConfig } from '../shared/types';
import { MODE_TOOLS } from '../shared/constants';
import { callCost } from './budget';
import { expectedTreeSize } from './tree';
import { absurdRun, seedHistoryEstimate, type SeedHistoryEstimate } from './limits';
import { ACTION_HISTORY_OBSERVATION_CHARS, QA_OBSERVATION_CHARS } from './prompts';
import { SOLVER_OBSERVATION_CHARS } from './verification';

/**
 * Verification (config `verification`), per QA, as upper bounds: every solver run uses all its steps and every
 * answer needs the LLM judge. Prompt sizes: the fixed text of each prompt and a typical question.
 */
export const VERIFICATION_ASSUMPTIONS = {
  question_chars: 200,
  baseline_prompt_fixed_chars: 350,
  baseline_output_tokens: 20,
  solver_prompt_fixed_chars: 450,
  judge_prompt_fixed_chars: 700,
  judge_output_tokens: 40,
} as const;

/** Upper bounds of one seed's verification: LLM calls, tool calls, and tokens by model role. */
export function verificationEstimate(config: SynthesisConfig, qaPerSeed: number, observationChars: number, toolCount: number) {
  const v = config.verification;
  const none = { llm_calls: 0, tool_calls: 0, solver: { input_tokens: 0, output_tokens: 0 }, judge: { input_tokens: 0, output_tokens: 0 } };
  if (!v?.enabled || qaPerSeed === 0) return none;
  const A = VERIFICATION_ASSUMPTIONS;
  const cpt = DEFAULT_ASSUMPTIONS.chars_per_token;
  const k = v.baseline_attempts;
  const S = v.solver_attempts;
  const M = v.solver_max_steps;
  const judgeCalls = k + S;
  const stepFixed = A.solver_prompt_fixed_chars + A.question_chars + (toolCount + 1) * DEFAULT_ASSUMPTIONS.tool_schema_chars;
  const step = Math.min(observationChars, SOLVER_OBSERVATION_CHARS) + 120;
  const solverIn = k * (A.baseline_prompt_fixed_chars + A.question_chars) + S * (M * stepFixed + (step * M * (M - 1)) / 2);
  return {
    llm_calls: qaPerSeed * (k + S * M + judgeCalls),
    tool_calls: qaPerSeed * S * Math.max(0, M - 1),
    solver: {
      input_tokens: Math.round((qaPerSeed * solverIn) / cpt),
      output_tokens: qaPerSeed * (k * A.baseline_output_tokens + S * M * DEFAULT_ASSUMPTIONS.action_output_tokens),
    },
    judge: {
      input_tokens: Math.round((qaPerSeed * judgeCalls * (A.judge_prompt_fixed_chars + A.question_chars + 100)) / cpt),
      output_tokens: qaPerSeed * judgeCalls * A.judge_output_tokens,
    },
  };
}

/**
 * web_visit's page summaries (LLM calls inside the tool, src/tools/web-visit.ts), as assumptions: the share of a
 * tree's tool calls that are web_visit (1 / the tools offered), pages per visit, and a readable page's length after
 * extraction (capped by `web_visit_max_chars`). The upper bound: every tool call a web_visit of 5 pages at the cap.
 */
export const SUMMARY_ASSUMPTIONS = {
  pages_per_visit: 2,
  page_chars: 10_000,
  prompt_fixed_chars: 600,
  output_tokens: 300,
  /** web_visit reads at most this many URLs per call (src/tools/web-visit.ts). */
  max_pages_per_visit: 5,
} as const;

/** Expected and upper-bound page-summary calls and tokens per seed; zeros when web_visit cannot summarise. */
export function summaryEstimate(config: SynthesisConfig, nodes: number, tools: string[], charsPerToken: number) {
  const kw = config.environment_kwargs;
  const off = !tools.includes('web_visit') || kw.web_visit_summarize === false;
  if (off) return { llm_calls: 0, max_llm_calls: 0, input_tokens: 0, output_tokens: 0, model: config.model_name };
  const A = SUMMARY_ASSUMPTIONS;
  const cap = typeof kw.web_visit_max_chars === 'number' && kw.web_visit_max_chars > 0 ? kw.web_visit_max_chars : 50_000;
  const calls = Math.ceil((nodes / tools.length) * A.pages_per_visit);
  return {
    llm_calls: calls,
    max_llm_calls: nodes * A.max_pages_per_visit,
    input_tokens: Math.round((calls * (Math.min(A.page_chars, cap) + A.prompt_fixed_chars)) / charsPerToken),
    output_tokens: Math.round(calls * A.output_tokens),
    model: typeof kw.web_visit_summary_model === 'string' ? kw.web_visit_summary_model : config.model_name,
  };
}

/** Typical observation length per mode (characters), used when the caller gives none. */
export const TYPICAL_OBSERVATION_CHARS: Record<EnvironmentMode, number> = {
  web: 2500,
  math: 200,
  python: 300,
  rag: 1800,
};

/** Assumptions behind the token estimate, printed with it. */
export interface EstimateAssumptions {
  chars_per_token: number;
  observation_chars: number;
  action_prompt_fixed_chars: number;
  tool_schema_chars: number;
  action_output_tokens: number;
  qa_prompt_fixed_chars: number;
  qa_output_tokens: number;
}

export const DEFAULT_ASSUMPTIONS: Omit<EstimateAssumptions, 'observation_chars'> = {
  chars_per_token: 4,
  action_prompt_fixed_chars: 1200,
  tool_schema_chars: 500,
  action_output_tokens: 60,
  qa_prompt_fixed_chars: 1800,
  qa_output_tokens: 400,
};

export interface CallEstimate {
  llm_calls: number;
  tool_calls: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number | null;
}

export interface RunEstimate {
  seeds: number;
  /** Verification's share of `per_seed` (upper bounds; zeros when it is off). */
  verification?: { llm_calls: number; tool_calls: number };
  /**
   * web_visit's page summaries (LLM calls inside the tool): their expected share of `per_seed.llm_calls` (see
   * SUMMARY_ASSUMPTIONS) and the most one seed can make (every tool call a web_visit of 5 pages); zeros when
   * web_visit is not offered or `web_visit_summarize` is false.
   */
  summaries?: { llm_calls: number; max_llm_calls: number };
  tree: { nodes: number; leaves: number; qa_per_seed: number };
  /** No failures: every action parses first time. */
  per_seed: CallEstimate;
  total: CallEstimate;
  /** Every LLM output malformed until the last retry (max_retries attempts per call). */
  worst_case_llm_calls: number;
  assumptions: EstimateAssumptions;
  /** How many seeds the run budget funds at the expected rate (null without a run cap). */
  seeds_funded_by_budget: number | null;
  /** One seed workflow's history against Temporal's limits (src/domain/limits.ts). */
  history: SeedHistoryEstimate;
  /** Why the run looks absurd (refused unless forced), or null. */
  absurd: string | null;
}

export function estimateRun(config: SynthesisConfig, seeds: number, observationChars?: number): RunEstimate {
  const a: EstimateAssumptions = {
    ...DEFAULT_ASSUMPTIONS,
    observation_chars: observationChars ?? TYPICAL_OBSERVATION_CHARS[config.environment_mode],
  };
  const D = config.max_depth;
  const b = config.branching_factor;
  const t = config.depth_threshold;
  const { nodes, leaves } = expectedTreeSize(D, b, t);
  const qaPerSeed = D >= config.min_depth ? Math.min(leaves, config.max_selected_traj) : 0;
  const toolNames = config.available_tools.length ? config.available_tools : [...MODE_TOOLS[config.environment_mode]];
  const tools = toolNames.length;
  const examples = (n: number) =>
    config.qa_examples.slice(0, n).reduce((c, e) => c + e.question.length + e.answer.length + (e.reasoning?.length ?? 0), 0);
  const actionFixed =
    a.action_prompt_fixed_chars + config.sampling_tips.length + config.seed_description.length + 100 + examples(2) + tools * a.tool_schema_chars;
  // The call that creates a node at depth k sees k−1 history steps and its parent's full observation.
  let actionInChars = 0;
  for (let k = 1; k <= D; k++) {
    const atDepth = b ** Math.min(k, t);
    const history = (k - 1) * (Math.min(a.observation_chars, ACTION_HISTORY_OBSERVATION_CHARS) + 120);
    const current = k === 1 ? 100 : a.observation_chars;
    actionInChars += atDepth * (actionFixed + history + current);
  }
  const qaInChars =
    qaPerSeed *
    (a.qa_prompt_fixed_chars + config.synthesis_tips.length + examples(config.qa_examples.length) + D * (Math.min(a.observation_chars, QA_OBSERVATION_CHARS) + 250));
  const ver = verificationEstimate(config, qaPerSeed, a.observation_chars, tools);
  const sum = summaryEstimate(config, nodes, toolNames, a.chars_per_token);
  const inputTokens = Math.round((actionInChars + qaInChars) / a.chars_per_token) + ver.solver.input_tokens + ver.judge.input_tokens + sum.input_tokens;
  const outputTokens = nodes * a.action_output_tokens + qaPerSeed * a.qa_output_tokens + ver.solver.output_tokens + ver.judge.output_tokens + sum.output_tokens;

  const qaModel = config.qa_model_name ?? config.model_name;
  const solverModel = config.verification?.solver_model ?? config.model_name;
  const judgeModel = config.verification?.judge_model ?? config.model_name;
  const priced =
    config.model_name in config.prices && qaModel in config.prices && (ver.llm_calls === 0 || (solverModel in config.prices && judgeModel in config.prices)) &&
    (sum.llm_calls === 0 || sum.model in config.prices);
  const seedCost = priced
    ? callCost(config.prices, config.model_name, { input_tokens: Math.round(actionInChars / a.chars_per_token), output_tokens: nodes * a.action_output_tokens }) +
      callCost(config.prices, qaModel, { input_tokens: Math.round(qaInChars / a.chars_per_token), output_tokens: qaPerSeed * a.qa_output_tokens }) +
      (ver.llm_calls ? callCost(config.prices, solverModel, ver.solver) + callCost(config.prices, judgeModel, ver.judge) : 0) +
      (sum.llm_calls ? callCost(config.prices, sum.model, sum) : 0)
    : null;
  const perSeed: CallEstimate = {
    llm_calls: nodes + qaPerSeed + ver.llm_calls + sum.llm_calls,
    tool_calls: nodes + ver.tool_calls,
    input_tokens: inputTokens,
    output_tokens: outputTokens,
    cost_usd: seedCost,
  };
  const total: CallEstimate = {
    llm_calls: perSeed.llm_calls * seeds,
    tool_calls: perSeed.tool_calls * seeds,
    input_tokens: perSeed.input_tokens * seeds,
    output_tokens: perSeed.output_tokens * seeds,
    cost_usd: seedCost === null ? null : seedCost * seeds,
  };
  const bud = config.budget;
  const limits = [
    bud.max_llm_calls !== undefined ? bud.max_llm_calls / perSeed.llm_calls : Infinity,
    bud.max_tokens !== undefined ? bud.max_tokens / (perSeed.input_tokens + perSeed.output_tokens) : Infinity,
    bud.max_cost_usd !== undefined && seedCost ? bud.max_cost_usd / seedCost : Infinity,
  ];
  const funded = Math.min(...limits);
  return {
    seeds,
    verification: { llm_calls: ver.llm_calls, tool_calls: ver.tool_calls },
    summaries: { llm_calls: sum.llm_calls, max_llm_calls: sum.max_llm_calls },
    tree: { nodes, leaves, qa_per_seed: qaPerSeed },
    per_seed: perSeed,
    total,
    worst_case_llm_calls: ((nodes + qaPerSeed) * config.max_retries + ver.llm_calls + sum.max_llm_calls) * seeds,
    assumptions: a,
    seeds_funded_by_budget: Number.isFinite(funded) ? Math.min(seeds, Math.floor(funded)) : null,
    history: seedHistoryEstimate(config),
    absurd: absurdRun(config, seeds),
  };
}

/** A short human-readable table of an estimate. */
export function formatEstimate(e: RunEstimate): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const usd = (x: number | null) => (x === null ? 'n/a' : `$${x.toFixed(x < 1 ? 4 : 2)}`);
  return [
    `seeds: ${n(e.seeds)}; tree: ${e.tree.nodes} nodes, ${e.tree.leaves} leaves, ${e.tree.qa_per_seed} QA per seed`,
    `                 per seed        whole run`,
    `LLM calls        ${n(e.per_seed.llm_calls).padEnd(15)} ${n(e.total.llm_calls)}  (worst case with retries: ${n(e.worst_case_llm_calls)})`,
    `tool calls       ${n(e.per_seed.tool_calls).padEnd(15)} ${n(e.total.tool_calls)}`,
    `input tokens     ${n(e.per_seed.input_tokens).padEnd(15)} ${n(e.total.input_tokens)}`,
    `output tokens    ${n(e.per_seed.output_tokens).padEnd(15)} ${n(e.total.output_tokens)}`,
    `estimated cost   ${usd(e.per_seed.cost_usd).padEnd(15)} ${usd(e.total.cost_usd)}${e.total.cost_usd === null ? '  (add a prices table to the config)' : ''}`,
    ...(e.verification?.llm_calls
      ? [`verification: up to ${n(e.verification.llm_calls)} LLM calls and ${n(e.verification.tool_calls)} tool calls per seed (included above; every solver run using all its steps, every answer judged by the LLM)`]
      : []),
    ...(e.seeds_funded_by_budget !== null ? [`the budget funds about ${n(e.seeds_funded_by_budget)} of ${n(e.seeds)} seeds`] : []),
    `seed workflow history: ~${(e.history.expected_bytes / 1024 / 1024).toFixed(1)} MB expected of Temporal's 50 MB limit, ` +
      `at most ${n(e.history.worst_events)} events of 51,200`,
    ...(e.absurd ? [`refused without --force: ${e.absurd}`] : []),
    ...(e.summaries?.llm_calls
      ? [`web_visit page summaries (LLM calls inside the tool): ~${n(e.summaries.llm_calls)} per seed (included above: ${SUMMARY_ASSUMPTIONS.pages_per_visit} pages per visit, ` +
          `~${n(SUMMARY_ASSUMPTIONS.page_chars)} characters per page), at most ${n(e.summaries.max_llm_calls)} per seed (every tool call a web_visit of ${SUMMARY_ASSUMPTIONS.max_pages_per_visit} pages)`]
      : []),
    `assumptions: ~${e.assumptions.observation_chars} characters per observation, ${e.assumptions.chars_per_token} characters per token`,
  ].join('\n');
}
