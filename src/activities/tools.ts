/** Tool activities (task queue `<base>-tools`): run one tool call, return a bounded observation. */
import { ApplicationFailure } from '@temporalio/common';
import type { Observation, RunToolInput } from '../shared/types';
import { FailureType, MODE_TOOLS } from '../shared/constants';
import { executeTool } from '../tools/registry';
import { withHeartbeat } from './heartbeat';

export function createToolActivities() {
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
        executeTool(input.tool_name, input.parameters, { environment_kwargs: input.environment_kwargs, signal }),
      );
    },
  };
}

export type ToolActivities = ReturnType<typeof createToolActivities>;
