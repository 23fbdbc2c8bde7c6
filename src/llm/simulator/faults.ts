/**
 * Scripted faults and the server-side rate limit: fault rules (`script(rules)`) that answer with an HTTP error,
 * a literal body, a delay or a malformed answer, and a sliding-window requests-per-minute quota answered with
 * 429 + `retry-after-ms`.
 */
import { Prng, sha256 } from './determinism';
import { errorBody, json, type Reply } from './protocol';

/** How a scripted 200 answer is broken: unparseable JSON, a tool that was not offered, a missing required argument, or empty content. */
export type MalformedKind = 'invalid_json' | 'unknown_tool' | 'missing_argument' | 'empty';

/** One scripted fault: which requests it matches, how often it fires, and what it answers instead. */
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
    /**
     * The answer waits until the gate of this name is released (`Simulator.release(name)`, `POST /_sim/release`),
     * then takes its delay: a test holds one call open until something else has happened, without sleeping.
     * Gates still closed when the simulator closes are released.
     */
    hold?: string;
    /**
     * Replaces the simulator's latency for this answer (ms): e.g. 0 for a 429, which real providers send at once,
     * before any generation.
     */
    latencyMs?: number;
    /** A 200 answer that is broken in this way. */
    malformed?: MalformedKind;
    /**
     * QA requests: a well-formed QA whose answer (UNGROUNDED_ANSWER) appears in none of the prompt's observations,
     * as a model that invents its answer writes it (for grounding tests). Ignored for other requests.
     */
    ungrounded?: boolean;
  };
}

