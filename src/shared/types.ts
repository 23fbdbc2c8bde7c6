/**
 * Workflow-safe types shared by workflows, activities, domain code and the CLI.
 * No runtime imports: this file must stay loadable inside the Temporal workflow sandbox.
 */

/** Environment modes of the original system. */
export type EnvironmentMode = 'web' | 'math' | 'python' | 'rag';

/** How the action-choice LLM call asks for an action. */
export type ToolCallingMode = 'native' | 'json';

/** One QA example from config (`qa_examples`). */
export interface QaExample {
  question: string;
  answer: string;
  reasoning?: string;
}

/**
 * The synthesis config, after validation and defaults (see src/config/schema.ts).
 * Keys keep the original system's snake_case names so its config files load unchanged.
 */
export interface SynthesisConfig {
  environment_mode: EnvironmentMode;
  environment_kwargs: Record<string, unknown>;
  output_format: 'qa';
  available_tools: string[];
  qa_examples: QaExample[];
  sampling_tips: string;
  synthesis_tips: string;
  seed_description: string;
  model_name: string;
  max_depth: number;
  branching_factor: number;
  depth_threshold: number;
  /** Validated but unused, as in the original. */
  max_trajectories: number;
  min_depth: number;
  max_selected_traj: number;
  max_retries: number;
  max_workers: number;
  number_of_seed: number | null;
  /** New: `native` offers tools through the API's tool calling; `json` asks for a JSON object (original behaviour). */
  tool_calling: ToolCallingMode;
  /** New: model for QA synthesis; defaults to model_name. */
  qa_model_name: string | null;
  /** New: server-side rate limits across all workers. */
  rate_limits: RateLimits;
  /** New: start-to-close timeout of one LLM call / one tool call, in seconds. */
  llm_timeout_seconds: number;
  tool_timeout_seconds: number;
  /** New: spending caps per run and per seed. */
  budget: BudgetConfig;
  /** New: price table for estimated cost (USD per million tokens). */
  prices: Prices;
  /**
   * New: most tokens generated per action or QA call, sent as `max_tokens` (servers that want
   * `max_completion_tokens` get that instead, see src/llm/chat.ts); null = the server's default.
   */
  max_tokens: number | null;
  /**
   * New: node creations (action choice + tool call) in flight at once within one seed. 1 (default) = the
   * original's depth-first order; more explores sibling subtrees concurrently (same node counts).
   */
  explore_concurrency: number;
  /**
   * New: where LLM and tool activities run. `workflow` (default): on the workflow's own task queue (eager
   * dispatch); `dedicated`: on `<queue>-llm` / `<queue>-tool-<tool>` (separate worker pools). A configured rate
   * limit always gets its own queue. See src/domain/routing.ts.
   */
  task_queues: 'workflow' | 'dedicated';
  /**
   * New: run the worker-local tools (python_interpreter, local_search) as local activities, and the calculator inside
   * the LLM call that chose it (src/domain/routing.ts). Default true.
   */
  local_tools: boolean;
  /**
   * New: run the LLM calls as local activities when the run uses the call cache (`cache.enabled`) and has neither
   * an LLM rate limit nor dedicated queues. Default false. See src/domain/routing.ts for what it gives up.
   */
  local_llm: boolean;
  /**
   * New: circuit breaker. The run pauses itself when this many seeds in a row fail (or end without QA) with the
   * same kind of error; 0 = never. Default 3.
   */
  pause_after_failures: number;
  /** New: the verification stage (no-tool baseline, solver agent, judge); off by default. See VerificationConfig. */
  verification: VerificationConfig;
  /**
   * New: the content-addressed call cache (src/cache/, README "Cache"). `enabled` (default true): LLM and network
   * tool calls of this run are answered from the cache when the same call was made before. `path`: the cache
   * folder used by `qasynth run`'s embedded worker (default null = `<output-dir>/.qasynth-cache`); standalone workers
   * take theirs from `qasynth worker --cache-dir` or their `--config` file. Absent in configs recorded before it
   * existed (= the default).
   */
  cache?: CacheConfig;
  /**
   * New (issue 10): a QA's answer must be supported by its path's observations (src/domain/grounding.ts); an
   * ungrounded answer is rejected (`ungrounded`) and regenerated within max_retries. Default true.
   */
  grounding: boolean;
  /** New (issue 10): deduplication of the run's QA when the output files are written (src/domain/dedup.ts). */
  dedup: DedupConfig;
}

/** Deduplication across the run (config `dedup`). */
export interface DedupConfig {
  /** Default true. false: every QA is kept (grounding and verification losses still go to the rejected file). */
  enabled: boolean;
  /** Estimated Jaccard similarity (MinHash over word shingles) at or above which a question is a near-duplicate. Default 0.8. */
  near_duplicate_threshold: number;
  /** Most QA kept per identical normalised answer within one seed; 0 = no cap. Default 2. */
  max_qa_per_answer: number;
}

