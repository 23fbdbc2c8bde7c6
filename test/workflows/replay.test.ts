/**
 * Replays committed histories of real runs against the current workflow code. A change to the workflows'
 * command sequence that would break running batches fails here (DeterminismViolationError).
 * Regenerate the histories with `npx tsx scripts/capture-histories.ts` only for an intended, versioned change
 * (`--verification` records the verification stage's histories beside them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, DefaultLogger, Worker } from '@temporalio/worker';

const dir = path.join(__dirname, '..', 'fixtures', 'histories');

test('committed histories of real runs (each older version of the workflows) replay without non-determinism', async () => {
  // One folder per recorded version (scripts/capture-histories.ts <label>): executions started by older code.
  const files = fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json'))
    .sort();
  assert.ok(files.length >= 2, 'a parent and at least one child history are committed');
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    logger: new DefaultLogger('WARN'),
  });
  const types = new Set<string>();
  const activities = new Set<string>();
  for (const f of files) {
    const history = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    for (const e of history.events) {
      const name = e.activityTaskScheduledEventAttributes?.activityType?.name;
      if (name) activities.add(name);
    }
    const type = history.events[0].workflowExecutionStartedEventAttributes.workflowType.name;
    types.add(type);
    await Worker.runReplayHistory({ workflowBundle, replayName: f }, history, path.basename(f).replace(/\.json$/, ''));
  }
  assert.deepEqual([...types].sort(), ['synthesizeBatch', 'synthesizeSeed']);
  // The verification stage's commands are covered too (`capture-histories.ts --verification`).
  for (const a of ['chooseAction', 'synthesizeQa', 'answerBaseline', 'solverStep', 'judgeAnswer']) assert.ok(activities.has(a), `a history has ${a}`);
});
