/**
 * `python_interpreter` (python mode): runs a Python snippet with the machine's CPython 3 and returns its output.
 *
 * What is contained:
 * - the code runs in a child process (`python3 -I`: isolated mode, no user site-packages, no PYTHON* variables),
 *   in a fresh scratch directory under os.tmpdir() (its cwd), removed afterwards;
 * - the environment is stripped to PATH, LANG and HOME=<scratch dir>: API keys and other secrets of the worker
 *   are not visible to the code;
 * - stdin is closed; stdout + stderr are capped at 64 KB (the process is killed beyond that);
 * - a wall-clock timeout (default 10 s, `environment_kwargs.python_timeout_seconds`) kills the whole process
 *   group (the child is spawned detached, so subprocesses it starts die with it); activity cancellation does too;
 * - when `prlimit` is on PATH: CPU seconds (timeout + 1, so the wall clock normally fires first) and address space (1 GiB) limits.
 *
 * What is NOT contained (full sandboxing, e.g. bubblewrap or Pyodide, comes later): the code can read any file
 * the worker's user can read, write outside the scratch dir, and open network connections. Run python mode only
 * with models and prompts you trust, or inside a container.
 *
 * Set QASYNTH_PYTHON to choose the interpreter; otherwise `python3` on PATH is resolved once (to its real
 * executable, so version-manager shims work with the stripped environment).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { z } from 'zod';
import type { ToolContext, ToolDefinition, ToolResult } from './tool';

export const MAX_CODE_CHARS = 20_000;
export const DEFAULT_PYTHON_TIMEOUT_SECONDS = 10;
export const MAX_PYTHON_TIMEOUT_SECONDS = 300;
export const MAX_OUTPUT_BYTES = 64 * 1024;
export const ADDRESS_SPACE_BYTES = 1024 * 1024 * 1024;

export const pythonSchema = z.object({
  code: z
    .string()
    .min(1)
    .max(MAX_CODE_CHARS)
    .describe('A complete Python 3 program; use print() to show results (only printed output is returned)'),
});

export type PythonArgs = z.infer<typeof pythonSchema>;

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return null;
}

let pythonPromise: Promise<string> | null = null;

/** The Python executable: QASYNTH_PYTHON, else python3's real executable (shims resolved once), else `python3`. */
export function resolvePython(): Promise<string> {
  const configured = process.env.QASYNTH_PYTHON?.trim();
  if (configured) return Promise.resolve(configured);
  pythonPromise ??= new Promise<string>((resolve) => {
    execFile('python3', ['-I', '-c', 'import sys; print(sys.executable)'], { timeout: 15_000 }, (err, stdout) => {
      const exe = stdout?.toString().trim();
      resolve(!err && exe ? exe : 'python3');
    });
  });
  return pythonPromise;
}

let prlimitPath: string | null | undefined;

function timeoutSeconds(kwargs: Record<string, unknown>): number {
  const raw = kwargs.python_timeout_seconds;
  const n = typeof raw === 'string' ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) return DEFAULT_PYTHON_TIMEOUT_SECONDS;
  return Math.min(n, MAX_PYTHON_TIMEOUT_SECONDS);
}

