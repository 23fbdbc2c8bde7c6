import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalNumber, normalizeAnswer, normalizedTokens, numbersIn } from '../../src/domain/normalize';

test('normalizeAnswer: case, NFKC, accents, punctuation, articles, whitespace', () => {
  assert.equal(normalizeAnswer('  The  Eiffel   Tower. '), 'eiffel tower');
  assert.equal(normalizeAnswer('ＰＡＲＩＳ'), 'paris'); // full-width letters (NFKC)
  assert.equal(normalizeAnswer('Zürich'), 'zurich');
  assert.equal(normalizeAnswer('An apple, a pear!'), 'apple pear');
  assert.equal(normalizeAnswer("Einstein's theory"), 'einstein theory');
  assert.equal(normalizeAnswer("O'Brien"), 'obrien');
  assert.equal(normalizeAnswer('Jean-Paul Sartre'), 'jean paul sartre');
  assert.equal(normalizeAnswer('...'), '');
  assert.equal(normalizeAnswer('the'), '');
});

test('normalizeAnswer: number formats', () => {
  assert.equal(normalizeAnswer('1,234.50'), '1234.5');
  assert.equal(normalizeAnswer('1234.5'), '1234.5');
  assert.equal(normalizeAnswer('3.0'), '3');
  assert.equal(normalizeAnswer('007'), '7');
  assert.equal(normalizeAnswer('.5'), '0.5');
  assert.equal(normalizeAnswer('-12.0'), '-12');
  assert.equal(normalizeAnswer('1,234,567'), '1234567');
  // Not thousands separators: a list, and a group of four digits.
  assert.equal(normalizeAnswer('1,2'), '1 2');
  assert.equal(normalizeAnswer('1,2345'), '1 2345');
  // A range is two numbers, not a negative one.
  assert.equal(normalizeAnswer('1990-2000'), '1990 2000');
  assert.equal(normalizeAnswer('in 1990.'), 'in 1990');
  assert.equal(normalizeAnswer('1.2 million'), '1200000');
  assert.equal(normalizeAnswer('3 billion'), '3000000000');
  assert.equal(normalizeAnswer('0.25 thousand'), '250');
  assert.equal(canonicalNumber('000.000'), '0');
  assert.equal(canonicalNumber('-0.0'), '0');
});

test('normalizeAnswer: number words, percent, units, currency', () => {
  assert.equal(normalizeAnswer('Three'), '3');
  assert.equal(normalizeAnswer('twelve apostles'), '12 apostles');
  assert.equal(normalizeAnswer('45%'), '45 percent');
  assert.equal(normalizeAnswer('45 per cent'), '45 percent');
  assert.equal(normalizeAnswer('45 percent'), '45 percent');
  assert.equal(normalizeAnswer('5 kilometres'), '5 km');
  assert.equal(normalizeAnswer('5 kilometers'), '5 km');
  assert.equal(normalizeAnswer('5km'), '5 km');
  assert.equal(normalizeAnswer('5 KM'), '5 km');
  assert.equal(normalizeAnswer('10 square kilometres'), '10 km2');
  assert.equal(normalizeAnswer('10 km²'), '10 km2');
  assert.equal(normalizeAnswer('20 °C'), '20 c');
  assert.equal(normalizeAnswer('20 degrees Celsius'), '20 c');
  assert.equal(normalizeAnswer('$1,200'), '1200 usd');
  assert.equal(normalizeAnswer('1200 dollars'), '1200 usd');
  assert.equal(normalizeAnswer('US$1,200.00'), '1200 usd');
  assert.equal(normalizeAnswer('€5'), '5 eur');
  assert.equal(normalizeAnswer('5 euros'), '5 eur');
  assert.equal(normalizeAnswer('£3.50'), '3.5 gbp');
  assert.equal(normalizeAnswer('3 hours'), '3 h');
});

test('normalizedTokens keeps word order; numbersIn reads every number', () => {
  assert.deepEqual(normalizedTokens('The river is 6,650 km long (4,130 miles).'), ['river', 'is', '6650', 'km', 'long', '4130', 'mi']);
  assert.deepEqual(numbersIn('2 + 3 = 5; total $1,234.50'), [2, 3, 5, 1234.5]);
  assert.deepEqual(numbersIn('no digits here'), []);
});
