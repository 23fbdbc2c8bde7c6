/**
 * The answer shapes real servers emit (vLLM, Ollama, llama.cpp, LiteLLM, OpenRouter, reasoning models), each
 * read into the same action or QA — and the shapes that must be refused rather than misread.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ToolSchema } from '../../src/shared/types';
import {
  parseActionReply,
  parseQaJson,
  parseQaReply,
  parseToolCall,
  splitThinking,
  toolCallsInText,
  type ModelReply,
} from '../../src/domain/parse';

const tools: ToolSchema[] = [
  {
    name: 'calculator',
    description: 'calc',
    parameters: { type: 'object', properties: { expressions: { type: 'array', items: { type: 'string' } } }, required: ['expressions'] },
  },
  {
    name: 'web_search',
    description: 'search',
    parameters: { type: 'object', properties: { queries: { type: 'array', items: { type: 'string' } } }, required: ['queries'] },
  },
];

const reply = (over: Partial<ModelReply>): ModelReply => ({ content: '', reasoning: '', tool_calls: [], finish_reason: 'stop', ...over });
const WANT = { ok: true, intent: 'grow it', action: { tool_name: 'calculator', parameters: { expressions: ['1000*1.05^2'] } } };
const ARGS = { intent: 'grow it', expressions: ['1000*1.05^2'] };

describe('actions', () => {
  test('native tool call with arguments as a string, an object (llama.cpp) or a doubly encoded string', () => {
    for (const args of [JSON.stringify(ARGS), ARGS, JSON.stringify(JSON.stringify(ARGS))]) {
      assert.deepEqual(parseActionReply(reply({ tool_calls: [{ name: 'calculator', arguments: args }] }), tools), WANT);
    }
    assert.deepEqual(parseToolCall('calculator', { expressions: '2*3' }, tools), {
      ok: true,
      intent: '',
      action: { tool_name: 'calculator', parameters: { expressions: ['2*3'] } },
    });
  });

  test('a tool call written into content, in every common template format', () => {
    const json = JSON.stringify(ARGS);
    const shapes: Record<string, string> = {
      'bare JSON {name, arguments}': JSON.stringify({ name: 'calculator', arguments: ARGS }),
      'Hermes / Qwen <tool_call>': `<tool_call>\n${JSON.stringify({ name: 'calculator', arguments: ARGS })}\n</tool_call>`,
      'unclosed <tool_call>': `I will compute. <tool_call>{"name": "calculator", "arguments": ${json}}`,
      'Mistral [TOOL_CALLS] list': `[TOOL_CALLS] [${JSON.stringify({ name: 'calculator', arguments: ARGS })}]`,
      'Mistral v11 [TOOL_CALLS]name[ARGS]': `[TOOL_CALLS]calculator[ARGS]${json}`,
      'Llama 3.1 <|python_tag|> with parameters': `<|python_tag|>${JSON.stringify({ name: 'calculator', parameters: ARGS })}`,
      '<function=name>': `<function=calculator>${json}</function>`,
      'Qwen3-Coder XML parameters': '<tool_call>\n<function=calculator>\n<parameter=intent>grow it</parameter>\n<parameter=expressions>["1000*1.05^2"]</parameter>\n</function>\n</tool_call>',
      'OpenAI-shaped {tool_calls: [...]} in text': JSON.stringify({ tool_calls: [{ type: 'function', function: { name: 'calculator', arguments: json } }] }),
      'DeepSeek tool▁sep': `<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>calculator\n\`\`\`json\n${json}\n\`\`\`<｜tool▁call▁end｜><｜tool▁calls▁end｜>`,
      'fenced JSON with prose and trailing commas': `Sure:\n\`\`\`json\n{"name": "calculator", "arguments": {"intent": "grow it", "expressions": ["1000*1.05^2",],},}\n\`\`\``,
      'after a <think> block': `<think>maybe {"name": "web_search", "arguments": {"queries": ["x"]}}?</think>\n${JSON.stringify({ name: 'calculator', arguments: ARGS })}`,
    };
    for (const [shape, content] of Object.entries(shapes)) {
      assert.deepEqual(parseActionReply(reply({ content }), tools), WANT, shape);
    }
  });

  test('json-mode actions keep their intent; the answer may be in reasoning only', () => {
    const text = JSON.stringify({ intent: 'grow it', action: { tool_name: 'calculator', parameters: { expressions: ['1000*1.05^2'] } } });
    assert.deepEqual(parseActionReply(reply({ content: text }), tools), WANT);
    assert.deepEqual(parseActionReply(reply({ content: '', reasoning: `Let me think about growth.\n${text}` }), tools), WANT);
    assert.deepEqual(parseActionReply(reply({ content: `<think>planning</think>${text}` }), tools), WANT);
  });

  test('refusals say what was wrong', () => {
    const reason = (r: ModelReply) => {
      const out = parseActionReply(r, tools);
      assert.ok(!out.ok, JSON.stringify(out));
      return out.reason;
    };
    assert.match(reason(reply({})), /^empty_output: /);
    assert.match(reason(reply({ content: 'I think we should compute the interest.' })), /^no_tool_call: /);
    assert.match(reason(reply({ content: '{"intent": "x", "action": {"tool_name": "calc', finish_reason: 'length' })), /^truncated_output: /);
    assert.match(reason(reply({ content: JSON.stringify({ name: 'nope', arguments: {} }) })), /^unknown_tool: nope/);
    // {"name": …} alone (no arguments) is not taken for a tool call.
    assert.equal(toolCallsInText('{"name": "Ada Lovelace", "born": 1815}').length, 0);
  });
});

describe('QA', () => {
  const QA = { question: 'Which year?', answer: '1843' };

  test('a broken outer object never yields a nested object as the QA (the reported bug)', () => {
    const text =
      'Here is the QA.\n```json\n{"reasoning_steps": [{"step": 1, "action": "search", "observation": "1843",},' +
      ' {"step": 2, "action": "read",},], "question": "Which year?", "answer": "1843",}\n```\nDone.';
    const r = parseQaJson(text);
    assert.ok(r.ok);
    assert.equal(r.question, QA.question);
    assert.equal(r.answer, QA.answer);
    assert.equal(r.reasoning_steps.length, 2);
    // A badly broken outer object is repaired or refused, but never replaced by its {"step": 1}.
    const broken = parseQaJson('{"reasoning_steps": [{"step": 1}], "question": "Which year?" "answer": }');
    assert.ok(broken.ok && broken.question === 'Which year?' && broken.answer === '', JSON.stringify(broken));
    const unbalanced = parseQaJson('{"reasoning_steps": [{"step": 1, "question": "nested?", "answer": "no"}], "question": "Which');
    assert.ok(!unbalanced.ok, `an unbalanced outer object is not completed, and its nested object not taken: ${JSON.stringify(unbalanced)}`);
  });

  test('reasoning-only answers, <think> decoys, wrappers and content parts', () => {
    const json = JSON.stringify(QA);
    const ok = (r: ModelReply, why: string) => {
      const out = parseQaReply(r);
      assert.ok(out.ok && out.question === QA.question && out.answer === QA.answer, `${why}: ${JSON.stringify(out)}`);
    };
    ok(reply({ content: '', reasoning: `First I check the steps. ${json}` }), 'reasoning only');
    ok(reply({ content: `<think>draft {"question": "draft", "answer": "draft"}</think>\n${json}` }), '<think> decoy');
    ok(reply({ content: `Reasoning… </think>\n${json}` }), 'template-opened think');
    ok(reply({ content: JSON.stringify({ qa: QA }) }), 'one wrapper level');
    ok(reply({ content: `[${json}]` }), 'array of one QA');
  });

  test('a QA cut by the token limit is not completed by the repair', () => {
    const out = parseQaReply(reply({ content: '{"question": "Which year?", "answer": "18', finish_reason: 'length' }));
    assert.ok(!out.ok);
    assert.match(out.reason, /^truncated_output: /);
  });

  test('splitThinking', () => {
    assert.deepEqual(splitThinking('<think>a</think> b'), { answer: 'b', thinking: 'a' });
    assert.deepEqual(splitThinking('<think>never closed'), { answer: '', thinking: 'never closed' });
    assert.deepEqual(splitThinking('plain'), { answer: 'plain', thinking: '' });
  });
});
