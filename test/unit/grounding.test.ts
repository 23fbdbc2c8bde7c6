import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containsExact, groundAnswer, numbersMatch, type GroundingStep } from '../../src/domain/grounding';

const step = (node_id: string, observation: string, tool = 'web_search', is_error = false): GroundingStep => ({
  node_id,
  observation,
  action: { tool_name: tool },
  is_error,
});

const path: GroundingStep[] = [
  step('d1_t1_b0', 'The Danube flows through Vienna and Budapest. It is 2,850 kilometres long.'),
  step('d2_t2_b0', 'Budapest has a population of 1.7 million (2023). Mayor: Gergely Karácsony.', 'web_visit'),
  step('d3_t3_b0', '2850 / 3 = 950', 'calculator'),
];

test('exact: the answer as written, not inside a longer word or number', () => {
  assert.deepEqual(groundAnswer('Vienna', path), { method: 'exact', node_id: 'd1_t1_b0' });
  // The deepest step that supports it wins.
  assert.deepEqual(groundAnswer('Budapest', path), { method: 'exact', node_id: 'd2_t2_b0' });
  assert.equal(containsExact('in 1990 and 2000', '19'), false);
  assert.equal(containsExact('Parisian cafés', 'Paris'), false);
  assert.equal(containsExact('Paris, France', 'Paris'), true);
  assert.equal(containsExact('x = 950.', '950'), true);
});

test('normalized: case, accents, number formats, units, articles', () => {
  assert.deepEqual(groundAnswer('gergely karacsony', path), { method: 'normalized', node_id: 'd2_t2_b0' });
  assert.deepEqual(groundAnswer('2850 km', path), { method: 'normalized', node_id: 'd1_t1_b0' });
  assert.deepEqual(groundAnswer('1,700,000', path), { method: 'normalized', node_id: 'd2_t2_b0' });
  assert.deepEqual(groundAnswer('the Danube', path), { method: 'normalized', node_id: 'd1_t1_b0' });
  // A token run, not a substring of a token: "danub" is not "danube".
  assert.equal(groundAnswer('danub', path), null);
});

test('tool_output: a computed answer equal to a calculator / python output number', () => {
  const calc = [step('d1_t1_b0', 'Area is 12 by 7'), step('d2_t2_b0', 'Result: 3.14159265', 'calculator')];
  // 3.14 = 3.14159265 rounded to 2 decimals.
  assert.deepEqual(groundAnswer('3.14', calc), { method: 'tool_output', node_id: 'd2_t2_b0' });
  assert.deepEqual(groundAnswer('3.1416 m', calc), { method: 'tool_output', node_id: 'd2_t2_b0' });
  // 3.15 is not a rounding of 3.14159…, and 3.14159 is outside 1e-6 relative tolerance (2.65e-6 off) but is a rounding.
  assert.equal(groundAnswer('3.15', calc), null);
  assert.deepEqual(groundAnswer('3.14159', calc), { method: 'tool_output', node_id: 'd2_t2_b0' });
  // A number only in a web page is not a computed output: 84 = 12 × 7 is nowhere.
  assert.equal(groundAnswer('84', calc), null);
  const py = [step('d1_t1_b0', 'x'), step('d2_t2_b0', '[stdout]\n1234567.0000004\n', 'python_interpreter')];
  assert.deepEqual(groundAnswer('1,234,567', py), { method: 'tool_output', node_id: 'd2_t2_b0' });
  assert.equal(numbersMatch(100, 0, 100.00005), true); // 5e-7 relative
  assert.equal(numbersMatch(100.01, 2, 100.0), false);
  assert.equal(numbersMatch(1235, 0, 1234.6), true); // rounding to the answer's 0 decimals
});

test('error observations ground nothing; ungrounded answers are null', () => {
  const failed = [
    step('d1_t1_b0', 'Error: web_search failed: HTTP 500 for Vienna', 'web_search', true),
    step('d2_t2_b0', '[Refused] repeated action web_visit Vienna', 'web_visit', true),
  ];
  assert.equal(groundAnswer('Vienna', failed), null);
  assert.equal(groundAnswer('500', failed), null);
  assert.equal(groundAnswer('Prague', path), null);
  assert.equal(groundAnswer('', path), null);
  assert.equal(groundAnswer('the', path), null);
  assert.equal(groundAnswer('Vienna', []), null);
});
