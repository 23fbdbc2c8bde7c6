/**
 * An offline, deterministic OpenAI-compatible chat server for tests and the demo.
 *
 * Served with node:http only:
 * - `POST /v1/chat/completions` (non-streaming), `GET /v1/models`;
 * - `POST /v1/embeddings`: deterministic feature-hashed vectors (word unigrams + character trigrams, 256 dims,
 *   L2-normalised; `encoding_format` float or base64), so texts sharing words and word pieces score higher;
 * - control endpoints for out-of-process use: `POST /_sim/script` (JSON rules), `POST /_sim/reset`,
 *   `GET /_sim/requests` (see {@link connectSimulator}).
 *
 * Answers depend on the request body only (a sha256 of messages + tools + temperature + seed drives every choice),
 * so the same request always gets the same answer and sibling branches with different `seed`s differ:
 * - request with `tools` → exactly one tool call, arguments generated from the tool's JSON Schema;
 * - a user message with a `<tools>` line, a JSON array of `{name, description, parameters}` and a `</tools>` line
 *   (JSON action mode) → content `{"intent", "action": {"tool_name", "parameters"}}`;
 * - `response_format` `json_schema` / `json_object` without `<tools>` → a QA object
 *   `{"question", "answer", "reasoning_steps"}` built from the observations in the prompt;
 * - anything else → plain text.
 *
 * Faults (`script(rules)`) inject HTTP errors, delays and malformed answers; an optional server-side rate limit
 * (`rateLimit: {requestsPerMinute}`) answers requests over a sliding-window quota with 429 + `retry-after-ms`;
 * every request is logged with a
 * fingerprint (sha256 of the canonical body) so tests can detect an LLM call that was paid twice.
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import { listen } from '../server/listen';

// ---------------------------------------------------------------------------------------------------- types

export type SimRequestKind = 'action' | 'qa' | 'text' | 'embedding' | 'invalid';
export type MalformedKind = 'invalid_json' | 'unknown_tool' | 'missing_argument' | 'empty';

export interface FaultRule {
  match?: {
    /**
     * `action` = request with `tools` or a `<tools>` block; `qa` = QA request (json format, no tools);
     * `embedding` = `POST /v1/embeddings` (matched by `contains` against the joined inputs).
     */
    kind?: 'action' | 'qa' | 'embedding' | 'any';
    /** Substring of the concatenated message contents. */
    contains?: string;
    model?: string;
  };
  /** How many matching requests the rule fires for (default unlimited). */
  times?: number;
  /** Probability of firing per matching request, decided by a PRNG seeded by the simulator seed and request number. */
  probability?: number;
  /** Skip the first N matching requests. */
  after?: number;
  respond: {
    /** HTTP status; non-2xx answers carry an OpenAI-shaped error body unless `body` is given. */
    status?: number;
    headers?: Record<string, string>;
    /** Raw response body (JSON-encoded unless a string). */
    body?: unknown;
    /** Extra delay before answering (added to the simulator latency). */
    delayMs?: number;
    /** A 200 answer that is broken in this way. */
    malformed?: MalformedKind;
  };
}

export interface RequestLogEntry {
  /** 1-based request number (since start or the last `resetLog`). */
  n: number;
  kind: SimRequestKind;
  model: string | null;
  temperature: number | null;
  seed: number | null;
  /** HTTP status answered. */
  status: number;
  /** sha256 (hex) of the canonical request body: the same LLM call made twice has the same fingerprint. */
  fingerprint: string;
  /** Which fault fired, e.g. `status:429`, `malformed:invalid_json`, `delay:500`; `rate_limit` = over `rateLimit`. */
  fault?: string;
  /** Milliseconds since the simulator started. */
  at_ms: number;
  /** Embedding requests: how many inputs were embedded. */
  inputs?: number;
}

export interface SimulatorOptions {
  /** Port to bind; 0 (default) picks a free one. */
  port?: number;
  host?: '127.0.0.1';
  /** Added to every answer (production-like latency). */
  latencyMs?: number;
  /** Seeds the PRNG used for `probability` faults. */
  seed?: number;
  /**
   * Server-side rate limit, like a provider's requests-per-minute quota: at most `requestsPerMinute` × `windowMs`
   * / 60 000 requests (chat completions and embeddings that pass validation) are admitted in any sliding window
   * of `windowMs` (default 60 000). Requests over the limit are answered at once (no latency) with HTTP 429, an
   * OpenAI-shaped `rate_limit_exceeded` error, `retry-after-ms` = milliseconds until the oldest admitted request
   * leaves the window (a slot frees), `retry-after` (seconds, rounded up) and `x-ratelimit-*` headers; they are
   * logged with `fault: 'rate_limit'` and do not consume fault rules.
   */
  rateLimit?: { requestsPerMinute: number; windowMs?: number };
}

export interface Simulator {
  /** Base URL for an OpenAI client, ending in `/v1`. */
  url: string;
  /** Root URL of the server (control endpoints live under `/_sim/`). */
  rootUrl: string;
  port: number;
  close(): Promise<void>;
  /** Replaces the fault script (rule counters restart). */
  script(rules: FaultRule[]): void;
  clearScript(): void;
  requests(): RequestLogEntry[];
  resetLog(): void;
}

// ---------------------------------------------------------------------------------------------------- helpers

/** JSON with object keys sorted, so equal values always serialise identically. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? 'null';
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value as Record<string, unknown>).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Small deterministic PRNG (mulberry32) seeded from a hex digest. */
class Prng {
  private state: number;
  constructor(hex: string) {
    this.state = parseInt(hex.slice(0, 8), 16) >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : ''))
      .join('\n');
  }
  return '';
}

