/**
 * The test command (`npm test`, which `.ci/run` calls): starts ONE Temporal dev server (in memory, its Web UI on a
 * free port, QASYNTH_TEST_TEMPORAL_UI)
 * for the whole run, then runs every test tier with node's test runner against it:
 *   test/unit → test/activities → test/workflows → test/e2e → test/chaos
 * Workflow tests use a unique task queue each, so they share the server safely. The chaos tier runs in its
 * reduced form unless QASYNTH_CHAOS=full (`npm run test:chaos`).
 *
 * `--cluster` (`npm run test:cluster`): the same, against a real multi-service Temporal cluster on PostgreSQL
 * (scripts/cluster/) started fresh for the run in `.state/cluster-test/` and stopped after it. Its default tier,
 * `cluster`, is the scale-out and crash tests plus test/cluster/ (a kill -9 of the history service). The tests
 * see QASYNTH_TEST_TEMPORAL_ADDRESS as always, plus QASYNTH_TEST_TEMPORAL_KIND=cluster and
 * QASYNTH_TEST_CLUSTER_DIR (the cluster's state folder, for tests that kill and restart one of its services).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, startDevServer } from '../src/server/dev-server';
import { cleanCluster, startCluster, stopCluster } from './cluster/cluster';

/** Low enough that a 40-seed batch continues as new in tests (~5 parent events per seed); above what ≤ 10-seed tests need. */
export const TEST_SUGGEST_CONTINUE_AS_NEW = 100;

/** The cluster tier: what `npm run test:cluster` runs against the multi-service server (the list). */
export const CLUSTER_TIER = ['test/e2e/scale-out.test.ts', 'test/e2e/crash.test.ts', 'test/cluster'];

/**
 * node's --test-timeout (ms), which bounds each test and each test file's process: 300 s, ~3.5× the slowest file
 * on the 2-core machine (the real llama.cpp run, ~85 s); 900 s for the full chaos suite (QASYNTH_CHAOS=full).
 * QASYNTH_TEST_TIMEOUT_S overrides it.
 */
function testTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const s = Number(env.QASYNTH_TEST_TIMEOUT_S);
  if (env.QASYNTH_TEST_TIMEOUT_S && !(Number.isFinite(s) && s > 0)) {
    throw new Error(`QASYNTH_TEST_TIMEOUT_S must be a number of seconds > 0, got ${JSON.stringify(env.QASYNTH_TEST_TIMEOUT_S)}`);
  }
  return (env.QASYNTH_TEST_TIMEOUT_S ? s : env.QASYNTH_CHAOS === 'full' ? 900 : 300) * 1000;
}

/** A Temporal server for the run: its frontend address, what the tests are told about it, and how to stop it. */
interface TestServer {
  address: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

async function devServer(root: string): Promise<TestServer> {
  // With its Web UI on a free port: test/e2e/web-ui.test.ts looks at the run in a browser (QASYNTH_TEST_TEMPORAL_UI).
  const server = await startDevServer({
    uiPort: await freePort(),
    dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': TEST_SUGGEST_CONTINUE_AS_NEW },
    logTo: path.join(root, '.state', 'test-server.log'),
    log: (s) => process.stderr.write(`${s}\n`),
  });
  process.stderr.write(`test Temporal dev server at ${server.address}, Web UI at ${server.uiUrl}\n`);
  return {
    address: server.address,
    env: { QASYNTH_TEST_TEMPORAL_KIND: 'dev', QASYNTH_TEST_TEMPORAL_UI: server.uiUrl ?? '' },
    stop: () => server.stop(),
  };
}

async function clusterServer(root: string): Promise<TestServer> {
  const stateDir = path.join(root, '.state', 'cluster-test');
  const log = (s: string) => process.stderr.write(`cluster: ${s}\n`);
  // A fresh cluster per run: tests reuse run ids (e.g. "crash"), which a kept database would remember.
  await cleanCluster({ stateDir, log });
  const { state, timings } = await startCluster({
    root,
    stateDir,
    dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': TEST_SUGGEST_CONTINUE_AS_NEW },
    log,
  });
  process.stderr.write(
    `test Temporal cluster (${state.version}, PostgreSQL) at ${state.address}: started in ${timings.total} s ` +
      `(build ${timings.build}, PostgreSQL ${timings.postgres}, schemas ${timings.schema}, services ${timings.services}, namespace ${timings.namespace}); logs in ${stateDir}/logs\n`,
  );
  return {
    address: state.address,
    env: { QASYNTH_TEST_TEMPORAL_KIND: 'cluster', QASYNTH_TEST_CLUSTER_DIR: stateDir },
    // Stopped, not deleted: its logs stay for a look after a failure; the next run deletes it.
    stop: async () => void (await stopCluster({ stateDir, log })),
  };
}

async function main(): Promise<number> {
  const root = path.resolve(__dirname, '..');
  // Arguments: [--cluster] then tier names (unit, activities, workflows, e2e, chaos, cluster) or test files;
  // default: every tier (dev server), or the cluster tier (--cluster).
  let args = process.argv.slice(2);
  const cluster = args[0] === '--cluster';
  if (cluster) args = args.slice(1);
  const defaults = cluster ? CLUSTER_TIER : ['unit', 'activities', 'workflows', 'e2e', 'chaos'];
  const tiers = (args.length ? args : defaults).flatMap((t) => {
    // A tier name (test/<t>), or a folder or file (relative to here or to the project root).
    const found = [path.join(root, 'test', t), path.resolve(t), path.resolve(root, t)].find((p) => fs.existsSync(p));
    if (!found) throw new Error(`no test tier or file named ${t}`);
    if (fs.statSync(found).isDirectory()) {
      return fs.readdirSync(found).filter((f) => f.endsWith('.test.ts')).sort().map((f) => path.join(found, f));
    }
    return [found];
  });
  if (!tiers.length) throw new Error('no test files found');
  // Ctrl-C or SIGTERM (the tier's time budget in scripts/test-all.sh) must not end this process before it has
  // stopped its server: the cluster's processes are detached (they must outlive a test that restarts one of
  // them), and a dev server left running would outlive the run. The signal goes to the tests, or, during the
  // server's start, is remembered.
  let child: ChildProcess | null = null;
  let interrupted = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      interrupted = true;
      child?.kill(sig);
    });
  }
  const server = cluster ? await clusterServer(root) : await devServer(root);
  try {
    if (interrupted) return 130;
    return await new Promise<number>((resolve) => {
      child = spawn(
        process.execPath,
        // On the cluster, one file at a time: a test that kills the history service would fail the others' calls.
        // --test-timeout bounds each test AND each file's process (one that its tests left running is stopped
        // then, and counted as cancelled); --test-force-exit ends a file once its tests are done.
        ['--import', 'tsx', '--test', `--test-concurrency=${cluster ? 1 : 2}`, `--test-timeout=${testTimeoutMs()}`, '--test-force-exit', ...tiers],
        { stdio: 'inherit', env: { ...process.env, ...server.env, QASYNTH_TEST_TEMPORAL_ADDRESS: server.address } },
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
