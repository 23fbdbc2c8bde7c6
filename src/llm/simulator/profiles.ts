/**
 * Endpoint profiles: how a real OpenAI-compatible server formats or refuses the simulator's answers.
 *
 * The default (`openai`) answers like api.openai.com. Every other profile imitates one documented behaviour
 * of a real server (vLLM, Ollama, llama.cpp, llama-cpp-python, LiteLLM, OpenRouter, LM Studio, …), so that
 * qasynth can be tested against each shape. A profile acts at one or two points of a request:
 * - `refuse`: before an answer is generated (after validation and the rate limit, before scripted faults),
 *   it may answer instead — an HTTP error, an error inside a 200, a web page;
 * - `encode`: after the answer was generated exactly as the default profile would generate it, it re-encodes
 *   that same answer (tool call written into `content`, reasoning fields, SSE, …).
 * Profiles are deterministic: the same request gets the same answer, except the documented first-sight
 * profiles (`error-in-200`, `empty-choices`), whose state is cleared when the profile is selected again or
 * the simulator is reset. What a profile did is logged as `fault: 'profile:<label>'`.
 */
import type { AnswerKind, ChatAnswer } from './answers';
import { eventStream, setOutputChars, tokens, type ChatCompletion } from './protocol';

/** Every profile name, the default first. */
export const PROFILE_NAMES = [
  'openai',
  'args-object',
  'tool-choice-auto-only',
  'content-json-tool-call',
  'hermes-tags',
  'mistral-tags',
  'llama3-python-tag',
  'functionary-tags',
  'reasoning-content',
  'reasoning-field',
  'think-tags',
  'fenced-trailing-commas',
  'no-usage',
  'content-parts',
  'html-200',
  'error-in-200',
  'empty-choices',
  'no-tools-support',
  'no-json-schema',
  'context-overflow',
  'deterministic-500',
  'sse-always',
  'oversize',
  'truncated-length',
  'single-slot',
  'model-not-found',
  'tool-calls-finish-stop',
  'tool-name-leak',
  'required-empty',
  'nested-args-strings',
] as const;

/** The name of an endpoint profile (see {@link PROFILE_NAMES}). */
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** The default profile. */
export const DEFAULT_PROFILE: ProfileName = 'openai';

/** `context-overflow`: default limit on the characters of message content (~1,500 tokens at 4 characters a token). */
export const DEFAULT_CONTEXT_CHARS = 6000;

/** `oversize`: characters of `content` in an answer (3 MiB, above Temporal's 2 MB payload limit). */
export const OVERSIZE_CHARS = 3 * 1024 * 1024;

/** `truncated-length`: answers at a temperature below this are cut (a missing temperature counts as OpenAI's default, 1). */
export const TRUNCATE_BELOW_TEMPERATURE = 0.8;

/** What a profile sees of a validated request. */
export interface ProfileRequest {
  kind: AnswerKind | 'embedding';
  body: Record<string, unknown>;
  model: string;
  /** sha256 of the canonical request body (the request log's fingerprint). */
  fingerprint: string;
  /** Characters of message content (all contents joined by newlines); 0 for embeddings. */
  promptChars: number;
}

/** Settings some profiles take (from `startSimulator` options). */
export interface ProfileSettings {
  /** `context-overflow`: requests whose message content is longer than this many characters are refused. */
  contextChars: number;
}

/** Mutable state of the profile in effect. */
export interface ProfileState {
  /** Fingerprints of the requests seen so far (first-sight profiles). */
  seen: Set<string>;
}

/** A reply that replaces the answer: a JSON body (a string is sent as is) and extra headers. */
export interface ProfileReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** Logged as `profile:<label>`. */
  label: string;
}

/** What `encode` did: the completion was changed in place, or (with `raw`) is sent as another body. */
export interface ProfileEncoding {
  label: string;
  raw?: { body: string; headers: Record<string, string> };
}

