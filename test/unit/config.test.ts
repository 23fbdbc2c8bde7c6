import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CONFIG_KEYS, configSchema, parseBatchInput, parseConfig, resolveTools } from '../../src/config/schema';
import { ConfigError, firstInvalidUtf8, jsonErrorOffset, loadConfig, loadConfigFile, loadSeedsFile } from '../../src/config/load';
import { legacySourceId, normalizeSeeds } from '../../src/domain/ids';

const ROOT = path.resolve(__dirname, '../..');
const FIXTURES = path.resolve(ROOT, 'test/fixtures/original');

function issues(raw: unknown): string[] {
  const r = parseConfig(raw);
  assert.ok(!r.ok, 'expected the config to be rejected');
  return r.issues;
}

test('defaults are the original ones plus tool_calling, rate_limits, qa_model_name, grounding and dedup', () => {
  const r = parseConfig({});
  assert.ok(r.ok);
  assert.deepEqual(r.config, {
    environment_mode: 'web',
    environment_kwargs: {},
    output_format: 'qa',
    available_tools: [],
    qa_examples: [],
    sampling_tips: '',
    synthesis_tips: '',
    seed_description: '',
    model_name: 'gpt-4.1-2025-04-14',
    max_depth: 5,
    branching_factor: 2,
    depth_threshold: 3,
    max_trajectories: 5,
    min_depth: 2,
    max_selected_traj: 3,
    max_retries: 3,
    max_workers: 1,
    number_of_seed: null,
    tool_calling: 'native',
    rate_limits: {},
    llm_timeout_seconds: 300,
    tool_timeout_seconds: 120,
    max_tokens: null,
    explore_concurrency: 1,
    task_queues: 'workflow',
    local_tools: true,
    local_llm: false,
    pause_after_failures: 3,
    budget: {},
    prices: {},
    qa_model_name: null,
    verification: {
      enabled: false,
      baseline_attempts: 3,
      solver_attempts: 1,
      solver_max_steps: 6,
      solver_model: null,
      judge_model: null,
      keep: 'solver_pass_baseline_fail',
    },
    cache: { enabled: true, path: null },
    grounding: true,
    dedup: { enabled: true, near_duplicate_threshold: 0.8, max_qa_per_answer: 2 },
  });
  assert.deepEqual(Object.keys(r.config), CONFIG_KEYS);
});

test('grounding and dedup: partial dedup objects are completed; bad values name the key and the fix', () => {
  const r = parseConfig({ grounding: false, dedup: { max_qa_per_answer: 0 } });
  assert.ok(r.ok);
  assert.equal(r.config.grounding, false);
  assert.deepEqual(r.config.dedup, { enabled: true, near_duplicate_threshold: 0.8, max_qa_per_answer: 0 });
  assert.deepEqual(issues({ grounding: 'yes' }), ['grounding: expected true or false, got "yes"']);
  assert.deepEqual(issues({ dedup: { near_duplicate_threshold: 0 } }), ['dedup.near_duplicate_threshold: expected a number in (0, 1], got 0']);
  assert.deepEqual(issues({ dedup: { near_duplicate_threshold: 1.5 } }), ['dedup.near_duplicate_threshold: expected a number in (0, 1], got 1.5']);
  assert.deepEqual(issues({ dedup: { max_qa_per_answer: -1 } }), ['dedup.max_qa_per_answer: expected an integer ≥ 0, got -1']);
  assert.equal(issues({ dedup: { threshold: 0.9 } }).length, 1);
  assert.match(issues({ dedup: { threshold: 0.9 } })[0]!, /^dedup/);
  assert.deepEqual(issues({ dedup: true }), ['dedup: expected an object {enabled?, near_duplicate_threshold?, max_qa_per_answer?}, got true']);
});