const STOP_WORDS = new Set(
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

interface Token {
  word: string;
  /** Capitalised and not at a sentence start (likely a proper noun), or a long content word. */
  preferred: boolean;
  index: number;
}

const TOKEN_RE = /[\p{L}\p{N}][\p{L}\p{N}'’_-]*/gu;

function tokenize(text: string, exclude: ReadonlySet<string>): Token[] {
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

function wordsOf(text: string): Set<string> {
  return new Set((text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => w.length >= 3));
}

/** Words of a conversation, with phrase helpers driven by a PRNG. */
class WordPool {
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

// ---------------------------------------------------------------------------------------------------- tools

interface ToolSpec {
  name: string;
  description: string;
  parameters: JsonSchema;
}

type JsonSchema = Record<string, unknown>;

function toolsFromBody(body: Record<string, unknown>): ToolSpec[] | null {
  if (!Array.isArray(body.tools) || body.tools.length === 0) return null;
  const out: ToolSpec[] = [];
  for (const t of body.tools as unknown[]) {
    const fn = (t as { function?: Record<string, unknown> } | null)?.function;
    if (!fn || typeof fn.name !== 'string') continue;
    out.push({
      name: fn.name,
      description: typeof fn.description === 'string' ? fn.description : '',
      parameters: (fn.parameters && typeof fn.parameters === 'object' ? fn.parameters : {}) as JsonSchema,
    });
  }
  return out.length ? out : null;
}

const TOOLS_BLOCK_RE = /(?:^|\n)[ \t]*<tools>[ \t]*\r?\n([\s\S]*?)\r?\n[ \t]*<\/tools>[ \t]*(?=\r?\n|$)/;

/** Parses a `<tools>` / JSON array / `</tools>` block (JSON action mode). */
function toolsFromText(text: string): ToolSpec[] | null {
  const m = TOOLS_BLOCK_RE.exec(text);
  if (!m) return null;
  let arr: unknown;
  try {
    arr = JSON.parse(m[1]!.trim());
  } catch {
    return null;
  }
  if (!Array.isArray(arr)) return null;
  const out: ToolSpec[] = [];
  for (const t of arr) {
    if (!t || typeof t !== 'object' || typeof (t as { name?: unknown }).name !== 'string') continue;
    const o = t as Record<string, unknown>;
    out.push({
      name: o.name as string,
      description: typeof o.description === 'string' ? o.description : '',
      parameters: (o.parameters && typeof o.parameters === 'object' ? o.parameters : {}) as JsonSchema,
    });
  }
  return out.length ? out : null;
}

function stripToolsBlock(text: string): string {
  return text.replace(TOOLS_BLOCK_RE, '\n');
}

function schemaWords(tools: ToolSpec[]): Set<string> {
  return wordsOf(tools.map((t) => `${t.name} ${t.description} ${JSON.stringify(t.parameters)}`).join(' '));
}

/** First non-null alternative of anyOf/oneOf, first non-null type of a type list. */
function normaliseSchema(s: unknown): JsonSchema {
  let schema = (s && typeof s === 'object' ? s : {}) as JsonSchema;
  for (let i = 0; i < 5; i++) {
    const alts = (schema.anyOf ?? schema.oneOf ?? schema.allOf) as unknown[] | undefined;
    if (!Array.isArray(alts) || alts.length === 0) break;
    const pick = alts.find((a) => (a as JsonSchema | null)?.type !== 'null') ?? alts[0];
    const rest = { ...schema };
    delete rest.anyOf;
    delete rest.oneOf;
    delete rest.allOf;
    schema = { ...rest, ...(pick as JsonSchema) };
  }
  if (Array.isArray(schema.type)) {
    schema = { ...schema, type: (schema.type as unknown[]).find((t) => t !== 'null') ?? 'string' };
  }
  return schema;
}

interface GenContext {
  prng: Prng;
  pool: WordPool;
  calculatorLike: boolean;
  numbers: number[];
  /** http(s) URLs in the conversation (search results), for `url`/`urls` arguments. */
  urls: string[];
}

/** http(s) URLs in a text, in order of appearance, without duplicates or trailing punctuation. */
function urlsIn(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/https?:\/\/[^\s<>"'`)\]]+/g)) {
    const url = m[0].replace(/[.,;:!?]+$/, '');
    if (!out.includes(url)) out.push(url);
  }
  return out;
}

/** True when a tool needs URLs (a required `url`/`urls` argument). */
function needsUrls(tool: ToolSpec): boolean {
  const schema = normaliseSchema(tool.parameters);
  const required = Array.isArray(schema.required) ? (schema.required as unknown[]) : [];
  return required.some((r) => typeof r === 'string' && r.toLowerCase().startsWith('url'));
}

function smallNumber(ctx: GenContext, lo: number, hi: number): number {
  return ctx.prng.int(lo, hi);
}

function arithmeticExpression(ctx: GenContext): string {
  const p = ctx.prng;
  const fromText = ctx.numbers.length ? p.pick(ctx.numbers) : p.int(12, 99);
  const a = fromText;
  const b = p.int(2, 49);
  const c = p.int(2, 9);
  const templates = [
    `${a} * ${b}`,
    `sqrt(${c * c * 16}) + ${b}`,
    `(${a} + ${b}) / ${c}`,
    `${a} - ${b} * ${c}`,
    `${c}^3 + ${b}`,
    `round(${a} / ${c}, 2)`,
  ];
  return p.pick(templates);
}

function pythonSnippet(ctx: GenContext): string {
  const p = ctx.prng;
  const n = ctx.numbers.length ? Math.min(Math.abs(Math.trunc(p.pick(ctx.numbers))), 10_000) || 10 : p.int(10, 200);
  const templates = [
    `print(sum(range(${n})))`,
    `print(2 ** ${p.int(5, 40)})`,
    `import math\nprint(math.factorial(${p.int(3, 20)}))`,
    `values = [i * i for i in range(${p.int(3, 30)})]\nprint(sum(values))`,
    `print(${n} * ${p.int(2, 99)} % 97)`,
  ];
  return p.pick(templates);
}

function genValue(schemaIn: unknown, name: string, ctx: GenContext, depth: number): unknown {
  const schema = normaliseSchema(schemaIn);
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  if ('const' in schema) return schema.const;
  const lname = name.toLowerCase();
  const type = typeof schema.type === 'string' ? schema.type : schema.properties ? 'object' : schema.items ? 'array' : 'string';

  if (type === 'array') {
    const items = schema.items ?? { type: 'string' };
    const min = typeof schema.minItems === 'number' ? schema.minItems : 1;
    const max = typeof schema.maxItems === 'number' ? schema.maxItems : 3;
    const count = Math.max(min, Math.min(max, ctx.prng.int(1, 3)));
    const singular = lname.endsWith('s') ? lname.slice(0, -1) : lname;
    const out: unknown[] = [];
    for (let i = 0; i < count; i++) out.push(genValue(items, singular, ctx, depth + 1));
    return out;
  }
  if (type === 'object') {
    if (depth > 4) return {};
    return genObject(schema, ctx, depth + 1, new Set()).args;
  }
  if (type === 'integer' || type === 'number') {
    let lo = typeof schema.minimum === 'number' ? schema.minimum : typeof schema.exclusiveMinimum === 'number' ? schema.exclusiveMinimum + 1 : 1;
    let hi = typeof schema.maximum === 'number' ? schema.maximum : typeof schema.exclusiveMaximum === 'number' ? schema.exclusiveMaximum - 1 : lo + 4;
    lo = Math.ceil(lo);
    hi = Math.floor(Math.min(hi, lo + 4));
    if (hi < lo) hi = lo;
    return smallNumber(ctx, lo, hi);
  }
  if (type === 'boolean') return ctx.prng.chance(0.5);

  // strings
  let value: string;
  if (lname === 'intent') value = `Find out more about ${ctx.pool.phrase(ctx.prng.int(1, 3))}`;
  else if (lname.startsWith('expression') || (ctx.calculatorLike && /expr|formula|input/.test(lname))) value = arithmeticExpression(ctx);
  else if (lname === 'code' || lname === 'source' || lname === 'script') value = pythonSnippet(ctx);
  else if (lname.startsWith('quer')) value = ctx.pool.phrase(ctx.prng.int(2, 4));
  else if (lname.startsWith('url')) {
    value = ctx.urls.length
      ? ctx.prng.pick(ctx.urls)
      : `http://local.test/${encodeURIComponent(ctx.pool.phrase(1).replace(/\s+/g, '_'))}`;
  }
  else value = ctx.pool.phrase(ctx.prng.int(1, 3));
  if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) value = value.slice(0, schema.maxLength);
  if (typeof schema.minLength === 'number' && value.length < schema.minLength) value = value.padEnd(schema.minLength, ' x');
  return value;
}

function genObject(schema: JsonSchema, ctx: GenContext, depth: number, omit: ReadonlySet<string>): { args: Record<string, unknown>; required: string[] } {
  const props = (schema.properties && typeof schema.properties === 'object' ? schema.properties : {}) as Record<string, unknown>;
  const required = Array.isArray(schema.required) ? (schema.required as unknown[]).filter((r): r is string => typeof r === 'string') : [];
  const args: Record<string, unknown> = {};
  for (const [key, propSchema] of Object.entries(props)) {
    if (omit.has(key)) continue;
    const isRequired = required.includes(key);
    // Optional arguments are filled about half the time (deterministically).
    if (!isRequired && !ctx.prng.chance(0.5)) continue;
    args[key] = genValue(propSchema, key, ctx, depth);
  }
  return { args, required };
}

function numbersIn(text: string): number[] {
  const nums = (text.match(/(?<![\w.])\d{1,6}(?:\.\d+)?(?![\w.])/g) ?? []).map(Number).filter((n) => Number.isFinite(n) && n > 1);
  return [...new Set(nums)].slice(0, 50);
}

interface ActionChoice {
  intent: string;
  tool: ToolSpec;
  args: Record<string, unknown>;
  required: string[];
}

function chooseAction(tools: ToolSpec[], conversation: string, prng: Prng, forced?: string): ActionChoice {
  const urls = urlsIn(conversation);
  // A tool that reads URLs is only useful once the conversation has some (e.g. search results).
  const usable = urls.length ? tools : tools.filter((t) => !needsUrls(t));
  const tool = (forced && tools.find((t) => t.name === forced)) || prng.pick(usable.length ? usable : tools);
  const exclude = schemaWords(tools);
  const pool = new WordPool(conversation, exclude, prng);
  const calculatorLike = /calc|math|arith/i.test(`${tool.name} ${tool.description}`);
  const ctx: GenContext = { prng, pool, calculatorLike, numbers: numbersIn(conversation), urls };
  const { args, required } = genObject(normaliseSchema(tool.parameters), ctx, 0, new Set());
  const intent =
    typeof args.intent === 'string' ? args.intent : `Find out more about ${pool.phrase(prng.int(1, 3))} using ${tool.name}`;
  return { intent, tool, args, required };
}

function breakArguments(choice: ActionChoice): Record<string, unknown> {
  const args = { ...choice.args };
  // Prefer a real tool argument over the `intent` the activity adds, so the omission breaks the call itself.
  const victim = choice.required.find((r) => r in args && r !== 'intent') ?? choice.required.find((r) => r in args) ?? Object.keys(args)[0];
  if (victim !== undefined) delete args[victim];
  return args;
}

// ---------------------------------------------------------------------------------------------------- QA

interface ParsedStep {
  intent?: string;
  tool?: string;
  parameters?: unknown;
  observation?: string;
}

const LABEL_RE = /^\s*(?:[-*]\s*)?(?:(?:step|hop)\s*\d+\s*[:.)-]?\s*)?([A-Za-z][A-Za-z _]{1,30}?)\s*(?:\([^)]*\))?\s*[:：]\s*(.*)$/;

/** Lines that end a multi-line observation: a step header, another step label, or a prompt section header. */
const OBSERVATION_END_RE =
  /^\s*(?:(?:step|hop)\s*\d+\s*[:.)]|(?:[-*]\s*)?(?:intent|thought|tool|tool name|tool_name|action|parameters|params|arguments|observation)\s*[:：]|(?:synthesis tips|examples?|requirements|reply with|your previous answer|seed|exploration)\b|[A-Z][A-Za-z ]{2,40}:\s*$)/i;

