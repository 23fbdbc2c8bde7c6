/**
 * Token counts for endpoints that do not report `usage` (llama.cpp builds, some gateways, streamed answers).
 * Budgets in tokens and cost must still hold there, so qasynth estimates the counts with a BPE tokenizer
 * (gpt-tokenizer, OpenAI's o200k_base encoding) and marks them as estimates in the statistics. For other model
 * families the count is an approximation (tokenizers differ by roughly ±20 %), which is what "estimate" means here.
 */
import type { ModelReply } from '../domain/parse';
import type { TokenUsage } from '../shared/types';

/**
 * Per-message overhead of the chat format (role markers), in tokens; OpenAI's cookbook "How to count tokens
 * with tiktoken" uses 3 per message plus 3 to prime the reply.
 */
const TOKENS_PER_MESSAGE = 3;
const REPLY_PRIMING_TOKENS = 3;

let countTokens: ((text: string) => number) | null = null;
/** The tokenizer is loaded on first use (~250 ms, 30 MB), only by workers that meet a usage-less endpoint. */
function tokens(text: string): number {
  if (!text) return 0;
  if (!countTokens) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    countTokens = (require('gpt-tokenizer') as { countTokens: (t: string) => number }).countTokens;
  }
  return countTokens(text);
}

function messageText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p) => (p && typeof p === 'object' && typeof (p as { text?: unknown }).text === 'string' ? (p as { text: string }).text : '')).join('');
  return content === undefined || content === null ? '' : JSON.stringify(content);
}

/**
 * Estimated usage of one chat completion: the request's messages (plus tool schemas and response format)
 * as input, the reply's content, reasoning and tool-call arguments as output.
 */
export function estimateUsage(body: { messages?: unknown; tools?: unknown; response_format?: unknown }, reply: ModelReply | null): TokenUsage {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  let input = REPLY_PRIMING_TOKENS;
  for (const m of messages) {
    const msg = (m ?? {}) as { role?: unknown; content?: unknown };
    input += TOKENS_PER_MESSAGE + tokens(String(msg.role ?? '')) + tokens(messageText(msg.content));
  }
  if (body.tools) input += tokens(JSON.stringify(body.tools));
  if (body.response_format) input += tokens(JSON.stringify(body.response_format));
  let output = 0;
  if (reply) {
    output += tokens(reply.content) + tokens(reply.reasoning);
    for (const c of reply.tool_calls) output += tokens(c.name) + tokens(typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments ?? ''));
  }
  return { input_tokens: input, output_tokens: output };
}
