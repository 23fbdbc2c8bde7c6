/**
 * Config, seed and batch-input validation (zod 4). Workflow-safe: the batch workflow validates its input with
 * this module, so it imports only zod, src/shared and src/domain.
 *
 * Every issue reads `path: expected X, got Y`. Each schema below carries its "expected X" phrase as the zod
 * error message; formatIssues() adds the path and describes the offending value taken from the raw input.
 */
import { z } from 'zod';
import { MODE_TOOLS } from '../shared/constants';
import type { BatchInput, EnvironmentMode, Seed, SynthesisConfig } from '../shared/types';
import { describeValue, formatPath, isPlainObject, valueAt } from '../domain/format';
import { normalizeSeeds, type DuplicateSeed } from '../domain/ids';
import { CONFIG_DEFAULTS } from './defaults';
import { absurdRun, limitIssues } from '../domain/limits';

export type ParseResult<T> = ({ ok: true } & T) | { ok: false; issues: string[] };

const MODES = ['web', 'math', 'python', 'rag'] as const;
const ALL_TOOLS = [...new Set(Object.values(MODE_TOOLS).flat())];

/**
 * `environment_kwargs` keys each mode's tools read (their types and ranges are checked by the tools, whose
 * errors name the key). Unknown keys are errors, so a typo does not silently fall back to a default.
 */
export const ENVIRONMENT_KWARGS: Readonly<Record<EnvironmentMode, readonly string[]>> = {
  web: [
    'search_provider', 'serper_url', 'tavily_url', 'searxng_url', 'local_site_url', 'web_search_type',
    'web_search_top_k', 'web_search_max_workers', 'web_search_timeout_seconds', 'web_visit_reader',
    'web_visit_jina_url', 'web_visit_timeout_seconds', 'web_visit_max_bytes', 'web_visit_max_redirects',
    'web_visit_max_chars', 'web_visit_summarize', 'web_visit_summary_model', 'allow_private_hosts',
  ],
  math: [],
  python: [
    'python_sandbox', 'python_timeout_seconds', 'python_memory_mb', 'python_max_output_bytes',
    'python_max_processes', 'python_max_file_mb', 'python_max_open_files', 'python_scratch_mb',
  ],
  rag: ['corpus_path', 'rag_index', 'retrieval', 'embedding_model', 'embedding_base_url', 'embedding_cache_dir'],
};

const SEARCH_PROVIDERS = ['serper', 'tavily', 'searxng', 'local'];

/** Tool names used by the original's configs, mapped to qasynth's (its Oct rag config said `rag_tools`). */
export const LEGACY_TOOL_NAMES: Readonly<Record<string, string>> = { rag_tools: 'local_search' };

function intAtLeast(min: number, description: string) {
  const msg = `expected an integer ≥ ${min}`;
  return z.number({ error: msg }).int({ error: msg }).min(min, { error: msg }).describe(description);
}

function posInt(description: string) {
  const msg = 'expected an integer ≥ 1';
  return z.number({ error: msg }).int({ error: msg }).min(1, { error: msg }).optional().describe(description);
}

function posNumber(description: string) {
  const msg = 'expected a number > 0';
  return z.number({ error: msg }).positive({ error: msg }).optional().describe(description);
}

function text(description: string) {
  // null (e.g. an empty YAML value) counts as "", as the original's truthiness checks did.
  return z
    .string({ error: 'expected a string' })
    .nullable()
    .transform((v) => v ?? '')
    .default('')
    .describe(description);
}

const qaExampleSchema = z
  .looseObject({
    question: z.string({ error: 'expected a string' }),
    answer: z.string({ error: 'expected a string' }),
    reasoning: z.string({ error: 'expected a string' }).optional(),
  })
  .describe('A QA example; extra keys (e.g. OSWorld `evaluator`) are kept.');

const V = CONFIG_DEFAULTS.verification;
function intRange(min: number, max: number, description: string, dflt: number) {
  const msg = `expected an integer ${min}–${max}`;
  return z.number({ error: msg }).int({ error: msg }).min(min, { error: msg }).max(max, { error: msg }).default(dflt).describe(description);
}
function modelOrNull(description: string) {
  return z
    .string({ error: 'expected a model name or null' })
    .min(1, { error: 'expected a non-empty model name or null' })
    .nullable()
    .default(null)
    .describe(description);
}

