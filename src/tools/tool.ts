/** The contract every tool module implements: a zod argument schema (→ JSON Schema for the model) and execute(). */
import type { z } from 'zod';

export interface ToolContext {
  /** `config.environment_kwargs` (e.g. corpus_path, python_timeout_seconds). */
  environment_kwargs: Record<string, unknown>;
  /** Aborted when the activity is cancelled or times out; long-running tools must stop. */
  signal?: AbortSignal;
}

export interface ToolResult {
  text: string;
  /** True when the observation reports a failure the agent should see (bad expression, exception, timeout). */
  error?: boolean;
}

export interface ToolDefinition<A = any> {
  name: string;
  description: string;
  schema: z.ZodType<A>;
  execute(args: A, ctx: ToolContext): Promise<ToolResult>;
}
