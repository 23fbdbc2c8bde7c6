import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { failedCallSpend } from '../../src/domain/failure-accounting';
import { withProviderRequests } from '../../src/llm/errors';
import { toolLlmCharges } from '../../src/domain/statistics';

/** An activity's failure as the workflow sees it: an ActivityFailure around what the activity threw. */
function asSeenByWorkflow(thrown: ApplicationFailure): ActivityFailure {
  return new ActivityFailure('Activity task failed', 'runTool', '7', RetryState.NON_RETRYABLE_FAILURE, 'worker-1', thrown);
}

describe('failedCallSpend', () => {
  it('reads the requests a failed call sent, through the activity failure around it', () => {
    const thrown = withProviderRequests(ApplicationFailure.create({ type: 'RateLimited', message: '429' }), 4);
    assert.deepEqual(failedCallSpend(asSeenByWorkflow(thrown)), { requests: 4, paid: null });
  });

  it('reads the answers it was billed for before it failed, their requests being all the call sent', () => {
    const paid = { model: 'm', calls: 2, input_tokens: 300, output_tokens: 40, usage_estimated: true };
    const thrown = withProviderRequests(ApplicationFailure.create({ type: 'LlmAuth', message: '401', nonRetryable: true }), 5, paid);
    assert.deepEqual(failedCallSpend(asSeenByWorkflow(thrown)), { requests: 5, paid: { ...paid, requests: 5 } });
  });

  it('a second call of withProviderRequests replaces the first (one count per failure)', () => {
    const f = withProviderRequests(withProviderRequests(ApplicationFailure.create({ message: 'x', details: [{ status: 500 }] }), 1), 3);
    assert.deepEqual(f.details, [{ status: 500 }, { provider_requests: 3 }]);
  });

  it('is zero for a failure that tells nothing (a timeout, a bug) and ignores a malformed paid_usage', () => {
    assert.deepEqual(failedCallSpend(new Error('boom')), { requests: 0, paid: null });
    assert.deepEqual(failedCallSpend(undefined), { requests: 0, paid: null });
    const bad = ApplicationFailure.create({ message: 'x', details: [{ provider_requests: 2, paid_usage: { model: 'm', calls: 1, input_tokens: 'many', output_tokens: 1 } }] });
    assert.deepEqual(failedCallSpend(bad), { requests: 2, paid: null });
    const none = ApplicationFailure.create({ message: 'x', details: [{ provider_requests: 2, paid_usage: { model: 'm', calls: 0, input_tokens: 0, output_tokens: 0 } }] });
    assert.deepEqual(failedCallSpend(none), { requests: 2, paid: null });
  });
});

describe('toolLlmCharges (a tool\'s own LLM calls, charged to the seed)', () => {
  const u = { model: 'm', calls: 3, requests: 5, input_tokens: 900, output_tokens: 60, usage_estimated: true };
  it('one call per summary, the first carrying the requests and tokens, each with the tool call\'s cache outcome', () => {
    assert.deepEqual(toolLlmCharges(u, 'miss'), {
      calls: [
        { usage: { input_tokens: 900, output_tokens: 60 }, requests: 5, usage_estimated: true, cache: 'miss' },
        { usage: { input_tokens: 0, output_tokens: 0 }, requests: 0, cache: 'miss' },
        { usage: { input_tokens: 0, output_tokens: 0 }, requests: 0, cache: 'miss' },
      ],
      requests_only: 0,
    });
  });
  it('a usage of 0 calls (requests refused in earlier attempts, nothing answered since) charges its requests only', () => {
    assert.deepEqual(toolLlmCharges({ ...u, calls: 0, requests: 2, input_tokens: 0, output_tokens: 0 }), { calls: [], requests_only: 2 });
  });
});
