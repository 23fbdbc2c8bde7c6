/**
 * A private PostgreSQL server for the local Temporal cluster: Debian's PostgreSQL (15 on Debian 12), its own data
 * directory (initdb) and a port on 127.0.0.1, nothing shared with a system PostgreSQL. PostgreSQL refuses to run as
 * root, so when this script runs as root the server runs as the `postgres` system user (the Debian package creates
 * it); otherwise as the current user.
 *
 * Authentication is `trust` for connections from 127.0.0.1 only, with one superuser role, `temporal`: this is a
 * throwaway test database that nothing outside this machine can reach.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClusterSetupError } from './build';

/** The Debian package that provides initdb / pg_ctl (the distribution's supported PostgreSQL version). */
export const POSTGRES_DEBIAN_PACKAGE = 'postgresql';
/** The role the Temporal services and the schema tool log in as (the password is not checked: trust auth). */
export const POSTGRES_USER = 'temporal';
export const POSTGRES_PASSWORD = 'temporal';

export interface PostgresBinaries {
  /** Folder holding initdb, pg_ctl, postgres (e.g. /usr/lib/postgresql/15/bin). */
  bin: string;
  /** Major version, e.g. 15. */
  major: number;
}

/** The newest PostgreSQL under /usr/lib/postgresql (Debian's layout), or $QASYNTH_PG_BIN, or null. */
export function findPostgres(): PostgresBinaries | null {
  const fromEnv = process.env.QASYNTH_PG_BIN;
  const dirs = fromEnv
    ? [fromEnv]
    : fs.existsSync('/usr/lib/postgresql')
      ? fs.readdirSync('/usr/lib/postgresql').filter((d) => /^\d+$/.test(d)).sort((a, b) => Number(b) - Number(a)).map((d) => `/usr/lib/postgresql/${d}/bin`)
      : [];
  for (const bin of dirs) {
    if (!fs.existsSync(path.join(bin, 'initdb')) || !fs.existsSync(path.join(bin, 'pg_ctl'))) continue;
    const r = spawnSync(path.join(bin, 'pg_ctl'), ['--version'], { encoding: 'utf8' });
    const m = /(\d+)(?:\.\d+)?/.exec(r.stdout ?? '');
    if (r.status === 0 && m) return { bin, major: Number(m[1]) };
  }
  return null;
}

/**
 * Finds PostgreSQL or installs Debian's `postgresql` package the way scripts/setup.sh installs its packages
 * (apt-get as root, or passwordless sudo). The cluster tier is the only user, so setup.sh does not install it.
 * Throws ClusterSetupError with the command to run when it cannot install.
 */
