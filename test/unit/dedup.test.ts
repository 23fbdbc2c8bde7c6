import { test } from 'node:test';
import assert from 'node:assert/strict';
import { estimateSimilarity, jaccard, QaDeduplicator, questionShingles, signature } from '../../src/domain/dedup';

// Hand-computed shingles (normalised tokens, numbers as #, distinct 1-grams and 2-grams):
const A = 'Which city hosted the Olympic Games in 1990?';
// which city hosted olympic games in # → 7 unigrams + 6 bigrams = 13 shingles.
const B = 'In 2004, which city hosted the Olympic Games?'; // reordered words, another number
// in # which city hosted olympic games → the same 7 unigrams; bigrams shared with A: in #, which city, city hosted,
// hosted olympic, olympic games (5 of 6). |A ∩ B| = 12, |A ∪ B| = 13 + 13 − 12 = 14 → J = 12/14 = 0.857.
const C = 'What is the boiling point of water at sea level?'; // no shingle in common with A → J = 0
const D = 'Which river flows through the city that hosted the 1990 Olympic Games?';
// 10 unigrams (6 shared with A: which city hosted # olympic games) + 9 bigrams (1 shared: olympic games):
// |A ∩ D| = 7, |A ∪ D| = 13 + 19 − 7 = 25 → J = 0.28.

test('questionShingles and exact Jaccard on fixed inputs', () => {
  assert.deepEqual(questionShingles(A), [
    'which', 'city', 'hosted', 'olympic', 'games', 'in', '#',
    'which city', 'city hosted', 'hosted olympic', 'olympic games', 'games in', 'in #',
  ]);
  assert.equal(questionShingles(B).length, 13);
  assert.equal(jaccard(questionShingles(A), questionShingles(B)), 12 / 14);
  assert.equal(jaccard(questionShingles(A), questionShingles(C)), 0);
  assert.equal(jaccard(questionShingles(A), questionShingles(D)), 7 / 25);
  assert.equal(jaccard(questionShingles(A), questionShingles('Which city hosted the Olympic Games in 2004?')), 1);
  assert.deepEqual(questionShingles('?!'), []);
});

test('MinHash estimates are close to the exact Jaccard and deterministic', () => {
  const sa = signature(questionShingles(A))!;
  const sb = signature(questionShingles(B))!;
  const sc = signature(questionShingles(C))!;
  const sd = signature(questionShingles(D))!;
  assert.equal(estimateSimilarity(sa, sa), 1);
  // Standard error √(J(1−J)/128): 0.031 at J = 0.857; allow 3 of them.
  assert.ok(Math.abs(estimateSimilarity(sa, sb) - 12 / 14) <= 0.093, `A~B ${estimateSimilarity(sa, sb)}`);
  assert.ok(estimateSimilarity(sa, sc) <= 0.05, `A~C ${estimateSimilarity(sa, sc)}`);
  assert.ok(Math.abs(estimateSimilarity(sa, sd) - 0.28) <= 0.12, `A~D ${estimateSimilarity(sa, sd)}`);
  // The same input gives the same signature (fixed hash functions, not Math.random).
  assert.deepEqual(signature(questionShingles(A)), sa);
  assert.equal(signature([]), null);
});

test('QaDeduplicator: exact, near-duplicate (reordered words, changed number), true negatives, first kept', () => {
  const d = new QaDeduplicator({ near_duplicate_threshold: 0.8, max_qa_per_answer: 0 });
  d.beginSeed();
  assert.equal(d.check({ qa_id: 'a', question: A, answer: 'Seattle' }), null);
  // Same normalised question (case, article, punctuation).
  assert.deepEqual(d.check({ qa_id: 'f', question: 'which city hosted Olympic games in 1990', answer: 'x' }), { reason: 'exact_duplicate', duplicate_of: 'a' });
  // Only the number differs: J = 1.
  const e = d.check({ qa_id: 'e', question: 'Which city hosted the Olympic Games in 2004?', answer: 'Athens' });
  assert.equal(e?.reason, 'near_duplicate');
  assert.equal(e?.duplicate_of, 'a');
  assert.equal(e?.similarity, 1);
  // Reordered words and another number: J = 0.857 ≥ 0.8.
  const b = d.check({ qa_id: 'b', question: B, answer: 'Athens' });
  assert.equal(b?.reason, 'near_duplicate');
  assert.equal(b?.duplicate_of, 'a');
  // True negatives: J = 0 and J = 0.28.
  assert.equal(d.check({ qa_id: 'c', question: C, answer: '100 °C' }), null);
  assert.equal(d.check({ qa_id: 'd', question: D, answer: 'Columbia River' }), null);
  assert.equal(d.kept, 3);
  // A higher threshold keeps the reordered question (0.857 < 0.95).
  const strict = new QaDeduplicator({ near_duplicate_threshold: 0.95, max_qa_per_answer: 0 });
  assert.equal(strict.check({ qa_id: 'a', question: A, answer: 'x' }), null);
  assert.equal(strict.check({ qa_id: 'b', question: B, answer: 'y' }), null);
});

test('QaDeduplicator: at most max_qa_per_answer QA per normalised answer within a seed', () => {
  const d = new QaDeduplicator({ near_duplicate_threshold: 0.8, max_qa_per_answer: 2 });
  d.beginSeed();
  assert.equal(d.check({ qa_id: 's1_0', question: 'Which painter was born in Figueres?', answer: 'Salvador Dalí' }), null);
  assert.equal(d.check({ qa_id: 's1_1', question: 'Who painted The Persistence of Memory?', answer: 'salvador dali' }), null);
  assert.deepEqual(d.check({ qa_id: 's1_2', question: 'Which surrealist founded a theatre-museum?', answer: 'SALVADOR DALI.' }), {
    reason: 'answer_cap',
    duplicate_of: 's1_0',
  });
  // Another seed counts from zero.
  d.beginSeed();
  assert.equal(d.check({ qa_id: 's2_0', question: 'Whose moustache became a trademark of surrealism?', answer: 'Salvador Dalí' }), null);
});

test('QaDeduplicator over 2,000 kept QA (its tables grow): every re-worded copy finds its own original', () => {
  const words = 'river city king queen painter novel war treaty island mountain lake bridge castle poet battle empire harbor temple desert forest'.split(' ');
  // Deterministic "random" questions: 12 words drawn by a linear congruential generator, plus the row number as a word.
  let x = 7;
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) % words.length;
  const questions = Array.from({ length: 2000 }, (_, i) => `Which ${Array.from({ length: 12 }, () => words[next()]).join(' ')} id${i} in 1900?`);
  const d = new QaDeduplicator({ near_duplicate_threshold: 0.8, max_qa_per_answer: 0 });
  d.beginSeed();
  questions.forEach((q, i) => assert.equal(d.check({ qa_id: `q${i}`, question: q, answer: `a${i}` }), null, q));
  let found = 0;
  questions.forEach((q, i) => {
    // Another number (J = 1 after masking): the near-duplicate of exactly this original.
    const v = d.check({ qa_id: `v${i}`, question: q.replace(' in 1900?', ' in 1950?'), answer: `b${i}` });
    if (v?.reason === 'near_duplicate' && v.duplicate_of === `q${i}`) found += 1;
    // The same question again: an exact duplicate.
    assert.deepEqual(d.check({ qa_id: `e${i}`, question: q.toUpperCase(), answer: 'x' }), { reason: 'exact_duplicate', duplicate_of: `q${i}` });
  });
  assert.equal(found, 2000);
  assert.equal(d.kept, 2000);
});
