/**
 * Builds the multi-service Temporal server (`temporal-server`) and its SQL schema tool (`temporal-sql-tool`)
 * from the Go module `go.temporal.io/server` at {@link TEMPORAL_SERVER_VERSION}, fetched through the Go module
 * proxy. Nothing built from that module is committed: this script is the recipe, `.tools/` the cache.
 *
 * Everything stays in the project's `.tools/` (git-ignored):
 *   .tools/temporal-server-<version>/   the result (~180 MB): the two binaries, the module's PostgreSQL schema
 *                                       files (schema/postgresql/v12/) and development configs (config/), and
 *                                       BUILD.json. With this folder present nothing else is needed, not even Go:
 *                                       it is the one folder CI needs to cache.
 *   .tools/go/mod     GOMODCACHE: module sources (~1.6 GB for v1.29.1)   } only for building; kept so a rebuild
 *   .tools/go/cache   GOCACHE: compiled packages (~1.2 GB)              } (another version) is quicker
 *
 * The Go checksum database (sum.golang.org) is not reachable from every build machine, so GOSUMDB is off and
 * the integrity check is done here instead: the module's `h1:` hash (the one go.sum records) is pinned in
 * {@link TEMPORAL_SERVER_MODULE_SUM} and compared after the download, and every dependency is checked against
 * the module's own go.sum by `go install`.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** The server release the cluster tier runs (the issue asks for v1.29.1). */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
/**
 * go.sum's `h1:` hash of `go.temporal.io/server@v1.29.1` (the module zip), as proxy.golang.org served it on
 * 2026-11-30 when this pin was made (trust on first use: sum.golang.org was not reachable to confirm it); a
 * download with another hash is refused.
 */
export const TEMPORAL_SERVER_MODULE_SUM = 'h1:sgiMveg/8e51lA62pWb9VzC5WTRitKFyT6XsjonHUhE=';
const MODULE = 'go.temporal.io/server';
/** Go version the module's go.mod declares (`go 1.25.0`): an older toolchain cannot build it. */
const MIN_GO = [1, 25] as const;

export interface TemporalServerBuild {
  /** The `temporal-server` binary (runs one or more services: `start --service frontend`). */
  server: string;
  /** The `temporal-sql-tool` binary (creates databases, sets up and updates schemas). */
  sqlTool: string;
  /** Copies of the module's `schema/postgresql/v12/` and `config/` folders (read-only inputs for the cluster). */
  moduleDir: string;
  version: string;
  /** True when this call compiled the binaries (false: they were cached). */
  built: boolean;
  /** Seconds this call spent downloading and building (0 when cached). */
  seconds: number;
}

export class ClusterSetupError extends Error {
  override name = 'ClusterSetupError';
}

function goEnv(root: string): NodeJS.ProcessEnv {
  const go = path.join(root, '.tools', 'go');
  return {
    ...process.env,
    GOPATH: go,
    GOMODCACHE: path.join(go, 'mod'),
    GOCACHE: path.join(go, 'cache'),
    GOPROXY: process.env.GOPROXY ?? 'https://proxy.golang.org',
    GOSUMDB: 'off',
    GOFLAGS: '-mod=mod',
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
  };
}

/** The `go` binary: $GO, /usr/local/go/bin/go, or `go` on PATH, if it is at least Go {@link MIN_GO}. */
export function findGo(): string {
  const candidates = [process.env.GO, '/usr/local/go/bin/go', 'go'].filter((c): c is string => !!c);
  const seen: string[] = [];
  for (const c of candidates) {
    const r = spawnSync(c, ['env', 'GOVERSION'], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    const v = r.stdout.trim();
    const m = /^go(\d+)\.(\d+)/.exec(v);
    if (m && (Number(m[1]) > MIN_GO[0] || (Number(m[1]) === MIN_GO[0] && Number(m[2]) >= MIN_GO[1]))) return c;
    seen.push(`${c} is ${v}`);
  }
  throw new ClusterSetupError(
    `building the Temporal server needs Go ≥ ${MIN_GO.join('.')} (${seen.length ? seen.join(', ') : 'no go found'}). ` +
      "Install it from https://go.dev/dl/ (Debian 12's golang package is too old) and put it on PATH, or set GO=/path/to/go",
  );
}

/**
 * Runs one `go` command, at most {@link GO_COMMAND_TIMEOUT_MS} (a module download from a proxy that stops
 * answering would otherwise wait forever: Go's module fetcher has no overall timeout), and once more when it
 * failed or timed out (a transient proxy error; what was downloaded stays in GOMODCACHE). Returns its stdout;
 * throws ClusterSetupError with the command's output when the second try fails too.
 */
function go(goBin: string, args: string[], env: NodeJS.ProcessEnv, log: (s: string) => void = () => {}): string {
  let failure = '';
  for (let attempt = 1; attempt <= 2; attempt++) {
    const r = spawnSync(goBin, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20, timeout: GO_COMMAND_TIMEOUT_MS, killSignal: 'SIGKILL' });
    if (r.status === 0) return r.stdout;
    const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
    failure = timedOut
      ? `did not finish within ${GO_COMMAND_TIMEOUT_MS / 60_000} min and was stopped`
      : `failed (exit ${r.status ?? r.signal}):\n${(r.stderr || r.stdout || String(r.error ?? '')).trim().slice(-3000)}`;
    if (attempt === 1) log(`\`go ${args.join(' ')}\` ${failure.split('\n')[0]}; trying once more`);
  }
  throw new ClusterSetupError(
    `\`go ${args.join(' ')}\` ${failure}\nCheck that the Go module proxy (GOPROXY, default https://proxy.golang.org) is reachable.`,
  );
}

