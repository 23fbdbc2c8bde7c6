/**
 * Keys of the call cache (src/cache/store.ts): which LLM and tool calls are "the same call".
 *
 * LLM call key = sha256 of the canonical JSON (sorted keys, see src/domain/format.ts) of
 *   - the endpoint (its base URL, or a fixed label such as the simulator's), so a model name served by two
 *     different servers never shares answers;
 *   - the whole request body as the activity builds it: model, messages, tools, tool_choice, temperature, seed,
 *     max_tokens, response_format — every field, so any change of a prompt or a sampling parameter is a new key;
 *   - the call's *place* in the run (its sample discriminator, see actionCallPlace / qaCallPlace in src/domain/ids.ts): two
 *     calls that send byte-identical requests are still two samples when they stand in different places
 *     (branches of one node, retries of one QA), and stay two cache entries.
 *   The run id is not part of the key: a re-run of the same config and seeds (under any run id) finds every call
 *   whose request and place are unchanged.
 *
 * Tool call key = sha256 of the tool name, its canonical arguments and `environment_kwargs` (provider, corpus,
 * site, limits), plus, for web_visit, the summary model and the endpoint (its goal-directed summary is an LLM
 * call). No place: a tool call looks the world up, it does not sample, so the same call anywhere in the run (or
 * in another run) may share one answer.
 *
 * Keys carry a version prefix ({@link CACHE_KEY_VERSION}); changing what goes into a key bumps it, and the old
 * entries are simply never found again.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../domain/format';

/** Bumped whenever the content of a key changes meaning (old entries become unreachable, never wrong). */
export const CACHE_KEY_VERSION = 1;

/**
 * The tools whose calls are cached: the network tools, slow and paid or rate-limited, whose answers may change
 * between runs (so a re-run from the cache is also reproducible). calculator, python_interpreter and local_search
 * run locally, cost nothing and are deterministic for the same input (local_search: for the same corpus); a cache
 * lookup would cost about as much as the call, and a cached local_search would hide a rebuilt corpus.
 */
export const CACHED_TOOLS: ReadonlySet<string> = new Set(['web_search', 'web_visit']);

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** What identifies one LLM call (see the module comment). */
export interface LlmKeyParts {
  /** The endpoint: its base URL, or a label for a built-in one. */
  endpoint: string;
  /** The request body as sent (before any capability fallback of src/llm/chat.ts). */
  body: object;
  /** The call's place in the run (actionCallPlace / qaCallPlace of src/domain/ids.ts). */
  place: string;
}

/** The cache key of an LLM call: `llm/v<version>/<sha256 hex>`. */
export function llmCacheKey(parts: LlmKeyParts): string {
  const material = canonicalJson({ v: CACHE_KEY_VERSION, kind: 'llm', endpoint: parts.endpoint, body: parts.body, place: parts.place });
  return `llm/v${CACHE_KEY_VERSION}/${sha256Hex(material)}`;
}

/** What identifies one tool call. */
export interface ToolKeyParts {
  tool_name: string;
  parameters: Record<string, unknown>;
  environment_kwargs: Record<string, unknown>;
  /** web_visit only: the model and endpoint of its summary. */
  summary?: { model: string; endpoint: string };
}

/** The cache key of a tool call: `tool/v<version>/<tool>/<sha256 hex>`. */
export function toolCacheKey(parts: ToolKeyParts): string {
  const material = canonicalJson({
    v: CACHE_KEY_VERSION,
    kind: 'tool',
    tool: parts.tool_name,
    parameters: parts.parameters,
    environment_kwargs: parts.environment_kwargs,
    summary: parts.summary,
  });
  return `tool/v${CACHE_KEY_VERSION}/${parts.tool_name}/${sha256Hex(material)}`;
}
