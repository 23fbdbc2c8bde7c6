/**
 * `qasynth worker`: serves workflows and activities of any number of batches on one task queue (scale out: one per
 * machine). Roles, concurrency, server-side rate limits and the call cache folder come from its flags (and
 * `--config`); secrets from the environment (OPENAI_BASE_URL / OPENAI_API_KEY), never from flags.
 */
import path from 'node:path';
import { Option, type Command } from 'commander';
import { loadConfig } from '../config/load';
import type { RateLimits } from '../shared/types';
import type { WorkerRoles } from '../worker/worker';
import { UsageError } from './inputs';
import { addTemporalOptions, collectToolRps, connectExisting, positiveInt, positiveNumber } from './options';

const err = (s: string) => process.stderr.write(`${s}\n`);

/** Adds `worker` to the program. The worker SDK loads only when the command runs. */
export function registerWorkerCommand(program: Command): void {
  addTemporalOptions(program.command('worker').description('serve workflows and activities for any number of batches (scale out: run one per machine)'))
    .addOption(new Option('--no-output', 'do not serve the output queue (for workers on machines without the output folder)'))
    .option('--roles <list>', 'comma-separated subset of workflows,llm,tools,output', 'workflows,llm,tools,output')
    .option('--llm-concurrency <n>', 'concurrent LLM calls in this process', positiveInt('--llm-concurrency'))
    .option('--tool-concurrency <n>', 'concurrent calls per tool in this process', positiveInt('--tool-concurrency'))
    .option('--max-cached-workflows <n>', 'workflow executions kept in memory (≥ max_workers + 1 avoids replays)', positiveInt('--max-cached-workflows'))
    .option('--workflow-threads <n>', 'threads running workflow code (default 1; 2 on a worker with a core to spare and many seeds in flight: faster when their answers arrive together, slower on a saturated machine, ~60 MB more memory)', positiveInt('--workflow-threads'))
    .option('--workflow-deadlock-timeout <seconds>', 'fail a workflow task whose workflow code runs longer than this in one call (the SDK\'s isolateExecutionTimeout; default off: it starts a thread per call into the sandbox, slower when many seeds are in flight)', positiveNumber('--workflow-deadlock-timeout'))
    .option('--config <file>', 'take server-side rate limits (its rate_limits key) and the call cache folder (cache.path) from this config file')
    .option('--llm-rps <n>', 'LLM requests per second across all workers (overrides --config)', positiveNumber('--llm-rps'))
    .option('--tool-rps <tool=n...>', 'calls per second for a tool across all workers, e.g. web_search=2 (repeatable)', collectToolRps, {})
    .option('--identity <id>', 'worker identity in histories and the Web UI (default: $QASYNTH_WORKER_IDENTITY, else <pid>@<hostname>); unique per process')
    .option('--cache-dir <dir>', 'call cache folder for this worker\'s LLM and web tool calls (overrides --config\'s cache.path); several workers on a machine may share one')
    .option('--no-cache', 'no call cache, even if --config names one')
    .action(async (flags: { address?: string; namespace?: string; taskQueue: string; output: boolean; roles: string; llmConcurrency?: number; toolConcurrency?: number; maxCachedWorkflows?: number; workflowThreads?: number; workflowDeadlockTimeout?: number; config?: string; llmRps?: number; toolRps: Record<string, number>; identity?: string; cacheDir?: string; cache: boolean }) => {
      const { ALL_ROLES, createWorkers, runWorkers } = await import('../worker/worker');
      const { llmConfigured, checkLlmEndpoint } = await import('./run');
      const { ensureSearchAttributes, workerConnection } = await import('../worker/connection');
      const roles: WorkerRoles = { workflows: false, llm: false, tools: false, output: false };
      for (const r of flags.roles.split(',').map((s) => s.trim()).filter(Boolean)) {
        if (!(r in ALL_ROLES)) throw new UsageError([`--roles: unknown role ${JSON.stringify(r)}; valid roles are workflows, llm, tools, output`]);
        roles[r as keyof WorkerRoles] = true;
      }
      if (!flags.output) roles.output = false;
      if (roles.llm) {
        if (!llmConfigured()) {
          throw new UsageError(['OPENAI_BASE_URL / OPENAI_API_KEY: not set; the worker serves LLM calls (set them, or use --roles without llm)']);
        }
        checkLlmEndpoint();
      }
      const c = await connectExisting(flags);
      const target = c.target;
      const missing = await ensureSearchAttributes(c.connection, target.namespace);
      await c.close();
      if (missing.length) {
        err(`warning: search attributes ${missing.join(', ')} are missing and could not be created; create them with:`);
        err(`  temporal operator search-attribute create --namespace ${target.namespace} ${missing.map((m) => `--name ${m}`).join(' ')} --type Keyword`);
        err(`  or on Temporal Cloud: tcld namespace search-attributes add -n ${target.namespace} ${missing.map((m) => `--sa "${m}=Keyword"`).join(' ')}`);
      }
      const workerConfig = flags.config ? loadConfig(flags.config) : null;
      const rateLimits: RateLimits = workerConfig ? { ...workerConfig.rate_limits } : {};
      // A standalone worker caches only into a folder it is given: it does not know the runs' output folders.
      const configCache = workerConfig?.cache?.enabled === false ? null : (workerConfig?.cache?.path ?? null);
      const cacheDir = !flags.cache ? null : flags.cacheDir ? path.resolve(flags.cacheDir) : configCache ? path.resolve(configCache) : null;
      if (flags.llmRps) rateLimits.llm_requests_per_second = flags.llmRps;
      if (Object.keys(flags.toolRps).length) rateLimits.tool_calls_per_second = { ...rateLimits.tool_calls_per_second, ...flags.toolRps };
      const identity = flags.identity?.trim() || process.env.QASYNTH_WORKER_IDENTITY?.trim() || undefined;
      const connection = await workerConnection(target);
      const workers = await createWorkers({
        connection,
        namespace: target.namespace,
        taskQueue: flags.taskQueue,
        roles,
        rateLimits,
        identity,
        cacheDir,
        workflowDeadlockTimeoutS: flags.workflowDeadlockTimeout ?? null,
        concurrency: {
          ...(flags.llmConcurrency ? { llm: flags.llmConcurrency } : {}),
          ...(flags.toolConcurrency ? { tools: flags.toolConcurrency } : {}),
          ...(flags.maxCachedWorkflows ? { cachedWorkflows: flags.maxCachedWorkflows } : {}),
          ...(flags.workflowThreads ? { workflowThreads: flags.workflowThreads } : {}),
        },
      });
      let stop!: () => void;
      const stopped = new Promise<void>((r) => (stop = r));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const served = Object.entries(roles).filter(([, on]) => on).map(([r]) => r).join(', ');
      err(`qasynth worker: ${target.address} namespace ${target.namespace}, task queue ${flags.taskQueue} (${served})${identity ? `, identity ${identity}` : ''}${cacheDir ? `, call cache ${cacheDir}` : ''}; Ctrl-C to stop`);
      await runWorkers(workers, stopped);
      await connection.close();
    });
}
