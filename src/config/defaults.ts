/**
 * The config's default values (the original system's, plus qasynth's keys), without zod: the workflow code needs
 * them to complete configs recorded by older versions, and importing the zod schema there would rebuild every
 * schema for every workflow execution (the Temporal SDK gives each workflow its own module instances).
 * src/config/schema.ts takes its defaults from here, so the two cannot drift apart.
 */
import type { SynthesisConfig, VerificationConfig } from '../shared/types';

export const CONFIG_DEFAULTS: Readonly<SynthesisConfig> = Object.freeze({
  environment_mode: 'web',
  environment_kwargs: {},
  output_format: 'qa',
  available_tools: [],
  qa_examples: [],
  sampling_tips: '',
  synthesis_tips: '',
  seed_description: '',
  model_name: 'gpt-4.1-2025-04-14',
  max_depth: 5,
  branching_factor: 2,
  depth_threshold: 3,
  max_trajectories: 5,
  min_depth: 2,
  max_selected_traj: 3,
  max_retries: 3,
  max_workers: 1,
  number_of_seed: null,
  tool_calling: 'native',
  rate_limits: {},
  llm_timeout_seconds: 300,
  tool_timeout_seconds: 120,
  budget: {},
  prices: {},
  max_tokens: null,
  explore_concurrency: 1,
  task_queues: 'workflow',
  local_tools: true,
  local_llm: false,
  pause_after_failures: 3,
  qa_model_name: null,
  verification: Object.freeze({
    enabled: false,
    baseline_attempts: 3,
    solver_attempts: 1,
    solver_max_steps: 6,
    solver_model: null,
    judge_model: null,
    keep: 'solver_pass_baseline_fail',
  } satisfies VerificationConfig),
  cache: Object.freeze({ enabled: true, path: null }),
  grounding: true,
  dedup: { enabled: true, near_duplicate_threshold: 0.8, max_qa_per_answer: 2 },
} satisfies SynthesisConfig);

/**
 * A validated config, completed with the defaults of keys added after it was recorded (a workflow input from an
 * older version). Shallow, except `dedup`, whose keys are completed one by one; every other nested default is an
 * empty object or list, or (`verification`) a complete object that a validated config always carries whole.
 */
export function withConfigDefaults(config: Partial<SynthesisConfig>): SynthesisConfig {
  return { ...CONFIG_DEFAULTS, ...config, dedup: { ...CONFIG_DEFAULTS.dedup, ...(config.dedup ?? {}) } } as SynthesisConfig;
}