/**
 * The verification stage (issue 10, README "Verification"): each QA a seed writes is answered k times by the model
 * without tools (baseline) and by a solver agent with the mode's tools; a judge compares each answer with the
 * reference; `keep` decides which QAs stay. Off by default.
 */
export interface VerificationConfig {
  enabled: boolean;
  /** No-tool baseline answers per QA (k of pass@k); 0 = no baseline. */
  baseline_attempts: number;
  /** Independent solver runs per QA. */
  solver_attempts: number;
  /** LLM calls one solver run may make (its tool calls ≤ solver_max_steps − 1; the last call must answer). */
  solver_max_steps: number;
  /** Model for the baseline and the solver; null = model_name. */
  solver_model: string | null;
  /** Model for the LLM judge; null = model_name. */
  judge_model: string | null;
  /**
   * Which QAs stay in the QA file: `solver_pass_baseline_fail` (default: the solver answers it at least once and
   * the baseline never), `solver_pass` (the solver answers it at least once), `all` (label only, drop nothing).
   */
  keep: VerificationKeep;
}

/** See VerificationConfig.keep. */
export type VerificationKeep = 'solver_pass_baseline_fail' | 'solver_pass' | 'all';

/** The `cache` config key (see SynthesisConfig.cache). */
export interface CacheConfig {
  enabled: boolean;
  /** Cache folder; null = the default of whoever opens it. */
  path: string | null;
}

/**
 * How the call cache answered one call: `hit` (answered from the cache: no provider request, no tokens paid),
 * `miss` (made and, when it succeeded, stored). Absent when the call did not use the cache (cache off, or a tool
 * that is never cached).
 */
export type CacheOutcome = 'hit' | 'miss';

/** Caps on spending (all optional). Run caps are shared by all seeds; per-seed caps bound each seed. */
export interface BudgetConfig {
  max_llm_calls?: number;
  max_tokens?: number;
  max_cost_usd?: number;
  per_seed_max_llm_calls?: number;
  per_seed_max_tokens?: number;
  per_seed_max_cost_usd?: number;
}

/** USD per million tokens, per model name. */
export type Prices = Record<string, { input_per_million: number; output_per_million: number }>;

/** What one seed may spend (null = no cap); set by the parent from the budget. */
export interface SeedAllowance {
  llm_calls: number | null;
  tokens: number | null;
  cost_usd: number | null;
}

export interface RateLimits {
  llm_requests_per_second?: number;
  tool_calls_per_second?: Partial<Record<string, number>>;
}

/** A seed after normalisation: content-derived id, text, optional user metadata. */
export interface Seed {
  source_id: string;
  text: string;
  metadata?: Record<string, unknown>;
}

/** Input of the parent workflow `synthesizeBatch` (also the JSON for `temporal workflow start`). */
export interface BatchInput {
  /** Names the run: workflow id `qasynth-<run_id>`, output folder `<output_dir>/<run_id>/`. */
  run_id: string;
  /** Raw config object; validated by the workflow with the same schema the CLI uses. */
  config: Record<string, unknown>;
  /**
   * Raw seeds, inline: strings or `{text, id?, metadata?}` objects. Exactly one of `seeds` and `seeds_file`.
   * Inline seeds travel in the workflow input (Temporal's 2 MB payload limit): for small runs.
   */
  seeds?: unknown[];
  /**
   * Seeds by reference: the absolute path of a seeds file (JSON array, JSONL, YAML or `{"entities": [...]}`, as
   * `--seeds` accepts) readable by the workers serving `<queue>-output`. The `prepareSeeds` activity validates it
   * and keeps a normalized copy in the run folder; the workflow reads that copy in pages (`readSeedPage`), so no
   * history holds the seed list. Exactly one of `seeds` and `seeds_file`.
   */
  seeds_file?: string;
  /** Absolute path of the output root on the machine of the worker serving the output task queue. */
  output_dir: string;
  /**
   * Re-run the failed, no-QA and not-run seeds of an existing run (a new execution of a finished run id);
   * finished seeds are kept and never paid again. The config may differ from the run's (the fix); the seeds may not.
   */
  retry_failed?: boolean;
  /** Run even what looks absurd (src/domain/limits.ts ABSURD); the server's limits still apply. */
  force?: boolean;
}

/** A seed whose workflow is running, as the parent keeps it (and carries it across continue-as-new). */
export interface RunningSeed {
  source_id: string;
  /** Position in the run's seed list. */
  index: number;
  /** What it may spend (null: no budget). */
  allowance: SeedAllowance | null;
  /** The parent run (Temporal run id) that started it: later runs watch it by inspection, not by handle. */
  parent_run_id: string;
  /** When it started (ms since epoch, workflow time). */
  started_at_ms: number;
}

