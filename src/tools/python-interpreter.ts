/**
 * `python_interpreter` (python mode): runs a Python snippet with Debian's CPython 3 (`/usr/bin/python3 -I`,
 * numpy and sympy importable) in a sandbox and returns its output.
 *
 * Sandbox `bwrap` (default, `environment_kwargs.python_sandbox`):
 * - bubblewrap with every namespace unshared: no network (empty net namespace), own pid/ipc/uts/user/cgroup
 *   namespaces, no nested user namespaces (`--disable-userns`), a new session (no TIOCSTI), killed with its parent;
 * - filesystem: `/usr` read-only (plus the merged-/usr symlinks /bin, /lib, /lib64, /sbin), an `/etc` holding only
 *   `alternatives/` (numpy's BLAS is reached through it) and `ld.so.cache` (no passwd, no host config), fresh
 *   /proc and /dev, the working dir `/work` and `/tmp` as size-capped tmpfs (`python_scratch_mb` each; the
 *   program is copied in as /work/main.py through stdin). Nothing of the host outside /usr is visible or
 *   writable, and nothing is written to the host's disk, so there is no scratch dir to clean up;
 * - runs as uid/gid 65534 inside. When the worker runs as root, bwrap itself is started as uid/gid 65534, so
 *   the kernel counts the sandbox's processes against a non-root user and RLIMIT_NPROC applies (it is ignored
 *   for root, which a user namespace maps uid 65534 to by default) — a fork bomb hits `python_max_processes`;
 * - rlimits set by `prlimit` inside the sandbox: CPU seconds (timeout + 1), address space (`python_memory_mb`),
 *   processes, file size (16 MB), open files, no core dumps;
 * - a clean environment (PATH, HOME=/work, LANG=C.UTF-8, single-threaded BLAS/OpenMP).
 *
 * Sandbox `none` (explicit opt-out for machines without bubblewrap): `python3 -I` in a fresh scratch dir under
 * os.tmpdir() (removed afterwards) with the same rlimits when `prlimit` exists, the same clean environment and
 * timeout, as the worker's user. It does NOT isolate the filesystem or the network.
 *
 * Both: wall-clock timeout (`python_timeout_seconds`) and activity cancellation kill the whole sandbox (bwrap:
 * its pid-namespace init, whose death makes the kernel kill every process inside; none: the process group);
 * stdout + stderr are capped at `python_max_output_bytes` (the run is killed beyond). A call returns only after
 * the sandbox's processes are gone and its pipes closed.
 *
 * `QASYNTH_PYTHON` overrides the interpreter (with bwrap it must live under /usr).
 */
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync, lstatSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { constants as osConstants, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { FailureType } from '../shared/constants';
import type { ToolContext, ToolDefinition, ToolResult } from './tool';

export const MAX_CODE_CHARS = 20_000;
/** Upper bound for python_timeout_seconds: stays below the tool activity's 2-minute startToCloseTimeout. */
export const MAX_PYTHON_TIMEOUT_SECONDS = 100;
export const SANDBOX_UID = 65534;
export const SANDBOX_GID = 65534;
export const DEFAULT_PYTHON = '/usr/bin/python3';

/** environment_kwargs keys read by this tool, with their defaults. */
export const PYTHON_DEFAULTS = {
  python_sandbox: 'bwrap' as PythonSandbox,
  python_timeout_seconds: 10,
  python_memory_mb: 512,
  python_max_output_bytes: 1024 * 1024,
  python_max_processes: 64,
  python_max_file_mb: 16,
  python_max_open_files: 256,
  python_scratch_mb: 64,
};

/** Allowed range per numeric key: [min, max]. */
const NUMERIC_RANGES: Record<Exclude<keyof typeof PYTHON_DEFAULTS, 'python_sandbox'>, [number, number]> = {
  python_timeout_seconds: [0.1, MAX_PYTHON_TIMEOUT_SECONDS],
  python_memory_mb: [64, 65536],
  python_max_output_bytes: [1024, 64 * 1024 * 1024],
  python_max_processes: [2, 4096],
  python_max_file_mb: [1, 4096],
  python_max_open_files: [16, 65536],
  python_scratch_mb: [1, 4096],
};

export type PythonSandbox = 'bwrap' | 'none';

export interface PythonSettings {
  sandbox: PythonSandbox;
  timeoutS: number;
  memoryMb: number;
  maxOutputBytes: number;
  maxProcesses: number;
  maxFileMb: number;
  maxOpenFiles: number;
  scratchMb: number;
}

export const pythonSchema = z.object({
  code: z
    .string()
    .min(1)
    .max(MAX_CODE_CHARS)
    .describe('A complete Python 3 program; use print() to show results (only printed output is returned)'),
});

export type PythonArgs = z.infer<typeof pythonSchema>;

function invalid(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: FailureType.InvalidInput, nonRetryable: true });
}

