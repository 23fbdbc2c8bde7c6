import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType, MAX_OBSERVATION_CHARS } from '../../src/shared/constants';
import { calculatorTool } from '../../src/tools/calculator';
import { chunkText, clearCorpusCache } from '../../src/tools/local-search';
import { sandboxStats } from '../../src/tools/python-interpreter';
import { capObservation, executeTool, getTool, toolSchemas } from '../../src/tools/registry';

const CORPUS = join(__dirname, '../fixtures/corpus');
const noKwargs = { environment_kwargs: {} };

function calc(...expressions: string[]) {
  return executeTool('calculator', { expressions }, noKwargs);
}

describe('calculator', () => {
  it('evaluates expressions in the original output format', async () => {
    const obs = await calc('17 * 23', 'sqrt(144) + 3', '0.1 + 0.2', '2^10', 'a = 4', 'a * 2.5', '5 km to m');
    assert.equal(
      obs.text,
      '### Calculator Results:\n17 * 23 = 391\nsqrt(144) + 3 = 15\n0.1 + 0.2 = 0.3\n2^10 = 1024\na = 4 = 4\na * 2.5 = 10\n5 km to m = 5000 m',
    );
    assert.equal(obs.error, undefined);
  });

  it('writes large and small numbers as a person reads them, not in exponential notation', async () => {
    const obs = await calc('2300 * 44', '10^6 * 3', '1 / 3', '3 / 100000', '10^25');
    assert.equal(
      obs.text,
      '### Calculator Results:\n2300 * 44 = 101200\n10^6 * 3 = 3000000\n1 / 3 = 0.33333333333333\n3 / 100000 = 0.00003\n10^25 = 1e+25',
    );
  });

  it('reports per-expression errors; flags error only when all fail', async () => {
    const some = await calc('1 + 1', 'foo(3)');
    assert.match(some.text, /foo\(3\) = ERROR \(/);
    assert.equal(some.error, undefined);
    const all = await calc('1 +', 'undefinedSymbol');
    assert.equal(all.error, true);
    assert.equal(all.text.split('\n').filter((l) => l.includes('ERROR')).length, 2);
  });

  it('refuses import, createUnit, evaluate, parse and prototype escapes', async () => {
    const attacks = [
      'import({x: 1}, {override: true})',
      'createUnit("foo")',
      'evaluate("1+1")',
      'parse("1+1")',
      'simplify("x+x")',
      'derivative("x^2", "x")',
      'constructor.constructor("return process")()',
      '[].constructor.constructor("return process")()',
      'f = cos; f.constructor("return process")()',
    ];
    const obs = await calc(...attacks);
    assert.equal(obs.error, true, obs.text);
    for (const line of obs.text.split('\n').slice(1)) assert.match(line, / = ERROR \(/, line);
    assert.doesNotMatch(obs.text, /\[object process\]|pid/);
    // The real functions still work after hardening.
    assert.match((await calc('sin(pi / 2)')).text, /= 1$/);
  });
});

describe('python_interpreter', () => {
  const run = (code: string, kwargs: Record<string, unknown> = {}) =>
    executeTool('python_interpreter', { code }, { environment_kwargs: kwargs });

  it('returns printed output', async () => {
    const obs = await run('print(sum(range(10)))\nprint("héllo")');
    assert.equal(obs.text, '45\nhéllo');
    assert.equal(obs.error, undefined);
  });

  it('reports exceptions with stderr and the exit code', async () => {
    const obs = await run('print("before")\nraise ValueError("boom")');
    assert.equal(obs.error, true);
    assert.match(obs.text, /^before\n\[stderr\] Traceback/);
    assert.match(obs.text, /ValueError: boom/);
    assert.match(obs.text, /\[exit code 1\]$/);
  });

  it('kills an endless loop (and its child processes) at the timeout', async () => {
    const started = Date.now();
    const obs = await run(
      'import subprocess, sys\np = subprocess.Popen([sys.executable, "-c", "while True: pass"])\nprint(p.pid, flush=True)\nwhile True:\n    pass',
      { python_timeout_seconds: 2 },
    );
    const elapsed = Date.now() - started;
    assert.equal(obs.error, true);
    assert.match(obs.text, /\[killed: timeout after 2 s\]$/);
    assert.ok(elapsed < 7000, `took ${elapsed} ms`);
    // The grandchild (a pid inside the sandbox's pid namespace) died with the namespace.
    const { running, lastPidNamespace } = sandboxStats();
    assert.equal(running, 0);
    const left = readdirSync('/proc').filter((n) => {
      try {
        return /^\d+$/.test(n) && readlinkSync(`/proc/${n}/ns/pid`) === `pid:[${lastPidNamespace}]`;
      } catch {
        return false;
      }
    });
    assert.deepEqual(left, []);
  });

  it('caps output at python_max_output_bytes (1 MiB by default)', async () => {
    const obs = await run('while True:\n    print("x" * 1000)', { python_timeout_seconds: 20 });
    assert.match(obs.text, /\[output truncated at 1048576 bytes\]$/);
    assert.equal(obs.error, true);
    assert.ok(obs.text.length <= MAX_OBSERVATION_CHARS);
    assert.ok((obs.truncated_chars ?? 0) > 0, 'observation cap applies on top');
  });

  it('does not pass the worker environment (API keys) to the code', async () => {
    const before = process.env.OPENAI_API_KEY;
    process.env.OPENAI_API_KEY = 'sk-should-not-leak';
    try {
      const obs = await run('import os\nprint(os.environ.get("OPENAI_API_KEY", "absent"))\nprint(os.getcwd())');
      const [key, cwd] = obs.text.split('\n');
      assert.equal(key, 'absent');
      assert.equal(cwd, '/work');
    } finally {
      if (before === undefined) delete process.env.OPENAI_API_KEY;
      else process.env.OPENAI_API_KEY = before;
    }
  });
});

describe('local_search', () => {
  const kw = { corpus_path: relative(process.cwd(), CORPUS) };
  const search = (query: string, top_k?: number, kwargs: Record<string, unknown> = kw) =>
    executeTool('local_search', top_k === undefined ? { query } : { query, top_k }, { environment_kwargs: kwargs });

  it('finds the right document with its source', async () => {
    const obs = await search('Jacquard loom punched cards', 1);
    assert.match(obs.text, /^### Retrieved Context:\n\[source: joseph-marie-jacquard\.md\]\n/);
    assert.equal(obs.error, undefined);
  });

  it('returns top_k chunks joined by ---, default 3', async () => {
    const three = await search('Lyon');
    assert.equal(three.text.split('\n---\n').length, 3);
    const five = await search('Lyon', 5);
    assert.equal(five.text.split('\n---\n').length, 5);
    const one = await search('Lyon', '1' as never);
    assert.equal(one.text.split('\n---\n').length, 1, 'numeric strings are coerced');
  });

  it('indexes JSONL records (url or title as source), also as a single-file corpus', async () => {
    const inFolder = await search('World Wide Web proposal', 1);
    assert.match(inFolder.text, /\[source: http:\/\/local\.test\/wiki\/CERN\]/);
    const single = await search('Verdun-sur-le-Doubs', 1, { rag_index: join(CORPUS, 'more-facts.jsonl') });
    assert.match(single.text, /\[source: Doubs \(river\)\]/);
  });

  it('answers "No results" (not an error) when nothing matches', async () => {
    const obs = await search('zyzzyva quokka');
    assert.match(obs.text, /^No results for "zyzzyva quokka"/);
    assert.equal(obs.error, undefined);
  });

  it('fails non-retryably when the corpus path is missing or wrong', async () => {
    const isInvalid = (pattern: RegExp) => (e: unknown) =>
      e instanceof ApplicationFailure && e.type === FailureType.InvalidInput && e.nonRetryable === true && pattern.test(e.message);
    await assert.rejects(search('Lyon', 3, {}), isInvalid(/environment_kwargs\.corpus_path/));
    await assert.rejects(search('Lyon', 3, { corpus_path: 'no/such/dir' }), isInvalid(/does not exist/));
  });

  it('rebuilds the cached index when the corpus changes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'qasynth-corpus-'));
    try {
      await writeFile(join(dir, 'a.md'), '# Alpha\n\nThe alpha document mentions marmots.');
      assert.match((await search('marmots', 3, { corpus_path: dir })).text, /a\.md/);
      await writeFile(join(dir, 'b.txt'), 'A second file about capybaras and more capybaras.');
      assert.match((await search('capybaras', 3, { corpus_path: dir })).text, /b\.txt/);
    } finally {
      clearCorpusCache();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('chunks on paragraph boundaries at about 800 characters', () => {
    const para = (n: number) => `Paragraph ${n} ${'word '.repeat(60)}`.trim();
    const chunks = chunkText(Array.from({ length: 10 }, (_, i) => para(i)).join('\n\n'));
    assert.ok(chunks.length > 1);
    for (const c of chunks) assert.ok(c.length <= 800, String(c.length));
    assert.ok(chunks.every((c) => c.startsWith('Paragraph ')));
  });
});

describe('registry', () => {
  it('exposes JSON Schemas with described parameters and no $schema', () => {
    const schemas = toolSchemas(['calculator', 'python_interpreter', 'local_search']);
    for (const s of schemas) {
      assert.equal(s.parameters.type, 'object');
      assert.equal('$schema' in s.parameters, false);
      for (const [name, prop] of Object.entries(s.parameters.properties as Record<string, { description?: string }>)) {
        assert.ok(prop.description, `${s.name}.${name} has no description`);
      }
    }
    const ls = schemas.find((s) => s.name === 'local_search')!;
    assert.deepEqual(ls.parameters.required, ['query']);
  });

  it('turns invalid arguments into an error observation', async () => {
    const obs = await executeTool('calculator', { expressions: '2 + 2' as unknown as string[], extra: 1 }, noKwargs);
    assert.equal(obs.error, undefined, 'a bare string is wrapped into an array');
    const bad = await executeTool('calculator', { expressions: [] }, noKwargs);
    assert.equal(bad.error, true);
    assert.equal(bad.text, 'Invalid arguments for calculator: expressions: expected at least 1 item(s), got 0 item(s)');
    const wrongType = await executeTool('local_search', { query: 42 }, noKwargs);
    assert.equal(wrongType.text, 'Invalid arguments for local_search: query: expected string, got 42');
    const missing = await executeTool('python_interpreter', {}, noKwargs);
    assert.equal(missing.text, 'Invalid arguments for python_interpreter: code: expected string, got nothing (missing)');
  });

  it('turns a tool exception into "[Error] <tool>: <message>"', async () => {
    const tool = getTool('calculator');
    const original = tool.execute;
    tool.execute = async () => {
      throw new Error('disk on fire');
    };
    try {
      const obs = await executeTool('calculator', { expressions: ['1'] }, noKwargs);
      assert.deepEqual(obs, { text: '[Error] calculator: disk on fire', error: true });
    } finally {
      tool.execute = original;
    }
  });

  it('caps observation text and reports truncated_chars', () => {
    const text = `HEAD${'a'.repeat(MAX_OBSERVATION_CHARS + 500)}[exit code 1]`;
    const obs = capObservation(text);
    assert.equal(obs.text.length, MAX_OBSERVATION_CHARS);
    assert.ok(obs.text.startsWith('HEAD') && obs.text.endsWith('[exit code 1]'));
    assert.match(obs.text, new RegExp(`\\[… ${obs.truncated_chars} characters truncated …\\]`));
    const marker = obs.text.match(/\n\[… \d+ characters truncated …\]\n/)![0];
    assert.equal(text.length - obs.truncated_chars!, obs.text.length - marker.length);
    assert.deepEqual(capObservation('short'), { text: 'short' });
  });

  it('throws a non-retryable ToolUnavailable for unknown names', async () => {
    await assert.rejects(executeTool('nope', {}, noKwargs), (e: unknown) =>
      e instanceof ApplicationFailure && e.type === FailureType.ToolUnavailable && e.nonRetryable === true,
    );
    assert.throws(() => toolSchemas(['nope']), /Unknown tool "nope"/);
    assert.deepEqual(toolSchemas(['web_search', 'web_visit']).map((s) => s.name), ['web_search', 'web_visit']);
  });

  it('calculatorTool is usable directly', async () => {
    assert.deepEqual(await calculatorTool.execute({ expressions: ['6 * 7'] }, noKwargs), { text: '### Calculator Results:\n6 * 7 = 42' });
  });
});
after(() => clearCorpusCache());
void before;