/** A seeds file as read when a by-reference run was prepared: what the run's manifest records of it. */
export interface SeedsSource {
  /** Absolute path, as given in `seeds_file`. */
  path: string;
  /** Size in bytes. */
  bytes: number;
  /** sha256 of the whole file (hex): a later execution of the run checks the file still has it. */
  sha256: string;
}

/** Input of the `prepareSeeds` activity (output task queue). */
export interface PrepareSeedsInput {
  run_id: string;
  /** Absolute output root; the prepared seeds go to `<output_dir>/<run_id>/seeds.jsonl` (+ `seeds.index`, `seeds.prepared.json`). */
  output_dir: string;
  /** Absolute path of the seeds file (BatchInput.seeds_file). */
  seeds_file: string;
  /** config.number_of_seed: keep the first N seeds of the file; null = all. */
  number_of_seed: number | null;
}

/** Result of `prepareSeeds`: the run's seeds, counted and fingerprinted, ready to be read in pages. */
export interface PrepareSeedsResult {
  /** Unique valid seeds (after number_of_seed and duplicate removal). */
  seeds_total: number;
  /** Occurrences dropped as duplicates of an earlier seed (same id, same text). */
  duplicates_dropped: number;
  /** The file the seeds came from. */
  source: SeedsSource;
  /**
   * sha256 (hex) of the JSON array of the seeds' source ids in order (seedListFingerprint in
   * src/config/seeds-stream.ts): the same for the same seed list inline or by reference.
   */
  fingerprint_seeds: string;
  /** Added: distinct seeds that occurred more than once. */
  duplicated_seeds: number;
  /** Added: true when an earlier attempt or execution had prepared the same file (nothing was rewritten). */
  reused: boolean;
}

/** Input of the `readSeedPage` activity (output task queue). */
export interface ReadSeedPageInput {
  run_id: string;
  output_dir: string;
  /** 0-based position of the first seed of the page (0 ≤ start ≤ seeds_total). */
  start: number;
  /** Most seeds in the page (≥ 1). */
  max_seeds: number;
  /**
   * Most bytes of the page as JSON (the activity result's payload); at least one seed is returned whatever its size
   * (a seed is at most 1 MiB of JSON, MAX_SEED_JSON_BYTES).
   */
  max_bytes: number;
  /** Also say, per seed, whether its result is final (as the `finishedSeeds` activity). */
  with_finished: boolean;
}

/** One page of a by-reference run's seeds. */
export interface SeedPage {
  /** Seeds `start … next - 1`, in input order. */
  seeds: Seed[];
  /** With `with_finished`: per seed, its summary when its result is final (succeeded or budget-stopped), else null. */
  finished: (SeedSummary | null)[] | null;
  /** Position after the last seed returned; seeds_total once the last page was read. */
  next: number;
}

/** State carried across continue-as-new by `synthesizeBatch` (small: a cursor and counters). */
export interface BatchCarry {
  next_index: number;
  started_at_ms: number;
  counters: BatchCounters;
  paused: boolean;
  max_workers: number;
  prepared: boolean;
  /** True once the run budget could not fund another seed: no more seeds start. */
  budget_exhausted: boolean;
  /** Whether children must check for an earlier result first (the run folder had seed results). */
  check_existing: boolean;
  /**
   * When the run's folder was first created (ms since epoch): names the output files, the same for every
   * execution of the run (resume, retry). Absent in carries from before it existed (then started_at_ms).
   */
  run_started_at_ms?: number;
  /** Circuit breaker: the error kind of the last finished seeds and how many in a row had it. */
  breaker?: { error_type: string; count: number };
  /** Why the run paused itself (circuit breaker), or null. Cleared by resume. */
  pause_reason?: string | null;
  /** A `retryFailed` update asked for the failed seeds to run again once this pass is done. */
  retry_requested?: boolean;
  /** Sliding-window runs (see synthesize-batch.ts): the seeds running at the continue-as-new. */
  running?: RunningSeed[];
  /** Seeds in the run (known once prepared; by-reference runs read it from the prepared file). */
  seeds_total?: number;
  /** Duplicate seeds dropped when the run was prepared. */
  duplicates_dropped?: number;
  /** The last failed and no-QA seeds of this pass (≤ FAILED_SEEDS_SHOWN, newest last), for the progress query. */
  failed_seeds?: FailedSeedNote[];
}

