/**
 * The OpenAI-compatible client used by LLM activities.
 *
 * Environment (the original's names are honoured as fallbacks):
 * - `OPENAI_BASE_URL` (else `OPENAI_API_BASE`, else `OPENAI_API_URL`, else https://api.openai.com/v1)
 * - `OPENAI_API_KEY` (optional for loopback endpoints such as the simulator, required otherwise)
 * - `QASYNTH_LLM_TIMEOUT_MS` (optional): a lower cap on one HTTP request, in ms. By default a request may take as
 *   long as its activity may (config `llm_timeout_seconds`); the cap applied is the smaller of the two.
 *
 * The client never retries by itself (`maxRetries: 0`): Temporal's retry policy owns retries (design.md "Errors").
 */
import OpenAI from 'openai';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../shared/constants';

export const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1';
/** The client's own timeout when QASYNTH_LLM_TIMEOUT_MS is unset (the OpenAI SDK's default); each request is
 * further bounded by its activity's remaining time (src/llm/chat.ts). */
export const DEFAULT_LLM_TIMEOUT_MS = 600_000;
/** Environment variables read for the base URL, in order. */
export const BASE_URL_VARIABLES = ['OPENAI_BASE_URL', 'OPENAI_API_BASE', 'OPENAI_API_URL'] as const;

type Env = Record<string, string | undefined>;

export interface LlmEndpoint {
  baseURL: string;
  /** Which variable the base URL came from (`default` when none was set). */
  baseURLSource: string;
  apiKey: string;
  apiKeySet: boolean;
  timeoutMs: number;
}

/** What can be logged about the endpoint: never the key. */
export interface LlmEndpointDescription {
  baseURL: string;
  baseURLSource: string;
  apiKeySet: boolean;
  loopback: boolean;
  timeoutMs: number;
}

function configError(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: FailureType.InvalidInput, nonRetryable: true });
}

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackUrl(url: string): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
    return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
  } catch {
    return false;
  }
}

function resolveBaseURL(env: Env): { baseURL: string; source: string } {
  for (const name of BASE_URL_VARIABLES) {
    const v = env[name]?.trim();
    if (!v) continue;
    let parsed: URL;
    try {
      parsed = new URL(v);
    } catch {
      throw configError(`${name}: expected an http(s) URL such as http://127.0.0.1:8000/v1, got ${JSON.stringify(v)}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw configError(`${name}: expected an http(s) URL, got protocol ${JSON.stringify(parsed.protocol)}`);
    }
    return { baseURL: v.replace(/\/+$/, ''), source: name };
  }
  return { baseURL: DEFAULT_OPENAI_BASE_URL, source: 'default' };
}

function resolveTimeout(env: Env): number {
  const raw = env.QASYNTH_LLM_TIMEOUT_MS?.trim();
  if (!raw) return DEFAULT_LLM_TIMEOUT_MS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) {
    throw configError(`QASYNTH_LLM_TIMEOUT_MS: expected a positive integer number of milliseconds, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/** Reads and validates the endpoint settings; throws a non-retryable `InvalidInput`/`LlmAuth` failure when unusable. */
export function resolveLlmEndpoint(env: Env = process.env): LlmEndpoint {
  const { baseURL, source } = resolveBaseURL(env);
  const timeoutMs = resolveTimeout(env);
  const key = env.OPENAI_API_KEY?.trim();
  if (key) return { baseURL, baseURLSource: source, apiKey: key, apiKeySet: true, timeoutMs };
  if (isLoopbackUrl(baseURL)) return { baseURL, baseURLSource: source, apiKey: 'unused', apiKeySet: false, timeoutMs };
  throw ApplicationFailure.create({
    message: `OPENAI_API_KEY is not set, and the LLM endpoint ${baseURL} (from ${source}) is not a local one. ` +
      'Fix: export OPENAI_API_KEY=<your key>, or point OPENAI_BASE_URL at a local OpenAI-compatible server.',
    type: FailureType.LlmAuth,
    nonRetryable: true,
  });
}

/** An OpenAI client for the configured endpoint, with SDK retries off. */
export function createOpenAiClient(env: Env = process.env): OpenAI {
  const ep = resolveLlmEndpoint(env);
  return new OpenAI({ baseURL: ep.baseURL, apiKey: ep.apiKey, maxRetries: 0, timeout: ep.timeoutMs });
}

/** A loggable description of the endpoint (no key). Does not throw for a missing key. */
export function describeLlmEndpoint(env: Env = process.env): LlmEndpointDescription {
  const { baseURL, source } = resolveBaseURL(env);
  return {
    baseURL,
    baseURLSource: source,
    apiKeySet: Boolean(env.OPENAI_API_KEY?.trim()),
    loopback: isLoopbackUrl(baseURL),
    timeoutMs: resolveTimeout(env),
  };
}