function unavailable(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: FailureType.ToolUnavailable, nonRetryable: true });
}

/** Reads and validates the python_* keys of environment_kwargs (numeric strings accepted; too large → clamped). */
export function pythonSettings(kwargs: Record<string, unknown>): PythonSettings {
  const num = (key: keyof typeof NUMERIC_RANGES): number => {
    const raw = kwargs[key];
    if (raw === undefined || raw === null) return PYTHON_DEFAULTS[key];
    const n = typeof raw === 'string' && raw.trim() ? Number(raw) : raw;
    const [lo, hi] = NUMERIC_RANGES[key];
    if (typeof n !== 'number' || !Number.isFinite(n) || n < lo) {
      throw invalid(`environment_kwargs.${key}: expected a number ≥ ${lo} (at most ${hi}), got ${JSON.stringify(raw)}`);
    }
    return Math.min(n, hi);
  };
  const rawSandbox = kwargs.python_sandbox ?? PYTHON_DEFAULTS.python_sandbox;
  if (rawSandbox !== 'bwrap' && rawSandbox !== 'none') {
    throw invalid(`environment_kwargs.python_sandbox: expected "bwrap" or "none", got ${JSON.stringify(rawSandbox)}`);
  }
  return {
    sandbox: rawSandbox,
    timeoutS: num('python_timeout_seconds'),
    memoryMb: Math.floor(num('python_memory_mb')),
    maxOutputBytes: Math.floor(num('python_max_output_bytes')),
    maxProcesses: Math.floor(num('python_max_processes')),
    maxFileMb: Math.floor(num('python_max_file_mb')),
    maxOpenFiles: Math.floor(num('python_max_open_files')),
    scratchMb: Math.floor(num('python_scratch_mb')),
  };
}

// ------------------------------------------------------------------------------------------- host discovery

