/**
 * The local Temporal dev server: `temporal server start-dev` on a persistent SQLite file, with the
 * embedded Web UI and qasynth's search attributes registered. Used by `qasynth server` (foreground or
 * background) and by `qasynth run` when no TEMPORAL_ADDRESS is given.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_FLAGS } from '../shared/search-attributes';
import { ensureTemporalCli, projectRoot } from './temporal-cli';

/**
 * Dynamic config every dev server qasynth starts gets (the caller's `dynamicConfig` wins). The history
 * service's transfer-queue processor polls at most `history.transferProcessorMaxPollRPS` times a second
 * (default 20), which puts ~50 ms on every round trip (an activity or workflow task handed out); measured on
 * this project's bench, a workflow awaiting activities on its own queue went from 49.9 to 7.9 ms per activity
 * at 1000, and a zero-latency qasynth seed from 69 to 13 ms per LLM call. (A real cluster has the same
 * setting: see README "Tests on a real Temporal cluster".)
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Readonly<Record<string, unknown>> = {
  'history.transferProcessorMaxPollRPS': 1000,
};

export interface DevServerOptions {
  /** SQLite file; its folder is created. Omit for an in-memory server (tests). */
  dbFile?: string;
  ip?: string;
  port?: number;
  /** Web UI port; `null` = headless. */
  uiPort?: number | null;
  namespace?: string;
  /** Extra `--dynamic-config-value KEY=JSON` entries. */
  dynamicConfig?: Record<string, unknown>;
  /** Where server output goes: a file path, 'inherit', or 'ignore'. */
  logTo?: string | 'inherit' | 'ignore';
  /** Keep running after this process exits (background server). */
  detached?: boolean;
  log?: (line: string) => void;
}

export interface DevServer {
  address: string;
  uiUrl: string | null;
  pid: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export function stateDir(root = projectRoot()): string {
  return process.env.QASYNTH_STATE_DIR ?? path.join(root, '.state');
}

/** The kernel's range for outgoing connections' local ports (Linux /proc; elsewhere IANA's 49152–65535). */
function ephemeralPorts(): [number, number] {
  try {
    const [lo, hi] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo && hi) return [lo, hi];
  } catch {
    // not Linux
  }
  return [49152, 65535];
}

/** True when nothing listens on 127.0.0.1:`port` right now. */
export function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A port nothing listens on, for a server started next: random in 10,000 up to 1,001 below the kernel's ephemeral
 * range, then checked. Not a port the OS hands out (`listen(0)`): those come from the ephemeral range, where any
 * outgoing connection (a gRPC client of another server, say) may take it before the server binds it — seen as a
 * dev server dying with "bind: address already in use". The 1,000 above it stay clear of the range too, for the
 * Web UI's default port (port + 1000). Falls back to an OS-assigned port when no such range exists.
 */
export async function freePort(): Promise<number> {
  const max = ephemeralPorts()[0] - 1001;
  const min = 10_000;
  for (let i = 0; max - min >= 1000 && i < 100; i++) {
    const port = min + Math.floor(Math.random() * (max - min + 1));
    if (await canListen(port)) return port;
  }
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** True when a Temporal frontend answers at `address` within `timeoutMs`. */
export async function isTemporalUp(address: string, timeoutMs = 2000): Promise<boolean> {
  try {
    const conn = await Connection.connect({ address, connectTimeout: timeoutMs });
    try {
      await conn.workflowService.getSystemInfo({});
      return true;
    } finally {
      await conn.close();
    }
  } catch {
    return false;
  }
}

/** Polls until the server answers (or the process dies / the deadline passes). */
export async function waitForTemporal(address: string, child: ChildProcess | null, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 100;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) {
      throw new Error(`temporal server exited with code ${child.exitCode} before it was ready`);
    }
    if (await isTemporalUp(address, 1000)) return;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 1000);
  }
  throw new Error(`temporal server at ${address} did not become ready within ${timeoutMs / 1000}s`);
}