/** `verification` (see VerificationConfig in src/shared/types.ts and the README section "Verification"). */
const verificationSchema = z
  .strictObject(
    {
      enabled: z.boolean({ error: 'expected true or false' }).default(V.enabled).describe('Run the verification stage on every QA written.'),
      baseline_attempts: intRange(0, 10, 'No-tool baseline answers per QA (k of pass@k); 0 = no baseline.', V.baseline_attempts),
      solver_attempts: intRange(1, 5, 'Independent solver-agent runs per QA.', V.solver_attempts),
      solver_max_steps: intRange(1, 20, 'LLM calls per solver run (tool calls ≤ this − 1; the last call must answer).', V.solver_max_steps),
      solver_model: modelOrNull('Model for the baseline and the solver; null = model_name.'),
      judge_model: modelOrNull('Model for the LLM judge (used only when the normalised match does not settle an answer); null = model_name.'),
      keep: z
        .enum(['solver_pass_baseline_fail', 'solver_pass', 'all'], { error: 'expected "solver_pass_baseline_fail", "solver_pass" or "all"' })
        .default(V.keep)
        .describe(
          'Which QAs stay: solver_pass_baseline_fail (the solver answers it at least once, the baseline never), ' +
            'solver_pass (the solver answers it at least once), all (label only). Dropped QAs go to the rejected-QA file with the reason.',
        ),
    },
    { error: 'expected an object {enabled, baseline_attempts, solver_attempts, solver_max_steps, solver_model, judge_model, keep}' },
  )
  .default({ ...V })
  .describe('Verification stage: no-tool baseline, solver agent with the tools, judge. Off by default.');