/** One endpoint profile. */
export interface Profile {
  name: ProfileName;
  /** One line: the real server behaviour it imitates (listed by `GET /_sim/profile` and the README). */
  imitates: string;
  /** Chat and embedding requests: an answer that replaces the generated one, or null. */
  refuse?(req: ProfileRequest, state: ProfileState, settings: ProfileSettings): ProfileReply | null;
  /** Chat requests: re-encodes the generated completion in place (or as a raw body), or returns null. */
  encode?(c: ChatCompletion, answer: ChatAnswer, req: ProfileRequest, state: ProfileState): ProfileEncoding | null;
  /** Embedding answers: changes the response object in place; returns the label, or null. */
  encodeEmbeddings?(out: Record<string, unknown>): string | null;
  /** Other `/v1/*` requests (e.g. `GET /v1/models`): the reply instead of the normal one. */
  refuseOther?(): ProfileReply;
  /** One request at a time, first come first served, each taking the configured latency. */
  singleSlot?: boolean;
}

// ---------------------------------------------------------------------------------------------------- helpers

function message(c: ChatCompletion): Record<string, unknown> {
  return c.choices[0]!.message;
}

function hasTools(body: Record<string, unknown>): boolean {
  return Array.isArray(body.tools) && body.tools.length > 0;
}