test('py is an alias of python; null tips become ""; example extra keys are kept', () => {
  const r = parseConfig({
    environment_mode: 'py',
    sampling_tips: null,
    qa_examples: [{ question: 'q', answer: 'a', evaluator: { func: 'x' } }],
  });
  assert.ok(r.ok);
  assert.equal(r.config.environment_mode, 'python');
  assert.equal(r.config.sampling_tips, '');
  assert.deepEqual(r.config.qa_examples[0], { question: 'q', answer: 'a', evaluator: { func: 'x' } });
});

test('unknown keys are errors that list the valid keys', () => {
  const [msg] = issues({ bad_key: 1 });
  assert.equal(msg, `bad_key: unknown key; valid keys are ${CONFIG_KEYS.join(', ')}`);
  assert.ok(msg!.includes('environment_mode, environment_kwargs'));
});

test('type and range errors name the path and the value', () => {
  assert.deepEqual(issues({ max_depth: -3 }), ['max_depth: expected an integer ≥ 1, got -3']);
  assert.deepEqual(issues({ max_depth: 2.5 }), ['max_depth: expected an integer ≥ 1, got 2.5']);
  assert.deepEqual(issues({ max_depth: '5' }), ['max_depth: expected an integer ≥ 1, got "5"']);
  assert.deepEqual(issues({ min_depth: 8 }), ['min_depth: expected ≤ max_depth (5), got 8']);
  assert.deepEqual(issues({ environment_mode: 'gui' }), ['environment_mode: expected one of web, math, python, rag (or py), got "gui"']);
  assert.deepEqual(issues({ output_format: 'task' }), ['output_format: expected "qa" (task/OSWorld output is not supported), got "task"']);
  assert.deepEqual(issues({ tool_calling: 'xml' }), ['tool_calling: expected "native" or "json", got "xml"']);
  assert.deepEqual(issues({ qa_examples: [{ question: 'q' }] }), ['qa_examples[0].answer: expected a string, got nothing (missing)']);
  assert.deepEqual(issues({ number_of_seed: 0 }), ['number_of_seed: expected an integer ≥ 1, got 0']);
  assert.deepEqual(issues({ environment_kwargs: [] }), ['environment_kwargs: expected an object, got an empty array']);
  assert.deepEqual(issues('nope'), ['config: expected an object of settings, got "nope"']);
});

test('several problems are reported at once', () => {
  const list = issues({ max_depth: 3, max_retries: 0, branching_factor: 'x', extra: true, min_depth: 9 });
  assert.equal(list.length, 4, list.join('\n'));
  assert.ok(list.some((i) => i.startsWith('min_depth: ')));
});

test('available_tools must belong to the mode; the error lists the valid ones', () => {
  assert.deepEqual(issues({ environment_mode: 'math', available_tools: ['calculator', 'web_search'] }), [
    'available_tools[1]: expected a math tool (calculator); empty available_tools means all of them, got "web_search"',
  ]);
  assert.ok(parseConfig({ environment_mode: 'rag', available_tools: ['local_search'], environment_kwargs: { corpus_path: 'c' } }).ok);
});

test('environment_kwargs: unknown keys per mode, provider URLs and the rag corpus are checked; resolveTools', () => {
  const web = parseConfig({ environment_mode: 'web', environment_kwargs: { web_search_top_k: 3, web_visit_summary_model: 'm' } });
  assert.ok(web.ok);
  assert.deepEqual(
    issues({ environment_mode: 'web', environment_kwargs: { search_provider: 'local', serach_type: 'x' } }),
    [
      'environment_kwargs.serach_type: expected a web setting (search_provider, serper_url, tavily_url, searxng_url, local_site_url, web_search_type, web_search_top_k, web_search_max_workers, web_search_timeout_seconds, web_visit_reader, web_visit_jina_url, web_visit_timeout_seconds, web_visit_max_bytes, web_visit_max_redirects, web_visit_max_chars, web_visit_summarize, web_visit_summary_model, allow_private_hosts), got "x"',
      'environment_kwargs.local_site_url: expected the http(s) URL of the local search service (search_provider is local), got nothing (missing)',
    ],
  );
  assert.deepEqual(issues({ environment_mode: 'web', environment_kwargs: { search_provider: 'bing' } }), [
    'environment_kwargs.search_provider: expected one of serper, tavily, searxng, local, got "bing"',
  ]);
  assert.deepEqual(issues({ environment_mode: 'math', environment_kwargs: { rag_index: 'x' } }), [
    'environment_kwargs.rag_index: expected no settings: math mode has none, got "x"',
  ]);
  assert.deepEqual(issues({ environment_mode: 'rag' }), [
    'environment_kwargs.corpus_path: expected the path of the corpus to search (a folder of .md/.txt/.jsonl files or a .jsonl file), got nothing (missing)',
  ]);
  const math = parseConfig({ environment_mode: 'math' });
  assert.ok(math.ok);
  assert.deepEqual(resolveTools(math.config), ['calculator']);
  assert.deepEqual(resolveTools({ environment_mode: 'web', available_tools: ['web_visit'] }), ['web_visit']);
});

