/**
 * A real multi-service Temporal cluster on this machine, for the cluster test tier and for trying qasynth against
 * the server production users run: `temporal-server` v1.29.1 (built from source by ./build.ts) on PostgreSQL
 * (./postgres.ts), with frontend, history, matching and worker as four separate processes.
 *
 * State lives in one folder (default `.state/cluster/`, git-ignored):
 *   cluster.json          ports, process ids, paths (what `status`, `kill` and `restart` read)
 *   pgdata/               the PostgreSQL data directory (databases `temporal` and `temporal_visibility`)
 *   config/development.yaml, dynamicconfig.yaml   the server config written from the module's development config
 *   logs/<service>.log, logs/postgres.log
 * `start` on an existing folder keeps its data (runs survive a stop/start, as with the dev server's SQLite file);
 * `clean` stops everything and deletes the folder.
 *
 * Readiness is polled, never slept for: PostgreSQL via `pg_ctl -w`; each service's gRPC health check (history turns
 * SERVING only once it owns its shards); the worker service's membership port; then the `default` namespace
 * answers through the frontend, qasynth's search attributes are usable (see ensureSearchAttributes), and a probe
 * workflow can be started.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import YAML from 'yaml';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { ensureSearchAttributes } from '../../src/worker/connection';
import { canListen } from '../../src/server/dev-server';
import { ClusterSetupError, ensureTemporalServer, type TemporalServerBuild } from './build';
import {
  chooseDataDir,
  ensurePostgres,
  initDataDir,
  POSTGRES_PASSWORD,
  POSTGRES_USER,
  postgresRunning,
  startPostgres,
  stopPostgres,
  type PostgresBinaries,
} from './postgres';

export { ClusterSetupError } from './build';

/** The four Temporal services, in start order (the worker service talks to the frontend, so it comes last). */
export const SERVICES = ['history', 'matching', 'frontend', 'worker'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** gRPC health-check service names each service reports SERVING under (from the server's handler.go files). */
const HEALTH_SERVICE: Partial<Record<ServiceName, string>> = {
  frontend: 'temporal.api.workflowservice.v1.WorkflowService',
  history: 'temporal.api.workflowservice.v1.HistoryService',
  matching: 'temporal.api.workflowservice.v1.MatchingService',
};

/** History shards: the module's development config uses 4; enough for a test cluster. */
const NUM_HISTORY_SHARDS = 4;
/** Namespace retention for the cluster's `default` namespace (1 day, as `temporal server start-dev`). */
const RETENTION_SECONDS = 24 * 3600;

export interface ServicePorts {
  grpc: number;
  membership: number;
  /** Frontend only: the HTTP API. */
  http?: number;
}

/** What `cluster.json` records. */
export interface ClusterState {
  version: string;
  stateDir: string;
  dataDir: string;
  postgresPort: number;
  ports: Record<ServiceName, ServicePorts>;
  /** Process id per running service (0 = not started). */
  pids: Record<ServiceName, number>;
  serverBin: string;
  configDir: string;
  /** The frontend, host:port: what TEMPORAL_ADDRESS / QASYNTH_TEST_TEMPORAL_ADDRESS point at. */
  address: string;
  namespace: string;
}

export interface ClusterOptions {
  /** Project root (holds .tools/); default: two folders above this file. */
  root?: string;
  /** State folder; default `<root>/.state/cluster` or $QASYNTH_CLUSTER_DIR. */
  stateDir?: string;
  /** Extra dynamic config (key → value), e.g. the test runner's low `limit.historyCount.suggestContinueAsNew`. */
  dynamicConfig?: Record<string, unknown>;
  log?: (line: string) => void;
}

/** Seconds taken by each step of a `startCluster` call (what the README's figures come from). */
export interface StartTimings {
  build: number;
  postgres: number;
  schema: number;
  services: number;
  namespace: number;
  total: number;
}

/** The project root: two folders above this file (scripts/cluster/). */
export function projectRootFromHere(): string {
  return path.resolve(__dirname, '..', '..');
}

/** Where `npm run cluster` keeps its cluster: $QASYNTH_CLUSTER_DIR, else `<root>/.state/cluster`. */
export function defaultStateDir(root = projectRootFromHere()): string {
  return process.env.QASYNTH_CLUSTER_DIR ?? path.join(root, '.state', 'cluster');
}

function stateFile(stateDir: string): string {
  return path.join(stateDir, 'cluster.json');
}

/** Reads `cluster.json`, or null when the folder holds no cluster. */
export function readState(stateDir = defaultStateDir()): ClusterState | null {
  try {
    return JSON.parse(fs.readFileSync(stateFile(stateDir), 'utf8')) as ClusterState;
  } catch {
    return null;
  }
}

function writeState(s: ClusterState): void {
  const f = stateFile(s.stateDir);
  fs.writeFileSync(`${f}.tmp`, JSON.stringify(s, null, 2));
  fs.renameSync(`${f}.tmp`, f);
}

/** Is `pid` a running (not zombie) process? Zombies count as dead: a SIGKILLed child is one until reaped. */
export function processRunning(pid: number): boolean {
  if (!pid) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /s.test(stat);
  } catch {
    try {
      process.kill(pid, 0);
      return process.platform !== 'linux';
    } catch {
      return false;
    }
  }
}

/**
 * Is `svc` of this cluster running under its recorded pid? Checks the command line too (Linux), so a pid recorded
 * before a reboot and since reused by an unrelated process is never signalled.
 */
export function serviceRunning(s: ClusterState, svc: ServiceName): boolean {
  const pid = s.pids[svc];
  if (!processRunning(pid)) return false;
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv[0] === s.serverBin && argv.includes(svc) && argv.includes(s.stateDir);
  } catch {
    return process.platform !== 'linux';
  }
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | null | false>, failFast?: () => string | null): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 100;
  let last = '';
  for (;;) {
    const fatal = failFast?.();
    if (fatal) throw new ClusterSetupError(`${what}: ${fatal}`);
    try {
      const v = await probe();
      if (v !== null && v !== false) return v;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) throw new ClusterSetupError(`${what}: not ready after ${timeoutMs / 1000} s${last ? ` (last error: ${last})` : ''}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 1000);
  }
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function healthServing(port: number, service: string): Promise<boolean> {
  const conn = Connection.lazy({ address: `127.0.0.1:${port}`, connectTimeout: 2000 });
  try {
    const r = await conn.healthService.check({ service });
    return r.status === 1; // SERVING
  } finally {
    await conn.close();
  }
}

function serverConfig(module: TemporalServerBuild, s: Omit<ClusterState, 'pids'>, dynamicConfigFile: string): string {
  // Start from the module's own development config for PostgreSQL and change only what a private, multi-process
  // cluster on one machine needs: ports, the database address, no fixed pprof/metrics ports (four processes would
  // fight over them), the frontend address the worker service and cluster metadata use.
  const base = YAML.parse(fs.readFileSync(path.join(module.moduleDir, 'config', 'development-postgres12.yaml'), 'utf8')) as Record<string, any>;
  for (const store of Object.values(base.persistence.datastores) as Array<{ sql: Record<string, unknown> }>) {
    store.sql.connectAddr = `127.0.0.1:${s.postgresPort}`;
    store.sql.user = POSTGRES_USER;
    store.sql.password = POSTGRES_PASSWORD;
  }
  base.persistence.numHistoryShards = NUM_HISTORY_SHARDS;
  base.log = { stdout: true, level: 'warn' };
  base.global.membership = { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' };
  delete base.global.pprof;
  delete base.global.metrics;
  for (const svc of SERVICES) {
    const p = s.ports[svc];
    base.services[svc] = { rpc: { grpcPort: p.grpc, membershipPort: p.membership, bindOnLocalHost: true, ...(p.http ? { httpPort: p.http } : {}) } };
  }
  base.clusterMetadata.clusterInformation.active.rpcAddress = s.address;
  base.publicClient = { hostPort: s.address };
  base.dynamicConfigClient = { filepath: dynamicConfigFile, pollInterval: '10s' };
  // Archival needs folders outside the state dir; qasynth does not use it.
  delete base.archival;
  delete base.namespaceDefaults;
  return YAML.stringify(base);
}

function dynamicConfig(module: TemporalServerBuild, extra: Record<string, unknown>): string {
  // The module's development dynamic config for SQL, plus the caller's keys. Deliberately NOT the dev server's
  // `system.forceSearchAttributesCacheRefreshOnRead`: this cluster should behave like production in that respect.
  const base = (YAML.parse(fs.readFileSync(path.join(module.moduleDir, 'config', 'dynamicconfig', 'development-sql.yaml'), 'utf8')) ?? {}) as Record<string, unknown>;
  for (const [k, v] of Object.entries(extra)) base[k] = [{ value: v, constraints: {} }];
  return YAML.stringify(base);
}

function sqlTool(module: TemporalServerBuild, port: number, db: string, args: string[]): void {
  const common = ['--plugin', 'postgres12', '--ep', '127.0.0.1', '-p', String(port), '-u', POSTGRES_USER, '--pw', POSTGRES_PASSWORD, '--db', db];
  const r = spawnSync(module.sqlTool, [...common, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.status !== 0) {
    throw new ClusterSetupError(
      `temporal-sql-tool ${args[0]} on ${db} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().slice(-2000)}\n` +
        'If an earlier start was interrupted half-way, start from scratch with `npm run cluster -- clean`',
    );
  }
}

/**
 * Creates both databases and their schemas on a new data dir (`fresh`), or brings an existing one up to the module's
 * newest schema version (the tool skips versions already applied, so this is cheap and idempotent).
 */
function setupSchemas(module: TemporalServerBuild, port: number, fresh: boolean): void {
  const schemaRoot = path.join(module.moduleDir, 'schema', 'postgresql', 'v12');
  for (const [db, dir] of [['temporal', 'temporal'], ['temporal_visibility', 'visibility']] as const) {
    if (fresh) {
      sqlTool(module, port, db, ['create-database']);
      sqlTool(module, port, db, ['setup-schema', '-v', '0.0']);
    }
    sqlTool(module, port, db, ['update-schema', '-d', path.join(schemaRoot, dir, 'versioned')]);
  }
}

/** Starts one service as its own process (detached: it outlives the caller; logs to logs/<service>.log). */
export function spawnService(s: ClusterState, svc: ServiceName): number {
  const logDir = path.join(s.stateDir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  const fd = fs.openSync(path.join(logDir, `${svc}.log`), 'a');
  const child = spawn(s.serverBin, ['--root', s.stateDir, '--config', 'config', '--env', 'development', '--allow-no-auth', 'start', '--service', svc], {
    cwd: s.stateDir,
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  fs.closeSync(fd);
  child.unref();
  if (!child.pid) throw new ClusterSetupError(`could not start the ${svc} service (${s.serverBin})`);
  return child.pid;
}

function logTail(s: ClusterState, svc: ServiceName | 'postgres'): string {
  try {
    return fs.readFileSync(path.join(s.stateDir, 'logs', `${svc}.log`), 'utf8').trim().split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Polls until `svc` is ready: SERVING on its gRPC health check, or (worker service) its membership port open. */
export async function waitForService(s: ClusterState, svc: ServiceName, timeoutMs = 120_000): Promise<void> {
  const pid = s.pids[svc];
  const health = HEALTH_SERVICE[svc];
  await until(
    `the ${svc} service (pid ${pid}, log ${path.join(s.stateDir, 'logs', `${svc}.log`)})`,
    timeoutMs,
    () => (health ? healthServing(s.ports[svc].grpc, health) : tcpOpen(s.ports[svc].membership)),
    () => (serviceRunning(s, svc) ? null : `the process exited:\n${logTail(s, svc)}`),
  );
}

/**
 * Lowest and highest port this script picks. The PostgreSQL schema stores membership ports in a SMALLINT column
 * (`cluster_membership.rpc_port`, max 32767), so the OS's ephemeral ports (Linux: 32768–60999) are out; below
 * 32768 they also cannot collide with outgoing connections' local ports.
 */
const PORT_RANGE = [20000, 32767] as const;


/** `n` distinct ports in {@link PORT_RANGE} that nothing listens on right now (random, then checked). */
async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let tries = 0; ports.size < n; tries++) {
    if (tries > 1000) throw new ClusterSetupError(`could not find ${n} free ports in ${PORT_RANGE.join('–')} on 127.0.0.1`);
    const p = PORT_RANGE[0] + Math.floor(Math.random() * (PORT_RANGE[1] - PORT_RANGE[0] + 1));
    if (!ports.has(p) && (await canListen(p))) ports.add(p);
  }
  return [...ports];
}

/** Registers `namespace` (idempotent) and polls until the frontend serves it (its namespace cache refreshes every 2 s). */
async function ensureNamespace(conn: Connection, namespace: string): Promise<void> {
  try {
    await conn.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(RETENTION_SECONDS * 1000) });
  } catch (e) {
    if ((e as { code?: number }).code !== 6 /* ALREADY_EXISTS */) throw e;
  }
  await until(`namespace ${namespace}`, 60_000, async () => {
    await conn.workflowService.listWorkflowExecutions({ namespace, pageSize: 1 });
    return true;
  });
}

/**
 * Starts a workflow nobody serves and terminates it: history accepts writes and matching takes the first workflow
 * task. Retries until it works (shard ownership settles in the first seconds after a start).
 */
async function probeWorkflow(conn: Connection, namespace: string): Promise<void> {
  await until('a probe workflow start', 60_000, async () => {
    const workflowId = `qasynth-cluster-probe-${randomUUID()}`;
    await conn.workflowService.startWorkflowExecution({
      namespace,
      workflowId,
      requestId: randomUUID(),
      workflowType: { name: 'qasynthClusterProbe' },
      taskQueue: { name: 'qasynth-cluster-probe' },
      identity: 'qasynth-cluster',
    });
    await conn.workflowService.terminateWorkflowExecution({ namespace, workflowExecution: { workflowId }, reason: 'cluster readiness probe', identity: 'qasynth-cluster' });
    return true;
  });
}

/** The namespace, search attributes and probe: the part of readiness that needs the whole cluster. */
async function prepareNamespace(s: ClusterState): Promise<void> {
  const conn = await until('the frontend connection', 30_000, () => Connection.connect({ address: s.address, connectTimeout: 2000 }));
  try {
    await ensureNamespace(conn, s.namespace);
    const missing = await ensureSearchAttributes(conn, s.namespace);
    if (missing.length) throw new ClusterSetupError(`could not register qasynth's search attributes ${missing.join(', ')} in namespace ${s.namespace}`);
    await probeWorkflow(conn, s.namespace);
  } finally {
    await conn.close();
  }
}

