/**
 * An offline, deterministic OpenAI-compatible chat server for tests and the demo.
 *
 * Served with node:http only:
 * - `POST /v1/chat/completions` (non-streaming), `GET /v1/models`;
 * - `POST /v1/embeddings`: deterministic feature-hashed vectors (word unigrams + character trigrams, 256 dims,
 *   L2-normalised; `encoding_format` float or base64), so texts sharing words and word pieces score higher;
 * - control endpoints for out-of-process use: `POST /_sim/script` (JSON rules), `POST /_sim/reset`, `POST /_sim/release`,
 *   `GET /_sim/requests`, `GET|POST /_sim/profile`, `POST /_sim/verification` (see {@link connectSimulator}).
 *
 * Requests of qasynth's verification stage (no-tool baseline, solver agent, LLM judge; recognised by the first line
 * of their prompts) are answered from a script keyed by question (verification.ts) and logged with their `role`.
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
 * A profile (`startSimulator({ profile })`, `POST /_sim/profile`, `--profile`) makes it answer like another real
 * server (see profiles.ts); the default, `openai`, answers like api.openai.com.
 * Faults (`script(rules)`) inject HTTP errors, delays and malformed answers; an optional server-side rate limit
 * (`rateLimit: {requestsPerMinute}`) answers requests over a sliding-window quota with 429 + `retry-after-ms`;
 * every request is logged with a fingerprint (sha256 of the canonical body) so tests can detect an LLM call that
 * was paid twice.
 *
 * Order of decisions for a chat request: validation (400/413) → rate limit (429) → the profile's refusal →
 * scripted fault rule → the generated answer → the profile's re-encoding → the `single-slot` queue, if any.
 */
import type * as http from 'node:http';
import { listen } from '../../server/listen';
import { analyse, answer } from './answers';
import { canonicalJson, sha256 } from './determinism';
import { EMBEDDING_DIMS, embedText } from './embeddings';
import { FaultScript, scriptedReply, SlidingWindowLimiter, type FaultRule, type RateLimitOptions } from './faults';
import { validateVerificationScript, verificationAnswer, verificationRole, type VerificationScript } from './verification';
import { completion, createReplyServer, errorBody, json, MAX_BODY_BYTES, readBody, tokens, type Reply, type RequestLogEntry } from './protocol';
import {
  DEFAULT_CONTEXT_CHARS,
  DEFAULT_PROFILE,
  getProfile,
  PROFILE_NAMES,
  PROFILES,
  type Profile,
  type ProfileName,
  type ProfileReply,
  type ProfileRequest,
  type ProfileState,
} from './profiles';

export { extractiveSummary, type ChatAnswer } from './answers';
export { canonicalJson } from './determinism';
export { EMBEDDING_DIMS, embedText } from './embeddings';
export { validateFaultRules, type FaultRule, type MalformedKind, type RateLimitOptions } from './faults';
export type { RequestLogEntry, SimRequestKind } from './protocol';
export { validateVerificationScript, verificationRole, type VerificationScript, type VerifyRole } from './verification';
export { DEFAULT_CONTEXT_CHARS, DEFAULT_PROFILE, getProfile, PROFILE_NAMES, PROFILES, type Profile, type ProfileName } from './profiles';

/** Options of {@link startSimulator}. */
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
  rateLimit?: RateLimitOptions;
  /** Endpoint profile to start with (default `openai`); an unknown name throws, listing the valid ones. */
  profile?: ProfileName | string;
  /** `context-overflow` profile: message content longer than this many characters is refused (default 6000). */
  contextChars?: number;
}

/** A running simulator, controlled in process. */
export interface Simulator {
  /** Base URL for an OpenAI client, ending in `/v1`. */
  url: string;
  /** Root URL of the server (control endpoints live under `/_sim/`). */
  rootUrl: string;
  port: number;
  close(): Promise<void>;
  /** Replaces the fault script (rule counters restart). */
  script(rules: FaultRule[]): void;
  /**
   * Opens the gate `name`: answers held by a `hold: name` rule go out (after their delay), and later ones are not
   * held. `POST /_sim/reset` closes every gate again (after releasing what they held).
   */
  release(name: string): void;
  clearScript(): void;
  requests(): RequestLogEntry[];
  resetLog(): void;
  /**
   * Selects the profile `name` (its state, e.g. the requests seen by a first-sight profile, starts empty) and
   * returns it; without a name, returns the profile in effect. An unknown name throws, listing the valid ones.
   */
  profile(name?: ProfileName | string): ProfileName;
  /**
   * Sets what the verification roles (baseline, solver, judge) answer (see verification.ts); an invalid script
   * throws, naming the problem. `reset` (and `{}`) clears it.
   */
  verification(script: VerificationScript): void;
}

