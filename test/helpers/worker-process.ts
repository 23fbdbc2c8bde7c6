/**
 * A real `qasynth worker` child process (the compiled CLI, dist/cli/main.js) for tests that kill workers:
 * crash, scale-out and chaos tests. `npm test` builds dist/ first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const CLI = path.join(__dirname, '..', '..', 'dist', 'cli', 'main.js');

/** QASYNTH_CHAOS_LOG_DIR: a folder where every worker process's output is appended (for debugging). */
const LOG_DIR = process.env.QASYNTH_CHAOS_LOG_DIR || null;

export interface WorkerProcess {
  proc: ChildProcess;
  /** Resolves once the worker printed its banner (its pollers are starting). */
  ready: Promise<void>;
  /** Resolves when the process exits (code, signal). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  logs(): string;
  /**
   * Activity results the server refused because the activity had already timed out ("Activity not found on
   * completion" in the worker log): work that was done, and maybe paid, and then done again by the retry.
   */
  discardedResults(): number;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Starts `node dist/cli/main.js worker` against `address` / `taskQueue`, LLM calls to `llmUrl`. */
export function startWorkerProcess(opts: {
  address: string;
  taskQueue: string;
  llmUrl: string;
  /** Extra `qasynth worker` flags (e.g. --no-output, --identity). */
  args?: string[];
  env?: Record<string, string | undefined>;
}): WorkerProcess {
  let logs = '';
  const partial = { out: '', err: '' };
  let discarded = 0;
  const proc = spawn(process.execPath, [CLI, 'worker', '--address', opts.address, '--task-queue', opts.taskQueue, ...(opts.args ?? [])], {
    env: { ...process.env, OPENAI_BASE_URL: opts.llmUrl, OPENAI_API_KEY: 'sk-qasynth-chaos-test', QASYNTH_LOG_LEVEL: 'WARN', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (stream: 'out' | 'err') => (b: Buffer) => {
      const text = b.toString();
      logs += text;
      const lines = (partial[stream] + text).split('\n');
      partial[stream] = lines.pop() ?? '';
      discarded += lines.filter((l) => l.includes('Activity not found on completion')).length;
      if (LOG_DIR) fs.appendFileSync(path.join(LOG_DIR, `worker-${opts.taskQueue}.log`), b);
      if (logs.length > 200_000) logs = logs.slice(-100_000);
      if (logs.includes('qasynth worker:')) resolve();
    };
    proc.stdout!.on('data', onData('out'));
    proc.stderr!.on('data', onData('err'));
    void exited.then(({ code, signal }) => reject(new Error(`worker exited before it was ready (code ${code}, signal ${signal}):\n${logs.slice(-4000)}`)));
  });
  ready.catch(() => undefined); // observed by callers that await it
  return {
    proc,
    ready,
    exited,
    alive: () => exitInfo === null,
    logs: () => logs,
    discardedResults: () => discarded,
    async kill(signal) {
      if (exitInfo) return;
      proc.kill(signal);
      await exited;
    },
  };
}

/** Stops a worker gracefully (SIGTERM), SIGKILL if it has not exited within `graceMs`. */
export async function stopWorkerProcess(w: WorkerProcess, graceMs = 15_000): Promise<void> {
  if (!w.alive()) return;
  w.proc.kill('SIGTERM');
  const timer = setTimeout(() => w.proc.kill('SIGKILL'), graceMs);
  await w.exited;
  clearTimeout(timer);
}

