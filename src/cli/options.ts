/**
 * What several `qasynth` commands share: flag parsers, the Temporal / input / retry flag groups, the connection
 * to an existing server, and how an error's causes are printed. Command definitions live in main.ts, worker.ts
 * (the `worker` command) and artefacts.ts.
 */
import { Client, type Connection } from '@temporalio/client';
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_TASK_QUEUE } from '../shared/constants';
import { cliCommand } from './command';
import { MAX_INLINE_INPUT_BYTES } from './inputs';
import type { TemporalTarget } from '../worker/connection';

/** A problem outside the user's input (no server, no worker, …): the CLI exits 3 with its message. */
export class InfraError extends Error {}

/** Commander parser for a flag taking an integer ≥ 1; the error names the flag (`name`) and the value. */
export function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isInteger(n) || n < 1) {
      throw new InvalidArgumentError(`${name}: expected an integer ≥ 1, got ${JSON.stringify(v)}`);
    }
    return n;
  };
}

/** Commander parser for a flag taking a finite number > 0; the error names the flag (`name`) and the value. */
export function positiveNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name}: expected a number > 0, got ${JSON.stringify(v)}`);
    return n;
  };
}

/** `--tool-rps web_search=2`, repeatable, into {web_search: 2}; tool names are checked. */
export function collectToolRps(v: string, acc: Record<string, number>): Record<string, number> {
  const m = /^([a-z_]+)=(.+)$/.exec(v);
  const tools = (require('../tools/registry') as typeof import('../tools/registry')).toolNames(); // loaded only for --tool-rps
  if (!m || !tools.includes(m[1])) {
    throw new InvalidArgumentError(`--tool-rps: expected <tool>=<calls per second> with a tool of ${tools.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return { ...acc, [m[1]]: positiveNumber('--tool-rps')(m[2]) };
}

/**
 * `--address`, `--namespace` and (unless `taskQueue: false`: commands on an existing run read its task queue from
 * the server) `--task-queue`.
 */
export function addTemporalOptions(cmd: Command, opts: { taskQueue?: boolean } = {}): Command {
  const c = cmd
    .option('--address <host:port>', 'Temporal frontend (default: $TEMPORAL_ADDRESS, else the local dev server)')
    .option('--namespace <ns>', 'Temporal namespace (default: $TEMPORAL_NAMESPACE or "default")');
  if (opts.taskQueue === false) return c;
  return c.option('--task-queue <name>', 'base task queue; workers serve <name>, <name>-llm, <name>-tool-<tool>, <name>-output', DEFAULT_TASK_QUEUE);
}

/** Input flags; `outputDir: false` for commands that write nothing (`validate`). */
export function addInputOptions(cmd: Command, required: boolean, opts: { outputDir?: boolean } = {}): Command {
  const c = required
    ? cmd.requiredOption('--config <file>', 'config file (.json, .yaml)').requiredOption('--seeds <file>', 'seeds file (JSONL or a JSON array: any size; YAML or {"entities": [...]}: up to 64 MiB)')
    : cmd.option('--config <file>', 'config file (.json, .yaml)').option('--seeds <file>', 'seeds file');
  c.option('--run-id <id>', 'names the run; default: derived from config + seeds, so re-running resumes');
  if (opts.outputDir !== false) c.option('--output-dir <dir>', 'output root; files go to <dir>/<run-id>/', 'out');
  return c
    .option('--max-workers <n>', 'seeds processed at once (overrides config max_workers)', positiveInt('--max-workers'))
    .option('--number-of-seed <n>', 'process only the first n seeds (overrides config)', positiveInt('--number-of-seed'))
    .option('--force', 'run even what looks absurd (more than 1,000 nodes per seed, or 100 million LLM calls); the server\'s limits still apply')
    .option('--seeds-by-reference', `pass the seeds file by path (the workers serving <queue>-output read it) even when the seeds would fit inline (they do up to ${MAX_INLINE_INPUT_BYTES / 1024} KiB of input)`);
}

/** `--retry-failed`, for the commands that start runs. */
export function addRetryOption(cmd: Command): Command {
  return cmd.option('--retry-failed', 're-run the failed, no-QA and not-run seeds of this run id (finished seeds are kept, not paid again)');
}

/**
 * Connects to the given/env server, or the project's background server (src/client/connect.ts: the same
 * resolution as the package's `connect()`).
 */
export async function connectExisting(flags: { address?: string; namespace?: string }): Promise<{ client: Client; connection: Connection; target: TemporalTarget; ui: string | null; close: () => Promise<void> }> {
  const { clientConnection } = await import('../worker/connection');
  const { resolveServer } = await import('../client/connect');
  const { target, uiUrl: ui } = resolveServer(flags);
  const connection = await clientConnection(target).catch((e: Error) => {
    throw new InfraError(`cannot reach a Temporal server at ${target.address} (${errorText(e)}). Start one with \`${cliCommand()} server start --background\`, or set TEMPORAL_ADDRESS.`);
  });
  return { client: new Client({ connection, namespace: target.namespace }), connection, target, ui, close: () => connection.close() };
}

/**
 * An error's message followed by each `cause` below it that adds something: `Failed to start Workflow: 3
 * INVALID_ARGUMENT: Namespace default has no mapping defined for search attribute QasynthRunId`. The Temporal SDK
 * puts the server's answer in `cause` (its own message alone says only what failed, not why).
 */
export function errorText(e: unknown): string {
  let text = e instanceof Error ? e.message : String(e);
  let cur: unknown = e instanceof Error ? e.cause : undefined;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 8; depth++) {
    const msg = (cur instanceof Error ? cur.message : String(cur)).trim();
    if (msg && !text.includes(msg)) text += `: ${msg}`;
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return text;
}
