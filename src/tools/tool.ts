/** The contract every tool module implements: a zod argument schema (→ JSON Schema for the model) and execute(). */
import type OpenAI from 'openai';
import type { z } from 'zod';
import type { ChatEndpoint } from '../llm/chat';
import type { ToolLlmUsage } from '../shared/types';

/** An LLM a tool may call (web_visit's goal-directed page summary). */
export interface ToolLlm {
  client: () => OpenAI;
  model: string;
  /**
   * The worker's chat endpoint (answer shapes, capability fallbacks, admission control), shared with its LLM
   * activities; one is built around `client` when absent.
   */
  endpoint?: ChatEndpoint;
}

export interface ToolContext {
  /** `config.environment_kwargs` (e.g. corpus_path, python_timeout_seconds, search_provider). */
  environment_kwargs: Record<string, unknown>;
  /** Aborted when the activity is cancelled or times out; long-running tools must stop. */
  signal?: AbortSignal;
  /** Present in workers that serve tools needing an LLM. */
  llm?: ToolLlm;
  /**
   * What this tool call keeps across the retries of its activity (carried in the activity's heartbeat details): a
   * tool stores what it paid for — web_visit each page summary — and finds it again when the activity is retried
   * after a failure, instead of paying it twice. Absent outside a (non-local) activity.
   */
  attemptMemo?: AttemptMemo;
}

/** Values by key, kept across the attempts of one activity (ToolContext.attemptMemo). JSON-serialisable values only. */
export interface AttemptMemo {
  get(key: string): unknown;
  set(key: string, value: unknown): void;
}

export interface ToolResult {
  text: string;
  /** True when the observation reports a failure the agent should see (bad expression, exception, timeout). */
  error?: boolean;
  /** URLs or documents the observation came from. */
  sources?: string[];
  /** What the tool's own LLM calls cost (web_visit's summaries); passed on as Observation.llm_usage. */
  llm_usage?: ToolLlmUsage;
}

export interface ToolDefinition<A = any> {
  name: string;
  description: string;
  schema: z.ZodType<A>;
  execute(args: A, ctx: ToolContext): Promise<ToolResult>;
}