/** A seed that failed or produced no QA, as the `progress` query names it (the live view shows it by name). */
export interface FailedSeedNote {
  source_id: string;
  status: 'failed' | 'no_qa';
  /** See SeedSummary.error_type. */
  error_type?: string;
  /** The error, cut to 160 characters. */
  error?: string;
}

/**
 * Answer of a seed workflow's `seedProgress` query: what the seed has done so far (its counters grow as each
 * LLM call, node and QA happens; queries add no history events). Read by the live view (src/client/progress.ts).
 */
export interface SeedLiveProgress {
  source_id: string;
  /** `checking` (is it done already?), `exploring` the tree, `writing_qa`, `saving` the result, `done`. */
  phase: 'checking' | 'exploring' | 'writing_qa' | 'saving' | 'done';
  llm_calls: number;
  /** HTTP requests sent for those calls (retries included; see SeedCounters.llm_requests). */
  llm_requests: number;
  input_tokens: number;
  output_tokens: number;
  /** USD, from config.prices (0 without prices). */
  cost_usd: number;
  /** Tree nodes explored so far (the root not counted). */
  nodes: number;
  /** Accepted QA so far. */
  qa: number;
}

export interface BatchCounters {
  seeds_done: number;
  seeds_succeeded: number;
  seeds_failed: number;
  /** Seeds that finished without a single usable QA (absent in carries from before it existed). */
  seeds_no_qa: number;
  seeds_budget_exhausted: number;
  seeds_cached: number;
  qa: number;
  trajectories: number;
  llm_calls: number;
  /** HTTP requests sent to the LLM endpoint (≥ llm_calls; see SeedCounters.llm_requests). */
  llm_requests: number;
  tool_calls: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

/** Input of the child workflow `synthesizeSeed`. */
export interface SeedInput {
  run_id: string;
  config: SynthesisConfig;
  seed: Seed;
  /** 0-based position of the seed in the deduplicated input list. */
  index: number;
  output_dir: string;
  /** What this seed may spend (from config.budget); absent or null = no cap. */
  allowance?: SeedAllowance | null;
  /** False when the run folder held no seed results at start: skip the "already done?" check. Default true. */
  check_existing?: boolean;
  /**
   * Report the end to the parent by signal (`seedFinished`, or `seedStopped` when cancelled), by workflow id, so
   * the report reaches the parent's latest run after a continue-as-new. Set by sliding-window parents.
   */
  notify_parent?: boolean;
  /**
   * With `notify_parent`: report by the seed workflow's own end (its result, or the failure carrying its summary),
   * which the parent that started it sees as its child's completion — and by signal only after the parent's
   * `reportBySignal` (it is about to continue as new). Set by parents with the `qasynth-report-by-result` patch.
   */
  report_by_result?: boolean;
  /** Seeds in the run, for "seed 12/500" in the Web UI (absent from inputs of older parents: shown as "seed 12"). */
  seeds_total?: number;
}

/**
 * How a seed ended: done with at least one QA (`succeeded`), failed with an error, done but without a single
 * usable QA (`no_qa`: every path was rejected, or exploration found none; the reason is in `error`), or stopped
 * early because its budget ran out.
 */
export type SeedStatus = 'succeeded' | 'failed' | 'no_qa' | 'budget_exhausted';

/** The small result a child reports to its parent. */
export interface SeedSummary {
  source_id: string;
  status: SeedStatus;
  /** True when the seed's result was already on disk from an earlier attempt (nothing was re-run). */
  cached: boolean;
  qa_count: number;
  trajectory_count: number;
  llm_calls: number;
  tool_calls: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  /** HTTP requests sent to the LLM endpoint (see SeedCounters.llm_requests). */
  llm_requests?: number;
  /** LLM calls answered from the call cache (no request); absent when none. */
  llm_cache_hits?: number;
  error?: string;
  /**
   * Stable kind of the failure, for the run's circuit breaker and statistics: the failure type of the error
   * (`LlmAuth`, `ToolAuth`, `LlmEndpointMisconfigured`, …) or `no_qa:<reason>` for a seed without QA.
   */
  error_type?: string;
}

// ---------------------------------------------------------------- tree

export interface ToolAction {
  tool_name: string;
  parameters: Record<string, unknown>;
}

/** A node of the exploration tree, field-compatible with the original's TrajectoryNode. */
export interface TreeNode {
  node_id: string;
  observation: string;
  intent: string;
  action: ToolAction | null;
  parent_id: string | null;
  children_ids: string[];
  depth: number;
  /** New: true when the observation reports a tool error (or a refused duplicate action). */
  is_error?: boolean;
  /** New: URLs or documents the observation came from (web_visit pages, search results, corpus files). */
  sources?: string[];
}

/** One step of the history shown to the action model. */
export interface PathStep {
  intent: string;
  tool_name: string;
  parameters: Record<string, unknown>;
  observation: string;
}

// ---------------------------------------------------------------- activities

/** A tool as offered to the model: name, description, JSON Schema of its arguments. */
export interface ToolSchema {
  name: string;
  description: string;
  /** JSON Schema (object) of the arguments, generated from the tool's zod schema. */
  parameters: Record<string, unknown>;
}

export interface TokenUsage {
  input_tokens: number;
  output_tokens: number;
}

/** Input of the `chooseAction` LLM activity: everything the action prompt needs, nothing more. */
export interface ChooseActionInput {
  model: string;
  tool_calling: ToolCallingMode;
  temperature: number;
  /** Passed as the OpenAI `seed` so sibling branches differ deterministically. */
  sampling_seed: number;
  seed_text: string;
  seed_description: string;
  sampling_tips: string;
  /** At most the first 2 of config.qa_examples. */
  qa_examples: QaExample[];
  /** Tool names offered (already resolved from available_tools / the mode). */
  tools: string[];
  /** Root → current node, excluding the root and the current node. */
  history: PathStep[];
  /** The current node's observation, in full (as stored in the tree). */
  current_observation: string;
  /** Retry number (0-based) of this action slot. */
  attempt: number;
  /** config.max_tokens (absent or null: not sent). */
  max_tokens?: number | null;
  /** Signatures (`tool {canonical args}`) of actions already run in this seed, newest last (at most 40). */
  executed_actions?: string[];
  /** The call's place in the run (src/domain/ids.ts actionCallPlace); set when the run uses the call cache. */
  cache_place?: string;
  /**
   * Tools this activity runs itself when the model chooses one of them (src/domain/routing.ts inCallTools): the
   * result then carries the call's `observation`. Absent or empty: none.
   */
  in_call_tools?: string[];
}

/**
 * Accounting every LLM activity result carries: token usage (reported by the server, or estimated when it
 * reported none: `usage_estimated`), and the HTTP requests the call took in all, retries and capability
 * fallbacks included (`requests`; absent in histories recorded before it existed = 1).
 */
export interface LlmCallAccounting {
  usage: TokenUsage;
  usage_estimated?: boolean;
  requests?: number;
  /** Whether the call cache answered it (a hit: requests 0 and usage 0). Absent without the cache. */
  cache?: CacheOutcome;
}

/**
 * What chooseAction returns. `observation`: the chosen action's result when its tool was one of the input's
 * `in_call_tools` and ran inside the call (what its own tool activity would have returned); absent otherwise, and
 * in histories recorded before it existed.
 */
export type ChooseActionResult =
  | ({ ok: true; intent: string; action: ToolAction; observation?: Observation } & LlmCallAccounting)
  | ({ ok: false; reason: string } & LlmCallAccounting);

export interface RunToolInput {
  mode: EnvironmentMode;
  environment_kwargs: Record<string, unknown>;
  tool_name: string;
  parameters: Record<string, unknown>;
  /** Model for LLM work inside a tool (web_visit's goal-directed summary). */
  summary_model: string;
  /** Use the call cache for this call, when the worker has one and the tool is cached (src/cache/key.ts). */
  cache?: boolean;
}

export interface Observation {
  text: string;
  error?: boolean;
  /** URLs or documents the observation came from. */
  sources?: string[];
  /** Characters dropped from `text` to keep workflow history small. */
  truncated_chars?: number;
  /** Whether the call cache answered it. Absent when the cache was not used. */
  cache?: CacheOutcome;
  /**
   * LLM calls the tool made itself (web_visit's goal-directed page summaries), which the workflow charges to the
   * seed like its own calls (counters, budget, cost). Absent when it made none, and in histories recorded before it
   * existed. A cache hit reports its calls with 0 requests and 0 tokens (nothing was paid).
   */
  llm_usage?: ToolLlmUsage;
}

/** What a tool's own LLM calls cost (Observation.llm_usage): one model, summed over the tool call's LLM calls. */
export interface ToolLlmUsage {
  model: string;
  /** Logical calls (one per page summarised); 0 when it carries only requests refused in earlier attempts. */
  calls: number;
  /** HTTP requests they sent (capability fallbacks included). */
  requests: number;
  input_tokens: number;
  output_tokens: number;
  /** True when any call's usage was estimated (the server reported none). */
  usage_estimated?: boolean;
}

export interface SynthesizeQaInput {
  model: string;
  temperature: number;
  seed_text: string;
  seed_description: string;
  synthesis_tips: string;
  qa_examples: QaExample[];
  /** The selected path, root excluded. */
  steps: PathStep[];
  /** Why the previous attempt for this path was rejected, so the model can fix it. */
  previous_rejection?: string;
  /** config.max_tokens (absent or null: not sent). */
  max_tokens?: number | null;
  /** The call's place in the run (src/domain/ids.ts qaCallPlace); set when the run uses the call cache. */
  cache_place?: string;
}

/** Input of the `answerBaseline` LLM activity: the question alone, answered from the model's own knowledge. */
export interface BaselineAnswerInput {
  model: string;
  question: string;
  temperature: number;
  /** The attempt number (0-based), sent as the OpenAI `seed` so the k attempts are k distinct requests. */
  sampling_seed: number;
  max_tokens?: number | null;
  /** The call's place in the run (src/domain/ids.ts verifyCallPlace); set when the run uses the call cache. */
  cache_place?: string;
}

/** An answer of the baseline or the solver (`ok: false`: the reply held no usable answer; reason says why). */
export type AnswerResult = ({ ok: true; answer: string } & LlmCallAccounting) | ({ ok: false; reason: string } & LlmCallAccounting);

/** One step the solver took: the tool call and its (truncated) observation. */
export interface SolverStep {
  tool_name: string;
  parameters: Record<string, unknown>;
  observation: string;
}

/** Input of the `solverStep` LLM activity: the question, the solver's own steps so far, the tools. */
export interface SolverStepInput {
  model: string;
  tool_calling: ToolCallingMode;
  question: string;
  /** Tool names offered (the seed's tools). */
  tools: string[];
  steps: SolverStep[];
  /** True on the last step of the budget: only a final answer is accepted. */
  must_answer: boolean;
  temperature: number;
  /** The solver attempt (0-based), sent as the OpenAI `seed`. */
  sampling_seed: number;
  max_tokens?: number | null;
  /** Tools this activity runs itself when chosen (as ChooseActionInput.in_call_tools); absent or empty: none. */
  in_call_tools?: string[];
  /** The call's place in the run (src/domain/ids.ts verifyCallPlace); set when the run uses the call cache. */
  cache_place?: string;
}

/**
 * What the solver chose: a tool call, a final answer, or nothing usable. A tool call of one of the input's
 * `in_call_tools` carries its `observation` (run inside the call).
 */
export type SolverStepResult =
  | ({ ok: true; kind: 'tool'; action: ToolAction; observation?: Observation } & LlmCallAccounting)
  | ({ ok: true; kind: 'answer'; answer: string } & LlmCallAccounting)
  | ({ ok: false; reason: string } & LlmCallAccounting);

/** Input of the `judgeAnswer` LLM activity. */
export interface JudgeInput {
  model: string;
  question: string;
  reference: string;
  candidate: string;
  max_tokens?: number | null;
  /** The call's place in the run (src/domain/ids.ts verifyCallPlace); set when the run uses the call cache. */
  cache_place?: string;
}

/** The LLM judge's verdict (`ok: false`: no verdict could be read from the reply, counted as incorrect). */
export type JudgeResult = ({ ok: true; correct: boolean; reason: string } & LlmCallAccounting) | ({ ok: false; reason: string } & LlmCallAccounting);

export type SynthesizeQaResult =
  | ({ ok: true; question: string; answer: string; reasoning_steps: unknown[] } & LlmCallAccounting)
  | ({ ok: false; reason: string } & LlmCallAccounting);

/** QA record, field- and order-compatible with the original's output. */
export interface QaRecord {
  question: string;
  answer: string;
  trajectory_id: string;
  reasoning_steps: unknown[];
  source_id: string;
  qa_id: string;
  metadata: {
    seed_data: string;
    seed_description: string;
    trajectory_depth: number;
    synthesis_date: string;
    environment_mode: EnvironmentMode;
    [k: string]: unknown;
  };
  /** New: what the QA rests on (the path's tool calls and their sources) and how its answer was grounded. */
  evidence?: QaEvidence;
  /** New: the verification verdicts (config `verification`), when it ran. */
  verification?: QaVerification;
}

/** One tool call of the path a QA was written from. */
export interface EvidenceStep {
  /** The tree node (`d<depth>_t<index>_b<branch>`). */
  node_id: string;
  tool_name: string;
  parameters: Record<string, unknown>;
  /** URLs or corpus documents the observation came from. */
  sources: string[];
  /** The start of the observation (at most 500 characters). */
  observation_excerpt: string;
  /** The observation reported an error. */
  is_error: boolean;
}

/** What a QA rests on. */
export interface QaEvidence {
  steps: EvidenceStep[];
  /** Every source of the path, deduplicated, in path order. */
  sources: string[];
  /**
   * How the answer is supported by the path: found in an observation (`exact` or after normalisation:
   * `normalized`), or equal to a computed tool output (`tool_output`); null when grounding was not checked.
   */
  grounding: { method: 'exact' | 'normalized' | 'tool_output'; node_id: string } | null;
}

/** A verification verdict for one QA (issue 10's baseline / solver / judge). */
export interface QaVerification {
  /** No-tool baseline: k answers from the model's own knowledge, and how many the judge accepted. */
  baseline: { attempts: number; correct: number; answers: string[] };
  /** Solver agent with the tools: its answers and how many were accepted. */
  solver: { attempts: number; correct: number; answers: string[]; steps: number };
  /**
   * How answers were judged: a normalised match, or an LLM judge for the rest (answers, not calls: an answer given
   * again in the same QA's verification reuses the LLM verdict of its first occurrence).
   */
  judged_by: { match: number; llm: number };
  /** Difficulty from the pass rates. */
  difficulty: 'trivial' | 'easy' | 'medium' | 'hard' | 'unsolved';
  kept: boolean;
  /** Why it was dropped, when it was. */
  reason?: string;
  /**
   * Added by the verification stage: one verdict per answer, baseline attempts first, then solver attempts, with
   * who settled it (`match`: the normalised match of src/domain/judge.ts, `llm`: the LLM judge) and a one-line reason.
   */
  verdicts?: AnswerVerdict[];
}

/** The judge's verdict on one answer of the baseline or the solver (QaVerification.verdicts). */
export interface AnswerVerdict {
  role: 'baseline' | 'solver';
  /** 0-based attempt of that role. */
  attempt: number;
  answer: string;
  correct: boolean;
  by: 'match' | 'llm';
  /** One line: the match rule (`normalized_equal`, `numbers_differ`, …) or the LLM judge's reason. */
  reason: string;
}

/**
 * A QA that was written but not kept in the final file (`rejected_qa_<mode>_<ts>.jsonl`): the record with why,
 * and the record it duplicates, if that is the reason. Nothing is deleted silently.
 */
export interface RejectedQaRecord extends QaRecord {
  rejection: { stage: 'grounding' | 'verification' | 'dedup'; reason: string; duplicate_of?: string };
}

/**
 * A node of a seed's whole tree as kept in its result file (for reports): no observations, only what draws the
 * tree. `outcome`: ok, error (the tool reported an error), refused (a repeated action).
 */
export interface CompactNode {
  node_id: string;
  parent_id: string | null;
  depth: number;
  tool_name: string;
  /** The start of the intent (at most 120 characters). */
  intent: string;
  outcome: 'ok' | 'error' | 'refused';
}

export interface TrajectoryRecord {
  trajectory_id: string;
  source_id: string;
  seed_data: string;
  total_depth: number;
  nodes: TreeNode[];
  /** New: the selection score and its parts. */
  score?: number;
}

/** Per-seed counters collected by the child and written to the seed's result file. */
export interface SeedCounters {
  /** Logical LLM calls (one per action choice or QA attempt). */
  llm_calls: number;
  /**
   * HTTP requests sent to the LLM endpoint for those calls: retries, capability fallbacks and requests of calls
   * that failed included (≥ llm_calls). Absent in result files written before it existed.
   */
  llm_requests?: number;
  /** Calls whose token counts were estimated because the endpoint reported no usage. */
  usage_estimated_calls?: number;
  llm_failed_outputs: number;
  input_tokens: number;
  output_tokens: number;
  tool_calls: Record<string, number>;
  tool_errors: Record<string, number>;
  /** Reason → count of branches skipped because no valid action came back. */
  skipped_branches: Record<string, number>;
  nodes: number;
  leaves: number;
  qa_rejected: Record<string, number>;
  /** Actions refused as repeats of an earlier call in the same seed (no tool call made). */
  duplicate_actions: number;
  /** Estimated cost of this seed's LLM calls (USD, from config.prices; 0 without prices). */
  cost_usd: number;
  /**
   * Calls answered from the call cache (`hits`: no request, no tokens, no cost) and calls made with the cache on
   * (`misses`), per kind. Absent when no call of the seed used the cache.
   */
  cache?: { llm: { hits: number; misses: number }; tools: { hits: number; misses: number } };
}

/** What `writeSeedResult` stores durably for one seed (one JSON file per seed). */
export interface SeedResultFile {
  run_id: string;
  source_id: string;
  index: number;
  seed_data: string;
  status: SeedStatus;
  error?: string;
  /** See SeedSummary.error_type. */
  error_type?: string;
  /**
   * What earlier attempts at this seed spent (a failed or no-QA result replaced by a retry), so statistics
   * count every paid call. Absent on a first attempt.
   */
  prior_attempts?: { attempts: number; llm_calls: number; llm_requests: number; input_tokens: number; output_tokens: number; cost_usd: number };
  started_at: string;
  finished_at: string;
  qas: QaRecord[];
  trajectories: TrajectoryRecord[];
  counters: SeedCounters;
  /** New: the seed's whole tree, compact (absent in results written before it existed, and for failed seeds). */
  tree?: CompactNode[];
  /** New: QA written but not kept for this seed (grounding, verification), with the reason. */
  rejected_qas?: RejectedQaRecord[];
}

/**
 * The yield funnel of a run (statistics `funnel`, issue 10): how many items reached each stage, and every loss with
 * its reason. Invariants: `qa_written ≥ qa_grounded ≥ qa_verified ≥ qa_kept`; `qa_kept` = lines of the QA file;
 * `qa_written - qa_kept` = lines of the rejected-QA file (`rejected_qa_<mode>_<ts>.jsonl`).
 */
export interface YieldFunnel {
  /** Seeds of the run, and how many produced at least one kept QA. */
  seeds: number;
  seeds_with_qa: number;
  /** Tree nodes explored (tool calls made). */
  nodes: number;
  /** Root-to-leaf paths selected for QA (trajectories written). */
  paths: number;
  /** QA the model returned that passed the cheap validators (length, answer not in the question, …). */
  qa_written: number;
  /** … of which the answer is supported by the path (grounding; = qa_written when grounding is off). */
  qa_grounded: number;
  /** … of which verification kept (= qa_grounded when verification is off). */
  qa_verified: number;
  /** … of which dedup kept: the QA file. */
  qa_kept: number;
  /** Every loss, by stage and reason (e.g. {stage: 'dedup', reason: 'near_duplicate', count: 3}). */
  losses: { stage: 'exploration' | 'selection' | 'synthesis' | 'grounding' | 'verification' | 'dedup'; reason: string; count: number }[];
}

/** Content-addressed cache use (statistics `cache`, issue 10): calls answered from the cache, and calls paid. */
export interface CacheStatistics {
  enabled: boolean;
  llm: { hits: number; misses: number };
  tools: { hits: number; misses: number };
}

/** How a batch ended: every seed processed, cancelled part-way, or stopped by its budget. */
export type BatchCompletion = 'complete' | 'cancelled' | 'budget_exhausted';

export interface WriteOutputsInput {
  run_id: string;
  output_dir: string;
  mode: EnvironmentMode;
  /** `YYYYmmdd_HHMMSS` of the batch start, so a retried write produces the same file names. */
  timestamp: string;
  /** Why the batch ended: everything processed, or cancelled part-way. */
  completion: BatchCompletion;
}

export interface WriteOutputsResult {
  qa_path: string;
  /** LLM calls, HTTP requests and tokens of the run as the statistics file counts them (earlier attempts included; absent in results recorded before they existed). */
  llm_calls?: number;
  llm_requests?: number;
  input_tokens?: number;
  output_tokens?: number;
  /** QA written but not kept (grounding, verification, dedup): `rejected_qa_<mode>_<ts>.jsonl` (absent in results recorded before it existed). */
  rejected_qa_path?: string;
  /** Lines of that file. */
  rejected_qa_count?: number;
  trajectories_path: string;
  statistics_path: string;
  qa_count: number;
  trajectory_count: number;
  seeds_succeeded: number;
  seeds_failed: number;
  /** Seeds that finished without a usable QA (absent in results recorded before it existed). */
  seeds_no_qa?: number;
  seeds_budget_exhausted: number;
  /** Seeds with no result: not started (cancelled, budget spent) or lost. */
  seeds_missing: number;
  estimated_cost_usd: number;
}

export interface BatchResult extends WriteOutputsResult {
  run_id: string;
  seeds_total: number;
  duplicates_dropped: number;
  status: BatchCompletion;
}

/** Answer of the `progress` query. */
export interface BatchProgress {
  run_id: string;
  mode: string;
  seeds_total: number;
  running: string[];
  paused: boolean;
  max_workers: number;
  /** Finished seeds only: running seeds' partial counters come from their `seedProgress` query (src/client/progress.ts). */
  counters: BatchCounters;
  /**
   * `preparing` the run, `running` seeds (until the last one has ended), `writing` the outputs, `done`,
   * `cancelling`. `draining` is no longer sent (it meant `running` after the last seed had started); clients read
   * it as `running`.
   */
  phase: 'preparing' | 'running' | 'draining' | 'writing' | 'done' | 'cancelling';
  /** Why the run paused itself (the circuit breaker), with the fix; null when it did not. */
  pause_reason?: string | null;
  /** When this execution chain of the run started (ms since epoch; carried across continue-as-new). Absent from older workers. */
  started_at_ms?: number;
  /** Seeds started so far (finished ones included); absent from older workers. */
  seeds_started?: number;
  /** The last failed and no-QA seeds of this pass (≤ 20, newest last); absent from older workers. */
  failed_seeds?: FailedSeedNote[];
}
