/**
 * Answer normalisation (issue 10): two spellings of the same answer get the same token sequence, so grounding and
 * dedup compare meanings, not typography. Workflow-safe (pure string code).
 *
 * Steps, in order (each is shown with an example in test/unit/normalize.test.ts):
 * 1. Unicode NFKC (full-width digits, ligatures, `²` → `2`), then accents dropped (NFD, combining marks removed:
 *    `Zürich` → `zurich`), then lower case.
 * 2. Symbols become words: `%` → `percent`, currency symbols → ISO codes (`$` → `usd`, `€` → `eur`, `£` → `gbp`,
 *    `¥` → `jpy`, `₹` → `inr`; `US$` too), `°C`/`°F` → `c`/`f`, `km²` → `km2`.
 * 3. Numbers: thousands separators dropped only when grouped by three (`1,234,567.50`), a number glued to a word is
 *    split (`5km` → `5 km`), punctuation becomes space (a `.` inside a number and a leading minus are kept).
 * 4. Tokens: articles (a, an, the) dropped; English number words zero–twenty and the tens written as digits
 *    (`three` → `3`; compounds such as `twenty-one` are not combined); scale words applied to the number before
 *    them (`1.2 million` → `1200000`); every number written canonically (`3.0` → `3`, `0.50` → `0.5`, `007` → `7`);
 *    unit and currency names mapped to one symbol (`kilometres`/`kilometers`/`km` → `km`, `dollars` → `usd`,
 *    `per cent` → `percent`, …: UNIT_WORDS).
 * The result: tokens of letters/digits joined by single spaces; `''` when nothing is left.
 */

/** Number words written as digits (English, 0–20 and the tens). */
const NUMBER_WORDS: Readonly<Record<string, string>> = {
  zero: '0', one: '1', two: '2', three: '3', four: '4', five: '5', six: '6', seven: '7', eight: '8', nine: '9', ten: '10',
  eleven: '11', twelve: '12', thirteen: '13', fourteen: '14', fifteen: '15', sixteen: '16', seventeen: '17',
  eighteen: '18', nineteen: '19', twenty: '20', thirty: '30', forty: '40', fifty: '50', sixty: '60', seventy: '70',
  eighty: '80', ninety: '90',
};

/** Scale words: powers of ten applied to the number before them. */
const SCALE_WORDS: Readonly<Record<string, number>> = { thousand: 3, million: 6, billion: 9, trillion: 12 };

/**
 * Unit and currency names → the one token they normalise to (SI symbols, ISO 4217 codes). Both spellings
 * (metre/meter) and plurals are listed; single-letter symbols map to themselves, so they need no entry.
 */
export const UNIT_WORDS: Readonly<Record<string, string>> = {
  kilometre: 'km', kilometres: 'km', kilometer: 'km', kilometers: 'km', kms: 'km',
  metre: 'm', metres: 'm', meter: 'm', meters: 'm',
  centimetre: 'cm', centimetres: 'cm', centimeter: 'cm', centimeters: 'cm',
  millimetre: 'mm', millimetres: 'mm', millimeter: 'mm', millimeters: 'mm',
  mile: 'mi', miles: 'mi',
  foot: 'ft', feet: 'ft',
  inch: 'in', inches: 'in',
  kilogram: 'kg', kilograms: 'kg', kilo: 'kg', kilos: 'kg', kgs: 'kg',
  gram: 'g', grams: 'g', gramme: 'g', grammes: 'g',
  tonne: 't', tonnes: 't',
  lbs: 'lb',
  litre: 'l', litres: 'l', liter: 'l', liters: 'l',
  millilitre: 'ml', millilitres: 'ml', milliliter: 'ml', milliliters: 'ml',
  second: 's', seconds: 's', sec: 's', secs: 's',
  minute: 'min', minutes: 'min', mins: 'min',
  hour: 'h', hours: 'h', hr: 'h', hrs: 'h',
  celsius: 'c', fahrenheit: 'f', kelvin: 'k',
  km2: 'km2', sqkm: 'km2',
  percent: 'percent', pct: 'percent', percentage: 'percent',
  dollar: 'usd', dollars: 'usd', usd: 'usd',
  euro: 'eur', euros: 'eur', eur: 'eur',
  yen: 'jpy', jpy: 'jpy',
  rupee: 'inr', rupees: 'inr', inr: 'inr',
  gbp: 'gbp', sterling: 'gbp',
};

/** Multi-word unit phrases (already lower case, accents dropped), replaced before tokenising. */
const UNIT_PHRASES: ReadonlyArray<[RegExp, string]> = [
  [/\bper\s+cent\b/g, ' percent '],
  [/\bdegrees?\s+(celsius|centigrade)\b/g, ' c '],
  [/\bdegrees?\s+fahrenheit\b/g, ' f '],
  [/\bsquare\s+(?:kilometres?|kilometers?|km)\b/g, ' km2 '],
  [/\bsq\.?\s*km\b/g, ' km2 '],
  [/\bus\s+dollars?\b/g, ' usd '],
  [/\bpounds?\s+sterling\b/g, ' gbp '],
];