const configShape = {
  environment_mode: z
    .enum([...MODES, 'py'], { error: `expected one of ${MODES.join(', ')} (or py)` })
    .transform((v): EnvironmentMode => (v === 'py' ? 'python' : v))
    .default(CONFIG_DEFAULTS.environment_mode)
    .describe('Tool environment: web, math, python (alias py) or rag.'),
  environment_kwargs: z
    .record(z.string(), z.unknown(), { error: 'expected an object' })
    .default({})
    .describe('Options for the environment, e.g. {"corpus_path": "…"} for rag.'),
  output_format: z
    .literal('qa', { error: 'expected "qa" (task/OSWorld output is not supported)' })
    .default(CONFIG_DEFAULTS.output_format)
    .describe('Only "qa" is supported.'),
  available_tools: z
    .array(
      z.string({ error: 'expected a tool name' }).transform((name) => LEGACY_TOOL_NAMES[name] ?? name),
      { error: 'expected an array of tool names' },
    )
    .default([])
    .describe("Tool whitelist; empty = all of the mode's tools."),
  qa_examples: z
    .array(qaExampleSchema, { error: 'expected an array of {question, answer, reasoning?}' })
    .default([])
    .describe('First 2 go into the action prompt, all into the QA prompt.'),
  sampling_tips: text('Free-text exploration guidance.'),
  synthesis_tips: text('Free-text QA-synthesis guidance.'),
  seed_description: text('What a seed is (e.g. "entity name"); used in the root observation and both prompts.'),
  model_name: z
    .string({ error: 'expected a model name' })
    .min(1, { error: 'expected a non-empty model name' })
    .default(CONFIG_DEFAULTS.model_name)
    .describe('Model for action choice (and QA synthesis unless qa_model_name is set).'),
  max_depth: intAtLeast(1, 'Maximum tree depth.').default(CONFIG_DEFAULTS.max_depth),
  branching_factor: intAtLeast(1, 'Children per node while depth < depth_threshold.').default(CONFIG_DEFAULTS.branching_factor),
  depth_threshold: intAtLeast(0, 'From this depth on, nodes get 1 child.').default(CONFIG_DEFAULTS.depth_threshold),
  max_trajectories: intAtLeast(1, 'Validated but unused, as in the original.').default(CONFIG_DEFAULTS.max_trajectories),
  min_depth: intAtLeast(1, 'Minimum leaf depth for selection (≤ max_depth).').default(CONFIG_DEFAULTS.min_depth),
  max_selected_traj: intAtLeast(1, 'Maximum paths (= QAs) per seed.').default(CONFIG_DEFAULTS.max_selected_traj),
  max_retries: intAtLeast(1, 'LLM attempts per action slot (temperature 0.7 + 0.1 per retry).').default(CONFIG_DEFAULTS.max_retries),
  max_workers: intAtLeast(1, 'Seeds processed concurrently.').default(CONFIG_DEFAULTS.max_workers),
  number_of_seed: intAtLeast(1, 'Process only the first N seeds; null = all.').nullable().default(CONFIG_DEFAULTS.number_of_seed),
  tool_calling: z
    .enum(['native', 'json'], { error: 'expected "native" or "json"' })
    .default(CONFIG_DEFAULTS.tool_calling)
    .describe('native: API tool calling; json: ask for a JSON object (the original behaviour).'),
  rate_limits: z
    .strictObject(
      {
        llm_requests_per_second: z
          .number({ error: 'expected a number > 0' })
          .positive({ error: 'expected a number > 0' })
          .optional()
          .describe('LLM requests per second across all workers (server-side task-queue limit).'),
        tool_calls_per_second: z
          .partialRecord(
            z.enum(ALL_TOOLS as [string, ...string[]], { error: `expected a tool name (${ALL_TOOLS.join(', ')})` }),
            z.number({ error: 'expected a number > 0' }).positive({ error: 'expected a number > 0' }),
            { error: 'expected an object {tool_name: calls per second}' },
          )
          .optional()
          .describe('Calls per second per tool across all workers, e.g. {"web_search": 2}.'),
      },
      { error: 'expected an object {llm_requests_per_second?, tool_calls_per_second?}' },
    )
    .default({})
    .describe('Server-side rate limits, enforced across all workers (applied by the workers this process starts).'),
  llm_timeout_seconds: z
    .number({ error: 'expected a number of seconds ≥ 1' })
    .min(1, { error: 'expected a number of seconds ≥ 1' })
    .default(CONFIG_DEFAULTS.llm_timeout_seconds)
    .describe('Longest one LLM call may take before it is retried (activity start-to-close timeout).'),
  tool_timeout_seconds: z
    .number({ error: 'expected a number of seconds ≥ 1' })
    .min(1, { error: 'expected a number of seconds ≥ 1' })
    .default(CONFIG_DEFAULTS.tool_timeout_seconds)
    .describe('Longest one tool call may take before it is retried (activity start-to-close timeout).'),
  budget: z
    .strictObject(
      {
        max_llm_calls: posInt('LLM calls for the whole run.'),
        max_tokens: posInt('Tokens (in + out) for the whole run.'),
        max_cost_usd: posNumber('Estimated cost in USD for the whole run (needs prices).'),
        per_seed_max_llm_calls: posInt('LLM calls per seed.'),
        per_seed_max_tokens: posInt('Tokens per seed.'),
        per_seed_max_cost_usd: posNumber('Estimated cost in USD per seed (needs prices).'),
      },
      { error: 'expected an object of caps (max_llm_calls, max_tokens, max_cost_usd, per_seed_max_…)' },
    )
    .default({})
    .describe('Spending caps. When one is reached no new LLM call starts; seeds stop gracefully (budget_exhausted).'),
  prices: z
    .record(
      z.string(),
      z.strictObject(
        {
          input_per_million: z.number({ error: 'expected USD per million input tokens (≥ 0)' }).min(0, { error: 'expected USD per million input tokens (≥ 0)' }),
          output_per_million: z.number({ error: 'expected USD per million output tokens (≥ 0)' }).min(0, { error: 'expected USD per million output tokens (≥ 0)' }),
        },
        { error: 'expected {input_per_million, output_per_million}' },
      ),
      { error: 'expected an object {model: {input_per_million, output_per_million}}' },
    )
    .default({})
    .describe('Price table for cost estimates, USD per million tokens per model.'),
  max_tokens: z
    .number({ error: 'expected an integer ≥ 16 or null' })
    .int({ error: 'expected an integer ≥ 16 or null' })
    .min(16, { error: 'expected an integer ≥ 16 or null' })
    .nullable()
    .default(CONFIG_DEFAULTS.max_tokens)
    .describe(
      'Most tokens the model may generate per call (sent as max_tokens; null = the server\'s default). Small local ' +
        'servers without it may generate up to their context limit on every call.',
    ),
  explore_concurrency: z
    .number({ error: 'expected an integer 1–64' })
    .int({ error: 'expected an integer 1–64' })
    .min(1, { error: 'expected an integer 1–64' })
    .max(64, { error: 'expected an integer 1–64' })
    .default(CONFIG_DEFAULTS.explore_concurrency)
    .describe(
      'Node creations (action choice + tool call) in flight at once within one seed: 1 = the original\'s ' +
        'depth-first order; more explores sibling subtrees concurrently (same node counts, same de-duplication).',
    ),
  task_queues: z
    .enum(['workflow', 'dedicated'], { error: 'expected "workflow" or "dedicated"' })
    .default(CONFIG_DEFAULTS.task_queues)
    .describe(
      'workflow: LLM and tool activities run on the workflow\'s own task queue (fastest: eager dispatch); ' +
        'dedicated: on <queue>-llm and <queue>-tool-<tool>, for separate worker pools. A configured rate limit ' +
        'always gets its own queue.',
    ),
  local_tools: z
    .boolean({ error: 'expected true or false' })
    .default(CONFIG_DEFAULTS.local_tools)
    .describe('Run python_interpreter and local_search as local activities (no server round trip), and the calculator inside the LLM call that chose it.'),
  local_llm: z
    .boolean({ error: 'expected true or false' })
    .default(CONFIG_DEFAULTS.local_llm)
    .describe(
      'Run the LLM calls as local activities (no server round trip per call) when the run uses the call cache and ' +
        'has no LLM rate limit and no dedicated queues. After a worker crash the calls since the seed\'s last ' +
        'workflow task are made again; the call cache answers those that had finished, so they are not paid twice.',
    ),
  pause_after_failures: z
    .number({ error: 'expected an integer ≥ 0' })
    .int({ error: 'expected an integer ≥ 0' })
    .min(0, { error: 'expected an integer ≥ 0' })
    .default(CONFIG_DEFAULTS.pause_after_failures)
    .describe(
      'Circuit breaker: the run pauses itself when this many seeds in a row fail (or end without QA) with the same ' +
        'kind of error, e.g. a bad API key; resume after fixing the cause. 0 = never pause.',
    ),
  qa_model_name: z
    .string({ error: 'expected a model name or null' })
    .min(1, { error: 'expected a non-empty model name or null' })
    .nullable()
    .default(CONFIG_DEFAULTS.qa_model_name)
    .describe('Model for QA synthesis; null = model_name.'),
  verification: verificationSchema,
  cache: z
    .strictObject(
      {
        enabled: z
          .boolean({ error: 'expected true or false' })
          .default(CONFIG_DEFAULTS.cache!.enabled)
          .describe('Answer LLM and network tool calls made before (same request, same place in the run) from the cache.'),
        path: z
          .string({ error: 'expected a folder path or null' })
          .min(1, { error: 'expected a non-empty folder path or null' })
          .nullable()
          .default(CONFIG_DEFAULTS.cache!.path)
          .describe('Cache folder for `qasynth run`; null = <output-dir>/.qasynth-cache. Several workers may share one folder.'),
      },
      { error: 'expected {enabled, path}' },
    )
    .default({ enabled: CONFIG_DEFAULTS.cache!.enabled, path: CONFIG_DEFAULTS.cache!.path })
    .describe(
      'Content-addressed cache of LLM and web tool calls, outside workflow history: a re-run of the same config and ' +
        'seeds pays only for calls whose request changed (README "Cache"). `qasynth run --no-cache` turns it off.',
    ),
  grounding: z
    .boolean({ error: 'expected true or false' })
    .default(CONFIG_DEFAULTS.grounding)
    .describe(
      "A QA's answer must be supported by its path's observations (exactly, after normalising case, punctuation, " +
        'numbers and units, or as a computed calculator/python output); an ungrounded answer is rejected and ' +
        'regenerated within max_retries, and kept in the rejected-QA file if every attempt is ungrounded.',
    ),
  dedup: z
    .strictObject(
      {
        enabled: z.boolean({ error: 'expected true or false' }).default(CONFIG_DEFAULTS.dedup.enabled).describe('Deduplicate the QA file.'),
        near_duplicate_threshold: z
          .number({ error: 'expected a number in (0, 1]' })
          .gt(0, { error: 'expected a number in (0, 1]' })
          .max(1, { error: 'expected a number in (0, 1]' })
          .default(CONFIG_DEFAULTS.dedup.near_duplicate_threshold)
          .describe('Estimated Jaccard similarity of two questions (MinHash over word 1- and 2-grams) from which the later one is a near-duplicate.'),
        max_qa_per_answer: z
          .number({ error: 'expected an integer ≥ 0' })
          .int({ error: 'expected an integer ≥ 0' })
          .min(0, { error: 'expected an integer ≥ 0' })
          .default(CONFIG_DEFAULTS.dedup.max_qa_per_answer)
          .describe('Most QA kept per identical normalised answer within one seed; 0 = no cap.'),
      },
      { error: 'expected an object {enabled?, near_duplicate_threshold?, max_qa_per_answer?}' },
    )
    .default({ ...CONFIG_DEFAULTS.dedup })
    .describe(
      'Deduplication when the output files are written: exact duplicate questions (after normalisation), near-duplicates ' +
        '(MinHash + LSH) and a cap on QA per answer per seed. The first in input order is kept; the others go to the ' +
        'rejected-QA file with the qa_id they duplicate.',
    ),
};

