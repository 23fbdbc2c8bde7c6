/**
 * The judge of the verification stage, the part that needs no model: a normaliser for short answers and a match
 * that settles what it can (equal after normalisation, different numbers, no answer at all) and leaves the rest
 * (`undecided`) to the LLM judge (whose reply is read by src/domain/verification-replies.ts). Pure, workflow-safe,
 * and free of the JSON-repair code (the workflow bundle imports it).
 *
 * The normaliser is small on purpose and local to the judge; src/domain/normalize.ts (grounding) normalises
 * answers for another purpose, and the two should become one module.
 */
const NUMBER_WORDS: Readonly<Record<string, number>> = {
  zero: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10,
  eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18,
  nineteen: 19, twenty: 20,
};

const MONTHS: Readonly<Record<string, number>> = {
  january: 1, jan: 1, february: 2, feb: 2, march: 3, mar: 3, april: 4, apr: 4, may: 5, june: 6, jun: 6,
  july: 7, jul: 7, august: 8, aug: 8, september: 9, sep: 9, sept: 9, october: 10, oct: 10, november: 11,
  nov: 11, december: 12, dec: 12,
};
const MONTH_RE = Object.keys(MONTHS).sort((a, b) => b.length - a.length).join('|');
const DAY_RE = '(\\d{1,2})(?:st|nd|rd|th)?';

const ARTICLES = new Set(['a', 'an', 'the']);

/** Replies that are no answer at all (after normalisation). */
const NON_ANSWERS = new Set([
  'unknown', 'i dont know', 'i do not know', 'dont know', 'do not know', 'no answer', 'none', 'n a', 'na',
  'cannot be determined', 'cannot determine', 'not sure', 'unsure',
]);

const pad2 = (n: number) => String(n).padStart(2, '0');

/** `July 4, 1776`, `4 July 1776`, `4th of July 1776`, `1776-07-04`, `July 1776` → `1776 07 04` / `1776 07`. */
function canonicalDates(t: string): string {
  const date = (y: string, m: number, d?: string) => (d ? `${y} ${pad2(m)} ${pad2(Number(d))}` : `${y} ${pad2(m)}`);
  return t
    .replace(/\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\b/g, (_m, y: string, mo: string, d: string) => date(y, Number(mo), d))
    .replace(new RegExp(`\\b(${MONTH_RE})\\.?\\s+${DAY_RE},?\\s+(\\d{4})\\b`, 'g'), (_m, mo: string, d: string, y: string) => date(y, MONTHS[mo]!, d))
    .replace(new RegExp(`\\b${DAY_RE}\\s+(?:of\\s+)?(${MONTH_RE})\\.?,?\\s+(\\d{4})\\b`, 'g'), (_m, d: string, mo: string, y: string) => date(y, MONTHS[mo]!, d))
    .replace(new RegExp(`\\b(${MONTH_RE})\\.?,?\\s+(\\d{4})\\b`, 'g'), (_m, mo: string, y: string) => date(y, MONTHS[mo]!));
}

/**
 * A short answer in a canonical form, for comparison only:
 * - Unicode compatibility form without accents, lower case; curly quotes and dashes made plain;
 * - dates in words or ISO form → `yyyy mm dd` (or `yyyy mm`);
 * - thousands separators dropped (`1,000,000`, `1 000` → `1000000`, `1000`); decimals canonical (`1000.0` → `1000`,
 *   `0.50` → `0.5`); `%` → ` percent`; the words zero–twenty → digits;
 * - punctuation → spaces (a leading minus sign and a decimal point between digits are kept);
 * - the articles a, an, the dropped; whitespace collapsed.
 * Examples: `The Eiffel Tower.` → `eiffel tower`; `1,000` → `1000`; `July 4, 1776` → `1776 07 04`.
 */