/** The cluster's address when it runs and its frontend answers, else null. */
export async function clusterStatus(stateDir = defaultStateDir()): Promise<{ state: ClusterState; running: Record<ServiceName, boolean>; postgres: boolean } | null> {
  const s = readState(stateDir);
  if (!s) return null;
  const running = Object.fromEntries(SERVICES.map((svc) => [svc, serviceRunning(s, svc)])) as Record<ServiceName, boolean>;
  const pg = ensurePostgresQuiet();
  return { state: s, running, postgres: pg ? postgresRunning(pg, s.dataDir) : false };
}

function ensurePostgresQuiet(): PostgresBinaries | null {
  try {
    return ensurePostgres();
  } catch {
    return null;
  }
}

/**
 * Builds (if needed) and starts the cluster: PostgreSQL, schemas, the four services, the `default` namespace with
 * qasynth's search attributes. Idempotent: a cluster already running in `stateDir` is returned as is.
 * Throws ClusterSetupError naming the step that failed and where its log is.
 */
export async function startCluster(opts: ClusterOptions = {}): Promise<{ state: ClusterState; timings: StartTimings; reused: boolean }> {
  const root = opts.root ?? projectRootFromHere();
  const stateDir = path.resolve(opts.stateDir ?? defaultStateDir(root));
  const log = opts.log ?? (() => {});
  const t0 = Date.now();
  const lap = (() => {
    let last = t0;
    return () => {
      const now = Date.now();
      const s = Math.round((now - last) / 100) / 10;
      last = now;
      return s;
    };
  })();

  const existing = readState(stateDir);
  if (existing && SERVICES.every((svc) => serviceRunning(existing, svc))) {
    await prepareNamespace(existing);
    return { state: existing, timings: { build: 0, postgres: 0, schema: 0, services: 0, namespace: 0, total: lap() }, reused: true };
  }
  if (existing) await stopCluster({ stateDir, log }); // half-running leftovers: stop them before starting afresh

  const module = ensureTemporalServer(root, log);
  const build = lap();
  const pg = ensurePostgres(log);
  fs.mkdirSync(path.join(stateDir, 'logs'), { recursive: true });
  const dataDir = existing?.dataDir ?? chooseDataDir(stateDir);
  // The ports of the last start when they are still free (the database remembers the cluster's frontend address
  // and its hosts' membership addresses), else new ones.
  const previous = existing ? [existing.postgresPort, ...SERVICES.flatMap((svc) => [existing.ports[svc].grpc, existing.ports[svc].membership]), existing.ports.frontend.http!] : [];
  const reuse = previous.length > 0 && (await Promise.all(previous.map(canListen))).every(Boolean);
  const [postgresPort, ...svcPorts] = reuse ? previous : await freePorts(1 + SERVICES.length * 2 + 1);
  const ports = Object.fromEntries(
    SERVICES.map((svc, i) => [svc, { grpc: svcPorts[2 * i], membership: svcPorts[2 * i + 1], ...(svc === 'frontend' ? { http: svcPorts[SERVICES.length * 2] } : {}) }]),
  ) as Record<ServiceName, ServicePorts>;
  const state: ClusterState = {
    version: module.version,
    stateDir,
    dataDir,
    postgresPort,
    ports,
    pids: { history: 0, matching: 0, frontend: 0, worker: 0 },
    serverBin: module.server,
    configDir: path.join(stateDir, 'config'),
    address: `127.0.0.1:${ports.frontend.grpc}`,
    namespace: 'default',
  };
  writeState(state);

  const fresh = initDataDir(pg, dataDir);
  if (fresh) log(`PostgreSQL ${pg.major}: new data directory ${dataDir}`);
  startPostgres(pg, dataDir, postgresPort, path.join(stateDir, 'logs', 'postgres.log'));
  const postgres = lap();
  setupSchemas(module, postgresPort, fresh);
  const schema = lap();

  fs.mkdirSync(state.configDir, { recursive: true });
  const dynFile = path.join(state.configDir, 'dynamicconfig.yaml');
  fs.writeFileSync(dynFile, dynamicConfig(module, opts.dynamicConfig ?? {}));
  fs.writeFileSync(path.join(state.configDir, 'development.yaml'), serverConfig(module, state, dynFile));

  try {
    // The first service alone: on a fresh database it writes the cluster metadata, which the others then read.
    // Started together, two of them raced to insert it and the loser exited ("duplicate key value violates
    // unique constraint cluster_metadata_info_pkey", seen once in the test tier).
    const [first, ...rest] = SERVICES;
    state.pids[first!] = spawnService(state, first!);
    writeState(state);
    await waitForService(state, first!);
    for (const svc of rest) {
      state.pids[svc] = spawnService(state, svc);
      writeState(state);
    }
    for (const svc of rest) await waitForService(state, svc);
    const services = lap();
    await prepareNamespace(state);
    const namespace = lap();
    log(`Temporal ${module.version} cluster at ${state.address} (PostgreSQL ${pg.major} on 127.0.0.1:${postgresPort}; state ${stateDir})`);
    return { state, timings: { build, postgres, schema, services, namespace, total: Math.round((Date.now() - t0) / 100) / 10 }, reused: false };
  } catch (e) {
    await stopCluster({ stateDir, log });
    throw e;
  }
}