/** Valid top-level config keys, in schema order. */
export const CONFIG_KEYS = Object.keys(configShape) as (keyof typeof configShape)[];

/**
 * Checks that involve several keys. Run by the schema (so configSchema.parse is complete) and, when the schema
 * stops early on a type error, again on the raw input by parseConfig, so every problem is reported at once.
 * Only values that are individually valid are compared; absent keys take their defaults.
 */
function crossFieldIssues(c: Record<string, unknown>): { path: (string | number)[]; message: string; value: unknown }[] {
  const out: { path: (string | number)[]; message: string; value: unknown }[] = [];
  const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1;
  const maxDepth = c.max_depth ?? 5;
  const minDepth = c.min_depth ?? 2;
  if (isInt(maxDepth) && isInt(minDepth) && minDepth > maxDepth) {
    out.push({ path: ['min_depth'], message: `expected ≤ max_depth (${maxDepth})`, value: minDepth });
  }
  const rawMode = c.environment_mode ?? 'web';
  const mode = (rawMode === 'py' ? 'python' : rawMode) as EnvironmentMode;
  const valid = typeof mode === 'string' ? MODE_TOOLS[mode] : undefined;
  if (valid && Array.isArray(c.available_tools)) {
    c.available_tools.forEach((name, i) => {
      if (typeof name === 'string' && !valid.includes(LEGACY_TOOL_NAMES[name] ?? name)) {
        out.push({
          path: ['available_tools', i],
          message: `expected a ${mode} tool (${valid.join(', ')}); empty available_tools means all of them`,
          value: name,
        });
      }
    });
  }
  const budget = c.budget;
  if (isPlainObject(budget) && (budget.max_cost_usd !== undefined || budget.per_seed_max_cost_usd !== undefined)) {
    const prices = isPlainObject(c.prices) ? c.prices : {};
    const models = new Set(
      [
        c.model_name ?? 'gpt-4.1-2025-04-14',
        c.qa_model_name,
        ...(isPlainObject(c.verification) && c.verification.enabled === true ? [c.verification.solver_model, c.verification.judge_model] : []),
      ].filter((m): m is string => typeof m === 'string' && m.length > 0),
    );
    for (const m of models) {
      if (!(m in prices)) {
        out.push({
          path: ['prices', m],
          message: 'expected {input_per_million, output_per_million} for this model, because budget has a cost cap',
          value: undefined,
        });
      }
    }
  }
  const kwargs = c.environment_kwargs;
  if (valid && isPlainObject(kwargs)) {
    const known = ENVIRONMENT_KWARGS[mode];
    for (const key of Object.keys(kwargs)) {
      if (!known.includes(key)) {
        out.push({
          path: ['environment_kwargs', key],
          message: known.length
            ? `expected a ${mode} setting (${known.join(', ')})`
            : `expected no settings: ${mode} mode has none`,
          value: kwargs[key],
        });
      }
    }
    if (mode === 'web') {
      const provider = kwargs.search_provider ?? 'serper';
      if (!SEARCH_PROVIDERS.includes(provider as string)) {
        out.push({ path: ['environment_kwargs', 'search_provider'], message: `expected one of ${SEARCH_PROVIDERS.join(', ')}`, value: provider });
      }
      const needs: Record<string, string> = { searxng: 'searxng_url', local: 'local_site_url' };
      const urlKey = needs[provider as string];
      if (urlKey && (typeof kwargs[urlKey] !== 'string' || !/^https?:\/\//.test(kwargs[urlKey] as string))) {
        out.push({
          path: ['environment_kwargs', urlKey],
          message: `expected the http(s) URL of the ${provider} search service (search_provider is ${provider})`,
          value: kwargs[urlKey],
        });
      }
    }
    if (mode === 'rag' && kwargs.corpus_path === undefined && kwargs.rag_index === undefined) {
      out.push({
        path: ['environment_kwargs', 'corpus_path'],
        message: 'expected the path of the corpus to search (a folder of .md/.txt/.jsonl files or a .jsonl file)',
        value: undefined,
      });
    }
  }
  return out;
}

export const configSchema = z.strictObject(configShape).superRefine((c, ctx) => {
  const crossField = crossFieldIssues(c as Record<string, unknown>);
  for (const issue of crossField) {
    ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message, ...(issue.value !== undefined ? { params: { value: issue.value } } : {}) });
  }
  // Values that would run into a Temporal limit (history, payload, pending children): only for an otherwise
  // consistent config, so each problem is reported once.
  if (crossField.length === 0) {
    for (const issue of limitIssues(c as SynthesisConfig)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  }
});

