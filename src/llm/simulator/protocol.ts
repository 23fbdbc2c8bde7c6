/**
 * The simulator's HTTP side and OpenAI's wire format: the request log entry, reading request bodies, JSON and
 * error replies, chat completion objects, server-sent events, and the node:http server that sends each reply
 * after its delay.
 */
import * as http from 'node:http';
import type { Analysed, ChatAnswer } from './answers';

// ---------------------------------------------------------------------------------------------------- request log

/** `action` / `qa` / `text` = chat request kinds (see answers.ts); `invalid` = refused by validation. */
export type SimRequestKind = 'action' | 'qa' | 'text' | 'embedding' | 'invalid';

/** One answered request, as `Simulator.requests()` and `GET /_sim/requests` return it. */
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
  /**
   * What changed the answer, comma-separated: a scripted fault (`status:429`, `malformed:invalid_json`,
   * `delay:500`, `body`), `rate_limit` (over `rateLimit`), or what the profile did (`profile:…`, e.g.
   * `profile:tool_choice_500`, `profile:hermes_tags`, `profile:queued`).
   */
  fault?: string;
  /** The profile in effect for this request (`openai` = the default). */
  profile: string;
  /** Milliseconds since the simulator started, when the request body had been read. */
  at_ms: number;
  /** Milliseconds since the simulator started, when the answer was written (absent if the client left first). */
  answered_ms?: number;
  /** `single-slot` profile: milliseconds the request waited for the slot (set when it got the slot, if it waited). */
  queued_ms?: number;
  /** Embedding requests: how many inputs were embedded. */
  inputs?: number;
  /** Requests of qasynth's verification stage: which role asked (see verification.ts). */
  role?: 'baseline' | 'solver' | 'judge';
}

// ---------------------------------------------------------------------------------------------------- replies

/** Request bodies above this size are refused with 413. */
export const MAX_BODY_BYTES = 20 * 1024 * 1024;

/**
 * A reply to send: `delayMs` after the request was handled — or, with `after`, after that promise settles.
 * `onStart` runs when the delay starts, `onSent` once the reply is written, `onFinished` once it was written
 * or the client left (exactly once either way).
 */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
  delayMs: number;
  after?: Promise<void>;
  onStart?: () => void;
  onSent?: () => void;
  onFinished?: () => void;
}

/** A reply with a JSON body (a string `body` is sent as is); `headers` may override the content-type. */
export function json(status: number, body: unknown, headers: Record<string, string> = {}, delayMs = 0): Reply {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body), delayMs };
}