/** SIGTERMs a service and polls until it is gone (SIGKILL after `graceMs`). */
async function stopService(s: ClusterState, svc: ServiceName, graceMs = 15_000): Promise<void> {
  if (!serviceRunning(s, svc)) return;
  const pid = s.pids[svc];
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (processRunning(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (processRunning(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    while (processRunning(pid)) await new Promise((r) => setTimeout(r, 50));
  }
}

/** Stops the four services (worker and frontend first) and PostgreSQL; the data stays. No-op when nothing runs. */
export async function stopCluster(opts: { stateDir?: string; log?: (s: string) => void } = {}): Promise<boolean> {
  const stateDir = opts.stateDir ?? defaultStateDir();
  const s = readState(stateDir);
  if (!s) return false;
  for (const svc of [...SERVICES].reverse()) await stopService(s, svc);
  s.pids = { history: 0, matching: 0, frontend: 0, worker: 0 };
  writeState(s);
  const pg = ensurePostgresQuiet();
  if (pg) stopPostgres(pg, s.dataDir);
  opts.log?.(`stopped the cluster in ${stateDir}`);
  return true;
}

/** Stops the cluster and deletes its state folder (and a data dir placed outside it). */
export async function cleanCluster(opts: { stateDir?: string; log?: (s: string) => void } = {}): Promise<void> {
  const stateDir = opts.stateDir ?? defaultStateDir();
  const s = readState(stateDir);
  await stopCluster(opts);
  if (s && !s.dataDir.startsWith(stateDir + path.sep)) fs.rmSync(path.dirname(s.dataDir), { recursive: true, force: true });
  fs.rmSync(stateDir, { recursive: true, force: true });
}

/** kill -9 one service; resolves once the process is gone. Returns the pid it killed. */
export async function killService(svc: ServiceName, stateDir = defaultStateDir()): Promise<number> {
  const s = readState(stateDir);
  if (!s) throw new ClusterSetupError(`no cluster in ${stateDir}: start one first`);
  const pid = s.pids[svc];
  if (!serviceRunning(s, svc)) throw new ClusterSetupError(`the ${svc} service is not running (pid ${pid})`);
  process.kill(pid, 'SIGKILL');
  while (processRunning(pid)) await new Promise((r) => setTimeout(r, 20));
  s.pids[svc] = 0;
  writeState(s);
  return pid;
}

/** Starts one service again (same config and ports) and polls until it is ready; returns its new pid. */
export async function restartService(svc: ServiceName, stateDir = defaultStateDir(), timeoutMs = 120_000): Promise<number> {
  const s = readState(stateDir);
  if (!s) throw new ClusterSetupError(`no cluster in ${stateDir}: start one first`);
  if (serviceRunning(s, svc)) throw new ClusterSetupError(`the ${svc} service is already running (pid ${s.pids[svc]})`);
  s.pids[svc] = spawnService(s, svc);
  writeState(s);
  await waitForService(s, svc, timeoutMs);
  return s.pids[svc];
}