// Compile-time check: the schema's output is the shared SynthesisConfig.
type _ConfigOutputIsSynthesisConfig = z.output<typeof configSchema> extends SynthesisConfig ? true : never;
const _configCheck: _ConfigOutputIsSynthesisConfig = true;
void _configCheck;

/**
 * Turns zod issues into `path: expected X, got Y` lines. `prefix` is prepended to every path
 * (`config` → `config.max_depth`); `rootLabel` names the value itself when the path is empty.
 */
export function formatIssues(
  issues: readonly z.core.$ZodIssue[],
  raw: unknown,
  opts: { prefix?: string; rootLabel: string; validKeys?: (path: readonly PropertyKey[]) => readonly string[] | undefined },
): string[] {
  const out: string[] = [];
  const where = (path: readonly PropertyKey[]) => formatPath(path, opts.prefix ?? '') || opts.rootLabel;
  for (const issue of issues) {
    const path = issue.path as PropertyKey[];
    if (issue.code === 'unrecognized_keys') {
      const valid = opts.validKeys?.(path);
      for (const key of issue.keys) {
        out.push(`${where([...path, key])}: unknown key${valid ? `; valid keys are ${valid.join(', ')}` : ''}`);
      }
      continue;
    }
    if (issue.code === 'invalid_key') {
      // A record key outside its enum, e.g. an unknown tool in rate_limits.tool_calls_per_second.
      const valid = opts.validKeys?.(path.slice(0, -1));
      out.push(`${where(path)}: unknown key${valid ? `; valid keys are ${valid.join(', ')}` : ''}`);
      continue;
    }
    let message = issue.message;
    if (!message.startsWith('expected')) message = `expected ${message.charAt(0).toLowerCase()}${message.slice(1)}`;
    let got = describeValue(valueAt(raw, path));
    const params = (issue as { params?: { value?: unknown } }).params;
    if (valueAt(raw, path) === undefined && params && 'value' in params) got = `${describeValue(params.value)} (the default)`;
    out.push(`${where(path)}: ${message}, got ${got}`);
  }
  return out;
}