/** The request body as UTF-8 text, or null when it is larger than {@link MAX_BODY_BYTES}. */
export function readBody(req: http.IncomingMessage): Promise<string | null> {
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

function errorTypeFor(status: number): { type: string; code: string | null } {
  if (status === 429) return { type: 'rate_limit_exceeded', code: 'rate_limit_exceeded' };
  if (status === 401) return { type: 'invalid_request_error', code: 'invalid_api_key' };
  if (status === 403) return { type: 'invalid_request_error', code: 'permission_denied' };
  if (status === 404) return { type: 'invalid_request_error', code: 'model_not_found' };
  if (status >= 500) return { type: 'server_error', code: null };
  return { type: 'invalid_request_error', code: null };
}

/** OpenAI's error body `{"error": {"message", "type", "param", "code"}}`, type and code chosen by status. */
export function errorBody(status: number, message: string): Record<string, unknown> {
  const { type, code } = errorTypeFor(status);
  return { error: { message, type, param: null, code } };
}

// ---------------------------------------------------------------------------------------------------- completions

/** Token estimate for `chars` characters of text: ~4 characters a token, at least 1. */
export function tokens(chars: number): number {
  return Math.max(1, Math.ceil(chars / 4));
}

/** A chat completion object (`object: "chat.completion"`), loosely typed so profiles can reshape it. */
export interface ChatCompletion {
  id: string;
  object: string;
  created: number;
  model: string;
  system_fingerprint?: string;
  choices: Array<{ index: number; message: Record<string, unknown>; finish_reason: string | null; logprobs: null }>;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

/** The answer as api.openai.com would send it (the default profile's exact bytes). */
export function completion(a: Pick<Analysed, 'allText' | 'body' | 'fingerprint' | 'model'>, answer: ChatAnswer): ChatCompletion {
  const promptChars = a.allText.length + (a.body.tools ? JSON.stringify(a.body.tools).length : 0);
  const prompt_tokens = tokens(promptChars);
  const completion_tokens = tokens(answer.outChars);
  return {
    id: `chatcmpl-sim-${a.fingerprint.slice(0, 24)}`,
    object: 'chat.completion',
    created: 0,
    model: a.model,
    system_fingerprint: 'qasynth-simulator',
    choices: [{ index: 0, message: { role: 'assistant', refusal: null, ...answer.message }, finish_reason: answer.finishReason, logprobs: null }],
    usage: { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens },
  };
}

/** Re-counts `usage.completion_tokens` (and the total) for `outChars` characters of output, if usage is present. */
export function setOutputChars(c: ChatCompletion, outChars: number): void {
  if (!c.usage) return;
  c.usage.completion_tokens = tokens(outChars);
  c.usage.total_tokens = c.usage.prompt_tokens + c.usage.completion_tokens;
}

// ---------------------------------------------------------------------------------------------------- server-sent events

/** Characters of content (or tool-call arguments) per streamed chunk. */
const SSE_PIECE_CHARS = 48;

function pieces(text: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += SSE_PIECE_CHARS) out.push(text.slice(i, i + SSE_PIECE_CHARS));
  return out;
}

/**
 * A completion as a stream (`stream: true` wire format): `data: {chunk}` events with `object:
 * "chat.completion.chunk"` — the role first, then content or tool-call arguments in pieces of
 * {@link SSE_PIECE_CHARS}, a chunk with `finish_reason`, a chunk with `usage` and no choices (as OpenAI sends
 * with `stream_options.include_usage`), then `data: [DONE]`.
 */
export function eventStream(c: ChatCompletion): string {
  const head = { id: c.id, object: 'chat.completion.chunk', created: c.created, model: c.model, system_fingerprint: c.system_fingerprint };
  const events: unknown[] = [];
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    events.push({ ...head, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
  const choice = c.choices[0];
  if (choice) {
    const msg = choice.message;
    chunk({ role: 'assistant', content: '' });
    if (typeof msg.content === 'string') for (const p of pieces(msg.content)) chunk({ content: p });
    const calls = Array.isArray(msg.tool_calls) ? (msg.tool_calls as Array<{ id: string; type: string; function: { name: string; arguments: unknown } }>) : [];
    calls.forEach((call, index) => {
      chunk({ tool_calls: [{ index, id: call.id, type: call.type, function: { name: call.function.name, arguments: '' } }] });
      const args = typeof call.function.arguments === 'string' ? call.function.arguments : JSON.stringify(call.function.arguments);
      for (const p of pieces(args)) chunk({ tool_calls: [{ index, function: { arguments: p } }] });
    });
    chunk({}, choice.finish_reason);
  }
  if (c.usage) events.push({ ...head, choices: [], usage: c.usage });
  return `${events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('')}data: [DONE]\n\n`;
}

// ---------------------------------------------------------------------------------------------------- server

/** An HTTP server that answers each request with `route`'s reply, after the reply's delay. */
export function createReplyServer(route: (req: http.IncomingMessage) => Promise<Reply>): http.Server {
  const server = http.createServer((req, res) => {
    route(req).then(
      (reply) => {
        let finished = false;
        const finish = () => {
          if (finished) return;
          finished = true;
          reply.onFinished?.();
        };
        let timer: NodeJS.Timeout | undefined;
        res.on('close', () => {
          clearTimeout(timer);
          finish();
        });
        const send = () => {
          if (!res.destroyed && !res.writableEnded) {
            res.writeHead(reply.status, { ...reply.headers, 'content-length': Buffer.byteLength(reply.body) });
            res.end(reply.body);
            reply.onSent?.();
          }
          finish();
        };
        const start = () => {
          if (finished) return; // the client left while the reply waited
          reply.onStart?.();
          if (reply.delayMs > 0) timer = setTimeout(send, reply.delayMs);
          else send();
        };
        if (reply.after) void reply.after.then(start);
        else start();
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
  return server;
}