function isExecutable(p: string): boolean {
  try {
    accessSync(p, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `name` in the usual system dirs, then on PATH. */
function findExecutable(name: string): string | null {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/usr/local/bin']) {
    const p = join(dir, name);
    if (isExecutable(p)) return p;
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    if (isExecutable(p)) return p;
  }
  return null;
}

let fallbackPython: Promise<string> | null = null;

/** For sandbox `none` on machines without /usr/bin/python3: python3's real executable (shims resolved once). */
function resolvePathPython(): Promise<string> {
  fallbackPython ??= new Promise<string>((resolve) => {
    execFile('python3', ['-I', '-c', 'import sys; print(sys.executable)'], { timeout: 15_000 }, (err, stdout) => {
      const exe = stdout?.toString().trim();
      resolve(!err && exe ? exe : 'python3');
    });
  });
  return fallbackPython;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Root-level entries a merged-/usr (or classic) system needs for /usr/bin/python3 to start. */
function rootFsArgs(): string[] {
  const args: string[] = ['--ro-bind', '/usr', '/usr'];
  for (const entry of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    let st;
    try {
      st = lstatSync(entry);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(entry), entry);
    else if (st.isDirectory()) args.push('--ro-bind', entry, entry);
  }
  args.push('--dir', '/etc', '--ro-bind-try', '/etc/alternatives', '/etc/alternatives', '--ro-bind-try', '/etc/ld.so.cache', '/etc/ld.so.cache');
  return args;
}

const SANDBOX_ENV: Record<string, string> = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: '/work',
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
  OMP_NUM_THREADS: '1',
  OPENBLAS_NUM_THREADS: '1',
  MKL_NUM_THREADS: '1',
};

/** RLIMIT_CPU: the timeout rounded up plus 1 s, so a single-threaded loop meets the wall clock first. */
export function cpuLimitSeconds(s: PythonSettings): number {
  return Math.ceil(s.timeoutS) + 1;
}

function rlimitArgs(s: PythonSettings): string[] {
  const mb = 1024 * 1024;
  return [
    `--cpu=${cpuLimitSeconds(s)}`,
    `--as=${s.memoryMb * mb}`,
    `--nproc=${s.maxProcesses}`,
    `--fsize=${s.maxFileMb * mb}`,
    `--nofile=${s.maxOpenFiles}`,
    '--core=0',
  ];
}

/**
 * The bwrap command line. The code arrives on stdin and becomes /work/main.py; bwrap reports the sandbox's pid
 * and namespaces on fd 3 unless `probe` (then python only runs `pass`).
 */
export function bwrapArgs(s: PythonSettings, prlimit: string, python: string, probe = false): string[] {
  const env = Object.entries(SANDBOX_ENV).flatMap(([k, v]) => ['--setenv', k, v]);
  return [
    // --as-pid-1: the program is the namespace's init and a direct child of bwrap, which reaps it; when it exits
    // or is killed the kernel kills and reaps everything else in the namespace before bwrap exits.
    '--unshare-all', '--unshare-user', '--disable-userns', '--die-with-parent', '--new-session', '--as-pid-1',
    '--hostname', 'sandbox',
    '--uid', String(SANDBOX_UID), '--gid', String(SANDBOX_GID),
    ...rootFsArgs(),
    '--proc', '/proc',
    '--dev', '/dev',
    '--perms', '1777', '--size', String(s.scratchMb * 1024 * 1024), '--tmpfs', '/dev/shm',
    '--perms', '0700', '--size', String(s.scratchMb * 1024 * 1024), '--tmpfs', '/work',
    '--perms', '1777', '--size', String(s.scratchMb * 1024 * 1024), '--tmpfs', '/tmp',
    '--perms', '0644', '--file', '0', '/work/main.py',
    // bwrap's own tmpfs mounts (the root, /dev) have no size limit: make them read-only (not recursive).
    '--remount-ro', '/dev',
    '--remount-ro', '/',
    '--chdir', '/work',
    '--clearenv', ...env,
    ...(probe ? [] : ['--info-fd', '3']),
    '--',
    prlimit, ...rlimitArgs(s), '--', python, '-I', '-B', ...(probe ? ['-c', 'pass'] : ['/work/main.py']),
  ];
}

interface Host {
  bwrap: string | null;
  prlimit: string | null;
}

let host: Host | undefined;

function hostTools(): Host {
  host ??= { bwrap: findExecutable('bwrap'), prlimit: findExecutable('prlimit') };
  return host;
}

/** Tests: pretend bwrap/prlimit are (not) installed; `undefined` restores discovery. */
export function setHostToolsForTest(h: Partial<Host> | undefined): void {
  host = h === undefined ? undefined : { ...hostTools(), ...h };
}

/** Spawn options that drop a root worker to the sandbox user before bwrap runs (so RLIMIT_NPROC counts). */
function dropPrivileges(): { uid?: number; gid?: number } {
  return isRoot() ? { uid: SANDBOX_UID, gid: SANDBOX_GID } : {};
}

let bwrapProbe: Promise<void> | null = null;

/** Checks once per worker that bwrap can create its namespaces here; failures are not cached. */
function probeBwrap(bwrap: string, prlimit: string, python: string): Promise<void> {
  bwrapProbe ??= new Promise<void>((resolve, reject) => {
    const child = execFile(bwrap, bwrapArgs(pythonSettings({}), prlimit, python, true), { timeout: 20_000, cwd: '/', env: { PATH: SANDBOX_ENV.PATH! }, ...dropPrivileges() }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      reject(
        unavailable(
          `python_interpreter: bubblewrap (${bwrap}) cannot create a sandbox on this machine: ${String(stderr || err.message).trim().slice(0, 400)}. ` +
            'Fix: allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces > 0; ' +
            'in Docker run with a seccomp profile that permits them), or set environment_kwargs.python_sandbox to "none" (no isolation).',
        ),
      );
    });
    child.stdin?.end('');
  });
  bwrapProbe.catch(() => {
    bwrapProbe = null;
  });
  return bwrapProbe;
}

// ------------------------------------------------------------------------------------------- running

export type KillReason = 'timeout' | 'output' | 'cancelled';

export interface RunOutcome {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  /** Signal that ended the program (bwrap reports it as exit code 128 + n). */
  signal: NodeJS.Signals | null;
  killed: KillReason | null;
  /** Host pid of the sandbox's pid-namespace init and the namespace inode (bwrap only). */
  sandboxPid?: number;
  pidNamespace?: number;
  elapsedMs: number;
}

let running = 0;
let lastPidNamespace: number | undefined;
let sandboxesUp = 0;

/**
 * Live sandboxes of this process, the pid namespace of the last bwrap run, and how many bwrap sandboxes have
 * reported their pid namespace since the process started (tests and diagnostics). The kernel reuses namespace
 * inodes once a namespace is gone, so "a new sandbox is up" is told by `sandboxesUp`, not by `lastPidNamespace`.
 */
export function sandboxStats(): { running: number; sandboxesUp: number; lastPidNamespace?: number } {
  return lastPidNamespace === undefined ? { running, sandboxesUp } : { running, sandboxesUp, lastPidNamespace };
}

function signalName(n: number): NodeJS.Signals | null {
  for (const [name, num] of Object.entries(osConstants.signals)) if (num === n) return name as NodeJS.Signals;
  return null;
}

function tryKill(pid: number | undefined, sig: NodeJS.Signals = 'SIGKILL'): void {
  if (!pid || pid <= 0) return;
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

interface Plan {
  cmd: string;
  args: string[];
  cwd: string;
  uid?: number;
  gid?: number;
  /** Written to the child's stdin, then closed (bwrap copies it into /work/main.py). */
  stdin: string;
  bwrap: boolean;
  scratch?: string;
}

async function plan(code: string, s: PythonSettings): Promise<Plan> {
  const { bwrap, prlimit } = hostTools();
  const configured = process.env.QASYNTH_PYTHON?.trim();
  if (s.sandbox === 'bwrap') {
    if (!bwrap) {
      throw unavailable(
        'python_interpreter: bubblewrap (bwrap) is not installed, so Python code cannot be sandboxed. ' +
          'Fix: apt-get install bubblewrap, or set environment_kwargs.python_sandbox to "none" to run without isolation.',
      );
    }
    if (!prlimit) throw unavailable('python_interpreter: prlimit (util-linux) is not installed. Fix: apt-get install util-linux.');
    const python = configured || DEFAULT_PYTHON;
    if (!python.startsWith('/usr/')) {
      throw unavailable(`python_interpreter: QASYNTH_PYTHON=${python} is outside /usr, the only host directory the sandbox sees`);
    }
    if (!isExecutable(python)) {
      throw unavailable(`python_interpreter: ${python} not found. Fix: apt-get install python3 python3-numpy python3-sympy`);
    }
    if (!prlimit.startsWith('/usr/')) throw unavailable(`python_interpreter: prlimit at ${prlimit} is outside /usr`);
    await probeBwrap(bwrap, prlimit, python);
    return { cmd: bwrap, args: bwrapArgs(s, prlimit, python), cwd: '/', ...dropPrivileges(), stdin: code, bwrap: true };
  }
  const python = configured || (existsSync(DEFAULT_PYTHON) ? DEFAULT_PYTHON : await resolvePathPython());
  const scratch = await mkdtemp(join(tmpdir(), 'qasynth-py-'));
  await writeFile(join(scratch, 'main.py'), code, 'utf8');
  const pyArgs = [python, '-I', '-B', join(scratch, 'main.py')];
  const [cmd, args] = prlimit ? [prlimit, [...rlimitArgs(s), '--', ...pyArgs]] : [python, pyArgs.slice(1)];
  return { cmd, args, cwd: scratch, stdin: '', bwrap: false, scratch };
}

function execute(p: Plan, s: PythonSettings, signal: AbortSignal | undefined): Promise<RunOutcome> {
  return new Promise<RunOutcome>((resolve) => {
    const started = Date.now();
    const out: RunOutcome = { stdout: '', stderr: '', exitCode: null, signal: null, killed: null, elapsedMs: 0 };
    const chunks: { stdout: Buffer[]; stderr: Buffer[] } = { stdout: [], stderr: [] };
    let total = 0;
    let settled = false;
    let escalation: NodeJS.Timeout | undefined;
    const env = p.bwrap
      ? { PATH: SANDBOX_ENV.PATH! }
      : { ...SANDBOX_ENV, HOME: p.cwd, PYTHONIOENCODING: 'utf-8' };
    const child = spawn(p.cmd, p.args, {
      cwd: p.cwd,
      env,
      stdio: p.bwrap ? ['pipe', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
      detached: true,
      ...(p.uid !== undefined ? { uid: p.uid, gid: p.gid } : {}),
    });
    running++;

    const killAll = () => {
      // bwrap: killing the namespace's init (the program) makes the kernel kill everything inside; bwrap then
      // reaps it and exits. Before the init's pid is known (or if anything lingers), the process group goes too.
      if (out.sandboxPid) tryKill(out.sandboxPid);
      else tryKill(child.pid ? -child.pid : undefined);
      escalation ??= setTimeout(() => {
        tryKill(child.pid ? -child.pid : undefined);
        tryKill(child.pid);
      }, 2000);
    };
    const kill = (reason: KillReason) => {
      if (out.killed || settled) return;
      out.killed = reason;
      killAll();
    };

    const timer = setTimeout(() => kill('timeout'), Math.ceil(s.timeoutS * 1000));
    const onAbort = () => kill('cancelled');
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });

    const collect = (which: 'stdout' | 'stderr') => (buf: Buffer) => {
      if (buf.length === 0) return;
      if (total >= s.maxOutputBytes) {
        kill('output'); // more than the cap: drop it (keep draining) and stop the program
        return;
      }
      const room = s.maxOutputBytes - total;
      if (buf.length > room) {
        chunks[which].push(buf.subarray(0, room));
        total = s.maxOutputBytes;
        kill('output');
        return;
      }
      chunks[which].push(buf);
      total += buf.length;
    };
    child.stdout!.on('data', collect('stdout'));
    child.stderr!.on('data', collect('stderr'));
    if (p.bwrap) {
      const info: Buffer[] = [];
      const infoStream = child.stdio[3] as NodeJS.ReadableStream | null;
      infoStream?.on('data', (b: Buffer) => {
        info.push(b);
        const text = Buffer.concat(info).toString('utf8');
        const pid = /"child-pid"\s*:\s*(\d+)/.exec(text);
        const ns = /"pid-namespace"\s*:\s*(\d+)/.exec(text);
        if (pid && !out.sandboxPid) {
          out.sandboxPid = Number(pid[1]);
          if (out.killed) tryKill(out.sandboxPid); // a kill raced bwrap's setup
        }
        if (ns && out.pidNamespace === undefined) {
          out.pidNamespace = lastPidNamespace = Number(ns[1]);
          sandboxesUp += 1;
        }
      });
      infoStream?.on('error', () => undefined);
      child.stdin!.on('error', () => undefined); // bwrap gone before reading the code
      child.stdin!.end(p.stdin);
    }

    const finish = () => {
      if (settled) return;
      settled = true;
      running--;
      clearTimeout(timer);
      if (escalation) clearTimeout(escalation);
      signal?.removeEventListener('abort', onAbort);
      out.stdout = Buffer.concat(chunks.stdout).toString('utf8');
      out.stderr = Buffer.concat(chunks.stderr).toString('utf8');
      out.elapsedMs = Date.now() - started;
      resolve(out);
    };
    child.on('error', (err) => {
      out.stderr = `could not start ${p.cmd}: ${err.message}`;
      out.exitCode = 127;
      finish();
    });
    child.on('exit', (codeN, sig) => {
      if (p.bwrap && codeN !== null && codeN > 128 && codeN < 128 + 65) {
        out.signal = signalName(codeN - 128);
        out.exitCode = out.signal ? null : codeN;
      } else {
        out.exitCode = codeN;
        out.signal = sig;
      }
      // none: background processes the code started die with the group, so their pipes close and 'close' fires.
      // bwrap: the namespace is already gone (bwrap reaped its init, whose exit waits for the namespace to empty).
      if (!p.bwrap) tryKill(child.pid ? -child.pid : undefined);
    });
    child.on('close', finish);
  });
}

/** Runs `code` under the configured sandbox. Throws ToolUnavailable when the sandbox cannot run here. */
export async function runPython(code: string, s: PythonSettings, signal?: AbortSignal): Promise<RunOutcome> {
  const p = await plan(code, s);
  try {
    return await execute(p, s, signal);
  } finally {
    if (p.scratch) await rm(p.scratch, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Observation text: stdout, `[stderr] …`, then status lines; error on non-zero exit, timeout or kill. */
export function formatOutcome(o: RunOutcome, s: PythonSettings): ToolResult {
  const parts: string[] = [];
  if (o.stdout) parts.push(o.stdout.replace(/\n$/, ''));
  if (o.stderr.trim()) parts.push(`[stderr] ${o.stderr.replace(/\n$/, '')}`);
  let error = false;
  if (o.killed === 'output') {
    parts.push(`[output truncated at ${s.maxOutputBytes} bytes]`);
    error = true;
  } else if (o.killed === 'timeout') {
    parts.push(`[killed: timeout after ${s.timeoutS} s]`);
    error = true;
  } else if (o.killed === 'cancelled') {
    parts.push('[killed: cancelled]');
    error = true;
  } else {
    // `MemoryError`, numpy's `numpy.core._exceptions._ArrayMemoryError: Unable to allocate …`.
    const memoryError = /^(?:[\w.]*\.)?_?[A-Za-z]*MemoryError\b/m.test(o.stderr);
    if (o.exitCode !== null && o.exitCode !== 0) {
      parts.push(`[exit code ${o.exitCode}]`);
      error = true;
    }
    const cpuS = cpuLimitSeconds(s);
    // RLIMIT_CPU sends SIGXCPU, which the namespace's init ignores, then SIGKILL at the (equal) hard limit.
    if (o.signal === 'SIGXCPU' || (o.signal === 'SIGKILL' && o.elapsedMs >= cpuS * 1000 - 50)) {
      parts.push(`[killed: CPU time limit (${cpuS} s)]`);
      error = true;
    } else if (memoryError || o.signal === 'SIGKILL' || o.signal === 'SIGSEGV' || o.signal === 'SIGBUS') {
      parts.push(`[killed: memory limit (${s.memoryMb} MB address space)]`);
      error = true;
    } else if (o.signal) {
      parts.push(`[killed by ${o.signal}]`);
      error = true;
    }
  }
  if (parts.length === 0) parts.push('[no output]');
  return error ? { text: parts.join('\n'), error } : { text: parts.join('\n') };
}

export const pythonInterpreterTool: ToolDefinition<PythonArgs> = {
  name: 'python_interpreter',
  description:
    'Run a Python 3 program (standard library, numpy and sympy available; no network, no files outside the working directory) ' +
    'and return what it prints to stdout and stderr. Each call starts a fresh interpreter: define everything you use and print the results.',
  schema: pythonSchema,
  async execute(args, ctx: ToolContext) {
    const s = pythonSettings(ctx.environment_kwargs);
    return formatOutcome(await runPython(args.code, s, ctx.signal), s);
  },
};