/** Currency symbols → ISO 4217 codes (written after the amount: `$5` → `5 usd`). */
const CURRENCY_SYMBOLS: ReadonlyArray<[string, string]> = [
  ['us$', 'usd'], ['$', 'usd'], ['€', 'eur'], ['£', 'gbp'], ['¥', 'jpy'], ['₹', 'inr'],
];

const ARTICLES = new Set(['a', 'an', 'the']);

/** A number token as normalise() leaves it (digits, one optional fraction, optional minus). */
const NUMBER_RE = /^-?\d+(?:\.\d+)?$/;

/** `digits[.fraction]` written canonically: no leading zeros, no trailing fraction zeros, no empty fraction. */
export function canonicalNumber(text: string): string {
  const negative = text.startsWith('-');
  const body = negative ? text.slice(1) : text;
  let [int = '', frac = ''] = body.split('.');
  int = int.replace(/^0+(?=\d)/, '') || '0';
  frac = frac.replace(/0+$/, '');
  const out = frac ? `${int}.${frac}` : int;
  return negative && out !== '0' ? `-${out}` : out;
}

/** `number × 10^power`, by moving the decimal point in the string (exact, unlike floating point). */
function scaleNumber(num: string, power: number): string {
  const negative = num.startsWith('-');
  const body = negative ? num.slice(1) : num;
  const [int = '', frac = ''] = body.split('.');
  const digits = int + frac.padEnd(power, '0');
  const point = int.length + power;
  const scaled = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return canonicalNumber(`${negative ? '-' : ''}${scaled}`);
}

/** True for a token that normalise() wrote as a number. */
export function isNumberToken(token: string): boolean {
  return NUMBER_RE.test(token);
}

/**
 * The normalised tokens of `text` (see the module comment). Never throws; `[]` for text without letters or digits.
 */
export function normalizedTokens(text: string): string[] {
  let s = String(text ?? '')
    .normalize('NFKC')
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase();
  // Symbols that carry meaning become words before punctuation is dropped.
  s = s.replace(/°\s*c\b/g, ' c ').replace(/°\s*f\b/g, ' f ').replace(/°/g, ' ');
  for (const [sym, code] of CURRENCY_SYMBOLS) {
    // `$1,234` → ` 1,234 usd`: the code follows the amount, as in `1,234 dollars`.
    const esc = sym.replace(/[$]/g, '\\$');
    s = s.replace(new RegExp(`${esc}\\s*(-?[\\d.,]*\\d)`, 'g'), ' $1 ' + code + ' ').replace(new RegExp(esc, 'g'), ` ${code} `);
  }
  s = s.replace(/%/g, ' percent ');
  for (const [re, to] of UNIT_PHRASES) s = s.replace(re, to);
  // Thousands separators: only digits grouped by three after the first group (`1,234,567`); `1,2` stays a list.
  s = s.replace(/(?<!\d)\d{1,3}(?:,\d{3})+(?![\d,]*\d)/g, (m) => m.replace(/,/g, ''));
  // Decimal points and minus signs that belong to numbers survive; every other non-word character is a space.
  s = s.replace(/(^|[^\p{L}\p{N}.])-(?=\d)/gu, '$1\u0001'); // a minus before a number
  s = s.replace(/(\d)\.(?=\d)/g, '$1\u0002'); // a decimal point inside a number
  s = s.replace(/(^|[^\p{L}\p{N}])\.(?=\d)/gu, (_m, before: string) => `${before}0\u0002`); // `.5` → `0.5`
  s = s.replace(/['’]s\b/g, '').replace(/['’]/g, '');
  s = s.replace(/[^\p{L}\p{N}\u0001\u0002]+/gu, ' ');
  s = s.replace(/\u0001/g, '-').replace(/\u0002/g, '.');
  // A number glued to letters is two tokens: `5km` → `5 km`, `km2` stays (letters then digits is a name).
  s = s.replace(/(\d)(\p{L})/gu, '$1 $2');
  const raw = s.split(' ').filter(Boolean);
  const out: string[] = [];
  for (const tok of raw) {
    if (ARTICLES.has(tok)) continue;
    const scale = SCALE_WORDS[tok];
    const prev = out[out.length - 1];
    if (scale !== undefined && prev !== undefined && isNumberToken(prev)) {
      out[out.length - 1] = scaleNumber(prev, scale);
      continue;
    }
    const word = NUMBER_WORDS[tok];
    if (word !== undefined) {
      out.push(word);
      continue;
    }
    if (isNumberToken(tok)) {
      out.push(canonicalNumber(tok));
      continue;
    }
    out.push(UNIT_WORDS[tok] ?? tok);
  }
  return out;
}

/** normalizedTokens joined by single spaces: the normalised form of an answer or a question. */
export function normalizeAnswer(text: string): string {
  return normalizedTokens(text).join(' ');
}

/** Every number in `text`, as JavaScript numbers, in text order (from its normalised tokens). */
export function numbersIn(text: string): number[] {
  return normalizedTokens(text).filter(isNumberToken).map(Number);
}
