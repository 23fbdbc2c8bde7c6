import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addSpend, callCost, emptySpend, hasBudget, mayCall, seedAllowance } from '../../src/domain/budget';
import { expectedTreeSize, sampleTree } from '../../src/domain/tree';
import type { ChooseActionResult, Observation } from '../../src/shared/types';

test('callCost uses the price table (USD per million tokens); unknown models cost 0', () => {
  const prices = { m: { input_per_million: 2, output_per_million: 8 } };
  assert.equal(callCost(prices, 'm', { input_tokens: 1_000_000, output_tokens: 500_000 }), 6);
  assert.equal(callCost(prices, 'other', { input_tokens: 10, output_tokens: 10 }), 0);
});

test('seedAllowance: per-seed caps, equal shares of what the run has left, null when spent', () => {
  assert.equal(hasBudget({}), false);
  // No run cap: the per-seed cap alone.
  assert.deepEqual(seedAllowance({ budget: { per_seed_max_llm_calls: 10 }, used: emptySpend(), reserved: [], freeSlots: 4 }), {
    llm_calls: 10, tokens: null, cost_usd: null,
  });
  // Run cap 100 calls, 20 used, 2 running seeds hold 30 each, 2 free slots: (100 − 20 − 60) / 2 = 10.
  const used = { ...emptySpend(), llm_calls: 20 };
  const reserved = [{ llm_calls: 30, tokens: null, cost_usd: null }, { llm_calls: 30, tokens: null, cost_usd: null }];
  assert.equal(seedAllowance({ budget: { max_llm_calls: 100 }, used, reserved, freeSlots: 2 })?.llm_calls, 10);
  // The allowances handed out never add up to more than the run has left.
  const a = seedAllowance({ budget: { max_llm_calls: 100 }, used, reserved: [], freeSlots: 3 })!;
  const b = seedAllowance({ budget: { max_llm_calls: 100 }, used, reserved: [a], freeSlots: 2 })!;
  const c = seedAllowance({ budget: { max_llm_calls: 100 }, used, reserved: [a, b], freeSlots: 1 })!;
  assert.ok(a.llm_calls! + b.llm_calls! + c.llm_calls! <= 80);
  // Spent (fewer than 2 calls left): null.
  assert.equal(seedAllowance({ budget: { max_llm_calls: 21 }, used, reserved: [], freeSlots: 1 }), null);
  // Token and cost caps.
  const t = seedAllowance({ budget: { max_tokens: 1000, max_cost_usd: 1 }, used: { llm_calls: 0, input_tokens: 300, output_tokens: 100, cost_usd: 0.5 }, reserved: [], freeSlots: 2 })!;
  assert.deepEqual(t, { llm_calls: null, tokens: 300, cost_usd: 0.25 });
  assert.equal(seedAllowance({ budget: { max_cost_usd: 1 }, used: { ...emptySpend(), cost_usd: 1 }, reserved: [], freeSlots: 1 }), null);
});

test('mayCall: no call starts once a cap is reached, keeping a reserve of calls back', () => {
  const allowance = { llm_calls: 5, tokens: 100, cost_usd: null };
  assert.equal(mayCall(null, { ...emptySpend(), llm_calls: 1e9 }), true);
  assert.equal(mayCall(allowance, { ...emptySpend(), llm_calls: 4 }), true);
  assert.equal(mayCall(allowance, { ...emptySpend(), llm_calls: 5 }), false);
  assert.equal(mayCall(allowance, { ...emptySpend(), llm_calls: 2 }, 2), true);
  assert.equal(mayCall(allowance, { ...emptySpend(), llm_calls: 3 }, 2), false);
  assert.equal(mayCall(allowance, { ...emptySpend(), input_tokens: 60, output_tokens: 40 }), false);
  assert.deepEqual(addSpend({ llm_calls: 1, input_tokens: 2, output_tokens: 3, cost_usd: 0.5 }, { llm_calls: 1, input_tokens: 1, output_tokens: 1, cost_usd: 0.25 }), {
    llm_calls: 2, input_tokens: 3, output_tokens: 4, cost_usd: 0.75,
  });
});

test('sampleTree stops the whole expansion when shouldStop says so (partial tree, no further calls)', async () => {
  let calls = 0;
  const tree = await sampleTree({
    config: { max_depth: 4, branching_factor: 2, depth_threshold: 2, max_retries: 3, seed_description: '' },
    seedText: 's',
    sourceId: 'src_b',
    deps: {
      shouldStop: () => calls >= 5,
      async chooseAction(req): Promise<ChooseActionResult> {
        calls++;
        return { ok: true, intent: 'i', action: { tool_name: 'calculator', parameters: { expressions: [`${req.current.node_id}/${req.branch}`] } }, usage: { input_tokens: 1, output_tokens: 1 } };
      },
      async runTool(): Promise<Observation> {
        return { text: 'ok' };
      },
    },
  });
  assert.equal(calls, 5);
  assert.equal(tree.stopped, true);
  assert.equal(tree.nodes.length - 1, 5);
  assert.ok(tree.nodes.length - 1 < expectedTreeSize(4, 2, 2).nodes);
});

test('qaReserve keeps one QA call per path to select, but leaves min_depth exploration steps', async () => {
  const { qaReserve } = await import('../../src/domain/budget');
  assert.equal(qaReserve(null, 3, 2), 3);
  assert.equal(qaReserve({ llm_calls: 20, tokens: null, cost_usd: null }, 3, 2), 3);
  assert.equal(qaReserve({ llm_calls: 3, tokens: null, cost_usd: null }, 3, 2), 1);
  assert.equal(seedAllowance({ budget: { max_llm_calls: 10 }, used: { ...emptySpend(), llm_calls: 8 }, reserved: [], freeSlots: 1, minCalls: 3 }), null);
});
