/**
 * Where each activity of a seed runs (pure; the seed workflow applies it). Measured on the dev server
 * (design.md "Task routing"): an activity on another task queue than its workflow costs ~100 ms per round
 * trip, one on the workflow's own queue 33–48 ms (the server hands it to the worker in the workflow task's
 * response: eager dispatch), a local activity 3–11 ms (no server round trip; its result is recorded with the
 * next workflow task completion).
 *
 * - LLM calls run as local activities when the config asks for it (`local_llm`, default false) and the run
 *   uses the call cache (`cache.enabled`, default true): no matching round trip, and consecutive calls of a seed share one workflow
 *   task (the SDK extends the task while local activities run and records their results as markers when it
 *   completes). What that gives up, and why the cache is the condition: a worker that dies runs nothing of the
 *   workflow task it held, so the calls made since the seed's last completed workflow task are made again by
 *   the next worker (at most ~8 s of calls per seed: the SDK completes a task that local activities keep open at
 *   80 % of the 10 s workflow task timeout); the cache answers those that had finished, so they are not paid
 *   twice when the workers share a cache folder. Also: no server-side rate limit, no separate worker pool, and
 *   no event of their own in the history (a marker each). Measured (README "Benchmarks").
 * - Otherwise LLM calls run on the workflow's task queue, unless they need a server-side rate limit
 *   (`rate_limits.llm_requests_per_second`: a limit is a property of a task queue) or the config asks for
 *   dedicated queues (`task_queues: "dedicated"`: separate worker pools, e.g. LLM workers near a GPU).
 * - Short tools that run on the worker itself (calculator, python_interpreter, local_search) run as local
 *   activities (`local_tools`, default true): no round trip, and at most one workflow task per tree node.
 *   What a local activity gives up: a server-side rate limit, a separate worker pool, heartbeats (a worker that
 *   dies mid-call is noticed by the workflow task timeout instead), and visibility as its own event in the
 *   history (it is recorded as a marker). A tool with a rate limit never runs locally.
 * - Tools whose result depends on their arguments alone (IN_CALL_TOOLS: the calculator) and that would run as local
 *   activities run inside the LLM call that chose them: the chooseAction activity executes the chosen call and
 *   returns its observation with the action, so the tree node costs one activity, not two (measured: README
 *   "Benchmarks"). The workflow uses that observation only where it would have run the same tool with the same
 *   arguments (a refused duplicate ignores it); an activity that returns none (an older worker, an error) leaves
 *   the tool to its own local activity. `local_tools: false`, a rate limit or dedicated queues turn it off.
 * - Network tools (web_search, web_visit) stay normal activities on the workflow's queue (retries with
 *   backoff that outlive a workflow task, heartbeats while a page loads), or on their own queue as above.
 */
import type { SynthesisConfig } from '../shared/types';
import { CONFIG_DEFAULTS } from '../config/defaults';

/** Tools that run on the worker itself, in milliseconds to seconds: candidates for local activities. */
export const LOCAL_TOOLS: ReadonlySet<string> = new Set(['calculator', 'python_interpreter', 'local_search']);

export type Route = { kind: 'local' } | { kind: 'activity'; taskQueue: string };

type RoutingConfig = Pick<SynthesisConfig, 'rate_limits'> & Partial<Pick<SynthesisConfig, 'task_queues' | 'local_tools' | 'local_llm' | 'cache'>>;

/**
 * The LLM activities' route for a workflow on task queue `base`: a dedicated queue for a rate limit or
 * `task_queues: "dedicated"`, else local when `local_llm` (default CONFIG_DEFAULTS.local_llm: false) and the
 * run uses the call cache (`cache.enabled`, default true), else the workflow's own queue.
 */
export function llmRoute(config: RoutingConfig, base: string): Route {
  const dedicated = config.task_queues === 'dedicated' || config.rate_limits.llm_requests_per_second !== undefined;
  if (dedicated) return { kind: 'activity', taskQueue: `${base}-llm` };
  if ((config.local_llm ?? CONFIG_DEFAULTS.local_llm) && config.cache?.enabled !== false) return { kind: 'local' };
  return { kind: 'activity', taskQueue: base };
}

/**
 * Tools that may run inside the LLM call that chose them (see the module comment): in-process, pure (the result
 * depends on the arguments alone: no environment_kwargs, files or network), bounded in time (the calculator caps
 * expression length and result size, src/tools/calculator.ts). python_interpreter is not one: it starts a sandboxed
 * process that can fail as infrastructure and take seconds, which an LLM call must not wait on or be retried for.
 */
export const IN_CALL_TOOLS: ReadonlySet<string> = new Set(['calculator']);

/**
 * Which of `tools` the chooseAction activity of a workflow on task queue `base` runs itself (IN_CALL_TOOLS that
 * route locally under `config`), in the order given; [] turns it off.
 */
export function inCallTools(config: RoutingConfig, base: string, tools: readonly string[]): string[] {
  return tools.filter((t) => IN_CALL_TOOLS.has(t) && toolRoute(config, base, t).kind === 'local');
}

/** The route of tool `tool`'s activity for a workflow on task queue `base`. */
export function toolRoute(config: RoutingConfig, base: string, tool: string): Route {
  const limited = config.rate_limits.tool_calls_per_second?.[tool] !== undefined;
  if (limited || config.task_queues === 'dedicated') return { kind: 'activity', taskQueue: `${base}-tool-${tool}` };
  if ((config.local_tools ?? true) && LOCAL_TOOLS.has(tool)) return { kind: 'local' };
  return { kind: 'activity', taskQueue: base };
}
