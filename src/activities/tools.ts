/** Tool activities (task queue `<base>-tool-<name>`, one per tool): run one tool call, return a bounded observation. */
import type OpenAI from 'openai';
import type { ChatEndpoint } from '../llm/chat';
import { ApplicationFailure } from '@temporalio/common';
import type { Observation, RunToolInput } from '../shared/types';
import { FailureType, MODE_TOOLS } from '../shared/constants';
import { executeTool } from '../tools/registry';
import { withHeartbeat } from './heartbeat';

export interface ToolDeps {
  /** OpenAI-compatible client for tools that call an LLM (web_visit summaries). */
  llmClient?: () => OpenAI;
  /** The worker's chat endpoint, shared with its LLM activities (capabilities learnt once, one limiter). */
  endpoint?: ChatEndpoint;
}

export function createToolActivities(deps: ToolDeps = {}) {
  return {
    async runTool(input: RunToolInput): Promise<Observation> {
      if (!MODE_TOOLS[input.mode]?.includes(input.tool_name)) {
        throw ApplicationFailure.create({
          type: FailureType.InvalidInput,
          nonRetryable: true,
          message: `tool ${input.tool_name} is not available in ${input.mode} mode (valid: ${MODE_TOOLS[input.mode]?.join(', ')})`,
        });
      }
      return withHeartbeat((signal) =>
        executeTool(input.tool_name, input.parameters, {
          environment_kwargs: input.environment_kwargs,
          signal,
          ...(deps.llmClient ? { llm: { client: deps.llmClient, model: input.summary_model, endpoint: deps.endpoint } } : {}),
        }),
      );
    },
  };
}

export type ToolActivities = ReturnType<typeof createToolActivities>;
