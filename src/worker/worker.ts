/**
 * Worker bootstrap. One process serves task queues derived from a base name (default `qasynth`):
 *   <base>              workflows (synthesizeBatch, synthesizeSeed)
 *   <base>-llm          LLM activities — their own queue so a server-side rate limit applies across workers
 *   <base>-tool-<name>  one queue per tool (calculator, python_interpreter, local_search, web_search, web_visit)
 *   <base>-output       file-writing activities and the seeds of by-reference runs (prepareSeeds, readSeedPage) —
 *                       only where the output folder is (`--no-output` elsewhere)
 */
import fs from 'node:fs';
import path from 'node:path';
import type OpenAI from 'openai';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type NativeConnection } from '@temporalio/worker';
import { ChatEndpoint } from '../llm/chat';
import { installRuntime } from './runtime';
import { taskQueues, toolTaskQueue } from '../shared/constants';
import type { RateLimits } from '../shared/types';
import { toolNames } from '../tools/registry';
import { createLlmActivities } from '../activities/llm';
import { createToolActivities } from '../activities/tools';
import { createOutputActivities, createSeedResultWriter } from '../activities/outputs';
import { createInspectActivities } from '../activities/inspect';
import { createSeedActivities } from '../activities/seeds';
import { createOpenAiClient } from '../llm/client';
import { AdaptiveLimiter } from '../llm/adaptive-limiter';
import { CallCache } from '../cache/store';
import { sandboxTimeoutMs, workflowWorkerClass } from './sandbox';

export interface WorkerRoles {
  workflows: boolean;
  llm: boolean;
  tools: boolean;
  output: boolean;
}

export const ALL_ROLES: WorkerRoles = { workflows: true, llm: true, tools: true, output: true };

export interface WorkerConcurrency {
  /** Concurrent LLM calls in this process. */
  llm: number;
  /** Concurrent tool calls in this process (the python tool starts a process per call). */
  tools: number;
  /** Workflow executions kept in memory (sticky cache). */
  cachedWorkflows: number;
  /**
   * Threads that run workflow code (the SDK's `workflowThreadPoolSize`; default 1, the SDK's default with a reused
   * V8 context). When seeds run in step (the same latency), their answers arrive together and queue on that one
   * thread. Measured on 2 cores shared with the dev server, alternated, while the sandbox still ran with the SDK's
   * execution timeout (a watchdog thread per call: src/worker/sandbox.ts, now off by default): with 64 seeds in flight
   * at 500 ms answers, 2 threads 0.78–0.81 of the ideal against 0.74–0.77 with 1 (`local_llm`), 0.74–0.78 against
   * 0.69–0.74 (LLM activities), for ~60–75 MB more RSS; but with the machine saturated (3,000 seeds, max_workers
   * 200, zero-latency answers) 2 threads ran 22.6–26.9 seeds/s against 28.2–35.2 with 1. So 1 stays the default;
   * 2 may pay on a worker with a core to spare and many seeds waiting on the same endpoint.
   */
  workflowThreads: number;
}

export const DEFAULT_CONCURRENCY: WorkerConcurrency = { llm: 64, tools: 8, cachedWorkflows: 400, workflowThreads: 1 };

let bundlePromise: Promise<{ code: string }> | null = null;
/** The workflow bundle: prebuilt `dist/workflow-bundle.js` when present (npm run build), else bundled now. */
export function workflowBundle(): Promise<{ code: string }> {
  if (!bundlePromise) {
    const prebuilt = path.join(__dirname, '..', 'workflow-bundle.js');
    if (__filename.endsWith('.js') && fs.existsSync(prebuilt)) {
      bundlePromise = Promise.resolve({ code: fs.readFileSync(prebuilt, 'utf8') });
    } else {
      bundlePromise = bundleWorkflowCode({
        workflowsPath: require.resolve('../workflows'),
        logger: new DefaultLogger('WARN'),
      });
    }
  }
  return bundlePromise;
}

export interface CreateWorkersOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  roles?: WorkerRoles;
  concurrency?: Partial<WorkerConcurrency>;
  /** OpenAI-compatible client factory; defaults to one built from the environment on first use. */
  llmClient?: () => OpenAI;
  /** Server-side rate limits for the queues this process serves (the last poller's setting wins). */
  rateLimits?: RateLimits;
  /**
   * Worker identity recorded in histories (ActivityTaskStarted, WorkflowTaskStarted) and shown in the Web UI;
   * default the SDK's `<pid>@<hostname>`. Must differ between processes.
   */
  identity?: string;
  /**
   * Folder of the call cache this process's LLM and tool activities use (src/cache/, README "Cache"); several
   * processes may share one. Absent or null: no cache.
   */
  cacheDir?: string | null;
  /** Names the LLM endpoint in cache keys instead of its base URL (the built-in simulator: a fixed label). */
  llmEndpointLabel?: string;
  /**
   * Execution timeout of the workflow sandbox per call into it, seconds (`--workflow-deadlock-timeout`; the SDK's
   * isolateExecutionTimeout); absent, null or 0: none, the default (its watchdog thread per call: src/worker/sandbox.ts).
   */
  workflowDeadlockTimeoutS?: number | null;
}