/** Validates a raw config object and applies the original's defaults. */
export function parseConfig(raw: unknown): ParseResult<{ config: SynthesisConfig }> {
  if (!isPlainObject(raw)) {
    return { ok: false, issues: [`config: expected an object of settings, got ${describeValue(raw)}`] };
  }
  const result = configSchema.safeParse(raw);
  if (result.success) return { ok: true, config: result.data as SynthesisConfig };
  const issues = formatIssues(result.error.issues, raw, {
    rootLabel: 'config',
    validKeys: (p) => {
      if (p.length === 0) return CONFIG_KEYS;
      if (p.length === 1 && p[0] === 'rate_limits') return ['llm_requests_per_second', 'tool_calls_per_second'];
      if (p.length === 1 && p[0] === 'budget') {
        return ['max_llm_calls', 'max_tokens', 'max_cost_usd', 'per_seed_max_llm_calls', 'per_seed_max_tokens', 'per_seed_max_cost_usd'];
      }
      if (p.length === 2 && p[0] === 'prices') return ['input_per_million', 'output_per_million'];
      if (p.length === 2 && p[1] === 'tool_calls_per_second') return ALL_TOOLS;
      return undefined;
    },
  });
  // A type error elsewhere stops zod before the cross-field refinement; report those problems too.
  for (const extra of crossFieldIssues(raw)) {
    const path = formatPath(extra.path);
    if (issues.some((i) => i.startsWith(`${path}: `))) continue;
    const value = valueAt(raw, extra.path);
    issues.push(`${path}: ${extra.message}, got ${value === undefined ? `${describeValue(extra.value)} (the default)` : describeValue(value)}`);
  }
  return { ok: false, issues };
}