/** Tolerant parse of "Intent: … / Tool: … / Parameters: … / Observation: …" lines. */
function parseSteps(text: string): ParsedStep[] {
  const steps: ParsedStep[] = [];
  let cur: ParsedStep | null = null;
  let obsLines: string[] | null = null;
  const flushObs = () => {
    if (cur && obsLines) cur.observation = obsLines.join('\n').trim();
    obsLines = null;
  };
  for (const line of text.split(/\r?\n/)) {
    const m = LABEL_RE.exec(line);
    const label = m ? m[1]!.trim().toLowerCase() : null;
    if (label && /^(intent|thought)$/.test(label)) {
      flushObs();
      cur = { intent: m![2]!.trim() };
      steps.push(cur);
    } else if (label && /^(tool|tool name|tool_name|action)$/.test(label)) {
      flushObs();
      if (!cur || cur.tool !== undefined || cur.observation !== undefined) {
        cur = {};
        steps.push(cur);
      }
      cur.tool = m![2]!.trim();
    } else if (label && /^(parameters|params|arguments)$/.test(label)) {
      flushObs();
      if (!cur) {
        cur = {};
        steps.push(cur);
      }
      try {
        cur.parameters = JSON.parse(m![2]!.trim());
      } catch {
        cur.parameters = m![2]!.trim();
      }
    } else if (label && /^(observation|result|output)$/.test(label)) {
      flushObs();
      if (!cur || cur.observation !== undefined) {
        cur = {};
        steps.push(cur);
      }
      obsLines = [m![2]!];
    } else if (obsLines) {
      if (OBSERVATION_END_RE.test(line)) flushObs();
      else obsLines.push(line);
    }
  }
  flushObs();
  return steps.filter((s) => s.observation !== undefined || s.tool !== undefined);
}

interface QaBuild {
  question: string;
  answer: string;
  reasoning_steps: Array<Record<string, unknown>>;
}