export async function createWorkers(opts: CreateWorkersOptions): Promise<Worker[]> {
  installRuntime();
  const roles = opts.roles ?? ALL_ROLES;
  const c = { ...DEFAULT_CONCURRENCY, ...opts.concurrency };
  const q = taskQueues(opts.taskQueue);
  const common = { connection: opts.connection, namespace: opts.namespace, ...(opts.identity ? { identity: opts.identity } : {}) };
  let client: OpenAI | null = null;
  const llmClient = opts.llmClient ?? (() => (client ??= createOpenAiClient()));
  // One chat endpoint per process: the LLM activities and web_visit's summaries share its admission control and
  // what it learns about the endpoint's capabilities.
  const endpoint = new ChatEndpoint({
    client: llmClient,
    limiter: new AdaptiveLimiter({ max: c.llm }),
    warn: (message, meta) => Runtime.instance().logger.warn(message, meta),
  });
  const cache = opts.cacheDir ? new CallCache(opts.cacheDir, (message, meta) => Runtime.instance().logger.warn(message, meta)) : null;
  const label = opts.llmEndpointLabel ? { endpointLabel: opts.llmEndpointLabel } : {};
  const llmActivities = createLlmActivities({ client: llmClient, endpoint, cache, ...label });
  const toolActivities = createToolActivities({ llmClient, endpoint, cache, ...label });
  /** Dedicated queues are idle unless a batch uses them: autoscaled pollers keep an idle queue at one poll. */
  const dedicatedPollers = { type: 'autoscaling' as const, minimum: 1, initial: 2, maximum: 20 };
  const workers: Promise<Worker>[] = [];
  if (roles.workflows) {
    const sandbox = workflowWorkerClass(sandboxTimeoutMs(opts.workflowDeadlockTimeoutS));
    workers.push(
      sandbox.Class.create({
        ...common,
        ...sandbox.options,
        taskQueue: q.workflow,
        workflowBundle: await workflowBundle(),
        maxCachedWorkflows: c.cachedWorkflows,
        workflowThreadPoolSize: c.workflowThreads,
        // Many short workflow tasks (one per finished activity of every running seed): more slots and pollers
        // than the SDK defaults (40 / 10). Measured: 267 vs 211 seeds/min at max_workers 64 (bench/results).
        maxConcurrentWorkflowTaskExecutions: 100,
        maxConcurrentWorkflowTaskPolls: 40,
        // LLM calls and network tools run on the workflow's own queue by default (eager dispatch), LLM calls as local
        // activities with local_llm, the worker-local tools as local activities (src/domain/routing.ts): whoever
        // runs the workflows runs them.
        // And the seed result's local write, first tried where the workflow runs (see createSeedResultWriter).
        activities: { ...llmActivities, ...toolActivities, ...createSeedResultWriter(roles.output) },
        maxConcurrentActivityTaskExecutions: c.llm + c.tools,
        maxConcurrentLocalActivityExecutions: c.llm + c.tools,
      }),
    );
  }
  if (roles.llm) {
    workers.push(
      Worker.create({
        ...common,
        taskQueue: q.llm,
        activities: llmActivities,
        maxConcurrentActivityTaskExecutions: c.llm,
        activityTaskPollerBehavior: dedicatedPollers,
        maxTaskQueueActivitiesPerSecond: opts.rateLimits?.llm_requests_per_second,
      }),
    );
  }
  if (roles.tools) {
    for (const tool of toolNames()) {
      workers.push(
        Worker.create({
          ...common,
          taskQueue: toolTaskQueue(opts.taskQueue, tool),
          activities: toolActivities,
          maxConcurrentActivityTaskExecutions: c.tools,
          activityTaskPollerBehavior: dedicatedPollers,
          maxTaskQueueActivitiesPerSecond: opts.rateLimits?.tool_calls_per_second?.[tool],
        }),
      );
    }
  }
  if (roles.output) {
    workers.push(
      Worker.create({
        ...common,
        taskQueue: q.output,
        // The seeds of by-reference runs are prepared and paged here too: their copy lives in the run folder.
        activities: { ...createOutputActivities(), ...createInspectActivities(), ...createSeedActivities() },
        maxConcurrentActivityTaskExecutions: 16,
      }),
    );
  }
  return Promise.all(workers);
}

/** Runs workers until `stop` resolves or any of them stops, then shuts all of them down. */
export async function runWorkers(workers: Worker[], stop?: Promise<unknown>): Promise<void> {
  const shutdownAll = () => {
    for (const w of workers) {
      try {
        if (w.getState() === 'RUNNING') w.shutdown();
      } catch {
        /* already stopping */
      }
    }
  };
  void stop?.then(shutdownAll);
  const results = await Promise.allSettled(workers.map((w) => w.run().finally(shutdownAll)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
