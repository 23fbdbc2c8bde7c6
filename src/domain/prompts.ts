/**
 * Prompt building (spec §1.4 "Action prompt", §1.6 QA prompt) in plain code. Workflow-safe.
 * Prompts are paraphrased from the original's structure, not copied.
 */
import type { ChooseActionInput, PathStep, QaExample, SynthesizeQaInput, ToolSchema } from '../shared/types';
import { isPlainObject, truncate } from './format';

export interface ChatMessage {
  role: 'system' | 'user';
  content: string;
}

/** History observations in the action prompt (the original's 200; the current observation is never cut). */
export const ACTION_HISTORY_OBSERVATION_CHARS = 200;
/** Observations in the QA prompt. The original's 500 starved the synthesizer of the evidence it was asked to use. */
export const QA_OBSERVATION_CHARS = 2000;
/** Examples shown in the action prompt (all of them go into the QA prompt). */
export const ACTION_PROMPT_EXAMPLES = 2;

// ---------------------------------------------------------------- JSON Schema helpers

function schemaTypeName(schema: unknown): string {
  if (!isPlainObject(schema)) return 'any';
  const t = schema.type;
  if (t === 'array') return `array of ${schemaTypeName(schema.items)}`;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const parts = t.filter((x) => x !== 'null').map((x) => (x === 'array' ? `array of ${schemaTypeName(schema.items)}` : String(x)));
    return parts.join(' or ') || 'null';
  }
  const union = (schema.anyOf ?? schema.oneOf) as unknown;
  if (Array.isArray(union)) {
    const parts = union.filter((s) => !(isPlainObject(s) && s.type === 'null')).map(schemaTypeName);
    return [...new Set(parts)].join(' or ') || 'any';
  }
  if (Array.isArray(schema.enum)) return `one of ${schema.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  return 'any';
}

/** Parameters of a tool's JSON Schema: name, type text, required flag, description. */
export function describeParameters(
  parameters: Record<string, unknown>,
): { name: string; type: string; required: boolean; description: string }[] {
  const props = isPlainObject(parameters.properties) ? parameters.properties : {};
  const required = Array.isArray(parameters.required) ? (parameters.required as unknown[]) : [];
  return Object.entries(props).map(([name, schema]) => ({
    name,
    type: schemaTypeName(schema),
    required: required.includes(name),
    description: isPlainObject(schema) && typeof schema.description === 'string' ? schema.description : '',
  }));
}

/** Numbered tool list (name, description, parameters). */
export function formatToolList(tools: readonly ToolSchema[]): string {
  if (tools.length === 0) return '(no tools are available)';
  return tools
    .map((tool, i) => {
      const lines = [`${i + 1}. ${tool.name}: ${tool.description}`];
      const params = describeParameters(tool.parameters);
      if (params.length === 0) lines.push('   Parameters: none');
      else {
        lines.push('   Parameters:');
        for (const p of params) {
          const desc = p.description ? `: ${p.description}` : '';
          lines.push(`   - ${p.name} (${p.type}, ${p.required ? 'required' : 'optional'})${desc}`);
        }
      }
      return lines.join('\n');
    })
    .join('\n');
}

function formatExamples(examples: readonly QaExample[]): string {
  return examples
    .map((ex, i) => {
      const lines = [`Example ${i + 1}:`, `Question: ${ex.question}`, `Answer: ${ex.answer}`];
      if (ex.reasoning) lines.push(`Reasoning: ${ex.reasoning}`);
      return lines.join('\n');
    })
    .join('\n\n');
}

function seedBlock(seedText: string, seedDescription: string): string {
  return seedDescription ? `Seed: ${seedText}\nSeed description: ${seedDescription}` : `Seed: ${seedText}`;
}

function formatHistory(history: readonly PathStep[]): string {
  if (history.length === 0) return 'Exploration so far: none yet; this is the first step after the starting point.';
  const lines = history.map(
    (s, i) =>
      `Step ${i + 1}: intent: ${s.intent} | tool: ${s.tool_name} | observation: ${truncate(s.observation, ACTION_HISTORY_OBSERVATION_CHARS)}`,
  );
  return `Exploration so far (from the starting point to the current position):\n${lines.join('\n')}`;
}

// ---------------------------------------------------------------- action prompt

/** Marks the machine-readable tool block appended in json mode (parsed by the offline simulator). */
export const TOOLS_BLOCK_OPEN = '<tools>';
export const TOOLS_BLOCK_CLOSE = '</tools>';

/**
 * The action-choice prompt: one user message with the original's 9 parts in order — role, seed, goal,
 * sampling tips, history, current observation, tools, examples, instruction. In `json` mode it ends with a
 * `<tools>` block holding JSON.stringify(tools) on one line.
 */
export function buildActionMessages(input: ChooseActionInput, tools: readonly ToolSchema[]): ChatMessage[] {
  const parts: string[] = [];
  // 1. role
  parts.push(
    'You are an intelligent agent exploring an environment with tools. Each step you choose one tool call that gathers new, specific information.',
  );
  // 2. seed
  parts.push(seedBlock(input.seed_text, input.seed_description));
  // 3. goal
  parts.push(
    'Goal: explore outward from the seed step by step. Each step should build on what has been found so far and uncover new entities, relations and verifiable facts (names, dates, numbers, causes), so that the path can later support a question that needs several steps of reasoning to answer.',
  );
  // 4. sampling tips
  if (input.sampling_tips.trim()) parts.push(`Exploration tips:\n${input.sampling_tips.trim()}`);
  // 5. history, then the calls already made anywhere in this seed's tree (repeats are refused)
  parts.push(formatHistory(input.history));
  if (input.executed_actions?.length) {
    parts.push(
      `Tool calls already made in this exploration (do not repeat any of them; a repeat is refused):\n${input.executed_actions
        .map((a) => `- ${a}`)
        .join('\n')}`,
    );
  }
  // 6. current observation, in full
  parts.push(`Current observation:\n${input.current_observation}`);
  // 7. tools
  parts.push(`Available tools:\n${formatToolList(tools)}`);
  // 8. examples
  const examples = input.qa_examples.slice(0, ACTION_PROMPT_EXAMPLES);
  if (examples.length > 0) {
    parts.push(`Examples of the questions this exploration should make possible:\n${formatExamples(examples)}`);
  }
  // 9. instruction
  if (input.tool_calling === 'native') {
    parts.push(
      'Choose the single most useful next step and call exactly one of the offered tools. In the call, set the `intent` argument to one sentence saying why this step is useful. Do not reply with plain text.',
    );
  } else {
    parts.push(
      [
        'Choose the single most useful next step. Reply with only a JSON object of this form:',
        '{"intent": "<one sentence: why this step>", "action": {"tool_name": "<one of the tool names above>", "parameters": {<the tool\'s arguments>}}}',
        'Use exactly one tool and give every required parameter.',
        TOOLS_BLOCK_OPEN,
        JSON.stringify(tools),
        TOOLS_BLOCK_CLOSE,
      ].join('\n'),
    );
  }
  return [{ role: 'user', content: parts.join('\n\n') }];
}

// ---------------------------------------------------------------- QA prompt

function formatSteps(steps: readonly PathStep[]): string {
  return steps
    .map((s, i) =>
      [
        `Step ${i + 1}:`,
        `  Intent: ${s.intent}`,
        `  Tool: ${s.tool_name}`,
        `  Parameters: ${JSON.stringify(s.parameters)}`,
        `  Observation: ${truncate(s.observation, QA_OBSERVATION_CHARS)}`,
      ].join('\n'),
    )
    .join('\n\n');
}

export const QA_REQUIREMENTS = [
  'Requirements:',
  '- Question: follows the style of the examples; needs several steps of reasoning that combine facts from different steps; is clear and unambiguous; arises naturally from what was found.',
  '- The question must be self-contained and factual. Never mention "the trajectory", "the exploration", "the agent" or "the steps". Do not ask how/why questions or ask to describe something.',
  '- Answer: concise and grounded in the exploration above: one entity or a short phrase, never a sentence of explanation.',
  '- The answer must not appear in the question.',
  '- Reasoning steps: show how to solve the question, step by step: which tool to use and what information is found at each step (not a replay of the exploration).',
].join('\n');

/**
 * The QA-synthesis prompt (§1.6 plus HEAD's guidance). When `previous_rejection` is set, the model is told
 * why its last answer was rejected.
 */
export function buildQaMessages(input: SynthesizeQaInput): ChatMessage[] {
  const parts: string[] = [];
  parts.push(
    'You are a data synthesis expert. From the exploration below, write one high-quality question-answer pair that requires multi-step reasoning over the information found.',
  );
  parts.push(seedBlock(input.seed_text, input.seed_description));
  parts.push(`Exploration (${input.steps.length} steps):\n${formatSteps(input.steps)}`);
  if (input.synthesis_tips.trim()) parts.push(`Synthesis tips:\n${input.synthesis_tips.trim()}`);
  if (input.qa_examples.length > 0) parts.push(`Examples:\n${formatExamples(input.qa_examples)}`);
  parts.push(QA_REQUIREMENTS);
  if (input.previous_rejection) {
    parts.push(`Your previous answer was rejected because: ${input.previous_rejection}. Fix it in this answer.`);
  }
  parts.push(
    'Reply with only a JSON object of this form:\n{"question": "...", "answer": "...", "reasoning_steps": [{"step": 1, "description": "...", "intent": "...", "action": "...", "observation": "..."}]}',
  );
  return [{ role: 'user', content: parts.join('\n\n') }];
}

/** JSON Schema of the QA output; strict-compatible (every property required, no additional properties). */
export const QA_JSON_SCHEMA = {
  type: 'object',
  properties: {
    question: { type: 'string' },
    answer: { type: 'string' },
    reasoning_steps: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          step: { type: 'integer' },
          description: { type: 'string' },
          intent: { type: 'string' },
          action: { type: 'string' },
          observation: { type: 'string' },
        },
        required: ['step', 'description', 'intent', 'action', 'observation'],
        additionalProperties: false,
      },
    },
  },
  required: ['question', 'answer', 'reasoning_steps'],
  additionalProperties: false,
} as const;

/** Name for OpenAI `response_format: {type: 'json_schema', json_schema: {name, schema, strict}}`. */
export const QA_JSON_SCHEMA_NAME = 'qa_synthesis';

/** The `intent` argument added to every tool in native tool calling. */
export const INTENT_PROPERTY = {
  type: 'string',
  description: 'One sentence: why this step is useful for the exploration.',
} as const;

/**
 * A copy of a tool's JSON Schema with a required string property `intent` (first), so a native tool call
 * carries the step's intent the way the original's JSON reply did. Does not modify the input.
 */
export function withIntent(parameters: Record<string, unknown>): Record<string, unknown> {
  const props = isPlainObject(parameters.properties) ? parameters.properties : {};
  const { intent: _ignored, ...rest } = props;
  const required = Array.isArray(parameters.required) ? (parameters.required as unknown[]).filter((r) => r !== 'intent') : [];
  return {
    ...parameters,
    type: 'object',
    properties: { intent: { ...INTENT_PROPERTY }, ...rest },
    required: ['intent', ...required],
  };
}

/** Alias under the name used in the brief. */
export const actionIntentProperty = withIntent;

// ---------------------------------------------------------------- agent prompt (exports)

/**
 * The system prompt of the agent a QA record trains: answer the question with the offered tools, then reply with
 * the short answer. Used by the SFT/ShareGPT/Parquet exports (src/export/); its answer rule is QA_REQUIREMENTS'
 * ("one entity or a short phrase"), so the training target matches what the QA prompt asked the synthesizer for.
 */
export const AGENT_SYSTEM_PROMPT = [
  'You are a research agent that answers questions by calling tools.',
  'Gather the facts the question needs step by step: call one tool at a time, read its result, and decide the next step from what you found.',
  'When the results support an answer, reply with only the final answer: one entity or a short phrase, never a sentence of explanation.',
].join(' ');