/** Candidate answers: capitalised runs of 1–3 words and 4-digit years from the given text, in text order. */
function answerCandidates(text: string): string[] {
  const out: string[] = [];
  const runRe = /(?<![\p{L}\p{N}])(\p{Lu}[\p{L}'’-]+(?:\s+(?:of\s+|de\s+|du\s+|von\s+)?\p{Lu}[\p{L}'’-]+){0,2})/gu;
  let m: RegExpExecArray | null;
  while ((m = runRe.exec(text))) {
    const phrase = m[1]!.replace(/['’]s$/u, '');
    const first = phrase.split(/\s+/)[0]!.toLowerCase();
    if (phrase.length < 3 || STOP_WORDS.has(first) || STOP_WORDS.has(phrase.toLowerCase())) continue;
    const before = text.slice(Math.max(0, m.index - 3), m.index).replace(/[ \t]+$/u, '');
    const sentenceStart = before === '' || /[.!?:\n]$/u.test(before);
    if (sentenceStart && !/\s/.test(phrase)) continue;
    out.push(phrase);
  }
  for (const y of text.match(/(?<![\d.])(1[0-9]{3}|20[0-9]{2})(?![\d.])/g) ?? []) out.push(y);
  // Computed results: `<expr> = <number>` lines (calculator) and lines holding only a number (printed output).
  for (const r of text.matchAll(/(?:=\s*|^\s*)(-?\d+(?:\.\d+)?)\s*$/gm)) out.push(r[1]!);
  return [...new Set(out)];
}

function normaliseForCheck(s: string): string {
  return s.toLowerCase().replace(/\s+/g, ' ').trim();
}

function buildQa(conversation: string, prng: Prng, actionAsString: boolean): QaBuild {
  const steps = parseSteps(conversation);
  const observations = steps.map((s) => s.observation ?? '').filter((o) => o.trim());
  const corpus = observations.length ? observations : [conversation];
  const later = corpus.slice(Math.floor(corpus.length / 2)).join('\n');
  const earlier = corpus.slice(0, Math.max(1, Math.floor(corpus.length / 2))).join('\n');

  let candidates = answerCandidates(later);
  if (candidates.length === 0) candidates = answerCandidates(corpus.join('\n'));
  if (candidates.length === 0) {
    candidates = tokenize(later, new Set()).filter((t) => t.word.length >= 5).map((t) => t.word);
  }
  // Deterministic shuffle (Fisher–Yates) so different prompts pick different answers.
  for (let i = candidates.length - 1; i > 0; i--) {
    const j = prng.int(0, i);
    [candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!];
  }
  candidates.push('unknown');

  for (const answer of candidates) {
    const answerWords = wordsOf(answer);
    const allClues = tokenize(`${earlier}\n${later}`, answerWords);
    const clueTokens = [...allClues.filter((t) => t.preferred), ...allClues.filter((t) => !t.preferred)];
    const clues: string[] = [];
    for (const t of clueTokens) {
      if (clues.length >= 3) break;
      if (!clues.some((c) => c.toLowerCase() === t.word.toLowerCase()) && !normaliseForCheck(answer).includes(t.word.toLowerCase())) {
        clues.push(t.word);
      }
    }
    while (clues.length < 3) clues.push(['the earlier clue', 'a related record', 'the first lead'][clues.length]!);
    const noun = /^(1[5-9]\d\d|20\d\d)$/.test(answer) ? 'year' : /^-?[\d.]+$/.test(answer) ? 'number' : /\s/.test(answer) ? 'name' : 'entity';
    const question = prng.chance(0.5)
      ? `Which ${noun} is linked to ${clues[0]} through ${clues[1]}, and appears in the record that also mentions ${clues[2]}?`
      : `What ${noun} connects ${clues[0]} and ${clues[1]} when the chain of facts about ${clues[2]} is followed to its end?`;
    if (normaliseForCheck(question).includes(normaliseForCheck(answer))) continue;
    if (question.split(/\s+/).length > 60) continue;
    const reasoning_steps = (steps.length ? steps : [{ observation: corpus.join('\n') }]).map((s, i) => ({
      step: i + 1,
      description: s.tool ? `Used ${s.tool} to gather evidence` : 'Read the available evidence',
      intent: s.intent ?? 'Collect evidence',
      action: actionAsString
        ? `${s.tool ?? 'none'} ${typeof s.parameters === 'string' ? s.parameters : JSON.stringify(s.parameters ?? {})}`
        : { tool_name: s.tool ?? 'none', parameters: s.parameters ?? {} },
      observation: (s.observation ?? '').slice(0, 200),
    }));
    return { question, answer, reasoning_steps };
  }
  // Unreachable in practice: 'unknown' always passes the checks above.
  return { question: 'What is the answer?', answer: 'unknown', reasoning_steps: [] };
}

// ---------------------------------------------------------------------------------------------------- requests

interface Analysed {
  body: Record<string, unknown>;
  kind: Exclude<SimRequestKind, 'invalid'>;
  model: string;
  nativeTools: ToolSpec[] | null;
  jsonTools: ToolSpec[] | null;
  allText: string;
  lastUser: string;
  fingerprint: string;
  prng: Prng;
}

function analyse(body: Record<string, unknown>): Analysed {
  const messages = body.messages as Array<Record<string, unknown>>;
  const texts = messages.map((m) => contentText(m?.content));
  const allText = texts.join('\n');
  const userTexts = messages.filter((m) => m?.role === 'user').map((m) => contentText(m.content));
  const lastUser = userTexts.length ? userTexts[userTexts.length - 1]! : texts[texts.length - 1] ?? '';
  const toolChoice = body.tool_choice;
  const nativeTools = toolChoice === 'none' ? null : toolsFromBody(body);
  let jsonTools: ToolSpec[] | null = null;
  if (!nativeTools) {
    for (let i = userTexts.length - 1; i >= 0 && !jsonTools; i--) jsonTools = toolsFromText(userTexts[i]!);
  }
  const rf = body.response_format as { type?: unknown } | undefined;
  const jsonFormat = rf?.type === 'json_schema' || rf?.type === 'json_object';
  const kind = nativeTools || jsonTools ? 'action' : jsonFormat ? 'qa' : 'text';
  const driver = sha256(
    canonicalJson({ messages: body.messages, tools: body.tools ?? null, temperature: body.temperature ?? null, seed: body.seed ?? null }),
  );
  return {
    body,
    kind,
    model: typeof body.model === 'string' ? body.model : 'simulator',
    nativeTools,
    jsonTools,
    allText,
    lastUser,
    fingerprint: sha256(canonicalJson(body)),
    prng: new Prng(driver),
  };
}

function tokens(chars: number): number {
  return Math.max(1, Math.ceil(chars / 4));
}

function completion(a: Analysed, message: Record<string, unknown>, finishReason: string, outChars: number): Record<string, unknown> {
  const promptChars = a.allText.length + (a.body.tools ? JSON.stringify(a.body.tools).length : 0);
  const prompt_tokens = tokens(promptChars);
  const completion_tokens = tokens(outChars);
  return {
    id: `chatcmpl-sim-${a.fingerprint.slice(0, 24)}`,
    object: 'chat.completion',
    created: 0,
    model: a.model,
    system_fingerprint: 'qasynth-simulator',
    choices: [{ index: 0, message: { role: 'assistant', refusal: null, ...message }, finish_reason: finishReason, logprobs: null }],
    usage: { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens },
  };
}

const UNKNOWN_TOOL_NAME = 'nonexistent_tool';

/**
 * The part of an action prompt worth drawing words from: the seed line and the current observation when the
 * prompt has such sections (src/domain/prompts.ts), else the whole text.
 */
function focusText(text: string): string {
  const obs = /(?:^|\n)current observation:[ \t]*\n([\s\S]*?)(?=\n\n[A-Z][A-Za-z ]{2,40}:\n|$)/i.exec(text);
  if (!obs || !obs[1]!.trim()) return text;
  const seed = /(?:^|\n)seed:[ \t]*([^\n]*)/i.exec(text);
  return `${seed ? `${seed[1]}\n` : ''}${obs[1]}`;
}

function answerAction(a: Analysed, malformed?: MalformedKind): Record<string, unknown> {
  const tools = (a.nativeTools ?? a.jsonTools)!;
  const tc = a.body.tool_choice as { function?: { name?: unknown } } | undefined;
  const forced = typeof tc?.function?.name === 'string' ? tc.function.name : undefined;
  const conversation = focusText(stripToolsBlock(a.lastUser || a.allText));
  const choice = chooseAction(tools, conversation, a.prng, forced);

  if (malformed === 'empty') return completion(a, { content: '' }, 'stop', 0);

  const toolName = malformed === 'unknown_tool' ? UNKNOWN_TOOL_NAME : choice.tool.name;
  const args = malformed === 'missing_argument' ? breakArguments(choice) : choice.args;

  if (a.nativeTools) {
    let argText = JSON.stringify(args);
    if (malformed === 'invalid_json') argText = argText.slice(0, Math.max(2, Math.floor(argText.length / 2))).replace(/\}$/, '') + ', "';
    const callId = `call_${a.fingerprint.slice(24, 48)}`;
    return completion(
      a,
      {
        content: null,
        tool_calls: [{ id: callId, type: 'function', function: { name: toolName, arguments: argText } }],
      },
      'tool_calls',
      argText.length + toolName.length,
    );
  }
  let content = JSON.stringify({ intent: choice.intent, action: { tool_name: toolName, parameters: args } });
  if (malformed === 'invalid_json') content = content.slice(0, Math.floor(content.length / 2));
  return completion(a, { content }, 'stop', content.length);
}

