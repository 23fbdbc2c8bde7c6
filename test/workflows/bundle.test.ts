/** The workflow bundle must stay pure orchestration: no openai, no Node built-ins, no activity code. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';

test('workflow bundle contains no openai, no Node built-ins and no activity implementation', async () => {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    logger: new DefaultLogger('WARN'),
  });
  assert.ok(code.includes('synthesizeBatch') && code.includes('synthesizeSeed'), 'bundle has the workflows');
  assert.ok(!/node_modules[\\/]openai/.test(code), 'no openai package');
  assert.ok(!/node_modules[\\/](mathjs|minisearch|commander|cli-progress|yaml|@streamparser)/.test(code), 'no activity-side libraries');
  // Module ids as webpack writes them ("./src/…"): comments that merely name a file do not count.
  assert.ok(/"\.\/src\/workflows\//.test(code), 'module ids are recognisable');
  assert.ok(!/"\.\/src\/(activities|tools|llm|worker|cli|server)\//.test(code), 'no activity / tool / LLM / worker modules');
  assert.ok(!/"\.\/src\/config\/(seeds-stream|load)\./.test(code), 'no seed-file readers');
  assert.ok(/"\.\/src\/workflows\/verify\.ts"/.test(code), 'the verification stage is in the bundle');
  assert.ok(!/"\.\/src\/domain\/verification-replies\./.test(code), 'its reply readers are not (activity side)');
  for (const impl of ['createLlmActivities', 'createToolActivities', 'createOutputActivities', 'createSeedActivities', 'readSeedsFile', 'executeTool', 'startSimulator']) {
    assert.ok(!code.includes(impl), `no ${impl}`);
  }
  for (const builtin of ['node:fs', 'node:child_process', 'node:http', 'node:crypto', "require('fs')", 'require("fs")']) {
    assert.ok(!code.includes(builtin), `no ${builtin}`);
  }
  assert.ok(code.length < 6_000_000, `bundle stays small (openai alone would add ~4 MB) (${code.length} bytes)`);
});
