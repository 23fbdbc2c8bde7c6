/**
 * The test command (`npm test`, which `.ci/run` calls): starts ONE Temporal dev server (in memory, headless)
 * for the whole run, then runs every test tier with node's test runner against it:
 *   test/unit → test/activities → test/workflows → test/e2e → test/chaos
 * Workflow tests use a unique task queue each, so they share the server safely. The chaos tier runs in its
 * reduced form unless QASYNTH_CHAOS=full (`npm run test:chaos`).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startDevServer } from '../src/server/dev-server';

/** Low enough that a 40-seed batch continues as new in tests (~5 parent events per seed); above what ≤ 10-seed tests need. */
export const TEST_SUGGEST_CONTINUE_AS_NEW = 100;

async function main(): Promise<number> {
  const root = path.resolve(__dirname, '..');
  // Arguments: tier names (unit, activities, workflows, e2e, chaos) or test files; default: every tier.
  const args = process.argv.slice(2);
  const tiers = (args.length ? args : ['unit', 'activities', 'workflows', 'e2e', 'chaos']).flatMap((t) => {
    const dir = path.join(root, 'test', t);
    if (fs.existsSync(dir) && fs.statSync(dir).isDirectory()) {
      return fs.readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort().map((f) => path.join(dir, f));
    }
    if (!fs.existsSync(t)) throw new Error(`no test tier or file named ${t}`);
    return [path.resolve(t)];
  });
  if (!tiers.length) throw new Error('no test files found');
  const server = await startDevServer({
    uiPort: null,
    dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': TEST_SUGGEST_CONTINUE_AS_NEW },
    logTo: path.join(root, '.state', 'test-server.log'),
    log: (s) => process.stderr.write(`${s}\n`),
  });
  process.stderr.write(`test Temporal dev server at ${server.address}\n`);
  try {
    return await new Promise<number>((resolve) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=600000', ...tiers],
        { stdio: 'inherit', env: { ...process.env, QASYNTH_TEST_TEMPORAL_ADDRESS: server.address } },
      );
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    });
  } finally {
    await server.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`error: ${(e as Error).stack}\n`);
    process.exit(1);
  },
);