test('every configs/*.json parses', () => {
  const dir = path.join(ROOT, 'configs');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'schema.json');
  assert.deepEqual(files.sort(), ['demo.json', 'math.json', 'python.json', 'rag.json', 'web.json']);
  for (const f of files) assert.ok(loadConfig(path.join(dir, f)), f);
  const web = loadConfig(path.join(dir, 'web.json'));
  assert.deepEqual([web.max_depth, web.branching_factor, web.depth_threshold, web.min_depth, web.max_selected_traj], [10, 2, 2, 8, 5]);
  const demo = loadConfig(path.join(dir, 'demo.json'));
  assert.equal(demo.model_name, 'qasynth-sim');
});

test('configs/schema.json is up to date with the zod schema', () => {
  const onDisk = JSON.parse(fs.readFileSync(path.join(ROOT, 'configs/schema.json'), 'utf8')) as { properties: Record<string, unknown>; additionalProperties: boolean };
  assert.deepEqual(Object.keys(onDisk.properties), CONFIG_KEYS);
  assert.equal(onDisk.additionalProperties, false);
  assert.ok(configSchema);
});

test('parseBatchInput validates shape, config and seeds together with prefixed paths', () => {
  const ok = parseBatchInput({ run_id: 'demo-1', config: { environment_mode: 'math', number_of_seed: 2 }, seeds: ['a', 'b', 'c'], output_dir: '/tmp/out' });
  assert.ok(ok.ok, JSON.stringify(ok));
  assert.equal(ok.config.environment_mode, 'math');
  assert.deepEqual(ok.seeds.map((s) => s.text), ['a', 'b']);
  assert.equal(ok.input.run_id, 'demo-1');

  const bad = parseBatchInput({ run_id: 'bad id', config: { max_depth: 0, nope: 1 }, seeds: ['ok', 3], output_dir: 'rel/path', extra: 1 });
  assert.ok(!bad.ok);
  assert.deepEqual(bad.issues, [
    'run_id: expected a run id (1–80 characters from A–Z a–z 0–9 . _ -), got "bad id"',
    'output_dir: expected an absolute path (it is resolved on the worker that writes outputs), got "rel/path"',
    'extra: unknown key; valid keys are run_id, config, seeds, seeds_file, output_dir, force, retry_failed',
    'config.max_depth: expected an integer ≥ 1, got 0',
    `config.nope: unknown key; valid keys are ${CONFIG_KEYS.join(', ')}`,
    'seeds[1]: expected a non-empty string or {text, id?, metadata?}, got number 3',
  ]);
  const empty = parseBatchInput({ run_id: 'r', config: {}, seeds: [], output_dir: '/o' });
  assert.ok(!empty.ok);
  assert.deepEqual(empty.issues, ['seeds: expected at least one seed, got an empty array']);
  const notObj = parseBatchInput([]);
  assert.ok(!notObj.ok && notObj.issues[0]!.startsWith('input: expected an object'));
});