/** Tools offered for a config: available_tools, or all of the mode's tools when empty (deduplicated). */
export function resolveTools(config: Pick<SynthesisConfig, 'environment_mode' | 'available_tools'>): string[] {
  const all = MODE_TOOLS[config.environment_mode];
  if (config.available_tools.length === 0) return [...all];
  return [...new Set(config.available_tools.filter((t) => all.includes(t)))];
}

// ---------------------------------------------------------------- batch input

export const RUN_ID_PATTERN = /^[A-Za-z0-9._-]{1,80}$/;

function isAbsolutePath(p: string): boolean {
  return p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\');
}

/** Longest `seeds_file` path, in characters (PATH_MAX on Linux). */
export const MAX_SEEDS_FILE_PATH = 4096;

const batchShape = {
  run_id: z
    .string({ error: 'expected a run id (1–80 characters from A–Z a–z 0–9 . _ -)' })
    .regex(RUN_ID_PATTERN, { error: 'expected a run id (1–80 characters from A–Z a–z 0–9 . _ -)' }),
  config: z.record(z.string(), z.unknown(), { error: 'expected a config object' }),
  seeds: z
    .array(z.unknown(), { error: 'expected an array of seeds' })
    .min(1, { error: 'expected at least one seed' })
    .optional()
    .describe('Seeds inline: strings or {text, id?, metadata?} (small runs: the workflow input is limited to ~2 MB). Exactly one of seeds and seeds_file.'),
  seeds_file: z
    .string({ error: 'expected the absolute path of a seeds file' })
    .max(MAX_SEEDS_FILE_PATH, { error: `expected a path of at most ${MAX_SEEDS_FILE_PATH} characters` })
    .refine(isAbsolutePath, { error: 'expected an absolute path (it is read by the workers serving the output task queue)' })
    .refine((p) => !/[\0\n\r]/.test(p), { error: 'expected a path without NUL or line breaks' })
    .optional()
    .describe('Seeds by reference: absolute path of a seeds file (JSON array, JSONL, YAML, {"entities": [...]}) readable by the workers serving <queue>-output; read in pages, any size. Exactly one of seeds and seeds_file.'),
  output_dir: z
    .string({ error: 'expected an absolute path' })
    .min(1, { error: 'expected an absolute path' })
    .refine(isAbsolutePath, { error: 'expected an absolute path (it is resolved on the worker that writes outputs)' }),
  force: z
    .boolean({ error: 'expected true or false' })
    .optional()
    .describe('Run even what looks absurd (a huge tree per seed, or more than 100 million LLM calls); limits still apply.'),
  retry_failed: z
    .boolean({ error: 'expected true or false' })
    .optional()
    .describe('Re-run the failed, no-QA and not-run seeds of an existing run id (its finished seeds are kept, never paid again).'),
};

