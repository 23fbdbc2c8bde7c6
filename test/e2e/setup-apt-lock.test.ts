/**
 * scripts/setup-debs.sh (called by scripts/setup.sh) while another process holds apt's locks: it waits, says so,
 * and goes on once they are free, instead of failing at once with "Could not get lock". The locks are really
 * taken (POSIX locks, as apt and dpkg take them) by a helper process; the package asked for does not exist, so
 * apt ends with "Unable to locate package" — after it got past both locks — and nothing is installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers/cli';
import { waitFor } from '../helpers/temporal';

const PACKAGE = 'qasynth-no-such-package';

/** Holds the lists lock and the dpkg frontend lock until told to release each ("lists" / "frontend" on stdin). */
const HOLDER = `
import fcntl, sys
locks = {'lists': open('/var/lib/apt/lists/lock', 'a'), 'frontend': open('/var/lib/dpkg/lock-frontend', 'a')}
for f in locks.values():
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
print('locked', flush=True)
for line in sys.stdin:
    name = line.strip()
    if name in locks:
        fcntl.lockf(locks[name], fcntl.LOCK_UN)
        print('released ' + name, flush=True)
`;

/** True while an `apt-get … install … <PACKAGE>` process runs. */
function aptInstallRunning(): boolean {
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (path.basename(cmd[0]) === 'apt-get' && cmd.includes('install') && cmd.includes(PACKAGE)) return true;
    } catch {
      /* gone */
    }
  }
  return false;
}

test('setup waits, visibly and bounded, for another apt process holding the package locks', { timeout: 240_000 }, async () => {
  const env = { ...process.env, QASYNTH_SETUP_DEBS: PACKAGE, QASYNTH_APT_LOCK_TIMEOUT: '120' };
  if (process.getuid?.() !== 0) {
    // Not root (a developer's machine): nothing is waited for, the line to run is printed.
    const r = await new Promise<string>((resolve) => {
      const p = spawn('bash', ['scripts/setup-debs.sh'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (b) => (err += b));
      p.on('exit', () => resolve(err));
    });
    assert.match(r, new RegExp(`install (them with: sudo apt-get install ${PACKAGE}|ing Debian packages with sudo)`));
    return;
  }
  const holder = spawn('python3', ['-c', HOLDER], { stdio: ['pipe', 'pipe', 'inherit'] });
  let held = '';
  holder.stdout.on('data', (b) => (held += b));
  try {
    await waitFor(() => held.includes('locked'), 10_000, 'the helper to take the locks');
    const setup = spawn('bash', ['scripts/setup-debs.sh'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    setup.stderr.on('data', (b) => (stderr += b));
    const exited = new Promise<number>((resolve) => setup.on('exit', (c) => resolve(c ?? -1)));
    // 1. The lists lock (apt-get update): the script polls it and says who holds it.
    await waitFor(() => stderr.includes('waiting for another apt/dpkg process to finish: /var/lib/apt/lists/lock is held by process'), 30_000, 'the wait message');
    assert.match(stderr, new RegExp(`/var/lib/apt/lists/lock is held by process ${holder.pid} \\(python3\\)`));
    assert.match(stderr, /\/var\/lib\/dpkg\/lock-frontend is held by process \d+ \(python3\); apt-get waits for it \(at most 120 s\)/);
    holder.stdin.write('lists\n');
    // 2. The dpkg frontend lock (apt-get install): apt waits for it (DPkg::Lock::Timeout). It is released only
    // after the install has been running for a while, long enough for an apt-get without the option to have failed.
    await waitFor(aptInstallRunning, 180_000, 'apt-get install to start (after apt-get update)');
    const since = Date.now();
    await waitFor(() => Date.now() - since > 3000 || !aptInstallRunning(), 10_000, 'three seconds of apt-get install');
    holder.stdin.write('frontend\n');
    const code = await exited;
    assert.notEqual(code, 0, 'the package does not exist: setup fails, after the locks');
    assert.doesNotMatch(stderr, /Could not get lock/);
    assert.match(stderr, new RegExp(`Unable to locate package ${PACKAGE}`));
  } finally {
    holder.kill();
  }
});