/** Follows a json_schema response format: `action` is a string there unless the schema says object. */
function qaActionIsString(body: Record<string, unknown>): boolean {
  const rf = body.response_format as { type?: unknown; json_schema?: { schema?: unknown } } | undefined;
  if (rf?.type !== 'json_schema') return false;
  const schema = rf.json_schema?.schema as JsonSchema | undefined;
  const props = (schema?.properties as JsonSchema | undefined)?.reasoning_steps as JsonSchema | undefined;
  const action = ((props?.items as JsonSchema | undefined)?.properties as JsonSchema | undefined)?.action as JsonSchema | undefined;
  return action?.type !== 'object';
}

function answerQa(a: Analysed, malformed?: MalformedKind): Record<string, unknown> {
  if (malformed === 'empty') return completion(a, { content: '' }, 'stop', 0);
  const qa = buildQa(a.allText, a.prng, qaActionIsString(a.body));
  const obj: Record<string, unknown> = { question: qa.question, answer: qa.answer, reasoning_steps: qa.reasoning_steps };
  if (malformed === 'missing_argument') delete obj.answer;
  let content = JSON.stringify(obj);
  if (malformed === 'invalid_json') content = content.slice(0, Math.floor(content.length / 2));
  return completion(a, { content }, 'stop', content.length);
}

/**
 * An extractive summary: when the prompt carries a document ("Page content:" as web_visit sends, or any long
 * text), the sentences that share the most words with the goal, in document order — real content, never
 * invented. Otherwise a short phrase built from the prompt.
 */