/** Starts the simulator on 127.0.0.1 (port 0 = any free port). Throws on an invalid option. */
export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const host = opts.host ?? '127.0.0.1';
  const latencyMs = Math.max(0, opts.latencyMs ?? 0);
  const startedAt = Date.now();
  const initialProfile = getProfile(opts.profile ?? DEFAULT_PROFILE);
  const contextChars = opts.contextChars ?? DEFAULT_CONTEXT_CHARS;
  if (!(Number.isInteger(contextChars) && contextChars > 0)) throw new Error(`contextChars: expected an integer > 0, got ${String(opts.contextChars)}`);

  const faults = new FaultScript(opts.seed ?? 0);
  const limiter = opts.rateLimit ? new SlidingWindowLimiter(opts.rateLimit) : null;
  let log: RequestLogEntry[] = [];
  let count = 0;
  let profile: Profile = initialProfile;
  let profileState: ProfileState = { seen: new Set() };
  let verifyScript: VerificationScript = {};
  /** `single-slot`: settles when the last request in the queue has been answered (or its client left). */
  let slotTail: Promise<void> = Promise.resolve();
  /** `single-slot`: requests holding or waiting for the slot. */
  let slotUsers = 0;
  /** Gates of `hold` rules by name: `open` settles once the gate is released. */
  let gates = new Map<string, { open: Promise<void>; release: () => void }>();
  const gate = (name: string) => {
    let g = gates.get(name);
    if (!g) {
      let release!: () => void;
      const open = new Promise<void>((resolve) => (release = resolve));
      g = { open, release };
      gates.set(name, g);
    }
    return g;
  };
  const releaseAll = () => {
    for (const g of gates.values()) g.release();
    gates = new Map();
  };

  const setProfile = (name: unknown): ProfileName => {
    profile = getProfile(name);
    profileState = { seen: new Set() };
    return profile.name;
  };

  /**
   * Logs the entry; when the reply is written, records `answered_ms`. With `slot` and the `single-slot` profile,
   * the reply first waits until every earlier request in the queue was answered (FIFO), then takes its delay.
   */
  const record = (entry: Omit<RequestLogEntry, 'profile'>, reply: Reply, slot = false): Reply => {
    const e: RequestLogEntry = { ...entry, profile: profile.name };
    if (slot && profile.singleSlot) {
      const waits = slotUsers > 0;
      slotUsers++;
      const prev = slotTail;
      let release!: () => void;
      const mine = new Promise<void>((resolve) => (release = resolve));
      slotTail = prev.then(() => mine);
      const queuedAt = performance.now();
      reply.after = reply.after ? Promise.all([prev, reply.after]).then(() => undefined) : prev;
      reply.onStart = () => {
        if (waits) e.queued_ms = Math.round(performance.now() - queuedAt);
      };
      reply.onFinished = () => {
        slotUsers--;
        release();
      };
      if (waits) e.fault = e.fault ? `${e.fault},profile:queued` : 'profile:queued';
    }
    log.push(e);
    reply.onSent = () => {
      e.answered_ms = Date.now() - startedAt;
    };
    return reply;
  };

  const profileReply = (r: ProfileReply): Reply => json(r.status, r.body, r.headers ?? {}, latencyMs);

  const handleChat = async (req: http.IncomingMessage): Promise<Reply> => {
    const raw = await readBody(req);
    const at_ms = Date.now() - startedAt;
    const invalid = (status: number, fingerprint: string, message: string, b?: Record<string, unknown>): Reply =>
      record(
        {
          n: ++count, kind: 'invalid', model: typeof b?.model === 'string' ? b.model : null,
          temperature: typeof b?.temperature === 'number' ? b.temperature : null, seed: typeof b?.seed === 'number' ? b.seed : null,
          status, fingerprint, at_ms,
        },
        json(status, errorBody(status, message), {}, latencyMs),
      );
    if (raw === null) return invalid(413, '', `request body larger than ${MAX_BODY_BYTES} bytes`);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch (e) {
      return invalid(400, sha256(raw), `request body is not valid JSON: ${(e as Error).message}`);
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) return invalid(400, sha256(raw), 'request body must be a JSON object');
    const b = body as Record<string, unknown>;
    const problem =
      typeof b.model !== 'string' || !b.model ? "'model' is required (a non-empty string)"
        : !Array.isArray(b.messages) || b.messages.length === 0 ? "'messages' is required (a non-empty array)"
          : b.stream === true ? 'streaming not supported by the simulator'
            : null;
    if (problem) return invalid(400, sha256(canonicalJson(b)), problem, b);

    const a = analyse(b);
    const n = ++count;
    const role = verificationRole(a);
    const base = {
      n, kind: a.kind, model: a.model,
      temperature: typeof b.temperature === 'number' ? b.temperature : null,
      seed: typeof b.seed === 'number' ? b.seed : null,
      ...(role ? { role } : {}),
    };
    const limited = limiter?.admit();
    if (limited) return record({ ...base, status: 429, fingerprint: a.fingerprint, at_ms, fault: 'rate_limit' }, limited);

    const preq: ProfileRequest = { kind: a.kind, body: b, model: a.model, fingerprint: a.fingerprint, promptChars: a.allText.length };
    const refusal = profile.refuse?.(preq, profileState, { contextChars });
    let reply: Reply;
    let labels: string[];
    let hold: string | undefined;
    if (refusal) {
      reply = profileReply(refusal);
      labels = [`profile:${refusal.label}`];
    } else {
      const scripted = scriptedReply(faults.pick(a, n)?.respond, latencyMs);
      const { respond, delay } = scripted;
      labels = scripted.faults;
      hold = respond.hold;
      if (scripted.reply) reply = scripted.reply;
      else {
        const malformed = respond.malformed;
        if (malformed) labels.unshift(`malformed:${malformed}`);
        const ungrounded = respond.ungrounded === true && a.kind === 'qa';
        if (ungrounded) labels.unshift('ungrounded');
        const generated = role && !malformed ? verificationAnswer(a, role, verifyScript) : answer(a, malformed, ungrounded);
        const out = completion(a, generated);
        const encoded = profile.encode?.(out, generated, preq, profileState);
        if (encoded) labels.push(`profile:${encoded.label}`);
        reply = encoded?.raw
          ? { status: respond.status ?? 200, headers: { ...(respond.headers ?? {}), ...encoded.raw.headers }, body: encoded.raw.body, delayMs: delay }
          : json(respond.status ?? 200, out, respond.headers ?? {}, delay);
      }
    }
    if (hold) reply.after = gate(hold).open;
    const entry: Omit<RequestLogEntry, 'profile'> = { ...base, status: reply.status, fingerprint: a.fingerprint, at_ms };
    if (labels.length) entry.fault = labels.join(',');
    return record(entry, reply, true);
  };

  const handleEmbeddings = async (req: http.IncomingMessage): Promise<Reply> => {
    const raw = await readBody(req);
    const at_ms = Date.now() - startedAt;
    const reject = (status: number, message: string, fingerprint: string, model: string | null = null): Reply =>
      record({ n: ++count, kind: 'invalid', model, temperature: null, seed: null, status, fingerprint, at_ms }, json(status, errorBody(status, message), {}, latencyMs));
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
    const base = { n, kind: 'embedding' as const, model, temperature: null, seed: null };
    const limited = limiter?.admit();
    if (limited) return record({ ...base, status: 429, fingerprint, at_ms, inputs: texts.length, fault: 'rate_limit' }, limited);

    const refusal = profile.refuse?.({ kind: 'embedding', body: b, model: model!, fingerprint, promptChars: 0 }, profileState, { contextChars });
    let reply: Reply;
    let labels: string[];
    let hold: string | undefined;
    if (refusal) {
      reply = profileReply(refusal);
      labels = [`profile:${refusal.label}`];
    } else {
      const rule = faults.pick({ kind: 'embedding', model: model!, allText: texts.join('\n') }, n);
      const scripted = scriptedReply(rule?.respond, latencyMs);
      const { respond, delay } = scripted;
      labels = scripted.faults;
      hold = respond.hold;
      if (scripted.reply) reply = scripted.reply;
      else {
        const base64 = b.encoding_format === 'base64';
        const data = respond.malformed ? [] : texts.map((t, index) => {
          const v = embedText(t, dims as number);
          return { object: 'embedding', index, embedding: base64 ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : Array.from(v) };
        });
        if (respond.malformed) labels.unshift(`malformed:${respond.malformed}`);
        const promptTokens = tokens(texts.reduce((sum, t) => sum + t.length, 0));
        const out: Record<string, unknown> = { object: 'list', data, model, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } };
        const label = profile.encodeEmbeddings?.(out);
        if (label) labels.push(`profile:${label}`);
        reply = json(respond.status ?? 200, respond.malformed === 'invalid_json' ? JSON.stringify(out).slice(0, 40) : out, respond.headers ?? {}, delay);
      }
    }
    if (hold) reply.after = gate(hold).open;
    const entry: Omit<RequestLogEntry, 'profile'> = { ...base, status: reply.status, fingerprint, at_ms, inputs: texts.length };
    if (labels.length) entry.fault = labels.join(',');
    return record(entry, reply, true);
  };

  const profileInfo = () => ({
    profile: profile.name,
    profiles: PROFILE_NAMES.map((name) => ({ name, imitates: PROFILES[name].imitates })),
  });

  const handleControl = async (req: http.IncomingMessage, path: string): Promise<Reply> => {
    if (path === '/_sim/requests' && req.method === 'GET') return json(200, log);
    if (path === '/_sim/script' && req.method === 'POST') {
      const raw = (await readBody(req)) ?? '';
      try {
        const parsed = JSON.parse(raw) as unknown;
        const list = Array.isArray(parsed) ? parsed : (parsed as { rules?: unknown } | null)?.rules;
        faults.set(list);
        return json(200, { ok: true, rules: faults.size });
      } catch (e) {
        return json(400, errorBody(400, (e as Error).message));
      }
    }
    if (path === '/_sim/verification' && req.method === 'POST') {
      const raw = (await readBody(req)) ?? '';
      try {
        verifyScript = validateVerificationScript(JSON.parse(raw) as unknown);
        return json(200, { ok: true });
      } catch (e) {
        return json(400, errorBody(400, (e as Error).message));
      }
    }
    if (path === '/_sim/release' && req.method === 'POST') {
      const raw = (await readBody(req)) ?? '';
      try {
        const name = (JSON.parse(raw) as { name?: unknown } | null)?.name;
        if (typeof name !== 'string' || !name) throw new Error(`expected a JSON object {"name": "<gate>"}, got ${raw.slice(0, 200)}`);
        gate(name).release();
        return json(200, { ok: true });
      } catch (e) {
        return json(400, errorBody(400, (e as Error).message));
      }
    }
    if (path === '/_sim/reset' && req.method === 'POST') {
      await readBody(req);
      releaseAll();
      verifyScript = {};
      faults.set([]);
      log = [];
      count = 0;
      setProfile(initialProfile.name);
      return json(200, { ok: true });
    }
    if (path === '/_sim/profile' && req.method === 'GET') return json(200, profileInfo());
    if (path === '/_sim/profile' && req.method === 'POST') {
      const raw = (await readBody(req)) ?? '';
      try {
        const parsed = JSON.parse(raw) as unknown;
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`expected a JSON object {"profile": "<name>"}, got ${raw.slice(0, 200)}`);
        setProfile((parsed as { profile?: unknown }).profile);
        return json(200, { ok: true, profile: profile.name });
      } catch (e) {
        return json(400, errorBody(400, (e as Error).message));
      }
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
    const answerable = req.method === 'POST' && (path === '/v1/chat/completions' || path === '/v1/embeddings');
    if (path.startsWith('/v1/') && !answerable && profile.refuseOther) {
      await readBody(req);
      return profileReply(profile.refuseOther());
    }
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

  const server = createReplyServer(route);
  const port = await listen(server, opts.port ?? 0, host);
  const rootUrl = `http://${host}:${port}`;

  let closed: Promise<void> | null = null;
  return {
    url: `${rootUrl}/v1`,
    rootUrl,
    port,
    close() {
      releaseAll();
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
    script: (rules) => faults.set(rules),
    clearScript: () => faults.set([]),
    release: (name) => gate(name).release(),
    requests: () => log.map((e) => ({ ...e })),
    resetLog: () => {
      log = [];
      count = 0;
    },
    profile: (name) => (name === undefined ? profile.name : setProfile(name)),
    verification: (script) => {
      verifyScript = validateVerificationScript(script);
    },
  };
}

// ---------------------------------------------------------------------------------------------------- remote control

/** Controls a simulator in another process over its `/_sim/` endpoints; every method rejects on an HTTP error. */
export interface SimulatorControl {
  script(rules: FaultRule[]): Promise<void>;
  /** Clears the script and the request log, and selects the profile the simulator started with. */
  reset(): Promise<void>;
  requests(): Promise<RequestLogEntry[]>;
  /** Selects the profile `name` and returns it, or returns the profile in effect; an unknown name rejects (HTTP 400). */
  profile(name?: ProfileName | string): Promise<ProfileName>;
  /** Sets the verification script (see Simulator.verification); an invalid one rejects (HTTP 400). */
  verification(script: VerificationScript): Promise<void>;
  /** Opens the gate `name` (see Simulator.release). */
  release(name: string): Promise<void>;
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
    verification: async (script) => void (await call('POST', '/_sim/verification', script)),
    release: async (name) => void (await call('POST', '/_sim/release', { name })),
    profile: async (name) =>
      ((await (name === undefined ? call('GET', '/_sim/profile') : call('POST', '/_sim/profile', { profile: name }))) as { profile: ProfileName }).profile,
  };
}