test('parseBatchInput: seeds inline or seeds_file by reference, exactly one; only the path of seeds_file is checked', () => {
  const base = { run_id: 'r', config: { environment_mode: 'math' }, output_dir: '/o' };
  const byRef = parseBatchInput({ ...base, seeds_file: '/data/seeds.jsonl' });
  assert.ok(byRef.ok, JSON.stringify(byRef));
  assert.equal(byRef.input.seeds_file, '/data/seeds.jsonl');
  assert.deepEqual(byRef.seeds, []);
  const issues = (raw: Record<string, unknown>) => {
    const r = parseBatchInput({ ...base, ...raw });
    assert.ok(!r.ok);
    return r.issues;
  };
  assert.deepEqual(issues({}), ['seeds: expected an array of seeds, or seeds_file: the absolute path of a seeds file; got neither']);
  assert.deepEqual(issues({ seeds: ['a'], seeds_file: '/s.json' }), ['seeds_file: expected either seeds (inline) or seeds_file (by reference), got both; remove one of them']);
  assert.deepEqual(issues({ seeds_file: 'seeds.json' }), ['seeds_file: expected an absolute path (it is read by the workers serving the output task queue), got "seeds.json"']);
  assert.deepEqual(issues({ seeds_file: 42 }), ['seeds_file: expected the absolute path of a seeds file, got 42']);
  assert.deepEqual(issues({ seeds_file: '/a\nb' }), ['seeds_file: expected a path without NUL or line breaks, got "/a\\nb"']);
  assert.match(issues({ seeds_file: `/${'x'.repeat(5000)}` })[0]!, /^seeds_file: expected a path of at most 4096 characters/);
});

// ---------------------------------------------------------------- files

function tmp(name: string, content: string | Buffer): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qasynth-cfg-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.message, e.issues.join('\n'));
    return e;
  }
  assert.fail('expected a ConfigError');
}

test('the original fixture seed files load and get the documented legacy ids', () => {
  const texts = loadSeedsFile(path.join(FIXTURES, 'example_seed_texts.json'));
  const entities = loadSeedsFile(path.join(FIXTURES, 'example_seed_entities.json'));
  assert.equal(texts.length, 5);
  assert.equal(entities.length, 3);
  const n = normalizeSeeds(entities, null);
  assert.ok(n.ok && n.seeds.length === 3);
  assert.equal(legacySourceId(1, texts[0] as string), 'src_0001_ddbe98e6');
  assert.equal(legacySourceId(3, entities[2] as string), 'src_0003_0523b132');
  assert.ok(normalizeSeeds(loadSeedsFile(path.join(ROOT, 'configs/seeds/demo.json')), null).ok);
});

test('seed file formats: entities object, JSONL, single string', () => {
  assert.deepEqual(loadSeedsFile(tmp('s.json', '{"entities": ["a", "b"]}')), ['a', 'b']);
  assert.deepEqual(loadSeedsFile(tmp('s.jsonl', '"a"\n\n{"text": "b", "id": "x"}\n')), ['a', { text: 'b', id: 'x' }]);
  assert.deepEqual(loadSeedsFile(tmp('s.json', '"a"\n"b"\n')), ['a', 'b']); // JSONL content in a .json file
  assert.deepEqual(loadSeedsFile(tmp('s.json', '\ufeff["bom"]')), ['bom']);
});

test('seed file errors', () => {
  assert.match(configErrorOf(() => loadSeedsFile('/nonexistent/seeds.json')).issues[0]!, /seeds\.json: seed file not found/);
  assert.match(configErrorOf(() => loadSeedsFile(tmp('e.json', '  \n'))).issues[0]!, /expected seeds, got an empty file/);
  assert.deepEqual(loadSeedsFile(tmp('e.json', '[]')), []); // reported by validation: `seeds: expected at least one seed, …`
  assert.deepEqual(loadSeedsFile(tmp('e.json', '{"entities": []}')), []);
  assert.match(configErrorOf(() => loadSeedsFile(tmp('e.json', '{"a": 1}'))).issues[0]!, /expected a JSON array of seeds/);
  assert.match(configErrorOf(() => loadSeedsFile(tmp('e.json', Buffer.from([0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d])))).issues[0]!, /not valid UTF-8/);
  assert.match(configErrorOf(() => loadSeedsFile(tmp('e.jsonl', '"a"\n{"b": \n'))).issues[0]!, /e\.jsonl:2(:\d+)?: invalid JSON/);
});