export function extractiveSummary(prompt: string, maxSentences = 4): string | null {
  const marker = /(?:^|\n)page content:\s*\n/i.exec(prompt);
  const doc = marker ? prompt.slice(marker.index + marker[0].length) : prompt.length > 400 ? prompt : '';
  if (!doc.trim()) return null;
  const goal = /(?:^|\n)goal:\s*([^\n]*)/i.exec(prompt)?.[1] ?? '';
  const goalWords = new Set([...wordsOf(goal)].filter((w) => w.length > 3));
  const sentences = doc
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // markdown links → their text
    .split(/(?<=[.!?])\s+|\n+/)
    .map((x) => x.replace(/^[#>*\-\s]+/, '').trim())
    .filter((x) => x.length >= 30 && /[a-z]/i.test(x));
  // A page of short lines only: quote its beginning rather than invent anything.
  if (!sentences.length) return marker ? doc.replace(/\s+/g, ' ').trim().slice(0, 400) : null;
  const scored = sentences.map((text, i) => {
    const words = wordsOf(text);
    let overlap = 0;
    for (const w of goalWords) if (words.has(w)) overlap++;
    return { text, i, score: overlap * 10 + (i === 0 ? 5 : 0) + Math.min(text.length, 200) / 100 };
  });
  const picked = [...scored].sort((x, y) => y.score - x.score || x.i - y.i).slice(0, maxSentences).sort((x, y) => x.i - y.i);
  return picked.map((x) => x.text).join(' ');
}

function answerText(a: Analysed, malformed?: MalformedKind): Record<string, unknown> {
  if (malformed === 'empty') return completion(a, { content: '' }, 'stop', 0);
  const summary = extractiveSummary(a.lastUser);
  const pool = new WordPool(a.lastUser, new Set(), a.prng);
  const content = summary ?? `Simulated answer about ${pool.phrase(a.prng.int(2, 4))}.`;
  return completion(a, { content }, 'stop', content.length);
}

// ---------------------------------------------------------------------------------------------------- faults

const MALFORMED: readonly MalformedKind[] = ['invalid_json', 'unknown_tool', 'missing_argument', 'empty'];

/** Checks a rule's shape; throws an Error listing the problems as `path: expected X, got Y`. */
export function validateFaultRules(rules: unknown): FaultRule[] {
  const problems: string[] = [];
  const got = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));
  if (!Array.isArray(rules)) throw new Error(`rules: expected an array of fault rules, got ${got(rules)}`);
  rules.forEach((r, i) => {
    const p = `rules[${i}]`;
    if (!r || typeof r !== 'object') return void problems.push(`${p}: expected an object, got ${got(r)}`);
    const rule = r as Record<string, unknown>;
    const respond = rule.respond as Record<string, unknown> | undefined;
    if (!respond || typeof respond !== 'object') problems.push(`${p}.respond: expected an object, got ${got(respond)}`);
    else {
      if (respond.status !== undefined && !(Number.isInteger(respond.status) && (respond.status as number) >= 100 && (respond.status as number) <= 599)) {
        problems.push(`${p}.respond.status: expected an HTTP status 100–599, got ${got(respond.status)}`);
      }
      if (respond.malformed !== undefined && !MALFORMED.includes(respond.malformed as MalformedKind)) {
        problems.push(`${p}.respond.malformed: expected one of ${MALFORMED.join(', ')}, got ${got(respond.malformed)}`);
      }
      if (respond.delayMs !== undefined && !(typeof respond.delayMs === 'number' && respond.delayMs >= 0)) {
        problems.push(`${p}.respond.delayMs: expected a number ≥ 0, got ${got(respond.delayMs)}`);
      }
      if (respond.headers !== undefined && (typeof respond.headers !== 'object' || respond.headers === null)) {
        problems.push(`${p}.respond.headers: expected an object of strings, got ${got(respond.headers)}`);
      }
    }
    for (const k of ['times', 'after'] as const) {
      if (rule[k] !== undefined && !(Number.isInteger(rule[k]) && (rule[k] as number) >= 0)) {
        problems.push(`${p}.${k}: expected an integer ≥ 0, got ${got(rule[k])}`);
      }
    }
    if (rule.probability !== undefined && !(typeof rule.probability === 'number' && rule.probability >= 0 && rule.probability <= 1)) {
      problems.push(`${p}.probability: expected a number in [0, 1], got ${got(rule.probability)}`);
    }
    const match = rule.match as Record<string, unknown> | undefined;
    if (match !== undefined) {
      if (typeof match !== 'object' || match === null) problems.push(`${p}.match: expected an object, got ${got(match)}`);
      else if (match.kind !== undefined && !['action', 'qa', 'embedding', 'any'].includes(match.kind as string)) {
        problems.push(`${p}.match.kind: expected action, qa, embedding or any, got ${got(match.kind)}`);
      }
    }
  });
  if (problems.length) throw new Error(`Invalid fault script:\n${problems.join('\n')}`);
  return rules as FaultRule[];
}

function errorTypeFor(status: number): { type: string; code: string | null } {
  if (status === 429) return { type: 'rate_limit_exceeded', code: 'rate_limit_exceeded' };
  if (status === 401) return { type: 'invalid_request_error', code: 'invalid_api_key' };
  if (status === 403) return { type: 'invalid_request_error', code: 'permission_denied' };
  if (status === 404) return { type: 'invalid_request_error', code: 'model_not_found' };
  if (status >= 500) return { type: 'server_error', code: null };
  return { type: 'invalid_request_error', code: null };
}

function errorBody(status: number, message: string): Record<string, unknown> {
  const { type, code } = errorTypeFor(status);
  return { error: { message, type, param: null, code } };
}

// ---------------------------------------------------------------------------------------------------- embeddings

/** Default dimensionality of simulator embeddings. */
export const EMBEDDING_DIMS = 256;

const EMBED_STOP = new Set(
  'a an and are as at be by for from has have in is it its of on or that the their this to was were which with what who whom how when where why did does do'.split(' '),
);

/** FNV-1a (32-bit) of a string. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Deterministic "semantic" vector: word unigrams (weight 1) and character trigrams of each word (weight 0.5),
 * feature-hashed with a sign bit into `dims` buckets, L2-normalised. Texts sharing words or word pieces
 * (Lovelace / Lovelace's, engine / engines) get a higher cosine similarity.
 */
export function embedText(text: string, dims = EMBEDDING_DIMS): Float32Array {
  const v = new Float32Array(dims);
  const add = (feature: string, weight: number) => {
    const h = fnv1a(feature);
    v[h % dims]! += (h & 0x80000000 ? -1 : 1) * weight;
  };
  const words = (text.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => !EMBED_STOP.has(w));
  for (const w of words) {
    add(`w:${w}`, 1);
    const padded = ` ${w} `;
    for (let i = 0; i + 3 <= padded.length; i++) add(`t:${padded.slice(i, i + 3)}`, 0.5);
  }
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  if (norm === 0) v[0] = 1;
  else for (let i = 0; i < dims; i++) v[i]! /= norm;
  return v;
}

// ---------------------------------------------------------------------------------------------------- server

const MAX_BODY_BYTES = 20 * 1024 * 1024;

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
  delayMs: number;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}, delayMs = 0): Reply {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body), delayMs };
}

