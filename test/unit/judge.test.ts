/**
 * The verification stage's plain code on fixed inputs whose right values were worked out by hand: the judge's
 * normaliser and match (src/domain/judge.ts), the baseline's, solver's and LLM judge's reply readers
 * (src/domain/verification-replies.ts), the difficulty label and the keep policy (src/domain/verification.ts), and
 * the `verification` config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchAnswer, normalizeAnswer } from '../../src/domain/judge';
import { buildSolverMessages, difficultyOf, FINAL_ANSWER_SCHEMA, keepDecision, solverNeeded, VERIFY_MARKERS } from '../../src/domain/verification';
import { parseAnswerReply, parseJudgeReply, parseSolverReply } from '../../src/domain/verification-replies';
import { parseConfig } from '../../src/config/schema';
import type { ModelReply } from '../../src/domain/parse';
import type { ToolSchema } from '../../src/shared/types';

const reply = (content: string, extra: Partial<ModelReply> = {}): ModelReply => ({ content, reasoning: '', tool_calls: [], finish_reason: 'stop', ...extra });

test('normalizeAnswer: case, accents, punctuation, articles, number words, separators, decimals, percent, dates', () => {
  const cases: [string, string][] = [
    ['The Eiffel Tower.', 'eiffel tower'],
    ['  an   Apple ', 'apple'],
    ['Zürich', 'zurich'],
    ['Jean-Paul Sartre', 'jean paul sartre'],
    ["O’Brien's", 'obriens'],
    ['1,000', '1000'],
    ['1 000', '1000'],
    ['1,234,567.50', '1234567.5'],
    ['1000.0', '1000'],
    ['0.50', '0.5'],
    ['-5', '-5'],
    ['50%', '50 percent'],
    ['three', '3'],
    ['July 4, 1776', '1776 07 04'],
    ['4th of July 1776', '1776 07 04'],
    ['1776-07-04', '1776 07 04'],
    ['Sept. 2001', '2001 09'],
    ['1, 2, 3', '1 2 3'],
  ];
  for (const [input, expected] of cases) assert.equal(normalizeAnswer(input), expected, JSON.stringify(input));
});

test('matchAnswer: true positives settled without an LLM, reordered and reformatted', () => {
  const cases: [string, string, string][] = [
    ['Paris', 'Paris', 'exact'],
    ['1000', '1,000', 'normalized_equal'],
    ['1,000 km', '1000 km', 'normalized_equal'],
    ['1000', '1000.0', 'normalized_equal'],
    ['2.50', '2.5', 'normalized_equal'],
    ['July 4, 1776', '4 July 1776', 'normalized_equal'],
    ['1776-07-04', 'July 4th, 1776', 'normalized_equal'],
    ['Eiffel Tower', 'the eiffel tower.', 'normalized_equal'],
    ['3', 'Three', 'normalized_equal'],
    ['50%', '50 percent', 'normalized_equal'],
  ];
  for (const [ref, cand, rule] of cases) assert.deepEqual(matchAnswer(ref, cand), { verdict: 'match', rule }, `${ref} vs ${cand}`);
});

test('matchAnswer: true negatives settled without an LLM', () => {
  const cases: [string, string, string][] = [
    ['1000', '1001', 'numbers_differ'],
    ['1,000', '100', 'numbers_differ'],
    ['5 km', '6 km', 'numbers_differ'],
    ['July 4, 1776', 'July 5, 1776', 'numbers_differ'],
    ['Paris', '', 'empty_answer'],
    ['Paris', ' . ', 'empty_answer'],
    ['Paris', "I don't know", 'no_answer'],
    ['Paris', 'Unknown.', 'no_answer'],
  ];
  for (const [ref, cand, rule] of cases) assert.deepEqual(matchAnswer(ref, cand), { verdict: 'mismatch', rule }, `${ref} vs ${cand}`);
});

test('matchAnswer: what needs judgement is left to the LLM judge', () => {
  const cases: [string, string, string][] = [
    ['3.14', '3.14159', 'numbers_rounded'],
    ['1000', '1000.4', 'numbers_rounded'],
    ['5 km', '5 kilometers', 'units_differ'],
    ['New York City', 'NYC', 'different_text'],
    ['Paris', 'London', 'different_text'],
    ['Eiffel Tower', 'Eiffel Tower in Paris', 'overlap'],
    ['42', 'forty-two', 'different_text'],
  ];
  // A reference that is itself "unknown" is matched by equality, not taken for a non-answer.
  for (const [ref, cand, rule] of cases) assert.deepEqual(matchAnswer(ref, cand), { verdict: 'undecided', rule }, `${ref} vs ${cand}`);
  assert.deepEqual(matchAnswer('unknown', 'Unknown'), { verdict: 'match', rule: 'normalized_equal' });
});

test('parseJudgeReply: JSON verdicts in their usual shapes, plain text, and no verdict', () => {
  assert.deepEqual(parseJudgeReply(reply('{"verdict": "correct", "reason": "same city"}')), { ok: true, correct: true, reason: 'same city' });
  assert.deepEqual(parseJudgeReply(reply('```json\n{"verdict": "incorrect", "reason": "another\nperson"}\n```')), { ok: true, correct: false, reason: 'another person' });
  assert.deepEqual(parseJudgeReply(reply('<think>{"verdict": "correct"}</think>{"correct": false, "explanation": "wrong year"}')), { ok: true, correct: false, reason: 'wrong year' });
  assert.deepEqual(parseJudgeReply(reply('{"is_correct": true}')), { ok: true, correct: true, reason: '' });
  assert.deepEqual(parseJudgeReply(reply('Correct - both name Paris')), { ok: true, correct: true, reason: 'both name Paris' });
  assert.deepEqual(parseJudgeReply(reply('Verdict: incorrect. The candidate names London.')), { ok: true, correct: false, reason: 'The candidate names London.' });
  assert.deepEqual(parseJudgeReply(reply('', { reasoning: '{"verdict": "equivalent", "reason": "r"}' })), { ok: true, correct: true, reason: 'r' });
  const none = parseJudgeReply(reply('hmm, hard to say'));
  assert.equal(none.ok, false);
  assert.match(none.ok ? '' : none.reason, /^judge_unreadable: /);
  assert.deepEqual(parseJudgeReply(reply('')), { ok: false, reason: 'empty_output: the judge replied with no text' });
});

test('parseAnswerReply: the baseline answer from JSON or plain text', () => {
  assert.deepEqual(parseAnswerReply(reply('{"answer": "Marie Curie"}')), { ok: true, answer: 'Marie Curie' });
  assert.deepEqual(parseAnswerReply(reply('{"answer": 1867}')), { ok: true, answer: '1867' });
  assert.deepEqual(parseAnswerReply(reply('Answer: Marie Curie\nShe won two Nobel prizes.')), { ok: true, answer: 'Marie Curie' });
  assert.deepEqual(parseAnswerReply(reply('<think>maybe Pierre</think>\n{"final_answer": "Marie Curie"}')), { ok: true, answer: 'Marie Curie' });
  assert.equal(parseAnswerReply(reply('')).ok, false);
});

const calculator: ToolSchema = { name: 'calculator', description: 'math', parameters: { type: 'object', properties: { expressions: { type: 'array', items: { type: 'string' } } }, required: ['expressions'] } };

test('parseSolverReply: a tool call, a final_answer call, a JSON answer, and neither', () => {
  const tools = [calculator, FINAL_ANSWER_SCHEMA];
  assert.deepEqual(parseSolverReply(reply('', { tool_calls: [{ name: 'calculator', arguments: '{"expressions": ["2+2"]}' }] }), tools), {
    ok: true, kind: 'tool', action: { tool_name: 'calculator', parameters: { expressions: ['2+2'] } },
  });
  assert.deepEqual(parseSolverReply(reply('', { tool_calls: [{ name: 'final_answer', arguments: '{"answer": "4"}' }] }), tools), { ok: true, kind: 'answer', answer: '4' });
  assert.deepEqual(parseSolverReply(reply('{"action": {"tool_name": "final_answer", "parameters": {"answer": "Lyon"}}}'), tools), { ok: true, kind: 'answer', answer: 'Lyon' });
  assert.deepEqual(parseSolverReply(reply('{"final_answer": "Lyon"}'), tools), { ok: true, kind: 'answer', answer: 'Lyon' });
  const bad = parseSolverReply(reply('I think it is Lyon'), tools);
  assert.equal(bad.ok, false);
  // On the last step only final_answer is offered: a real tool is refused.
  assert.equal(parseSolverReply(reply('', { tool_calls: [{ name: 'calculator', arguments: '{"expressions": ["1"]}' }] }), [FINAL_ANSWER_SCHEMA]).ok, false);
});

test('buildSolverMessages: marker first, the question, numbered steps, json tools block', () => {
  const [m] = buildSolverMessages(
    { question: 'What is 2+2?', steps: [{ tool_name: 'calculator', parameters: { expressions: ['2+2'] }, observation: '2+2 = 4' }], must_answer: false, tool_calling: 'json' },
    [calculator, FINAL_ANSWER_SCHEMA],
  );
  assert.ok(m!.content.startsWith(VERIFY_MARKERS.solver));
  assert.match(m!.content, /^Question: What is 2\+2\?$/m);
  assert.match(m!.content, /^Step 1: tool: calculator \| parameters: \{"expressions":\["2\+2"\]\}\nObservation: 2\+2 = 4$/m);
  assert.match(m!.content, /<tools>\n\[.*"final_answer".*\]\n<\/tools>/);
});

test('difficultyOf: the documented rule on pass counts', () => {
  const b = (correct: number, attempts = 3) => ({ attempts, correct });
  const s = (correct: number, attempts = 2) => ({ attempts, correct });
  assert.equal(difficultyOf(b(3), s(0)), 'trivial');
  assert.equal(difficultyOf(b(2), s(2)), 'trivial');
  assert.equal(difficultyOf(b(2, 4), s(0)), 'trivial');
  assert.equal(difficultyOf(b(1), s(2)), 'easy');
  assert.equal(difficultyOf(b(1, 4), s(0, 0)), 'easy');
  assert.equal(difficultyOf(b(0), s(2)), 'medium');
  assert.equal(difficultyOf(b(0), s(1)), 'hard');
  assert.equal(difficultyOf(b(0), s(0)), 'unsolved');
  assert.equal(difficultyOf(b(0, 0), s(1, 1)), 'medium');
  assert.equal(difficultyOf(b(0, 0), s(0, 0)), 'unsolved');
});

test('keepDecision and solverNeeded: the three policies', () => {
  const pass = (correct: number, attempts = 3) => ({ attempts, correct });
  assert.deepEqual(keepDecision('solver_pass_baseline_fail', pass(0), pass(1, 1)), { kept: true });
  assert.deepEqual(keepDecision('solver_pass_baseline_fail', pass(1), pass(1, 1)), { kept: false, reason: 'baseline_solved' });
  assert.deepEqual(keepDecision('solver_pass_baseline_fail', pass(1), pass(0, 0)), { kept: false, reason: 'baseline_solved' });
  assert.deepEqual(keepDecision('solver_pass_baseline_fail', pass(0), pass(0, 1)), { kept: false, reason: 'solver_failed' });
  assert.deepEqual(keepDecision('solver_pass', pass(3), pass(1, 1)), { kept: true });
  assert.deepEqual(keepDecision('solver_pass', pass(0), pass(0, 1)), { kept: false, reason: 'solver_failed' });
  assert.deepEqual(keepDecision('all', pass(3), pass(0, 1)), { kept: true });
  assert.equal(solverNeeded('solver_pass_baseline_fail', pass(1)), false);
  assert.equal(solverNeeded('solver_pass_baseline_fail', pass(0)), true);
  assert.equal(solverNeeded('solver_pass', pass(3)), true);
  assert.equal(solverNeeded('all', pass(3)), true);
});

test('config verification: defaults, bad values named, cost cap needs the solver and judge models priced', () => {
  const ok = parseConfig({ verification: { enabled: true, keep: 'solver_pass' } });
  assert.ok(ok.ok);
  assert.deepEqual(ok.config.verification, {
    enabled: true, baseline_attempts: 3, solver_attempts: 1, solver_max_steps: 6, solver_model: null, judge_model: null, keep: 'solver_pass',
  });
  const bad = parseConfig({ verification: { enabled: 'yes', baseline_attempts: 11, keep: 'some', solver: 1 } });
  assert.equal(bad.ok, false);
  const issues = bad.ok ? [] : bad.issues;
  assert.ok(issues.some((i) => i.startsWith('verification.enabled: expected true or false')), issues.join('\n'));
  assert.ok(issues.some((i) => i.startsWith('verification.baseline_attempts: expected an integer 0–10, got 11')), issues.join('\n'));
  assert.ok(issues.some((i) => i.startsWith('verification.keep: expected "solver_pass_baseline_fail", "solver_pass" or "all"')), issues.join('\n'));
  assert.ok(issues.some((i) => i.startsWith('verification.solver: unknown key')), issues.join('\n'));
  const priced = parseConfig({
    model_name: 'm',
    budget: { max_cost_usd: 1 },
    prices: { m: { input_per_million: 1, output_per_million: 1 } },
    verification: { enabled: true, solver_model: 's', judge_model: 'j' },
  });
  assert.equal(priced.ok, false);
  const pi = priced.ok ? [] : priced.issues;
  assert.ok(pi.some((i) => i.startsWith('prices.s: expected')) && pi.some((i) => i.startsWith('prices.j: expected')), pi.join('\n'));
});

test('history estimate: verification adds its calls and tool calls per QA to the seed history', async () => {
  const { seedHistoryEstimate } = await import('../../src/domain/limits');
  const { CONFIG_DEFAULTS } = await import('../../src/config/defaults');
  const cfg = { ...CONFIG_DEFAULTS, environment_mode: 'math' as const, max_depth: 3, branching_factor: 2, depth_threshold: 2, max_selected_traj: 2 };
  const off = seedHistoryEstimate(cfg);
  const on = seedHistoryEstimate({ ...cfg, verification: { ...CONFIG_DEFAULTS.verification, enabled: true, baseline_attempts: 3, solver_attempts: 2, solver_max_steps: 3 } });
  // Per QA: calls 3 + 2×3 + (3 + 2) judge = 14 → 84 events; tools 2×2 = 4 local markers → 4; × 2 QA paths.
  assert.equal(on.worst_events - off.worst_events, 2 * (14 * 6 + 4 * 1));
  assert.ok(on.expected_bytes > off.expected_bytes);
});