/** Bound on one `go` command: a cold download + build takes 2–4 min on the 2-core machine. */
const GO_COMMAND_TIMEOUT_MS = 8 * 60_000;

/** Where the build of `version` lives. */
export function buildDir(root: string, version = TEMPORAL_SERVER_VERSION): string {
  return path.join(root, '.tools', `temporal-server-${version}`);
}

interface BuildStamp {
  module: string;
  version: string;
  sum: string;
  go: string;
  built_at: string;
  seconds: number;
}

/**
 * Returns the cached build, or downloads the module through the Go proxy and builds it (cold on a 2-core machine: 2–4 min,
 * 2.8 GB of Go caches; measured 2026-11-30). Idempotent; safe to interrupt (the result is renamed into place only when
 * complete). Throws ClusterSetupError when Go is missing or too old, the proxy is unreachable, or the module's
 * hash differs from the pin.
 */
export function ensureTemporalServer(root: string, log: (s: string) => void = () => {}): TemporalServerBuild {
  const version = TEMPORAL_SERVER_VERSION;
  const dir = buildDir(root, version);
  const result = (built: boolean, seconds: number): TemporalServerBuild => ({
    server: path.join(dir, 'temporal-server'),
    sqlTool: path.join(dir, 'temporal-sql-tool'),
    moduleDir: dir,
    version,
    built,
    seconds,
  });
  try {
    const stamp = JSON.parse(fs.readFileSync(path.join(dir, 'BUILD.json'), 'utf8')) as BuildStamp;
    const r = result(false, 0);
    if (stamp.version === version && stamp.sum === TEMPORAL_SERVER_MODULE_SUM && fs.existsSync(r.server) && fs.existsSync(r.sqlTool)) return r;
  } catch {
    /* not built yet */
  }

  const env = goEnv(root);
  const goBin = findGo();
  const started = Date.now();
  log(`building temporal-server and temporal-sql-tool ${version} from ${MODULE} via ${env.GOPROXY} (cold: 2–4 min, 2.8 GB under .tools/go/) ...`);
  // The module source first: its hash is checked before anything of it is compiled.
  const info = JSON.parse(go(goBin, ['mod', 'download', '-json', `${MODULE}@${version}`], env, log)) as { Dir?: string; Sum?: string; Error?: string };
  if (info.Error || !info.Dir || !info.Sum) throw new ClusterSetupError(`go mod download ${MODULE}@${version}: ${info.Error ?? 'no Dir/Sum in its answer'}`);
  if (info.Sum !== TEMPORAL_SERVER_MODULE_SUM) {
    throw new ClusterSetupError(
      `${MODULE}@${version} from the Go proxy has hash ${info.Sum}, expected ${TEMPORAL_SERVER_MODULE_SUM} (pinned in scripts/cluster/build.ts): refusing to build it`,
    );
  }
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  try {
    // `go install pkg@version` builds with the module's own go.mod/go.sum: every dependency is checked against it.
    go(goBin, ['install', '-trimpath', `${MODULE}/cmd/server@${version}`, `${MODULE}/cmd/tools/sql@${version}`], { ...env, GOBIN: tmp }, log);
    fs.renameSync(path.join(tmp, 'server'), path.join(tmp, 'temporal-server'));
    fs.renameSync(path.join(tmp, 'sql'), path.join(tmp, 'temporal-sql-tool'));
    // The inputs the cluster reads: PostgreSQL schemas and the development configs it starts from.
    fs.cpSync(path.join(info.Dir, 'schema', 'postgresql', 'v12'), path.join(tmp, 'schema', 'postgresql', 'v12'), { recursive: true });
    fs.mkdirSync(path.join(tmp, 'config', 'dynamicconfig'), { recursive: true });
    fs.copyFileSync(path.join(info.Dir, 'config', 'development-postgres12.yaml'), path.join(tmp, 'config', 'development-postgres12.yaml'));
    fs.copyFileSync(path.join(info.Dir, 'config', 'dynamicconfig', 'development-sql.yaml'), path.join(tmp, 'config', 'dynamicconfig', 'development-sql.yaml'));
    for (const f of walk(tmp)) fs.chmodSync(f, fs.statSync(f).isDirectory() ? 0o755 : f.endsWith('temporal-server') || f.endsWith('temporal-sql-tool') ? 0o755 : 0o644);
    const seconds = Math.round((Date.now() - started) / 1000);
    const stamp: BuildStamp = { module: MODULE, version, sum: info.Sum, go: go(goBin, ['env', 'GOVERSION'], env).trim(), built_at: new Date().toISOString(), seconds };
    fs.writeFileSync(path.join(tmp, 'BUILD.json'), `${JSON.stringify(stamp, null, 2)}\n`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
    log(`built ${dir} in ${seconds} s`);
    return result(true, seconds);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Every folder and file under `dir` (GOMODCACHE files are read-only; the copies are made writable for cleanup). */
function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? [p, ...walk(p)] : [p];
  });
}