function readBody(req: http.IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) tooBig = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(tooBig ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Starts the simulator on 127.0.0.1 (port 0 = any free port). */
export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const host = opts.host ?? '127.0.0.1';
  const latencyMs = Math.max(0, opts.latencyMs ?? 0);
  const simSeed = opts.seed ?? 0;
  const startedAt = Date.now();

  let rules: FaultRule[] = [];
  let ruleMatches: number[] = [];
  let ruleFired: number[] = [];
  let log: RequestLogEntry[] = [];
  let count = 0;

  const setScript = (r: FaultRule[]) => {
    rules = validateFaultRules(r).map((x) => ({ ...x }));
    ruleMatches = rules.map(() => 0);
    ruleFired = rules.map(() => 0);
  };

  // Sliding-window rate limit: admission times (ms, monotonic within this process) of the requests in the window.
  const rl = opts.rateLimit;
  if (rl && !(Number.isFinite(rl.requestsPerMinute) && rl.requestsPerMinute > 0)) {
    throw new Error(`rateLimit.requestsPerMinute: expected a number > 0, got ${String(rl.requestsPerMinute)}`);
  }
  if (rl?.windowMs !== undefined && !(Number.isFinite(rl.windowMs) && rl.windowMs > 0)) {
    throw new Error(`rateLimit.windowMs: expected a number > 0, got ${String(rl.windowMs)}`);
  }
  const rlWindowMs = rl?.windowMs ?? 60_000;
  const rlLimit = rl ? Math.max(1, Math.floor((rl.requestsPerMinute * rlWindowMs) / 60_000)) : 0;
  const admitted: number[] = [];
  let admittedHead = 0;
  /** Null when the request is admitted (and takes a slot), else the 429 reply. */
  const rateLimited = (): Reply | null => {
    if (!rl) return null;
    const now = performance.now();
    while (admittedHead < admitted.length && admitted[admittedHead]! <= now - rlWindowMs) admittedHead++;
    if (admittedHead > 4096) {
      admitted.splice(0, admittedHead);
      admittedHead = 0;
    }
    const inWindow = admitted.length - admittedHead;
    if (inWindow < rlLimit) {
      admitted.push(now);
      return null;
    }
    const waitMs = Math.max(1, Math.ceil(admitted[admittedHead]! + rlWindowMs - now));
    const body = {
      error: {
        message: `Rate limit reached: ${rlLimit} requests per ${rlWindowMs} ms (simulated ${rl.requestsPerMinute} requests/min). Please try again in ${waitMs}ms.`,
        type: 'requests',
        param: null,
        code: 'rate_limit_exceeded',
      },
    };
    return json(429, body, {
      'retry-after-ms': String(waitMs),
      'retry-after': String(Math.ceil(waitMs / 1000)),
      'x-ratelimit-limit-requests': String(rlLimit),
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': `${waitMs}ms`,
    });
  };

  const pickFault = (a: Pick<Analysed, 'model' | 'allText'> & { kind: SimRequestKind }, n: number): FaultRule | undefined => {
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      const m = rule.match ?? {};
      const kind = m.kind ?? 'any';
      if (kind !== 'any' && kind !== a.kind) continue;
      if (m.model !== undefined && m.model !== a.model) continue;
      if (m.contains !== undefined && !a.allText.includes(m.contains)) continue;
      const matchNo = ruleMatches[i]!++;
      if (rule.after !== undefined && matchNo < rule.after) continue;
      if (rule.times !== undefined && ruleFired[i]! >= rule.times) continue;
      if (rule.probability !== undefined && !new Prng(sha256(`${simSeed}:${n}:${i}`)).chance(rule.probability)) continue;
      ruleFired[i]!++;
      return rule;
    }
    return undefined;
  };


  /**
   * The part of a scripted answer that does not depend on the endpoint: the total delay, the fault labels
   * for the log (delay included), and — for an error status or a literal body — the whole reply.
   */
  const scriptedReply = (rule: FaultRule['respond'] | undefined) => {
    const respond = rule ?? {};
    const delay = latencyMs + (respond.delayMs ?? 0);
    const faults: string[] = respond.delayMs ? [`delay:${respond.delayMs}`] : [];
    let reply: Reply | null = null;
    if (respond.status !== undefined && (respond.status < 200 || respond.status >= 300)) {
      faults.unshift(`status:${respond.status}`);
      const errBody = respond.body !== undefined ? respond.body : errorBody(respond.status, `Simulated HTTP ${respond.status} from the qasynth simulator`);
      reply = json(respond.status, errBody, respond.headers ?? {}, delay);
    } else if (respond.body !== undefined) {
      faults.unshift('body');
      reply = json(respond.status ?? 200, respond.body, respond.headers ?? {}, delay);
    }
    return { respond, delay, faults, reply };
  };

  const handleChat = async (req: http.IncomingMessage): Promise<Reply> => {
    const raw = await readBody(req);
    const at_ms = Date.now() - startedAt;
    const logInvalid = (status: number, fingerprint: string) => {
      log.push({ n: ++count, kind: 'invalid', model: null, temperature: null, seed: null, status, fingerprint, at_ms });
    };
    if (raw === null) {
      logInvalid(413, '');
      return json(413, errorBody(413, `request body larger than ${MAX_BODY_BYTES} bytes`), {}, latencyMs);
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch (e) {
      logInvalid(400, sha256(raw));
      return json(400, errorBody(400, `request body is not valid JSON: ${(e as Error).message}`), {}, latencyMs);
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      logInvalid(400, sha256(raw));
      return json(400, errorBody(400, 'request body must be a JSON object'), {}, latencyMs);
    }
    const b = body as Record<string, unknown>;
    const problem =
      typeof b.model !== 'string' || !b.model ? "'model' is required (a non-empty string)"
        : !Array.isArray(b.messages) || b.messages.length === 0 ? "'messages' is required (a non-empty array)"
          : b.stream === true ? 'streaming not supported by the simulator'
            : null;
    if (problem) {
      log.push({
        n: ++count, kind: 'invalid', model: typeof b.model === 'string' ? b.model : null,
        temperature: typeof b.temperature === 'number' ? b.temperature : null, seed: typeof b.seed === 'number' ? b.seed : null,
        status: 400, fingerprint: sha256(canonicalJson(b)), at_ms,
      });
      return json(400, errorBody(400, problem), {}, latencyMs);
    }

    const a = analyse(b);
    const n = ++count;
    const limited = rateLimited();
    if (limited) {
      log.push({
        n, kind: a.kind, model: a.model,
        temperature: typeof b.temperature === 'number' ? b.temperature : null,
        seed: typeof b.seed === 'number' ? b.seed : null,
        status: 429, fingerprint: a.fingerprint, at_ms, fault: 'rate_limit',
      });
      return limited;
    }
    const { respond, delay, faults, reply: faulted } = scriptedReply(pickFault(a, n)?.respond);
    let reply: Reply;
    if (faulted) reply = faulted;
    else {
      const malformed = respond.malformed;
      if (malformed) faults.unshift(`malformed:${malformed}`);
      const out = a.kind === 'action' ? answerAction(a, malformed) : a.kind === 'qa' ? answerQa(a, malformed) : answerText(a, malformed);
      reply = json(respond.status ?? 200, out, respond.headers ?? {}, delay);
    }
    const entry: RequestLogEntry = {
      n, kind: a.kind, model: a.model,
      temperature: typeof b.temperature === 'number' ? b.temperature : null,
      seed: typeof b.seed === 'number' ? b.seed : null,
      status: reply.status, fingerprint: a.fingerprint, at_ms,
    };
    if (faults.length) entry.fault = faults.join(',');
    log.push(entry);
    return reply;
  };

  const handleEmbeddings = async (req: http.IncomingMessage): Promise<Reply> => {
    const raw = await readBody(req);
    const at_ms = Date.now() - startedAt;
    const reject = (status: number, message: string, fingerprint: string, model: string | null = null): Reply => {
      log.push({ n: ++count, kind: 'invalid', model, temperature: null, seed: null, status, fingerprint, at_ms });
      return json(status, errorBody(status, message), {}, latencyMs);
    };
    if (raw === null) return reject(413, `request body larger than ${MAX_BODY_BYTES} bytes`, '');
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch (e) {
      return reject(400, `request body is not valid JSON: ${(e as Error).message}`, sha256(raw));
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) return reject(400, 'request body must be a JSON object', sha256(raw));
    const b = body as Record<string, unknown>;
    const fingerprint = sha256(canonicalJson(b));
    const model = typeof b.model === 'string' && b.model ? b.model : null;
    const inputs = typeof b.input === 'string' ? [b.input] : b.input;
    const dims = b.dimensions === undefined ? EMBEDDING_DIMS : b.dimensions;
    const problem =
      !model ? "'model' is required (a non-empty string)"
        : !Array.isArray(inputs) || inputs.length === 0 || inputs.length > 2048 ? "'input' must be a string or an array of 1–2048 strings"
          : !inputs.every((x) => typeof x === 'string' && x.length > 0) ? "'input' items must be non-empty strings (token arrays are not supported by the simulator)"
            : b.encoding_format !== undefined && b.encoding_format !== 'float' && b.encoding_format !== 'base64' ? "'encoding_format' must be float or base64"
              : !(Number.isInteger(dims) && (dims as number) >= 1 && (dims as number) <= 4096) ? "'dimensions' must be an integer 1–4096"
                : null;
    if (problem) return reject(400, problem, fingerprint, model);

    const texts = inputs as string[];
    const n = ++count;
    const limited = rateLimited();
    if (limited) {
      log.push({ n, kind: 'embedding', model, temperature: null, seed: null, status: 429, fingerprint, at_ms, inputs: texts.length, fault: 'rate_limit' });
      return limited;
    }
    const rule = pickFault({ kind: 'embedding', model: model!, allText: texts.join('\n') }, n);
    const { respond, delay, faults, reply: faulted } = scriptedReply(rule?.respond);
    let reply: Reply;
    if (faulted) reply = faulted;
    else {
      const base64 = b.encoding_format === 'base64';
      const data = respond.malformed ? [] : texts.map((t, index) => {
        const v = embedText(t, dims as number);
        return { object: 'embedding', index, embedding: base64 ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : Array.from(v) };
      });
      if (respond.malformed) faults.unshift(`malformed:${respond.malformed}`);
      const promptTokens = tokens(texts.reduce((sum, t) => sum + t.length, 0));
      const out = { object: 'list', data, model, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } };
      reply = json(respond.status ?? 200, respond.malformed === 'invalid_json' ? JSON.stringify(out).slice(0, 40) : out, respond.headers ?? {}, delay);
    }
    const entry: RequestLogEntry = { n, kind: 'embedding', model, temperature: null, seed: null, status: reply.status, fingerprint, at_ms, inputs: texts.length };
    if (faults.length) entry.fault = faults.join(',');
    log.push(entry);
    return reply;
  };

  const handleControl = async (req: http.IncomingMessage, path: string): Promise<Reply> => {
    if (path === '/_sim/requests' && req.method === 'GET') return json(200, log);
    if (path === '/_sim/script' && req.method === 'POST') {
      const raw = (await readBody(req)) ?? '';
      try {
        const parsed = JSON.parse(raw) as unknown;
        const list = Array.isArray(parsed) ? parsed : (parsed as { rules?: unknown } | null)?.rules;
        setScript(list as FaultRule[]);
        return json(200, { ok: true, rules: rules.length });
      } catch (e) {
        return json(400, errorBody(400, (e as Error).message));
      }
    }
    if (path === '/_sim/reset' && req.method === 'POST') {
      await readBody(req);
      setScript([]);
      log = [];
      count = 0;
      return json(200, { ok: true });
    }
    return json(404, errorBody(404, `unknown control endpoint ${req.method} ${path}`));
  };

  const models = () => ({
    object: 'list',
    data: ['sim-model', ...new Set(log.map((e) => e.model).filter((m): m is string => !!m && m !== 'sim-model'))].map((id) => ({
      id, object: 'model', created: 0, owned_by: 'qasynth-simulator',
    })),
  });

  const route = async (req: http.IncomingMessage): Promise<Reply> => {
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
    if (path === '/v1/chat/completions') {
      if (req.method !== 'POST') return json(405, errorBody(405, 'use POST'), { allow: 'POST' });
      return handleChat(req);
    }
    if (path === '/v1/embeddings') {
      if (req.method !== 'POST') return json(405, errorBody(405, 'use POST'), { allow: 'POST' });
      return handleEmbeddings(req);
    }
    if (path === '/v1/models' && req.method === 'GET') return json(200, models());
    if (path.startsWith('/_sim/')) return handleControl(req, path);
    await readBody(req);
    return json(404, errorBody(404, `the simulator does not serve ${req.method} ${path}`));
  };

  const server = http.createServer((req, res) => {
    route(req).then(
      (reply) => {
        const send = () => {
          if (res.destroyed || res.writableEnded) return;
          res.writeHead(reply.status, { ...reply.headers, 'content-length': Buffer.byteLength(reply.body) });
          res.end(reply.body);
        };
        if (reply.delayMs > 0) {
          const t = setTimeout(send, reply.delayMs);
          res.on('close', () => clearTimeout(t));
        } else send();
      },
      (err: unknown) => {
        if (res.destroyed) return;
        const body = JSON.stringify(errorBody(500, `simulator error: ${(err as Error)?.message ?? String(err)}`));
        res.writeHead(500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      },
    );
  });
  server.keepAliveTimeout = 5000;

  const port = await listen(server, opts.port ?? 0, host);
  const rootUrl = `http://${host}:${port}`;

  let closed: Promise<void> | null = null;
  return {
    url: `${rootUrl}/v1`,
    rootUrl,
    port,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
    script: setScript,
    clearScript: () => setScript([]),
    requests: () => log.map((e) => ({ ...e })),
    resetLog: () => {
      log = [];
      count = 0;
    },
  };
}

// ---------------------------------------------------------------------------------------------------- remote control

export interface SimulatorControl {
  script(rules: FaultRule[]): Promise<void>;
  /** Clears the script and the request log. */
  reset(): Promise<void>;
  requests(): Promise<RequestLogEntry[]>;
}

/** Controls a simulator running in another process, given its `/v1` URL (or root URL). */
export function connectSimulator(url: string): SimulatorControl {
  const root = url.replace(/\/+$/, '').replace(/\/v1$/, '');
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${root}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`simulator ${method} ${path} → HTTP ${res.status}: ${text}`);
    return JSON.parse(text) as unknown;
  };
  return {
    script: async (rules) => void (await call('POST', '/_sim/script', rules)),
    reset: async () => void (await call('POST', '/_sim/reset', {})),
    requests: async () => (await call('GET', '/_sim/requests')) as RequestLogEntry[],
  };
}
