/**
 * Errors the CLI prints show their cause. The Temporal SDK wraps the server's answer: a refused start is
 * `ServiceError("Failed to start Workflow")` with the gRPC error as `cause`, and the CLI used to print only the
 * wrapper (`error: Failed to start Workflow`, nothing to act on). Here: a namespace without qasynth's search
 * attributes, where `qasynth submit` (which, unlike `run` and `worker`, does not register them) is refused.
 * submitBatch retries that refusal for a while (attributes registered a moment ago become usable within seconds on
 * a SQL visibility store), then fails naming the attribute, the fix, and the server's own words.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CLI } from '../helpers/worker-process';
import { freshNamespace } from '../helpers/cluster';
import { smallConfig, tempDir, testTemporal, type TestTemporal } from '../helpers/temporal';

let t: TestTemporal;
before(async () => {
  assert.ok(fs.existsSync(CLI), `${CLI} is missing: run \`npm run build\` first (npm test does)`);
  t = await testTemporal();
});
after(async () => {
  await t?.close();
});

test('a start refused for a missing search attribute: exit 3, the attribute, the fix and the server\'s cause on stderr', async () => {
  const namespace = await freshNamespace(t.connection, 'no-attrs');
  const dir = tempDir('qasynth-error-cause-');
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(smallConfig()));
  fs.writeFileSync(path.join(dir, 'seeds.json'), JSON.stringify(['prime numbers']));
  const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const p = spawn(
      process.execPath,
      [CLI, 'submit', '--address', t.address, '--namespace', namespace, '--config', path.join(dir, 'config.json'), '--seeds', path.join(dir, 'seeds.json')],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    p.once('exit', (code) => resolve({ code, stderr }));
  });
  assert.equal(r.code, 3, `exit 3 (infrastructure), got ${r.code}:\n${r.stderr}`);
  const line = r.stderr.split('\n').find((l) => l.startsWith('error: ')) ?? '';
  assert.match(line, /search attribute (QasynthRunId|QasynthMode) in namespace no-attrs-\S+ as unknown/, 'names the attribute and namespace');
  assert.match(line, new RegExp(`temporal operator search-attribute create --namespace ${namespace} --name (QasynthRunId|QasynthMode) --type Keyword`), 'says how to fix it');
  assert.match(line, /Failed to start Workflow: 3 INVALID_ARGUMENT: .*search attribute (QasynthRunId|QasynthMode)/, 'shows the SDK error and, below it, the server\'s');
});
