/**
 * Cluster tier: qasynth's search attributes on a real server with a SQL visibility store. There, an attribute
 * just added is listed at once (`listSearchAttributes` reads the database) but refused by starts and queries until
 * the namespace cache of the frontend and history hosts refreshes (every 2 s). Tried by hand before the fix: the
 * first `qasynth run` against such a server failed with a bare `error: Failed to start Workflow`, the second
 * worked. Each namespace here is new, so none has qasynth's attributes: the state of a new user's server.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { submitBatch } from '../../src/api';
import { SEARCH_ATTRIBUTES } from '../../src/shared/constants';
import { ModeAttr, RunIdAttr, StatusAttr, unknownSearchAttribute } from '../../src/shared/search-attributes';
import { ensureSearchAttributes } from '../../src/worker/connection';
import { CLI } from '../helpers/worker-process';
import { freshNamespace, requireCluster } from '../helpers/cluster';
import { smallConfig, tempDir, uniqueQueue } from '../helpers/temporal';

let address: string;
let conn: Connection;
before(async () => {
  requireCluster('search attributes on a SQL visibility store without the dev server\'s forced cache refresh');
  assert.ok(fs.existsSync(CLI), `${CLI} is missing: run \`npm run build\` first (npm run test:cluster does)`);
  address = process.env.QASYNTH_TEST_TEMPORAL_ADDRESS!;
  conn = await Connection.connect({ address });
});
after(async () => {
  await conn?.close();
});

function runCli(args: string[]): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, TEMPORAL_ADDRESS: undefined }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    p.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('the first `qasynth run` against a namespace without qasynth\'s search attributes completes', async () => {
  const dir = tempDir('qasynth-cluster-sa-');
  const config = path.join(dir, 'config.json');
  const seeds = path.join(dir, 'seeds.json');
  fs.writeFileSync(config, JSON.stringify(smallConfig({ max_depth: 1, min_depth: 1 })));
  fs.writeFileSync(seeds, JSON.stringify(['prime numbers', 'golden ratio']));
  for (let i = 0; i < 2; i++) {
    const namespace = await freshNamespace(conn, 'first-run');
    const r = await runCli([
      'run', '--simulate', '--no-progress', '--address', address, '--namespace', namespace, '--task-queue', uniqueQueue('first-run'),
      '--config', config, '--seeds', seeds, '--output-dir', path.join(dir, 'out'),
    ]);
    const out = r.stdout + r.stderr;
    assert.equal(r.code, 0, `run ${i + 1} (namespace ${namespace}) exits 0:\n${out.slice(-2000)}`);
    assert.match(out, /complete: 2\/2 seeds succeeded/);
    assert.doesNotMatch(out, /error|warning: could not register/);
  }
});

test('ensureSearchAttributes returns once the server accepts a start that uses them (not merely lists them)', async () => {
  for (let i = 0; i < 3; i++) {
    const namespace = await freshNamespace(conn, 'sa-wait');
    assert.deepEqual(await ensureSearchAttributes(conn, namespace), [], 'all registered and usable');
    // Straight after: a start with all three attributes (no retry here) is accepted.
    const client = new Client({ connection: conn, namespace });
    const handle = await client.workflow.start('synthesizeBatch', {
      taskQueue: uniqueQueue('sa-wait'),
      workflowId: `sa-wait-${i}`,
      args: [{}],
      typedSearchAttributes: [
        { key: RunIdAttr, value: 'r' },
        { key: ModeAttr, value: 'math' },
        { key: StatusAttr, value: 'running' },
      ],
    });
    await handle.terminate('test done');
  }
});

test('submitBatch retries a start refused for an attribute registered a moment ago', async () => {
  // The window is short (≤ 2 s); make sure this test saw it open, else try again on a new namespace.
  let sawRefusal = false;
  for (let attempt = 0; attempt < 3 && !sawRefusal; attempt++) {
    const namespace = await freshNamespace(conn, 'sa-retry');
    await conn.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(Object.values(SEARCH_ATTRIBUTES).map((n) => [n, 2 /* KEYWORD */])),
    });
    const client = new Client({ connection: conn, namespace });
    try {
      const h = await client.workflow.start('synthesizeBatch', { taskQueue: 'none', workflowId: 'probe', args: [{}], typedSearchAttributes: [{ key: RunIdAttr, value: 'r' }] });
      await h.terminate('probe');
      continue; // the cache had already refreshed: nothing to retry here
    } catch (e) {
      assert.equal(unknownSearchAttribute(e), SEARCH_ATTRIBUTES.runId, `refused for the new attribute: ${(e as Error).message} ← ${(e as Error).cause}`);
      sawRefusal = true;
    }
    const sub = await submitBatch(
      client,
      { run_id: `sa-retry-${attempt}`, config: smallConfig(), seeds: ['prime numbers'], output_dir: tempDir() },
      { taskQueue: uniqueQueue('sa-retry'), mode: 'math' },
    );
    assert.equal(sub.state, 'started');
    await sub.handle.terminate('test done');
  }
  assert.ok(sawRefusal, 'a start straight after addSearchAttributes was refused at least once (the race this guards against)');
});