/** JSON as Python's `json.dumps` writes it by default (`", "` and `": "` separators), as models trained on it do. */
export function pythonJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  if (value && typeof value === 'object') {
    const members = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${members.map(([k, v]) => `${JSON.stringify(k)}: ${pythonJson(v)}`).join(', ')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Pretty JSON (2-space indent) with a comma after the last member of the top-level object or array; nested values
 * are strict JSON. So the whole text is not JSON, but its first nested object is.
 */
export function trailingCommaJson(value: unknown): string {
  const nested = (v: unknown) => (JSON.stringify(v, null, 2) ?? 'null').replace(/\n/g, '\n  ');
  if (Array.isArray(value)) return value.length ? `[\n${value.map((v) => `  ${nested(v)},`).join('\n')}\n]` : '[]';
  if (value && typeof value === 'object') {
    const members = Object.entries(value).filter(([, v]) => v !== undefined);
    return members.length ? `{\n${members.map(([k, v]) => `  ${JSON.stringify(k)}: ${nested(v)},`).join('\n')}\n}` : '{}';
  }
  return JSON.stringify(value) ?? 'null';
}

/** The call's arguments as the model would write them: Python-style JSON, or the broken text as generated. */
function writtenArguments(call: NonNullable<ChatAnswer['call']>): string {
  return call.args ? pythonJson(call.args) : call.argText;
}

/**
 * A native tool call written into `content` as text (a server without a tool-call parser): no `tool_calls`,
 * `finish_reason: "stop"`. Null when the answer has no native call.
 */
function callAsText(c: ChatCompletion, answer: ChatAnswer, label: string, write: (call: NonNullable<ChatAnswer['call']>) => string): ProfileEncoding | null {
  if (!answer.call) return null;
  const msg = message(c);
  const content = write(answer.call);
  msg.content = content;
  delete msg.tool_calls;
  c.choices[0]!.finish_reason = 'stop';
  setOutputChars(c, content.length);
  return { label };
}

/** The native call in the completion (the one tool call the simulator makes), or null. */
function nativeCall(c: ChatCompletion, answer: ChatAnswer): { id: string; type: string; function: { name: string; arguments: unknown } } | null {
  if (!answer.call) return null;
  const calls = message(c).tool_calls as Array<{ id: string; type: string; function: { name: string; arguments: unknown } }> | undefined;
  return calls?.[0] ?? null;
}

/** A paragraph of "thinking" before the answer; no braces, so it holds no JSON. */
const THINKING: Record<AnswerKind, string> = {
  action:
    'Okay, I need to choose the next tool call. Let me look at the current observation and the tools on offer, ' +
    'pick the one that moves the exploration forward without repeating an earlier call, and fill in every required argument.',
  qa:
    'Okay, the task is one multi-hop question whose answer is a short entity from the observations. Let me go through ' +
    'the steps in order and see which facts connect. The question must not contain the answer, and the last observation ' +
    'has to support it. I have a chain now, so I will write the final JSON.',
  text: 'Okay, let me read the text and pick out the sentences that matter for the goal, then answer briefly.',
};

/** `think-tags`: a JSON object in the thinking that is not the answer. */
const DECOY: Record<AnswerKind, string> = {
  action: '{"intent": "draft", "action": {"tool_name": "draft", "parameters": {}}}',
  qa: '{"question": "draft", "answer": "draft"}',
  text: '{"question": "draft", "answer": "draft"}',
};

/** `reasoning-content` / `reasoning-field`: the whole answer moves into a reasoning field after the thinking. */
function reasoningIn(field: 'reasoning_content' | 'reasoning', label: string) {
  return (c: ChatCompletion, answer: ChatAnswer): ProfileEncoding => {
    const msg = message(c);
    const thinking = THINKING[answer.kind];
    if (answer.call) {
      msg[field] = thinking; // the tool call itself stays in tool_calls (the tool parser still ran)
      return { label };
    }
    const text = typeof msg.content === 'string' ? msg.content : '';
    msg.content = null;
    msg[field] = `${thinking}\n\n${text}`;
    setOutputChars(c, thinking.length + 2 + text.length);
    return { label };
  };
}

const HTML_PAGE = [
  '<!doctype html>',
  '<html lang="en">',
  '<head>',
  '<meta charset="utf-8">',
  '<meta name="viewport" content="width=device-width, initial-scale=1">',
  '<title>Chat</title>',
  '<link rel="stylesheet" href="/assets/index.css">',
  '</head>',
  '<body>',
  '<noscript>You need to enable JavaScript to run this app.</noscript>',
  '<div id="root"></div>',
  '<script type="module" src="/assets/index.js"></script>',
  '</body>',
  '</html>',
  '',
].join('\n');

const HTML_REPLY: ProfileReply = { status: 200, body: HTML_PAGE, headers: { 'content-type': 'text/html; charset=utf-8' }, label: 'html_200' };

let oversizeFiller: string | null = null;
/** A runaway generation: one sentence repeated to {@link OVERSIZE_CHARS} characters (built once). */
function filler(): string {
  oversizeFiller ??= 'I will continue to make sure that nothing is left out of the answer. '.repeat(Math.ceil(OVERSIZE_CHARS / 69)).slice(0, OVERSIZE_CHARS);
  return oversizeFiller;
}

// ---------------------------------------------------------------------------------------------------- profiles

/** api.openai.com: the simulator's own answers, unchanged. */
const openai: Profile = { name: 'openai', imitates: 'api.openai.com (the default)' };

/**
 * `function.arguments` as a JSON object instead of a JSON-encoded string: what Ollama's native `/api/chat`
 * sends (see ollama/ollama-python#667) and what some llama.cpp-server builds and thin proxies pass through.
 */
const argsObject: Profile = {
  name: 'args-object',
  imitates: 'llama.cpp server / Ollama native API: function.arguments as a JSON object, not a string',
  encode(c, answer) {
    const call = nativeCall(c, answer);
    if (!call || !answer.call?.args) return null;
    call.function.arguments = answer.call.args;
    return { label: 'args_object' };
  },
};

/**
 * llama-cpp-python's `chatml-function-calling` chat handler accepts only `tool_choice` "auto" (or none, or a
 * named function); anything else (e.g. "required") fails an assertion, which its server answers as HTTP 500 with
 * the exception's empty message (abetlen/llama-cpp-python#1613 proposed allowing "required"). Same answer every time.
 */
const toolChoiceAutoOnly: Profile = {
  name: 'tool-choice-auto-only',
  imitates: "llama-cpp-python chatml-function-calling: tool_choice other than auto/none/named → HTTP 500, empty message",
  refuse(req) {
    if (req.kind === 'embedding' || !hasTools(req.body)) return null;
    const tc = req.body.tool_choice as unknown;
    const named = !!tc && typeof tc === 'object' && typeof (tc as { function?: { name?: unknown } }).function?.name === 'string';
    if (tc === undefined || tc === null || tc === 'auto' || tc === 'none' || named) return null;
    return { status: 500, body: { error: { message: '', type: 'internal_server_error', param: null, code: null } }, label: 'tool_choice_500' };
  },
};

/**
 * A model served without a tool-call parser (vLLM without `--tool-call-parser`, an Ollama model template
 * without tool support): the model's own JSON call `{"name", "arguments"}` arrives as `content`, no `tool_calls`.
 */
const contentJsonToolCall: Profile = {
  name: 'content-json-tool-call',
  imitates: 'vLLM / Ollama without a tool parser: the call as JSON {"name", "arguments"} in content',
  encode: (c, answer) => callAsText(c, answer, 'content_json', (call) => `{"name": ${JSON.stringify(call.name)}, "arguments": ${writtenArguments(call)}}`),
};

/** Hermes 2 Pro / Qwen2.5 / Qwen3 chat templates served without a `hermes` tool parser: `<tool_call>` tags in content. */
const hermesTags: Profile = {
  name: 'hermes-tags',
  imitates: 'Hermes / Qwen2.5 / Qwen3 without a parser: <tool_call>{…}</tool_call> in content',
  encode: (c, answer) =>
    callAsText(c, answer, 'hermes_tags', (call) => `<tool_call>\n{"name": ${JSON.stringify(call.name)}, "arguments": ${writtenArguments(call)}}\n</tool_call>`),
};

/** Mistral models (v0.3 tokenizer and later) served without a `mistral` tool parser: `[TOOL_CALLS]` and a JSON list in content. */
const mistralTags: Profile = {
  name: 'mistral-tags',
  imitates: 'Mistral without a parser: [TOOL_CALLS] [{…}] in content',
  encode: (c, answer) =>
    callAsText(c, answer, 'mistral_tags', (call) => `[TOOL_CALLS] [{"name": ${JSON.stringify(call.name)}, "arguments": ${writtenArguments(call)}}]`),
};

/**
 * Llama 3.1's JSON tool-call format (Meta's prompt format: `<|python_tag|>` then `{"name", "parameters"}` —
 * `parameters`, not `arguments`) served without a `llama3_json` parser.
 */
const llama3PythonTag: Profile = {
  name: 'llama3-python-tag',
  imitates: 'Llama 3.1 without a parser: <|python_tag|>{"name", "parameters"} in content',
  encode: (c, answer) =>
    callAsText(c, answer, 'python_tag', (call) => `<|python_tag|>{"name": ${JSON.stringify(call.name)}, "parameters": ${writtenArguments(call)}}`),
};

/** Functionary v3.1 / Llama 3.1's custom-tool format `<function=NAME>{…}</function>` left unparsed (e.g. llama.cpp without `--jinja`). */
const functionaryTags: Profile = {
  name: 'functionary-tags',
  imitates: 'Functionary v3.1 / Llama 3.1 custom tools without a parser: <function=NAME>{…}</function> in content',
  encode: (c, answer) => callAsText(c, answer, 'functionary_tags', (call) => `<function=${call.name}>${call.args ? JSON.stringify(call.args) : call.argText}</function>`),
};

/**
 * A reasoning model behind vLLM's `--reasoning-parser` (deepseek_r1, qwen3) that never closes its thinking: the
 * parser puts everything — a paragraph of thinking, then the whole answer — in `message.reasoning_content`, and
 * `content` is null. A native tool call stays in `tool_calls`, with the thinking in `reasoning_content`.
 */
const reasoningContent: Profile = {
  name: 'reasoning-content',
  imitates: 'vLLM --reasoning-parser: content null, thinking + answer in message.reasoning_content',
  encode: reasoningIn('reasoning_content', 'reasoning_content'),
};

/** The same as `reasoning-content` with the field `message.reasoning`, as OpenRouter and recent Ollama name it. */
const reasoningField: Profile = {
  name: 'reasoning-field',
  imitates: 'OpenRouter / recent Ollama: content null, thinking + answer in message.reasoning',
  encode: reasoningIn('reasoning', 'reasoning_field'),
};

/**
 * DeepSeek-R1 / Qwen3 through a server without a reasoning parser (llama.cpp `--reasoning-format none`, older
 * Ollama, LM Studio): `content` = `<think>` thinking `</think>` then the answer; the thinking holds a decoy
 * JSON draft (e.g. `{"question": "draft", "answer": "draft"}`) that is not the answer. With a native tool call,
 * the think block is the content and the call stays in `tool_calls`.
 */
const thinkTags: Profile = {
  name: 'think-tags',
  imitates: 'DeepSeek-R1 / Qwen3 without a reasoning parser: <think>…decoy JSON…</think> then the answer in content',
  encode(c, answer) {
    const msg = message(c);
    const think = `<think>\n${THINKING[answer.kind]} A first draft: ${DECOY[answer.kind]} No, that draft is too vague; the final answer follows.\n</think>`;
    const content = answer.call ? think : `${think}\n\n${typeof msg.content === 'string' ? msg.content : ''}`;
    msg.content = content;
    setOutputChars(c, answer.call ? think.length + answer.outChars : content.length);
    return { label: 'think_tags' };
  },
};

/**
 * A chatty instruct model whose server does not enforce `response_format` with a grammar (common with small
 * local models): JSON answers come in prose and a ```json fence, pretty-printed with a trailing comma after the
 * last member, and a QA object starts with `reasoning_steps` — so the whole object is not strict JSON and the
 * first object in the text that is (what a naive "first parseable {…}" fallback takes) is `{"step": 1, …}`.
 */
const fencedTrailingCommas: Profile = {
  name: 'fenced-trailing-commas',
  imitates: 'unenforced JSON mode: prose + ```json fence, trailing commas, reasoning_steps before question/answer',
  encode(c, answer) {
    if (!answer.value) return null;
    const v = answer.value;
    const ordered = answer.kind === 'qa' ? { reasoning_steps: v.reasoning_steps, question: v.question, answer: v.answer, ...v } : v;
    const content = `Here is the JSON you asked for:\n\n\`\`\`json\n${trailingCommaJson(ordered)}\n\`\`\`\n\nI hope this helps!`;
    message(c).content = content;
    setOutputChars(c, content.length);
    return { label: 'fenced_trailing_commas' };
  },
};

/** Servers and proxies that leave out `usage` (some local servers and gateways, streaming without `include_usage`). */
const noUsage: Profile = {
  name: 'no-usage',
  imitates: 'servers / proxies that omit usage from answers',
  encode(c) {
    delete c.usage;
    return { label: 'no_usage' };
  },
  encodeEmbeddings(out) {
    delete out.usage;
    return 'no_usage';
  },
};

/** `content` as an array of content parts `[{"type": "text", "text": …}]` (Mistral's API for Magistral models, some proxies). */
const contentParts: Profile = {
  name: 'content-parts',
  imitates: 'Mistral API (Magistral) / some proxies: content as [{"type": "text", "text": …}]',
  encode(c) {
    const msg = message(c);
    if (typeof msg.content !== 'string') return null;
    msg.content = [{ type: 'text', text: msg.content }];
    return { label: 'content_parts' };
  },
};

/**
 * A base URL that points at a chat web UI (Open WebUI, text-generation-webui, a reverse proxy's front page)
 * instead of its `/v1` API: every `/v1/*` request gets HTTP 200 with the UI's `text/html` index page (a chat or
 * embeddings request once it passed validation; control endpoints under `/_sim/` still answer JSON).
 */
const html200: Profile = {
  name: 'html-200',
  imitates: "a base URL pointing at a chat web UI: HTTP 200, text/html index page for every /v1 path",
  refuse: () => HTML_REPLY,
  refuseOther: () => HTML_REPLY,
};

/**
 * OpenRouter / LiteLLM: an upstream provider's failure reported inside an HTTP 200 body
 * `{"error": {"message": "Upstream error from provider: …", "code": 502}}` — only the first time a request
 * (by fingerprint) is seen; the same request again gets a normal answer (a transient upstream fault).
 */
const errorIn200: Profile = {
  name: 'error-in-200',
  imitates: 'OpenRouter / LiteLLM: upstream error inside a 200 body, the first time a request is seen',
  refuse(req, state) {
    if (req.kind === 'embedding' || state.seen.has(req.fingerprint)) return null;
    state.seen.add(req.fingerprint);
    const body = { error: { message: 'Upstream error from provider: 502 Bad Gateway', code: 502, metadata: { provider_name: 'sim-upstream' } } };
    return { status: 200, body, label: 'error_in_200' };
  },
};

/** A 200 answer with `"choices": []` the first time a request is seen (OpenRouter and Azure-fronted proxies, on a provider hiccup or a filtered answer). */
const emptyChoices: Profile = {
  name: 'empty-choices',
  imitates: 'OpenRouter / Azure-fronted proxies: 200 with choices: [] the first time a request is seen',
  encode(c, _answer, req, state) {
    if (state.seen.has(req.fingerprint)) return null;
    state.seen.add(req.fingerprint);
    c.choices = [];
    return { label: 'empty_choices' };
  },
};

/** Ollama's name for a model (`registry.ollama.ai/library/<name>:<tag>`). */
function ollamaModel(model: string): string {
  const tagged = model.includes(':') ? model : `${model}:latest`;
  return model.includes('/') ? tagged : `registry.ollama.ai/library/${tagged}`;
}

/** Ollama for a model whose template has no tool support: any request with `tools` → HTTP 400 "… does not support tools". */
const noToolsSupport: Profile = {
  name: 'no-tools-support',
  imitates: 'Ollama, model without tool support: requests with tools → 400 "… does not support tools"',
  refuse(req) {
    if (req.kind === 'embedding' || !hasTools(req.body)) return null;
    const body = { error: { message: `${ollamaModel(req.model)} does not support tools`, type: 'api_error', param: null, code: null } };
    return { status: 400, body, label: 'no_tools_400' };
  },
};

/**
 * llama.cpp's server before it accepted `json_schema` (its own message, `response_format type must be one of
 * "text" or "json_object", but got: json_schema`), and other servers that only know `json_object`.
 */
const noJsonSchema: Profile = {
  name: 'no-json-schema',
  imitates: 'llama.cpp server (older) / servers without json_schema: response_format json_schema → 400',
  refuse(req) {
    const rf = req.body.response_format as { type?: unknown } | undefined;
    if (req.kind === 'embedding' || rf?.type !== 'json_schema') return null;
    const body = { error: { code: 400, message: 'response_format type must be one of "text" or "json_object", but got: json_schema', type: 'invalid_request_error' } };
    return { status: 400, body, label: 'no_json_schema_400' };
  },
};

/**
 * llama.cpp's server with a small `--ctx-size`: a prompt longer than the context → HTTP 400 "the request exceeds
 * the available context size, try increasing it" (`exceed_context_size_error`). The limit is in characters of
 * message content (`contextChars`, default {@link DEFAULT_CONTEXT_CHARS}); the same request always fails.
 */
const contextOverflow: Profile = {
  name: 'context-overflow',
  imitates: 'llama.cpp server: prompt over the context size → 400 "the request exceeds the available context size"',
  refuse(req, _state, settings) {
    if (req.kind === 'embedding' || req.promptChars <= settings.contextChars) return null;
    const body = {
      error: {
        code: 400,
        message: 'the request exceeds the available context size, try increasing it',
        type: 'exceed_context_size_error',
        n_prompt_tokens: tokens(req.promptChars),
        n_ctx: tokens(settings.contextChars),
      },
    };
    return { status: 400, body, label: 'context_overflow_400' };
  },
};

/**
 * A chat template that raises on the request (Mistral / Gemma templates' "Conversation roles must alternate
 * user/assistant/user/assistant/..."), which llama.cpp and LM Studio answer with HTTP 500: the same status
 * and body for every chat request, every time — a fault with the request, not an outage.
 */
const deterministic500: Profile = {
  name: 'deterministic-500',
  imitates: 'llama.cpp / LM Studio chat-template error: the same HTTP 500 for every chat request',
  refuse(req) {
    if (req.kind === 'embedding') return null;
    const body = { error: { code: 500, message: 'Conversation roles must alternate user/assistant/user/assistant/...', type: 'server_error' } };
    return { status: 500, body, label: 'deterministic_500' };
  },
};

/** Gateways configured to always stream: `text/event-stream` chunks and `data: [DONE]` although `stream` is false. */
const sseAlways: Profile = {
  name: 'sse-always',
  imitates: 'proxies / gateways that always stream: text/event-stream although stream is false',
  encode: (c) => ({ label: 'sse', raw: { body: eventStream(c), headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } } }),
};

/** A runaway generation (a repetition loop with a large `max_tokens` on a local server): a 200 answer whose `content` is ~3 MiB. */
const oversize: Profile = {
  name: 'oversize',
  imitates: 'runaway generation: a 200 answer whose content is ~3 MB',
  encode(c) {
    const msg = message(c);
    const head = typeof msg.content === 'string' ? msg.content : '';
    const content = `${head}\n\n${filler()}`.slice(0, Math.max(OVERSIZE_CHARS, head.length));
    msg.content = content;
    setOutputChars(c, content.length);
    return { label: 'oversize' };
  },
};

/**
 * A low `max_tokens` / `num_predict` (Ollama's and llama.cpp's `n_predict` defaults): at a temperature below
 * {@link TRUNCATE_BELOW_TEMPERATURE} the answer (content, or a native call's arguments) is cut mid-way with
 * `finish_reason: "length"`; at higher temperatures it is complete, so a resample one step hotter succeeds.
 */
const truncatedLength: Profile = {
  name: 'truncated-length',
  imitates: 'low max_tokens / num_predict: answers cut mid-way with finish_reason "length" below temperature 0.8',
  encode(c, answer, req) {
    const t = typeof req.body.temperature === 'number' ? req.body.temperature : 1;
    if (t >= TRUNCATE_BELOW_TEMPERATURE) return null;
    const call = nativeCall(c, answer);
    const msg = message(c);
    if (call && typeof call.function.arguments === 'string') {
      const cut = call.function.arguments.slice(0, Math.floor(call.function.arguments.length / 2));
      call.function.arguments = cut;
      setOutputChars(c, cut.length + call.function.name.length);
    } else if (typeof msg.content === 'string' && msg.content.length > 0) {
      const cut = msg.content.slice(0, Math.floor(msg.content.length / 2));
      msg.content = cut;
      setOutputChars(c, cut.length);
    } else return null;
    c.choices[0]!.finish_reason = 'length';
    return { label: 'truncated_length' };
  },
};

/** llama.cpp's server with one slot (`--parallel 1`): one request at a time, first come first served. */
const singleSlot: Profile = {
  name: 'single-slot',
  imitates: 'llama.cpp server with one slot (--parallel 1): one request at a time, FIFO',
  singleSlot: true,
};

/** A wrong model name (OpenAI, vLLM, LiteLLM): HTTP 404 `model_not_found`, "The model `<m>` does not exist …". */
const modelNotFound: Profile = {
  name: 'model-not-found',
  imitates: 'OpenAI / vLLM / LiteLLM with a wrong model name: 404 model_not_found',
  refuse(req) {
    const body = {
      error: { message: `The model \`${req.model}\` does not exist or you do not have access to it.`, type: 'invalid_request_error', param: null, code: 'model_not_found' },
    };
    return { status: 404, body, label: 'model_not_found_404' };
  },
};

/**
 * Tool calls with `finish_reason: "stop"` instead of "tool_calls": vLLM before vllm-project/vllm#25054 (tool_choice
 * "required", not streaming), Ollama before ollama/ollama#5995, SGLang (sgl-project/sglang#2877).
 */
const toolCallsFinishStop: Profile = {
  name: 'tool-calls-finish-stop',
  imitates: 'vLLM (before #25054) / Ollama (before #5995) / SGLang: tool_calls with finish_reason "stop"',
  encode(c, answer) {
    if (!nativeCall(c, answer)) return null;
    c.choices[0]!.finish_reason = 'stop';
    return { label: 'finish_stop' };
  },
};

/** gpt-oss behind vLLM: Harmony channel tokens leak into the tool name, e.g. `calculator<|channel|>commentary` (vllm-project/vllm#32587). */
const toolNameLeak: Profile = {
  name: 'tool-name-leak',
  imitates: 'vLLM + gpt-oss (#32587): tool name with a leaked "<|channel|>commentary" suffix',
  encode(c, answer) {
    const call = nativeCall(c, answer);
    if (!call) return null;
    call.function.name = `${call.function.name}<|channel|>commentary`;
    return { label: 'tool_name_leak' };
  },
};

/**
 * LM Studio (llama.cpp engine) with `tool_choice: "required"`: HTTP 200, `content: ""`, no tool call,
 * `finish_reason: "stop"` (lmstudio-ai/lmstudio-bug-tracker#1904); "auto" works.
 */
const requiredEmpty: Profile = {
  name: 'required-empty',
  imitates: 'LM Studio (#1904): tool_choice "required" → 200 with empty content and no tool call',
  encode(c, answer, req) {
    if (!nativeCall(c, answer) || req.body.tool_choice !== 'required') return null;
    const msg = message(c);
    msg.content = '';
    delete msg.tool_calls;
    c.choices[0]!.finish_reason = 'stop';
    setOutputChars(c, 0);
    return { label: 'required_empty' };
  },
};

/**
 * Moonshot's Kimi API: array and object argument values double-encoded as JSON strings inside
 * `function.arguments` (e.g. `{"expressions": "[\"2+2\"]"}`; MoonshotAI/kimi-cli#2513).
 */
const nestedArgsStrings: Profile = {
  name: 'nested-args-strings',
  imitates: 'Moonshot Kimi API (kimi-cli #2513): array/object argument values as JSON strings',
  encode(c, answer) {
    const call = nativeCall(c, answer);
    const args = answer.call?.args;
    if (!call || !args || !Object.values(args).some((v) => v !== null && typeof v === 'object')) return null;
    const encoded = Object.fromEntries(Object.entries(args).map(([k, v]) => [k, v !== null && typeof v === 'object' ? JSON.stringify(v) : v]));
    call.function.arguments = JSON.stringify(encoded);
    return { label: 'nested_args_strings' };
  },
};

/** Every profile by name. */
export const PROFILES: Readonly<Record<ProfileName, Profile>> = Object.fromEntries(
  [
    openai, argsObject, toolChoiceAutoOnly, contentJsonToolCall, hermesTags, mistralTags, llama3PythonTag, functionaryTags,
    reasoningContent, reasoningField, thinkTags, fencedTrailingCommas, noUsage, contentParts, html200, errorIn200, emptyChoices,
    noToolsSupport, noJsonSchema, contextOverflow, deterministic500, sseAlways, oversize, truncatedLength, singleSlot, modelNotFound,
    toolCallsFinishStop, toolNameLeak, requiredEmpty, nestedArgsStrings,
  ].map((p) => [p.name, p]),
) as Record<ProfileName, Profile>;

/** The profile called `name`; throws `profile: expected one of …, got "<name>"` for any other value. */
export function getProfile(name: unknown): Profile {
  if (typeof name === 'string' && Object.prototype.hasOwnProperty.call(PROFILES, name)) return PROFILES[name as ProfileName];
  throw new Error(`profile: expected one of ${PROFILE_NAMES.join(', ')}, got ${name === undefined ? 'nothing' : JSON.stringify(name)}`);
}
