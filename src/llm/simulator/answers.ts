/**
 * How the simulator answers a chat request: it reads the request (tools offered natively or in a `<tools>`
 * block, JSON response format, the conversation), then generates one of
 * - an action: exactly one tool call, arguments generated from the tool's JSON Schema and the prompt's words;
 * - a QA object `{"question", "answer", "reasoning_steps"}` built from the observations in the prompt;
 * - plain text (an extractive summary of a page, or a short phrase).
 * A sha256 of messages + tools + temperature + seed seeds the PRNG behind every choice, so the same request
 * always gets the same answer. Answers come back structured ({@link ChatAnswer}); protocol.ts writes them in
 * OpenAI's wire format and profiles.ts re-encodes them like other servers do.
 */
import { canonicalJson, Prng, sha256 } from './determinism';
import type { MalformedKind } from './faults';
import { contentText, STOP_WORDS, tokenize, WordPool, wordsOf } from './words';

// ---------------------------------------------------------------------------------------------------- tools

/** A tool as offered to the model: name, description and JSON Schema of its arguments. */
export interface ToolSpec {
  name: string;
  description: string;
  parameters: JsonSchema;
}

/** A JSON Schema object, read loosely. */
export type JsonSchema = Record<string, unknown>;

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

/** Observations that report a failed tool call or a refused repeat (qasynth's tool registry and tree wording). */
/**
 * Observations that report a failure, never drawn from for an answer: a tool's error (src/tools/registry.ts), a
 * refused duplicate (src/domain/tree.ts), and web_visit's list when every URL failed (src/tools/web-visit.ts).
 */
const ERROR_OBSERVATION_RE = /^\s*(?:\[Error\]|\[Refused\]|Invalid arguments for |\*\*Failed URLs:\*\*)/;

interface QaBuild {
  question: string;
  answer: string;
  reasoning_steps: Array<Record<string, unknown>>;
}

/**
 * Candidate answers: capitalised runs of 1–3 whole words and 4-digit years from the given text, in text order. A
 * run that goes on with a digit or letter is no word (`DTJB` of `DTJB02SC.TXT` in a URL): a model would not answer
 * it, and grounding (src/domain/grounding.ts) rightly finds it in no observation.
 */
function answerCandidates(text: string): string[] {
  const out: string[] = [];
  const runRe = /(?<![\p{L}\p{N}])(\p{Lu}[\p{L}'’-]+(?:\s+(?:of\s+|de\s+|du\s+|von\s+)?\p{Lu}[\p{L}'’-]+){0,2})(?![\p{L}\p{N}])/gu;
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
  // A model answers from what the tools found, not from their error messages (src/tools/registry.ts, tree.ts).
  const observations = steps.map((s) => s.observation ?? '').filter((o) => o.trim() && !ERROR_OBSERVATION_RE.test(o));
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

/** What an answer is: an action (tools offered), a QA object (JSON response format) or plain text. */
export type AnswerKind = 'action' | 'qa' | 'text';

/** A validated chat request, read once: what it asks for and the PRNG that drives its answer. */
export interface Analysed {
  body: Record<string, unknown>;
  kind: AnswerKind;
  /** `model` of the request (validated as a non-empty string before analysis). */
  model: string;
  /** Tools offered natively (`tools`, unless `tool_choice` is `"none"`). */
  nativeTools: ToolSpec[] | null;
  /** Tools offered in a `<tools>` block of a user message (JSON action mode), when none are offered natively. */
  jsonTools: ToolSpec[] | null;
  /** All message contents joined by newlines. */
  allText: string;
  lastUser: string;
  /** sha256 (hex) of the canonical request body. */
  fingerprint: string;
  prng: Prng;
}