export const BATCH_INPUT_KEYS = Object.keys(batchShape);
export const batchInputSchema = z.strictObject(batchShape);

/**
 * Validates the parent workflow's input: its own shape, then the config (issues prefixed `config.`) and the
 * seeds (`seeds[i]: …`). Everything is reported at once. Exactly one of `seeds` (inline) and `seeds_file` (by
 * reference) must be given; for `seeds_file` only the path's shape is checked here (the `prepareSeeds` activity
 * reads and validates the file), and the result's `seeds` and `duplicates` are empty.
 */
export function parseBatchInput(
  raw: unknown,
): ParseResult<{ input: BatchInput; config: SynthesisConfig; seeds: Seed[]; duplicates: DuplicateSeed[] }> {
  if (!isPlainObject(raw)) {
    return { ok: false, issues: [`input: expected an object {run_id, config, seeds or seeds_file, output_dir}, got ${describeValue(raw)}`] };
  }
  const issues: string[] = [];
  const shape = batchInputSchema.safeParse(raw);
  if (!shape.success) {
    issues.push(
      ...formatIssues(shape.error.issues, raw, { rootLabel: 'input', validKeys: (p) => (p.length === 0 ? BATCH_INPUT_KEYS : undefined) }),
    );
  }
  let config: SynthesisConfig | undefined;
  if (isPlainObject(raw.config)) {
    const parsed = parseConfig(raw.config);
    if (parsed.ok) config = parsed.config;
    else issues.push(...parsed.issues.map((i) => (i.startsWith('config:') ? i : i.startsWith('[') ? `config${i}` : `config.${i}`)));
  }
  // Exactly one source of seeds: inline, or a file the activities read (its content is checked there).
  if (raw.seeds === undefined && raw.seeds_file === undefined) {
    issues.push('seeds: expected an array of seeds, or seeds_file: the absolute path of a seeds file; got neither');
  } else if (raw.seeds !== undefined && raw.seeds_file !== undefined) {
    issues.push('seeds_file: expected either seeds (inline) or seeds_file (by reference), got both; remove one of them');
  }
  let seeds: Seed[] = [];
  let duplicates: DuplicateSeed[] = [];
  if (Array.isArray(raw.seeds) && raw.seeds.length > 0) {
    let n: number | null = config?.number_of_seed ?? null;
    if (!config && isPlainObject(raw.config)) {
      const rawN = raw.config.number_of_seed;
      n = typeof rawN === 'number' && Number.isInteger(rawN) && rawN >= 1 ? rawN : null;
    }
    const normalized = normalizeSeeds(raw.seeds, n);
    if (normalized.ok) ({ seeds, duplicates } = normalized);
    else issues.push(...normalized.issues);
  }
  // A run nobody means (a tree of a million nodes per seed, a hundred million calls): refused unless forced.
  if (config && seeds.length && raw.force !== true) {
    const absurd = absurdRun(config, seeds.length);
    if (absurd) issues.push(`config: ${absurd}`);
  }
  if (issues.length > 0 || !shape.success || !config) return { ok: false, issues };
  return { ok: true, input: shape.data as BatchInput, config, seeds, duplicates };
}