test('seed file errors: every bad JSONL line, the byte offset of bad UTF-8, UTF-16, a pretty-printed JSON array', () => {
  const lines = configErrorOf(() => loadSeedsFile(tmp('m.jsonl', '"a"\n{"text": \n"b"\n42x\n'))).issues;
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.match(lines[0]!, /m\.jsonl:2:\d+: invalid JSON/);
  assert.match(lines[1]!, /m\.jsonl:4:\d+: invalid JSON/);
  const many = configErrorOf(() => loadSeedsFile(tmp('many.jsonl', 'x\n'.repeat(30)))).issues;
  assert.equal(many.length, 21);
  assert.match(many[20]!, /many\.jsonl: 10 more invalid JSON lines$/);
  const l1 = tmp('l.json', Buffer.from('["ok",\n "caf\xe9"]', 'latin1'));
  assert.deepEqual(configErrorOf(() => loadSeedsFile(l1)).issues, [
    `${l1}: expected UTF-8 text, got a byte that is not valid UTF-8 (0xE9 at byte offset 12, line 2); re-save the file as UTF-8`,
  ]);
  assert.match(configErrorOf(() => loadSeedsFile(tmp('u.json', Buffer.from('\ufeff["a"]', 'utf16le')))).issues[0]!, /u\.json: expected UTF-8 text, got UTF-16 text \(byte order mark FF FE\)/);
  // A multi-line JSON document with an error is reported as JSON at its line, not as JSONL line 1.
  assert.match(configErrorOf(() => loadSeedsFile(tmp('p.json', '[\n  "a",\n  "b"\n'))).issues[0]!, /p\.json:3:\d+: invalid JSON \(/);
  assert.match(configErrorOf(() => loadSeedsFile(tmp('p.json', '{\n  "entities": ["a",,\n  "b"]\n}'))).issues[0]!, /p\.json:2:\d+: invalid JSON/);
  assert.match(configErrorOf(() => loadSeedsFile(tmp('n.json', '42'))).issues[0]!, /expected a JSON array of seeds, .*got number 42$/);
});

test('jsonErrorOffset finds the error JSON.parse reports, also where V8 gives no position', () => {
  for (const [text, at] of [
    ['{"a": 1,}', 8],
    ['[1, 2', 5], // the end of the input
    ['[1,,2]', 3],
    ['{"a" 1}', 5],
    ['{"a": tru}', 6],
    ['"a\\u00zz"', 2],
    ['[1] x', 4],
    ['{"a": "x\ny"}', 8],
    ['[-01]', 3],
    ['{"a": [1, {"b": null}], "c": "ok"}x', 34],
  ] as [string, number | null][]) {
    assert.throws(() => JSON.parse(text), text);
    assert.equal(jsonErrorOffset(text), at, text);
  }
  const e = configErrorOf(() => loadConfigFile(tmp('t.json', '{\n  "max_depth": 3,,\n  "secret": "hunter2"\n}')));
  assert.equal(e.issues.length, 1);
  assert.match(e.issues[0]!, /t\.json:2:\d+: invalid JSON \([^\n]*\)$/);
  assert.doesNotMatch(e.issues[0]!, /hunter2/);
});

test('firstInvalidUtf8 agrees with TextDecoder', () => {
  const cases: [number[], number][] = [
    [[0x61, 0x62], -1],
    [[0x61, 0xe9, 0x22], 1], // latin-1 é: a 3-byte lead without continuation bytes
    [[0xc3, 0xa9, 0xff], 2],
    [[0xe2, 0x82], 0], // truncated at the end
    [[0xc0, 0xaf], 0], // overlong
    [[0xed, 0xa0, 0x80], 0], // surrogate
    [[0xf4, 0x90, 0x80, 0x80], 0], // > U+10FFFF
    [[0xf0, 0x9f, 0x98, 0x80, 0x80], 4],
  ];
  for (const [bytes, at] of cases) {
    assert.equal(firstInvalidUtf8(Uint8Array.from(bytes)), at, JSON.stringify(bytes));
    let decodes = true;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
    } catch {
      decodes = false;
    }
    assert.equal(decodes, at === -1, JSON.stringify(bytes));
  }
});