function killGroup(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

interface RunOutcome {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  capped: boolean;
  aborted: boolean;
  spawnError?: string;
}

async function runPython(code: string, ctx: ToolContext, timeoutS: number): Promise<RunOutcome> {
  const python = await resolvePython();
  const dir = await mkdtemp(join(tmpdir(), 'qasynth-py-'));
  try {
    const file = join(dir, 'main.py');
    await writeFile(file, code, 'utf8');
    if (prlimitPath === undefined) prlimitPath = onPath('prlimit');
    const pyArgs = ['-I', file];
    const [cmd, args] = prlimitPath
      ? [prlimitPath, [`--cpu=${Math.ceil(timeoutS) + 1}`, `--as=${ADDRESS_SPACE_BYTES}`, python, ...pyArgs]]
      : [python, pyArgs];

    return await new Promise<RunOutcome>((resolve) => {
      const out: RunOutcome = { stdout: '', stderr: '', exitCode: null, signal: null, timedOut: false, capped: false, aborted: false };
      const chunks: { stdout: Buffer[]; stderr: Buffer[] } = { stdout: [], stderr: [] };
      let total = 0;
      let settled = false;
      const child = spawn(cmd, args, {
        cwd: dir,
        env: {
          PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
          LANG: process.env.LANG ?? 'C.UTF-8',
          HOME: dir,
          PYTHONIOENCODING: 'utf-8',
          PYTHONDONTWRITEBYTECODE: '1',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      const timer = setTimeout(() => {
        out.timedOut = true;
        killGroup(child.pid);
      }, Math.ceil(timeoutS * 1000));
      const onAbort = () => {
        out.aborted = true;
        killGroup(child.pid);
      };
      if (ctx.signal?.aborted) onAbort();
      ctx.signal?.addEventListener('abort', onAbort, { once: true });

      const collect = (which: 'stdout' | 'stderr') => (buf: Buffer) => {
        if (out.capped) return;
        const room = MAX_OUTPUT_BYTES - total;
        if (buf.length > room) {
          chunks[which].push(buf.subarray(0, room));
          total = MAX_OUTPUT_BYTES;
          out.capped = true;
          killGroup(child.pid);
          return;
        }
        chunks[which].push(buf);
        total += buf.length;
      };
      child.stdout.on('data', collect('stdout'));
      child.stderr.on('data', collect('stderr'));

      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ctx.signal?.removeEventListener('abort', onAbort);
        out.stdout = Buffer.concat(chunks.stdout).toString('utf8');
        out.stderr = Buffer.concat(chunks.stderr).toString('utf8');
        resolve(out);
      };
      child.on('error', (err) => {
        out.spawnError = `could not start ${cmd}: ${err.message}`;
        finish();
      });
      child.on('exit', (codeN, sig) => {
        out.exitCode = codeN;
        out.signal = sig;
        // Background processes the code started die with the group, so their pipes close and 'close' fires.
        killGroup(child.pid);
      });
      child.on('close', finish);
    });
  } finally {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

function formatOutcome(o: RunOutcome, timeoutS: number): ToolResult {
  if (o.spawnError) return { text: `[Error] python_interpreter: ${o.spawnError}`, error: true };
  const parts: string[] = [];
  if (o.stdout) parts.push(o.stdout.replace(/\n$/, ''));
  if (o.stderr.trim()) parts.push(`[stderr] ${o.stderr.replace(/\n$/, '')}`);
  if (o.capped) parts.push(`[output truncated at ${MAX_OUTPUT_BYTES} bytes; process killed]`);
  let error = false;
  if (o.timedOut) {
    parts.push(`[timeout after ${timeoutS} s]`);
    error = true;
  } else if (o.aborted) {
    parts.push('[cancelled]');
    error = true;
  } else if (!o.capped) {
    if (o.exitCode !== null && o.exitCode !== 0) {
      parts.push(`[exit code ${o.exitCode}]`);
      error = true;
    } else if (o.signal) {
      parts.push(`[killed by ${o.signal}${o.signal === 'SIGKILL' || o.signal === 'SIGXCPU' ? ' (resource limit)' : ''}]`);
      error = true;
    }
  }
  if (parts.length === 0) parts.push('[no output]');
  return error ? { text: parts.join('\n'), error } : { text: parts.join('\n') };
}

export const pythonInterpreterTool: ToolDefinition<PythonArgs> = {
  name: 'python_interpreter',
  description:
    'Run a Python 3 program (standard library available) and return what it prints to stdout and stderr. Each call starts a fresh interpreter: define everything you use and print the results.',
  schema: pythonSchema,
  async execute(args, ctx) {
    const timeoutS = timeoutSeconds(ctx.environment_kwargs);
    return formatOutcome(await runPython(args.code, ctx, timeoutS), timeoutS);
  },
};