/** Every {@link MalformedKind}. */
export const MALFORMED: readonly MalformedKind[] = ['invalid_json', 'unknown_tool', 'missing_argument', 'empty'];

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
      if (respond.ungrounded !== undefined && typeof respond.ungrounded !== 'boolean') {
        problems.push(`${p}.respond.ungrounded: expected true or false, got ${got(respond.ungrounded)}`);
      }
      if (respond.latencyMs !== undefined && !(typeof respond.latencyMs === 'number' && respond.latencyMs >= 0)) {
        problems.push(`${p}.respond.latencyMs: expected a number ≥ 0, got ${got(respond.latencyMs)}`);
      }
      if (respond.delayMs !== undefined && !(typeof respond.delayMs === 'number' && respond.delayMs >= 0)) {
        problems.push(`${p}.respond.delayMs: expected a number ≥ 0, got ${got(respond.delayMs)}`);
      }
      if (respond.hold !== undefined && !(typeof respond.hold === 'string' && respond.hold.length > 0)) {
        problems.push(`${p}.respond.hold: expected a gate name (a non-empty string), got ${got(respond.hold)}`);
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

/** What a request is matched on. */
export interface FaultTarget {
  kind: 'action' | 'qa' | 'text' | 'embedding';
  model: string;
  /** Concatenated message contents (or embedding inputs). */
  allText: string;
}

/** A fault script with its per-rule counters (how many requests each rule matched and fired for). */
export class FaultScript {
  private rules: FaultRule[] = [];
  private ruleMatches: number[] = [];
  private ruleFired: number[] = [];

  /** `simSeed` seeds the PRNG behind `probability` (with the request number and rule index). */
  constructor(private readonly simSeed: number) {}

  /** Replaces the rules (validated; throws as {@link validateFaultRules}) and restarts the counters. */
  set(rules: unknown): void {
    this.rules = validateFaultRules(rules).map((x) => ({ ...x }));
    this.ruleMatches = this.rules.map(() => 0);
    this.ruleFired = this.rules.map(() => 0);
  }

  /** Number of rules. */
  get size(): number {
    return this.rules.length;
  }

  /** The first rule that fires for request number `n`, counting matches and firings. */
  pick(a: FaultTarget, n: number): FaultRule | undefined {
    for (let i = 0; i < this.rules.length; i++) {
      const rule = this.rules[i]!;
      const m = rule.match ?? {};
      const kind = m.kind ?? 'any';
      if (kind !== 'any' && kind !== a.kind) continue;
      if (m.model !== undefined && m.model !== a.model) continue;
      if (m.contains !== undefined && !a.allText.includes(m.contains)) continue;
      const matchNo = this.ruleMatches[i]!++;
      if (rule.after !== undefined && matchNo < rule.after) continue;
      if (rule.times !== undefined && this.ruleFired[i]! >= rule.times) continue;
      if (rule.probability !== undefined && !new Prng(sha256(`${this.simSeed}:${n}:${i}`)).chance(rule.probability)) continue;
      this.ruleFired[i]!++;
      return rule;
    }
    return undefined;
  }
}

/**
 * The part of a scripted answer that does not depend on the endpoint: the total delay (the rule's `latencyMs`, else the simulator's, + the
 * rule's `delayMs`), the fault labels for the log (delay included), and — for an error status or a literal
 * body — the whole reply (null when the endpoint answers normally, possibly `malformed`).
 */
export function scriptedReply(rule: FaultRule['respond'] | undefined, latencyMs: number) {
  const respond = rule ?? {};
  const delay = (respond.latencyMs ?? latencyMs) + (respond.delayMs ?? 0);
  const faults: string[] = respond.delayMs ? [`delay:${respond.delayMs}`] : [];
  if (respond.hold) faults.push(`hold:${respond.hold}`);
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
}

/** A provider's requests-per-minute quota, as `startSimulator({ rateLimit })` takes it. */
export interface RateLimitOptions {
  requestsPerMinute: number;
  /** Sliding window length in ms (default 60 000). */
  windowMs?: number;
}

/**
 * Sliding-window rate limit: at most `requestsPerMinute` × `windowMs` / 60 000 requests (at least 1) are
 * admitted in any window of `windowMs`. Throws on a non-positive `requestsPerMinute` or `windowMs`.
 */
export class SlidingWindowLimiter {
  private readonly windowMs: number;
  private readonly limit: number;
  /** Admission times (ms, `performance.now()`) of the requests in the window, oldest first from `head`. */
  private readonly admitted: number[] = [];
  private head = 0;

  constructor(private readonly opts: RateLimitOptions) {
    if (!(Number.isFinite(opts.requestsPerMinute) && opts.requestsPerMinute > 0)) {
      throw new Error(`rateLimit.requestsPerMinute: expected a number > 0, got ${String(opts.requestsPerMinute)}`);
    }
    if (opts.windowMs !== undefined && !(Number.isFinite(opts.windowMs) && opts.windowMs > 0)) {
      throw new Error(`rateLimit.windowMs: expected a number > 0, got ${String(opts.windowMs)}`);
    }
    this.windowMs = opts.windowMs ?? 60_000;
    this.limit = Math.max(1, Math.floor((opts.requestsPerMinute * this.windowMs) / 60_000));
  }

  /**
   * Null when the request is admitted (it takes a slot), else the 429 reply: an OpenAI-shaped
   * `rate_limit_exceeded` error, `retry-after-ms` = milliseconds until the oldest admitted request leaves the
   * window, `retry-after` (seconds, rounded up) and `x-ratelimit-*` headers.
   */
  admit(): Reply | null {
    const now = performance.now();
    const { admitted, windowMs, limit } = this;
    while (this.head < admitted.length && admitted[this.head]! <= now - windowMs) this.head++;
    if (this.head > 4096) {
      admitted.splice(0, this.head);
      this.head = 0;
    }
    const inWindow = admitted.length - this.head;
    if (inWindow < limit) {
      admitted.push(now);
      return null;
    }
    const waitMs = Math.max(1, Math.ceil(admitted[this.head]! + windowMs - now));
    const body = {
      error: {
        message: `Rate limit reached: ${limit} requests per ${windowMs} ms (simulated ${this.opts.requestsPerMinute} requests/min). Please try again in ${waitMs}ms.`,
        type: 'requests',
        param: null,
        code: 'rate_limit_exceeded',
      },
    };
    return json(429, body, {
      'retry-after-ms': String(waitMs),
      'retry-after': String(Math.ceil(waitMs / 1000)),
      'x-ratelimit-limit-requests': String(limit),
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': `${waitMs}ms`,
    });
  }
}