export function normalizeAnswer(text: string): string {
  let t = text.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase();
  t = t.replace(/[\u2018\u2019\u02bc]/g, "'").replace(/[\u201c\u201d]/g, '"').replace(/[\u2010-\u2015\u2212]/g, '-');
  t = t.replace(/'/g, '');
  t = canonicalDates(t);
  t = t.replace(/(?<![\d.,])\d{1,3}(?:[, ]\d{3})+(?!\d|,\d)/g, (m) => m.replace(/[, ]/g, ''));
  t = t.replace(/(?<![\d.])(\d+)\.(\d+)(?![\d.])/g, (_m, a: string, b: string) => String(Number(`${a}.${b}`)));
  t = t.replace(/%/g, ' percent');
  // Punctuation → space; keep `.` between digits and a minus sign that starts a number.
  let out = '';
  for (let i = 0; i < t.length; i++) {
    const c = t[i]!;
    const prev = t[i - 1] ?? ' ';
    const next = t[i + 1] ?? ' ';
    if (/[\p{L}\p{N}\s]/u.test(c)) out += c;
    else if (c === '.' && /\d/.test(prev) && /\d/.test(next)) out += c;
    else if (c === '-' && /\s/.test(prev) && /\d/.test(next)) out += c;
    else out += ' ';
  }
  return out
    .split(/\s+/)
    .filter((w) => w && !ARTICLES.has(w))
    .map((w) => (w in NUMBER_WORDS ? String(NUMBER_WORDS[w]) : w))
    .join(' ');
}

/** What the normalised match says of one answer: settled (`match`, `mismatch`) or left to the LLM judge. */
export interface MatchResult {
  verdict: 'match' | 'mismatch' | 'undecided';
  /**
   * The rule that decided: `exact`, `normalized_equal`, `numbers_equal` (match); `empty_answer`, `no_answer`,
   * `numbers_differ` (mismatch); `numbers_rounded`, `units_differ`, `overlap`, `different_text` (undecided).
   */
  rule: string;
}

const NUMBER_RE = /^-?\d+(?:\.\d+)?$/;

/** `<number> <rest>` of a normalised answer, or null when it does not start with a number. */
function numberAndRest(t: string): { n: number; decimals: number; rest: string } | null {
  const [first, ...rest] = t.split(' ');
  if (!first || !NUMBER_RE.test(first)) return null;
  return { n: Number(first), decimals: first.split('.')[1]?.length ?? 0, rest: rest.join(' ') };
}

/** True when every token of the text is a number (e.g. a canonical date `1776 07 04`). */
function allNumbers(t: string): boolean {
  return t.split(' ').every((w) => NUMBER_RE.test(w));
}

/** True when `x` rounded to `decimals` places equals `y`. */
function roundsTo(x: number, decimals: number, y: number): boolean {
  const f = 10 ** decimals;
  return Math.round(x * f) / f === y;
}

/**
 * Compares a candidate answer with the reference answer after {@link normalizeAnswer}. Settles only what needs no
 * judgement: equal forms match; an empty reply or a non-answer (`unknown`, `I don't know`) and different numbers
 * with the same unit (or numbers only, such as dates) are mismatches. Everything else — a number that rounds to the
 * other, different units, overlapping or different wording (`NYC` vs `New York City`) — is `undecided`, for the
 * LLM judge.
 */
export function matchAnswer(reference: string, candidate: string): MatchResult {
  const r = normalizeAnswer(reference);
  const c = normalizeAnswer(candidate);
  if (!c) return { verdict: 'mismatch', rule: 'empty_answer' };
  if (reference.trim() === candidate.trim()) return { verdict: 'match', rule: 'exact' };
  if (r === c) return { verdict: 'match', rule: 'normalized_equal' };
  if (NON_ANSWERS.has(c)) return { verdict: 'mismatch', rule: 'no_answer' };
  if (allNumbers(r) && allNumbers(c)) {
    const rs = r.split(' ').map(Number);
    const cs = c.split(' ').map(Number);
    if (rs.length === cs.length && rs.every((x, i) => x === cs[i])) return { verdict: 'match', rule: 'numbers_equal' };
    if (rs.length > 1 || cs.length > 1) return { verdict: 'mismatch', rule: 'numbers_differ' };
  }
  const rn = numberAndRest(r);
  const cn = numberAndRest(c);
  if (rn && cn) {
    if (rn.rest !== cn.rest) return { verdict: 'undecided', rule: 'units_differ' };
    if (rn.n === cn.n) return { verdict: 'match', rule: 'numbers_equal' };
    if (roundsTo(cn.n, rn.decimals, rn.n) || roundsTo(rn.n, cn.decimals, cn.n)) return { verdict: 'undecided', rule: 'numbers_rounded' };
    return { verdict: 'mismatch', rule: 'numbers_differ' };
  }
  const rw = new Set(r.split(' '));
  const cw = c.split(' ');
  return { verdict: 'undecided', rule: cw.some((w) => rw.has(w)) ? 'overlap' : 'different_text' };
}
