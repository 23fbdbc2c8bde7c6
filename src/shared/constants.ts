/** Workflow-safe constants: task queues, failure type names, tool names per mode. */
import type { EnvironmentMode } from './types';

/** Default task queue for workflows and light activities. LLM, tool and output activities use derived queues. */
export const DEFAULT_TASK_QUEUE = 'qasynth';

/** Activity task queues derived from the workflow's task queue, so tests can isolate them with one name. */
export function taskQueues(base: string): { workflow: string; llm: string; output: string } {
  return { workflow: base, llm: `${base}-llm`, output: `${base}-output` };
}

/** Each tool has its own task queue, so a per-tool rate limit (a search API's quota) holds across workers. */
export function toolTaskQueue(base: string, tool: string): string {
  return `${base}-tool-${tool}`;
}

/** Parent workflow id for a run id: resubmitting the same run id reaches the same workflow. */
export function batchWorkflowId(runId: string): string {
  return `qasynth-${runId}`;
}

/** Child workflow id: `<parent id>/<source_id>`. */
export function seedWorkflowId(runId: string, sourceId: string): string {
  return `${batchWorkflowId(runId)}/${sourceId}`;
}

/** Stable failure `type` strings (ApplicationFailure.type). */
export const FailureType = {
  InvalidInput: 'InvalidInput',
  RateLimited: 'RateLimited',
  LlmUnavailable: 'LlmUnavailable',
  LlmRequestRejected: 'LlmRequestRejected',
  LlmAuth: 'LlmAuth',
  /**
   * The endpoint cannot serve qasynth's requests as configured: it answers an HTML page, rejects a feature
   * qasynth needs (tool calling), or gives the same failure to the same request every time. Not retryable.
   */
  LlmEndpointMisconfigured: 'LlmEndpointMisconfigured',
  ToolUnavailable: 'ToolUnavailable',
  /** A tool's backend (search provider, page host) failed transiently: 5xx, timeout, network. Retryable. */
  ToolBackendUnavailable: 'ToolBackendUnavailable',
  /** A tool's backend refused or lacks credentials (SERPER_API_KEY, TAVILY_API_KEY, JINA_API_KEY). */
  ToolAuth: 'ToolAuth',
  /**
   * A tool's backend answers, but not as the configured API: an HTML page or text where JSON was expected (a
   * website URL instead of the API's, a SearXNG without `json` in `search.formats`), or a refusal from a backend
   * that takes no key. Fixed only by changing the backend or environment_kwargs, so non-retryable.
   */
  ToolMisconfigured: 'ToolMisconfigured',
  OutputConflict: 'OutputConflict',
  /**
   * This worker does not write outputs (started with `--no-output`): the seed result goes to the output task
   * queue instead (src/activities/outputs.ts createSeedResultWriter). Not an error the user sees.
   */
  OutputElsewhere: 'OutputElsewhere',
  /** A seeds file passed by reference changed while prepareSeeds read it (still being written?). Retryable. */
  SeedsFileChanging: 'SeedsFileChanging',
} as const;

/** Errors an activity retry cannot fix. */
export const NON_RETRYABLE_TYPES = [
  FailureType.InvalidInput,
  FailureType.LlmRequestRejected,
  FailureType.LlmAuth,
  FailureType.LlmEndpointMisconfigured,
  FailureType.ToolAuth,
  FailureType.ToolMisconfigured,
  FailureType.OutputConflict,
];

/** Tools each environment mode offers (`available_tools` empty = all of these). */
export const MODE_TOOLS: Record<EnvironmentMode, readonly string[]> = {
  web: ['web_search', 'web_visit'],
  math: ['calculator'],
  python: ['python_interpreter'],
  rag: ['local_search'],
};


/** Observation text kept in workflow history and trajectories, per tool call. */
export const MAX_OBSERVATION_CHARS = 8000;

/**
 * Upper bound, in bytes of JSON (UTF-8), of what one tool activity returns (text, sources, flags) and of the
 * message of a failure it throws. Temporal refuses payloads over 2 MB (its default blob size limit); 64 KiB keeps
 * a tool result ~30× below that, and holds by construction: the text is ≤ MAX_OBSERVATION_CHARS UTF-16 units
 * (≤ 6 bytes each as JSON, 48,000 bytes), and sources are dropped from the end until the whole result fits.
 */
export const MAX_TOOL_RESULT_BYTES = 64 * 1024;

/** Custom search attributes (registered by `qasynth server` and checked by `qasynth worker`). */
export const SEARCH_ATTRIBUTES = {
  runId: 'QasynthRunId',
  mode: 'QasynthMode',
  status: 'QasynthStatus',
} as const;