test('config file errors carry the path and the line', () => {
  assert.match(configErrorOf(() => loadConfigFile('/nonexistent/c.json')).issues[0]!, /c\.json: config file not found/);
  assert.match(configErrorOf(() => loadConfigFile(tmp('c.toml', 'a=1'))).issues[0]!, /expected a \.json, \.yaml or \.yml config file/);
  assert.match(configErrorOf(() => loadConfigFile(tmp('c.json', '{\n  "max_depth": 3,\n  oops\n}'))).issues[0]!, /c\.json:3:\d+: invalid JSON/);
  assert.match(configErrorOf(() => loadConfigFile(tmp('c.yaml', 'a: 1\nb: [1, 2\n'))).issues[0]!, /c\.yaml:\d+:\d+: invalid YAML/);
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdef'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcde'[i]}`).join(', ')}]`)].join('\n');
  assert.match(configErrorOf(() => loadConfigFile(tmp('bomb.yaml', bomb))).issues[0]!, /bomb\.yaml: invalid YAML \(Excessive alias count/);
  const dir = path.dirname(tmp('x', ''));
  assert.match(configErrorOf(() => loadConfigFile(dir)).issues[0]!, /: expected a config file, got a directory$/);
  const e = configErrorOf(() => loadConfig(tmp('c.yml', 'environment_mode: math\nmax_depth: -3\n')));
  assert.match(e.issues[0]!, /c\.yml: max_depth: expected an integer ≥ 1, got -3$/);
});

test('YAML configs load', () => {
  const c = loadConfig(tmp('c.yaml', 'environment_mode: rag\nenvironment_kwargs:\n  rag_index: corpus\nmax_depth: 4\nmin_depth: 2\nsampling_tips:\n'));
  assert.equal(c.environment_mode, 'rag');
  assert.equal(c.sampling_tips, '');
});

test('a defaulted min_depth above max_depth says it is the default', () => {
  assert.deepEqual(issues({ max_depth: 1 }), ['min_depth: expected ≤ max_depth (1), got 2 (the default)']);
  assert.deepEqual(issues({ max_depth: 1, branching_factor: 'x' }), [
    'branching_factor: expected an integer ≥ 1, got "x"',
    'min_depth: expected ≤ max_depth (1), got 2 (the default)',
  ]);
});

test('rate_limits: validated, unknown tools and non-positive rates named with the valid keys', () => {
  const ok = parseConfig({ environment_mode: 'web', rate_limits: { llm_requests_per_second: 5, tool_calls_per_second: { web_search: 2 } } });
  assert.ok(ok.ok);
  assert.deepEqual(ok.config.rate_limits, { llm_requests_per_second: 5, tool_calls_per_second: { web_search: 2 } });
  const bad = parseConfig({ rate_limits: { llm_requests_per_second: 0, tool_calls_per_second: { serper: 1 }, burst: 3 } });
  assert.equal(bad.ok, false);
  const issues = bad.ok ? [] : bad.issues;
  assert.ok(issues.includes('rate_limits.llm_requests_per_second: expected a number > 0, got 0'), issues.join('\n'));
  assert.ok(issues.some((i) => i.startsWith('rate_limits.tool_calls_per_second.serper: unknown key; valid keys are web_search')), issues.join('\n'));
  assert.ok(issues.some((i) => i.startsWith('rate_limits.burst: unknown key; valid keys are llm_requests_per_second, tool_calls_per_second')), issues.join('\n'));
  const dflt = parseConfig({});
  assert.ok(dflt.ok);
  assert.deepEqual(dflt.config.rate_limits, {});
});

