/** Where each activity runs (src/domain/routing.ts): the rules of the README's "Task queues and local activities". */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { llmRoute, toolRoute } from '../../src/domain/routing';
import { CONFIG_DEFAULTS } from '../../src/config/defaults';

const cfg = (over: Partial<typeof CONFIG_DEFAULTS> = {}) => ({ ...CONFIG_DEFAULTS, ...over });

test('LLM calls: on the workflow\'s own queue by default; local with local_llm and the call cache', () => {
  assert.deepEqual(llmRoute(cfg(), 'q'), { kind: 'activity', taskQueue: 'q' });
  assert.deepEqual(llmRoute(cfg({ local_llm: true }), 'q'), { kind: 'local' });
  // Without the cache a crash would pay again every call since the seed's last workflow task: not local.
  assert.deepEqual(llmRoute(cfg({ local_llm: true, cache: { enabled: false, path: null } }), 'q'), { kind: 'activity', taskQueue: 'q' });
});

test('LLM calls: a rate limit or dedicated queues win over local_llm (a limit is a property of a task queue)', () => {
  assert.deepEqual(llmRoute(cfg({ local_llm: true, rate_limits: { llm_requests_per_second: 5 } }), 'q'), { kind: 'activity', taskQueue: 'q-llm' });
  assert.deepEqual(llmRoute(cfg({ local_llm: true, task_queues: 'dedicated' }), 'q'), { kind: 'activity', taskQueue: 'q-llm' });
});

test('tools: worker-local tools run locally, network tools on the workflow\'s queue, limited ones on their own', () => {
  assert.deepEqual(toolRoute(cfg(), 'q', 'calculator'), { kind: 'local' });
  assert.deepEqual(toolRoute(cfg(), 'q', 'web_visit'), { kind: 'activity', taskQueue: 'q' });
  assert.deepEqual(toolRoute(cfg({ local_tools: false }), 'q', 'calculator'), { kind: 'activity', taskQueue: 'q' });
  assert.deepEqual(toolRoute(cfg({ rate_limits: { tool_calls_per_second: { calculator: 2 } } }), 'q', 'calculator'), { kind: 'activity', taskQueue: 'q-tool-calculator' });
  assert.deepEqual(toolRoute(cfg({ task_queues: 'dedicated' }), 'q', 'web_search'), { kind: 'activity', taskQueue: 'q-tool-web_search' });
});