export function ensurePostgres(log: (s: string) => void = () => {}): PostgresBinaries {
  const found = findPostgres();
  if (found) return found;
  const isRoot = process.getuid?.() === 0;
  const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
  const sudo = !isRoot && spawnSync('sudo', ['-n', 'true']).status === 0;
  if (!apt || (!isRoot && !sudo)) {
    throw new ClusterSetupError(
      'PostgreSQL is not installed (no initdb under /usr/lib/postgresql/*/bin). Install it with ' +
        `\`sudo apt-get install ${POSTGRES_DEBIAN_PACKAGE}\`, or set QASYNTH_PG_BIN to the folder holding initdb and pg_ctl`,
    );
  }
  log(`installing Debian package ${POSTGRES_DEBIAN_PACKAGE}${sudo ? ' with sudo' : ''} ...`);
  const prefix = sudo ? 'sudo ' : '';
  const r = spawnSync(
    'sh',
    ['-c', `${prefix}apt-get update -qq && ${prefix}env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${POSTGRES_DEBIAN_PACKAGE}`],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const after = findPostgres();
  if (r.status !== 0 || !after) {
    throw new ClusterSetupError(`apt-get install ${POSTGRES_DEBIAN_PACKAGE} failed: ${(r.stderr || r.stdout).trim().slice(-1500)}`);
  }
  return after;
}

/** True when this process must hand PostgreSQL to the `postgres` system user (it refuses to run as root). */
function asPostgresUser(): boolean {
  return process.getuid?.() === 0;
}

/** Runs a PostgreSQL program as the right user; throws ClusterSetupError with its output on failure. */
function pgRun(pg: PostgresBinaries, program: string, args: string[], what: string): SpawnSyncReturns<string> {
  const exe = path.join(pg.bin, program);
  const [cmd, argv] = asPostgresUser() ? ['runuser', ['-u', 'postgres', '--', exe, ...args]] : [exe, args];
  // cwd: a folder the postgres user can enter (it cannot read root's home, the usual cwd).
  const r = spawnSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
  if (r.status !== 0) {
    throw new ClusterSetupError(`${what} failed (${program} exit ${r.status ?? r.signal}): ${(r.stderr || r.stdout || String(r.error ?? '')).trim().slice(-2000)}`);
  }
  return r;
}

/**
 * Can the user PostgreSQL runs as reach `dir` (enter it and every folder above it)? A data dir inside it is then
 * created by this process and handed to that user. A clone under /root (mode 700) is not reachable for `postgres`.
 */
function reachableForPostgres(dir: string): boolean {
  if (!asPostgresUser()) return true;
  return spawnSync('runuser', ['-u', 'postgres', '--', 'test', '-x', dir], { cwd: '/' }).status === 0;
}

/**
 * Where the data directory goes: `<stateDir>/pgdata`, or — when the `postgres` user cannot reach the state folder
 * (say, a clone under /root) — a folder under the system temp dir named after it. Returns the path (not created).
 */
export function chooseDataDir(stateDir: string): string {
  fs.mkdirSync(stateDir, { recursive: true });
  if (reachableForPostgres(stateDir)) return path.join(stateDir, 'pgdata');
  const name = stateDir.replace(/[^A-Za-z0-9]+/g, '_').slice(-80);
  return path.join(os.tmpdir(), `qasynth-pg-${name}`, 'pgdata');
}

/** Creates the data directory with `initdb` (superuser role {@link POSTGRES_USER}, trust auth) unless it exists. */
export function initDataDir(pg: PostgresBinaries, dataDir: string): boolean {
  if (fs.existsSync(path.join(dataDir, 'PG_VERSION'))) return false;
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (asPostgresUser()) {
    // The parent must be enterable and the data dir owned by postgres.
    fs.chmodSync(path.dirname(dataDir), 0o755);
    spawnSync('chown', ['postgres:postgres', dataDir]);
  }
  pgRun(pg, 'initdb', ['-D', dataDir, '-U', POSTGRES_USER, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-instructions'], 'initdb');
  return true;
}

/**
 * Starts PostgreSQL on 127.0.0.1:`port` (pg_ctl waits until it accepts connections). The socket goes into the data
 * dir, not /var/run/postgresql (which may not exist or belong to a system server). `max_connections` is raised:
 * each Temporal service opens up to 20 + 2 connections, times four services and the schema tool.
 */
export function startPostgres(pg: PostgresBinaries, dataDir: string, port: number, logFile: string): void {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  fs.writeFileSync(logFile, '', { flag: 'a' });
  if (asPostgresUser()) spawnSync('chown', ['postgres:postgres', logFile]);
  const opts = [`-c port=${port}`, '-c listen_addresses=127.0.0.1', `-c unix_socket_directories=${dataDir}`, '-c max_connections=300'];
  pgRun(pg, 'pg_ctl', ['-D', dataDir, '-l', logFile, '-o', opts.join(' '), '-w', '-t', '120', 'start'], `starting PostgreSQL on 127.0.0.1:${port} (log: ${logFile})`);
}

/** Stops PostgreSQL (fast shutdown: open sessions are ended); no-op when it is not running. */
export function stopPostgres(pg: PostgresBinaries, dataDir: string): boolean {
  if (!fs.existsSync(path.join(dataDir, 'postmaster.pid'))) return false;
  pgRun(pg, 'pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', '-t', '60', 'stop'], 'stopping PostgreSQL');
  return true;
}

/** Is the PostgreSQL of this data dir running? */
export function postgresRunning(pg: PostgresBinaries, dataDir: string): boolean {
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) return false;
  const exe = path.join(pg.bin, 'pg_ctl');
  const [cmd, argv] = asPostgresUser() ? ['runuser', ['-u', 'postgres', '--', exe, 'status', '-D', dataDir]] : [exe, ['status', '-D', dataDir]];
  return spawnSync(cmd, argv, { cwd: '/' }).status === 0;
}