test("the original rag config's tool name rag_tools and rag_index path load as local_search", () => {
  const r = parseConfig({ environment_mode: 'rag', available_tools: ['rag_tools'], environment_kwargs: { rag_index: 'test/fixtures/corpus' } });
  assert.ok(r.ok, r.ok ? '' : r.issues.join('\n'));
  assert.deepEqual(r.config.available_tools, ['local_search']);
});

test('odd keys are quoted and shortened in paths, so a problem stays one line', () => {
  const r = parseBatchInput({ run_id: 'r', config: { 'a\nb': 1, ['z'.repeat(500)]: 1, 'python-sandbox': 1 }, seeds: [{ text: 't', 'k k': 1 }], output_dir: '/o' });
  assert.ok(!r.ok);
  const keys = CONFIG_KEYS.join(', ');
  assert.deepEqual(r.issues, [
    `config["a\\nb"]: unknown key; valid keys are ${keys}`,
    `config["${'z'.repeat(57)}..."]: unknown key; valid keys are ${keys}`,
    `config.python-sandbox: unknown key; valid keys are ${keys}`,
    'seeds[0]["k k"]: unknown key; valid keys are text, id, metadata',
  ]);
});

test('run fingerprints (and so the run ids derived from them) survive keys added since: old commands resume their runs', async () => {
  const { runFingerprint } = await import('../../src/activities/outputs');
  const parsed = parseBatchInput({ run_id: 'x', config: { environment_mode: 'math', max_depth: 3, model_name: 'm', max_workers: 4 }, seeds: ['prime numbers', 'golden ratio'], output_dir: '/tmp/o' });
  assert.ok(parsed.ok);
  // Computed with the code of commit 969f15c, before pause_after_failures, task_queues, local_tools and max_tokens.
  assert.equal(runFingerprint(parsed.config, parsed.seeds), '9cb79bb337c4d11d');
  // Settings that only drive the run do not make it another run; a result-changing one does.
  assert.equal(runFingerprint({ ...parsed.config, max_workers: 9, pause_after_failures: 0, task_queues: 'dedicated', local_tools: false }, parsed.seeds), '9cb79bb337c4d11d');
  assert.notEqual(runFingerprint({ ...parsed.config, max_tokens: 512 }, parsed.seeds), '9cb79bb337c4d11d');
  // Verification off (the default) is not part of it; on, it changes what a run keeps.
  assert.equal(runFingerprint({ ...parsed.config, verification: { ...parsed.config.verification, keep: 'all' } }, parsed.seeds), '9cb79bb337c4d11d');
  assert.notEqual(runFingerprint({ ...parsed.config, verification: { ...parsed.config.verification, enabled: true } }, parsed.seeds), '9cb79bb337c4d11d');
  // grounding and dedup (added later) change the fingerprint only when they differ from their defaults.
  assert.notEqual(runFingerprint({ ...parsed.config, grounding: false }, parsed.seeds), '9cb79bb337c4d11d');
  assert.notEqual(runFingerprint({ ...parsed.config, dedup: { ...parsed.config.dedup, max_qa_per_answer: 5 } }, parsed.seeds), '9cb79bb337c4d11d');
});

test('CONFIG_DEFAULTS (zod-free, used by workflow code) is exactly what the schema fills in', async () => {
  const { CONFIG_DEFAULTS, withConfigDefaults } = await import('../../src/config/defaults');
  const parsed = parseConfig({});
  assert.ok(parsed.ok);
  assert.deepEqual({ ...CONFIG_DEFAULTS }, parsed.config);
  // An input recorded before a key existed gets that key's default.
  const { pause_after_failures: _p, task_queues: _q, ...old } = parsed.config;
  assert.deepEqual(withConfigDefaults(old), parsed.config);
  // `dedup` is completed key by key.
  const partial = { ...parsed.config, dedup: { enabled: false } } as unknown as Parameters<typeof withConfigDefaults>[0];
  assert.deepEqual(withConfigDefaults(partial).dedup, { enabled: false, near_duplicate_threshold: 0.8, max_qa_per_answer: 2 });
});
