/**
 * The workflow sandbox's execution timeout (src/worker/sandbox.ts): off by default — Node's vm then runs workflow
 * code without a watchdog thread per call — and on with `--workflow-deadlock-timeout`, when a workflow task whose
 * code computes longer than the timeout fails. The SDK's creator is watched to see which timeout reaches it, so that an
 * SDK upgrade that stops calling the overridden `createWorkflowCreator` fails here instead of silently restoring the
 * per-call thread.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { bundleWorkflowCode, DefaultLogger, type Worker } from '@temporalio/worker';
import * as threadedVm from '@temporalio/worker/lib/workflow/threaded-vm';
import { sandboxTimeoutMs, workflowWorkerClass } from '../../src/worker/sandbox';
import { testTemporal, uniqueQueue, waitFor, type TestTemporal } from '../helpers/temporal';

let t: TestTemporal;
let bundle: { code: string };
/** isolateExecutionTimeoutMs handed to the SDK's sandbox, per worker created (in order). */
const seen: unknown[] = [];
const originalCreate = threadedVm.ThreadedVMWorkflowCreator.create;

before(async () => {
  t = await testTemporal();
  bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('../fixtures/sandbox/spin-workflow'), logger: new DefaultLogger('WARN') });
  threadedVm.ThreadedVMWorkflowCreator.create = function (this: typeof threadedVm.ThreadedVMWorkflowCreator, opts) {
    seen.push(opts.isolateExecutionTimeoutMs);
    return originalCreate.call(this, opts);
  };
});
after(async () => {
  threadedVm.ThreadedVMWorkflowCreator.create = originalCreate;
  await t?.close();
});

/** Iterations of `spin` that take well over 50 ms (~0.3 s here; more on a slower machine). */
const SPIN = 30_000_000;

async function withWorker<T>(timeoutS: number | null, fn: (queue: string) => Promise<T>): Promise<T> {
  const queue = uniqueQueue('sandbox');
  const sandbox = workflowWorkerClass(sandboxTimeoutMs(timeoutS));
  const worker: Worker = await sandbox.Class.create({ connection: t.native, namespace: 'default', taskQueue: queue, workflowBundle: bundle, ...sandbox.options });
  return worker.runUntil(fn(queue));
}

describe('workflow sandbox execution timeout', () => {
  test('seconds to milliseconds; 0 and absent mean off; nonsense is refused', () => {
    assert.equal(sandboxTimeoutMs(undefined), null);
    assert.equal(sandboxTimeoutMs(null), null);
    assert.equal(sandboxTimeoutMs(0), null);
    assert.equal(sandboxTimeoutMs(5), 5000);
    assert.equal(sandboxTimeoutMs(0.05), 50);
    assert.throws(() => sandboxTimeoutMs(-1), /seconds > 0/);
    assert.throws(() => sandboxTimeoutMs(Number.NaN), /seconds > 0/);
  });

  test('off (the default): no timeout reaches the sandbox, and long workflow code completes', async () => {
    const before = seen.length;
    const result = await withWorker(null, (taskQueue) => t.client.workflow.execute('spin', { taskQueue, workflowId: uniqueQueue('spin-off'), args: [SPIN] }));
    assert.equal(typeof result, 'number');
    assert.deepEqual(seen.slice(before), [undefined], 'the SDK got no timeout: Node runs the sandbox without a watchdog');
  });

  test('on: the same code fails its workflow task once it runs past the timeout', async () => {
    const before = seen.length;
    const workflowId = uniqueQueue('spin-on');
    const failure = await withWorker(0.05, async (taskQueue) => {
      const handle = await t.client.workflow.start('spin', { taskQueue, workflowId, args: [SPIN] });
      let message = '';
      await waitFor(async () => {
        const events = (await handle.fetchHistory()).events ?? [];
        message = events.find((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes?.failure?.message ?? '';
        return message !== '';
      }, 60_000, 'a failed workflow task');
      await handle.terminate('test done');
      return message;
    });
    assert.match(failure, /timed out after 50ms/);
    assert.deepEqual(seen.slice(before), [50]);
  });
});