export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const bin = ensureTemporalCli(projectRoot(), opts.log);
  const ip = opts.ip ?? '127.0.0.1';
  const port = opts.port ?? (await freePort());
  const uiPort = opts.uiPort === undefined ? port + 1000 : opts.uiPort;
  const args = ['server', 'start-dev', '--ip', ip, '--port', String(port), '--log-level', 'warn'];
  args.push('--namespace', opts.namespace ?? 'default');
  if (opts.dbFile) {
    fs.mkdirSync(path.dirname(opts.dbFile), { recursive: true });
    args.push('--db-filename', opts.dbFile);
  }
  if (uiPort === null) args.push('--headless');
  else args.push('--ui-port', String(uiPort));
  for (const sa of SEARCH_ATTRIBUTE_FLAGS) args.push('--search-attribute', sa);
  for (const [k, v] of Object.entries({ ...DEV_SERVER_DYNAMIC_CONFIG, ...opts.dynamicConfig })) {
    args.push('--dynamic-config-value', `${k}=${JSON.stringify(v)}`);
  }
  let stdio: 'inherit' | 'ignore' | ['ignore', number, number] = 'ignore';
  if (opts.logTo === 'inherit') stdio = 'inherit';
  else if (opts.logTo && opts.logTo !== 'ignore') {
    fs.mkdirSync(path.dirname(opts.logTo), { recursive: true });
    const fd = fs.openSync(opts.logTo, 'a');
    stdio = ['ignore', fd, fd];
  }
  const child = spawn(bin, args, { stdio, detached: !!opts.detached });
  if (opts.detached) child.unref();
  const address = `${ip}:${port}`;
  try {
    await waitForTemporal(address, child);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    address,
    uiUrl: uiPort === null ? null : `http://${ip === '0.0.0.0' ? '127.0.0.1' : ip}:${uiPort}`,
    pid: child.pid!,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

interface BackgroundServerInfo {
  pid: number;
  address: string;
  uiUrl: string | null;
  dbFile: string;
}

function pidFile(root = projectRoot()): string {
  return path.join(stateDir(root), 'server.json');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The background dev server started by `qasynth run` / `qasynth server --background`, if it still runs. */
export function backgroundServer(root = projectRoot()): BackgroundServerInfo | null {
  try {
    const info = JSON.parse(fs.readFileSync(pidFile(root), 'utf8')) as BackgroundServerInfo;
    return alive(info.pid) ? info : null;
  } catch {
    return null;
  }
}

/**
 * Reuses the project's background dev server or starts one: `port` (default 7233), Web UI on `uiPort` (default
 * port + 1000; null = headless), SQLite state in `dbFile` (default `.state/temporal.db`). It outlives this process
 * so the Web UI link keeps working; `qasynth server stop` ends it. A server already running is reused as it is
 * (`started: false`; its own port, UI and file are returned, which the caller compares with what it asked for).
 */
export async function ensureBackgroundServer(
  opts: { port?: number; uiPort?: number | null; dbFile?: string; log?: (s: string) => void } = {},
): Promise<BackgroundServerInfo & { started: boolean }> {
  const root = projectRoot();
  const existing = backgroundServer(root);
  if (existing && (await isTemporalUp(existing.address))) return { ...existing, started: false };
  const port = opts.port ?? 7233;
  const uiPort = opts.uiPort === undefined ? port + 1000 : opts.uiPort;
  const address = `127.0.0.1:${port}`;
  if (await isTemporalUp(address)) {
    // Someone else's server on the default port (e.g. `temporal server start-dev`): use it.
    return { pid: 0, address, uiUrl: uiPort === null ? null : `http://127.0.0.1:${uiPort}`, dbFile: '(not managed by qasynth)', started: false };
  }
  const dbFile = path.resolve(opts.dbFile ?? path.join(stateDir(root), 'temporal.db'));
  const srv = await startDevServer({
    dbFile,
    port,
    uiPort,
    detached: true,
    logTo: path.join(stateDir(root), 'server.log'),
    log: opts.log,
  });
  const info: BackgroundServerInfo = { pid: srv.pid, address: srv.address, uiUrl: srv.uiUrl, dbFile };
  fs.writeFileSync(pidFile(root), JSON.stringify(info));
  return { ...info, started: true };
}

/** Stops the background dev server (its SQLite file stays, so a restart resumes every run). */
export async function stopBackgroundServer(): Promise<boolean> {
  const info = backgroundServer();
  if (!info) return false;
  process.kill(info.pid, 'SIGTERM');
  const deadline = Date.now() + 15_000;
  while (alive(info.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive(info.pid)) process.kill(info.pid, 'SIGKILL');
  fs.rmSync(pidFile(), { force: true });
  return true;
}
