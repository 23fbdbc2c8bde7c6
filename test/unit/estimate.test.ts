import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/schema';
import { estimateRun, formatEstimate } from '../../src/domain/estimate';

function config(raw: Record<string, unknown>) {
  const r = parseConfig(raw);
  assert.ok(r.ok, r.ok ? '' : r.issues.join('\n'));
  return r.config;
}

test("dry-run estimate follows the original's call-count formula (web_config_parallel: 38 + 4 calls per seed, + page summaries)", () => {
  const c = config({ environment_mode: 'web', max_depth: 10, branching_factor: 2, depth_threshold: 2, min_depth: 8, max_selected_traj: 5, max_retries: 10 });
  const e = estimateRun(c, 200);
  assert.deepEqual(e.tree, { nodes: 38, leaves: 4, qa_per_seed: 4 });
  // web_visit's summaries: half of the 38 tool calls (2 web tools) read 2 pages each; at most 5 pages per tool call.
  assert.deepEqual(e.summaries, { llm_calls: 38, max_llm_calls: 190 });
  assert.equal(e.per_seed.llm_calls, 42 + 38);
  assert.equal(e.per_seed.tool_calls, 38);
  assert.equal(e.total.llm_calls, 80 * 200);
  assert.equal(e.worst_case_llm_calls, (42 * 10 + 190) * 200);
  assert.match(formatEstimate(e), /web_visit page summaries \(LLM calls inside the tool\): ~38 per seed .* at most 190 per seed/);

  // Without summaries (web_visit_summarize false): the original's 42 calls.
  const plain = estimateRun(config({ environment_mode: 'web', max_depth: 10, branching_factor: 2, depth_threshold: 2, min_depth: 8, max_selected_traj: 5, max_retries: 10, environment_kwargs: { web_visit_summarize: false } }), 200);
  assert.equal(plain.per_seed.llm_calls, 42);
  assert.equal(plain.worst_case_llm_calls, 42 * 10 * 200);
  assert.ok(plain.per_seed.input_tokens < e.per_seed.input_tokens, 'summaries read whole pages');
  assert.doesNotMatch(formatEstimate(plain), /page summaries/);
  assert.ok(e.per_seed.input_tokens > e.per_seed.output_tokens && e.per_seed.output_tokens > 0);
  assert.equal(e.total.cost_usd, null);
  assert.equal(e.seeds_funded_by_budget, null);
});

test('estimate: QA per seed is capped by leaves and max_selected_traj; cost from prices; budget fit', () => {
  // D=2, b=2, t=3 → 4 leaves; max_selected_traj 3 → 3 QA calls.
  assert.equal(estimateRun(config({ environment_mode: 'math', max_depth: 2, min_depth: 2, max_selected_traj: 3 }), 1).tree.qa_per_seed, 3);
  assert.equal(estimateRun(config({ environment_mode: 'math', max_depth: 2, min_depth: 2, max_selected_traj: 9 }), 1).tree.qa_per_seed, 4);
  const c = config({
    environment_mode: 'math', model_name: 'm', max_depth: 3, branching_factor: 2, depth_threshold: 2, min_depth: 2, max_selected_traj: 2,
    prices: { m: { input_per_million: 1, output_per_million: 4 } }, budget: { max_llm_calls: 60 },
  });
  const e = estimateRun(c, 10);
  assert.equal(e.per_seed.llm_calls, 12);
  const expected = (e.per_seed.input_tokens * 1 + e.per_seed.output_tokens * 4) / 1e6;
  assert.ok(Math.abs(e.per_seed.cost_usd! - expected) < 1e-9);
  assert.equal(e.seeds_funded_by_budget, 5);
  assert.match(formatEstimate(e), /LLM calls\s+12\s+120/);
  assert.match(formatEstimate(e), /the budget funds about 5 of 10 seeds/);
});

test('estimate: verification adds its upper bounds (calls, tool calls, tokens, cost at the solver and judge prices)', () => {
  const base = { environment_mode: 'math', max_depth: 3, branching_factor: 2, depth_threshold: 2, max_selected_traj: 2, model_name: 'm', prices: { m: { input_per_million: 1, output_per_million: 1 }, s: { input_per_million: 10, output_per_million: 10 } } };
  const off = parseConfig(base);
  const on = parseConfig({ ...base, verification: { enabled: true, baseline_attempts: 3, solver_attempts: 2, solver_max_steps: 3, solver_model: 's', judge_model: 'm' } });
  assert.ok(off.ok && on.ok);
  const eOff = estimateRun(off.config, 10);
  const eOn = estimateRun(on.config, 10);
  // 10 nodes, 2 QA per seed; per QA: 3 baseline + 2 × 3 solver steps + (3 + 2) judge = 14 calls, 2 × 2 tool calls.
  assert.equal(eOff.per_seed.llm_calls, 12);
  assert.equal(eOn.per_seed.llm_calls, 12 + 2 * 14);
  assert.equal(eOn.per_seed.tool_calls, 10 + 2 * 4);
  assert.deepEqual(eOn.verification, { llm_calls: 28, tool_calls: 8 });
  assert.equal(eOn.worst_case_llm_calls, eOff.worst_case_llm_calls + 28 * 10);
  assert.ok(eOn.per_seed.input_tokens > eOff.per_seed.input_tokens && eOn.per_seed.cost_usd! > eOff.per_seed.cost_usd!);
  assert.match(formatEstimate(eOn), /verification: up to 28 LLM calls and 8 tool calls per seed/);
  assert.doesNotMatch(formatEstimate(eOff), /verification/);
  // Without a price for the solver model, no cost estimate.
  const unpriced = parseConfig({ ...base, verification: { enabled: true, solver_model: 'x' } });
  assert.ok(unpriced.ok);
  assert.equal(estimateRun(unpriced.config, 1).per_seed.cost_usd, null);
});