/** Reads a chat request whose `model` and `messages` were validated. */
export function analyse(body: Record<string, unknown>): Analysed {
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

// ---------------------------------------------------------------------------------------------------- answers

/** A native tool call as OpenAI sends it: `function.arguments` is a JSON-encoded string. */
export interface NativeToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/**
 * A generated answer: the assistant message in OpenAI's wire shape (what the default profile sends), plus what
 * it was generated from, so a profile can re-encode the same answer the way another server would.
 */
export interface ChatAnswer {
  kind: AnswerKind;
  /** Message fields after `role` and `refusal`, in wire order: `content`, then `tool_calls` for a native call. */
  message: { content: string | null; tool_calls?: NativeToolCall[] };
  finishReason: 'stop' | 'tool_calls';
  /** Characters of generated output (the basis of `usage.completion_tokens`, at ~4 characters a token). */
  outChars: number;
  /** The native tool call: `args` is null when the arguments text is deliberately broken (`invalid_json`). */
  call?: { id: string; name: string; argText: string; args: Record<string, unknown> | null };
  /** The object `content` encodes (the QA object or the JSON-mode action); null when content is not such JSON. */
  value: Record<string, unknown> | null;
}

function contentAnswer(kind: AnswerKind, content: string, value: Record<string, unknown> | null): ChatAnswer {
  return { kind, message: { content }, finishReason: 'stop', outChars: content.length, value };
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

/** An action: one native tool call, or JSON-mode content `{"intent", "action": {"tool_name", "parameters"}}`. */
export function answerAction(a: Analysed, malformed?: MalformedKind): ChatAnswer {
  const tools = (a.nativeTools ?? a.jsonTools)!;
  const tc = a.body.tool_choice as { function?: { name?: unknown } } | undefined;
  const forced = typeof tc?.function?.name === 'string' ? tc.function.name : undefined;
  const conversation = focusText(stripToolsBlock(a.lastUser || a.allText));
  const choice = chooseAction(tools, conversation, a.prng, forced);

  if (malformed === 'empty') return contentAnswer('action', '', null);

  const toolName = malformed === 'unknown_tool' ? UNKNOWN_TOOL_NAME : choice.tool.name;
  const args = malformed === 'missing_argument' ? breakArguments(choice) : choice.args;

  if (a.nativeTools) {
    let argText = JSON.stringify(args);
    if (malformed === 'invalid_json') argText = argText.slice(0, Math.max(2, Math.floor(argText.length / 2))).replace(/\}$/, '') + ', "';
    const callId = `call_${a.fingerprint.slice(24, 48)}`;
    return {
      kind: 'action',
      message: { content: null, tool_calls: [{ id: callId, type: 'function', function: { name: toolName, arguments: argText } }] },
      finishReason: 'tool_calls',
      outChars: argText.length + toolName.length,
      call: { id: callId, name: toolName, argText, args: malformed === 'invalid_json' ? null : args },
      value: null,
    };
  }
  const obj = { intent: choice.intent, action: { tool_name: toolName, parameters: args } };
  let content = JSON.stringify(obj);
  if (malformed === 'invalid_json') content = content.slice(0, Math.floor(content.length / 2));
  return contentAnswer('action', content, malformed === 'invalid_json' ? null : obj);
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

/**
 * The answer of a scripted ungrounded QA (`respond.ungrounded`): a name no observation of a test scenario contains
 * (a made-up word pair), so grounding rejects it.
 */
export const UNGROUNDED_ANSWER = 'Zorvath Quillemont';

/**
 * A QA object `{"question", "answer", "reasoning_steps"}` as JSON content. Its answer is taken from the prompt's
 * observations (never from an error observation, see buildQa) unless `ungrounded`: then it is UNGROUNDED_ANSWER.
 */
export function answerQa(a: Analysed, malformed?: MalformedKind, ungrounded = false): ChatAnswer {
  if (malformed === 'empty') return contentAnswer('qa', '', null);
  const qa = buildQa(a.allText, a.prng, qaActionIsString(a.body));
  if (ungrounded) qa.answer = UNGROUNDED_ANSWER;
  const obj: Record<string, unknown> = { question: qa.question, answer: qa.answer, reasoning_steps: qa.reasoning_steps };
  if (malformed === 'missing_argument') delete obj.answer;
  let content = JSON.stringify(obj);
  if (malformed === 'invalid_json') content = content.slice(0, Math.floor(content.length / 2));
  return contentAnswer('qa', content, malformed === 'invalid_json' ? null : obj);
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

/** Plain text: an extractive summary of a page in the prompt, else a short phrase from it. */
export function answerText(a: Analysed, malformed?: MalformedKind): ChatAnswer {
  if (malformed === 'empty') return contentAnswer('text', '', null);
  const summary = extractiveSummary(a.lastUser);
  const pool = new WordPool(a.lastUser, new Set(), a.prng);
  const content = summary ?? `Simulated answer about ${pool.phrase(a.prng.int(2, 4))}.`;
  return contentAnswer('text', content, null);
}

/**
 * The answer the default profile gives to an analysed request (`malformed` = a scripted broken answer; `ungrounded`
 * = a QA whose answer is in no observation).
 */
export function answer(a: Analysed, malformed?: MalformedKind, ungrounded = false): ChatAnswer {
  return a.kind === 'action' ? answerAction(a, malformed) : a.kind === 'qa' ? answerQa(a, malformed, ungrounded) : answerText(a, malformed);
}
