/**
 * Words of a conversation: message text, a tokenizer that skips stop words and prompt vocabulary, and a
 * PRNG-driven phrase picker. Used to fill tool arguments and to write questions from the prompt's own words.
 */
import type { Prng } from './determinism';

/** The text of a message `content`: a string, or the `text` parts of a content-part array joined by newlines. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : ''))
      .join('\n');
  }
  return '';
}

/** Common English words and the vocabulary of qasynth's own prompts: never used as answer or argument words. */
export const STOP_WORDS = new Set(
  (
    'a an and are as at be been being but by can could did do does done for from had has have having he her here hers him his how ' +
    'i if in into is it its itself just me more most my no nor not now of off on once only or other our out over own same she should ' +
    'so some such than that the their them then there these they this those through to too under until up very was we were what when ' +
    'where which while who whom why will with would you your yours also about after again against all any before below between both ' +
    'down during each few further many much must one two three first second last next may might per via within without upon among ' +
    // prompt vocabulary
    'agent agents intelligent exploring explore exploration explorer tool tools tool_name parameter parameters required optional ' +
    'description descriptions string strings array arrays integer integers number numbers boolean object objects json format return ' +
    'returns respond response answer answers question questions reasoning step steps intent action actions observation observations ' +
    'current history seed seeds content goal example examples available following use using used call calls name names type types ' +
    'value values null true false please based provide given information task tasks output input note notes result results item items ' +
    'list lists must should make sure only each new find out keep data synthesis expert trajectory trajectories path paths node nodes ' +
    'depth starting point start tips sampling retrieved context source query queries expressions code python calculator search local ' +
    'default minimum maximum properties property schema function functions user assistant system message messages model'
  ).split(/\s+/),
);

export interface Token {
  word: string;
  /** Capitalised and not at a sentence start (likely a proper noun), or a long content word. */
  preferred: boolean;
  index: number;
}

const TOKEN_RE = /[\p{L}\p{N}][\p{L}\p{N}'’_-]*/gu;

/** Content words of a text (≥ 3 letters, no digits-only, stop words or `exclude`d words), in text order. */
export function tokenize(text: string, exclude: ReadonlySet<string>): Token[] {
  const out: Token[] = [];
  let m: RegExpExecArray | null;
  TOKEN_RE.lastIndex = 0;
  let i = 0;
  while ((m = TOKEN_RE.exec(text))) {
    let word = m[0].replace(/['’]s$/u, '').replace(/[-_'’]+$/u, '');
    if (/^\d+$/.test(word) || word.length < 3) continue;
    const lower = word.toLowerCase();
    if (STOP_WORDS.has(lower) || exclude.has(lower) || /_/.test(word)) continue;
    const before = text.slice(Math.max(0, m.index - 4), m.index).replace(/[ \t]+$/u, '');
    const sentenceStart = before === '' || /[.!?:;\n>#*"(\[{-]$|\d[.)]$/u.test(before);
    const capital = /^\p{Lu}/u.test(word) && !/^\p{Lu}+$/u.test(word);
    word = word.normalize('NFC');
    out.push({ word, preferred: (capital && !sentenceStart) || word.length >= 8, index: i++ });
  }
  return out;
}

/** Lower-cased words of ≥ 3 letters or digits. */
export function wordsOf(text: string): Set<string> {
  return new Set((text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => w.length >= 3));
}

/** Words of a conversation, with phrase helpers driven by a PRNG. */
export class WordPool {
  readonly tokens: Token[];
  private readonly preferred: Token[];
  constructor(text: string, exclude: ReadonlySet<string>, private readonly prng: Prng) {
    this.tokens = tokenize(text, exclude);
    const pref = this.tokens.filter((t) => t.preferred);
    this.preferred = pref.length >= 2 ? pref : this.tokens;
  }
  get empty(): boolean {
    return this.tokens.length === 0;
  }
  /** A phrase of up to `n` words: an anchor word plus the words that follow it in the text. */
  phrase(n: number): string {
    if (this.empty) return ['general', 'topic', 'overview', 'details'].slice(0, Math.max(1, n)).join(' ');
    const anchor = this.prng.pick(this.preferred);
    const words = [anchor.word];
    for (let j = anchor.index + 1; j < this.tokens.length && words.length < n; j++) {
      const w = this.tokens[j]!.word;
      if (!words.some((x) => x.toLowerCase() === w.toLowerCase())) words.push(w);
    }
    while (words.length < n && words.length < this.tokens.length) {
      const w = this.prng.pick(this.tokens).word;
      if (!words.some((x) => x.toLowerCase() === w.toLowerCase())) words.push(w);
      else break;
    }
    return words.join(' ');
  }
}
