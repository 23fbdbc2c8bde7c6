/**
 * The bad-input suite: malformed configs, seed files, flags and workflow inputs, as a user meets them.
 *
 * Every case runs the compiled CLI (`qasynth run`, against a real Temporal server and an LLM simulator) and
 * asserts exit code 2, exactly one `error: <path>: …` line per problem, no stack trace, no output folder and no
 * LLM request. Every case about config/seed *content* is also submitted as a workflow input through the real
 * Temporal CLI (`temporal workflow start --type synthesizeBatch`) to an in-process worker, and must fail at once
 * with a non-retryable `InvalidInput` ApplicationFailure listing the very lines the CLI printed, without
 * scheduling an activity or a child or writing anything. Inputs too large for Temporal at all (> 2 MB, a 50 MB
 * seed) are refused by the server: nothing starts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ApplicationFailure, WorkflowFailedError, WorkflowNotFoundError } from '@temporalio/client';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import { findTemporalCli } from '../../src/server/temporal-cli';
import { CONFIG_KEYS } from '../../src/config/schema';
import { MAX_SEED_CHARS } from '../../src/domain/ids';
import { FailureType } from '../../src/shared/constants';
import { startTestWorker, tempDir, testTemporal, uniqueQueue, type TestTemporal } from '../helpers/temporal';

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'bin', 'qasynth.js');
/** Cases at once: each spawns the CLI, which loads the Temporal SDK, mathjs, … (~1.5 s of CPU). */
const CONCURRENCY = 4;

interface Proc {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

function exec(cmd: string, args: string[], env: Record<string, string | undefined> = {}): Promise<Proc> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (b) => (stdout += b));
    p.stderr.on('data', (b) => (stderr += b));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - t0 }));
  });
}

// ---------------------------------------------------------------- the cases

/** A file's content: a JSON value (written as JSON), raw text/bytes, or a special path. */
type FileSpec = { json: unknown } | { raw: string | Buffer } | 'missing' | 'directory';
interface Paths {
  config: string;
  seeds: string;
}
type Expected = string | RegExp;

interface Case {
  name: string;
  /** Default: a valid math config. */
  config?: FileSpec;
  configName?: string;
  /** Default: one valid seed. */
  seeds?: FileSpec;
  seedsName?: string;
  args?: string[];
  /** One entry per CLI problem line (the text after `error: `), in order. */
  cli: (p: Paths) => Expected[];
  /**
   * Content cases: the batch input's config/seeds (default: the JSON file contents) are submitted through
   * `temporal workflow start`, which must fail with exactly the CLI's lines. `refused`: the server must refuse
   * the input (too large) and no workflow may start.
   */
  workflow?: { config?: unknown; seeds?: unknown } | { refused: RegExp };
}

const VALID_CONFIG = { environment_mode: 'math', model_name: 'sim', max_depth: 2, min_depth: 1 };
const VALID_SEEDS = ['prime numbers'];
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const exact = (file: string, rest: string) => new RegExp(`^${esc(file)}${rest}$`);
const ALL_KEYS = CONFIG_KEYS.join(', ');

const CASES: Case[] = [
  {
    name: 'wrong types',
    config: { json: { environment_mode: 'math', max_depth: '5', branching_factor: true, min_depth: 1.5, sampling_tips: 3, available_tools: 'calculator' } },
    cli: () => [
      'config.available_tools: expected an array of tool names, got "calculator"',
      'config.sampling_tips: expected a string, got 3',
      'config.max_depth: expected an integer ≥ 1, got "5"',
      'config.branching_factor: expected an integer ≥ 1, got true',
      'config.min_depth: expected an integer ≥ 1, got 1.5',
    ],
    workflow: {},
  },
  {
    name: 'unknown config keys',
    config: { json: { environment_mode: 'math', colour: 'blue', maxdepth: 3 } },
    cli: () => [`config.colour: unknown key; valid keys are ${ALL_KEYS}`, `config.maxdepth: unknown key; valid keys are ${ALL_KEYS}`],
    workflow: {},
  },
  {
    name: 'keys with a newline or thousands of characters stay on one line',
    config: { json: { environment_mode: 'math', 'max\ndepth': 3, ['k'.repeat(5000)]: 1 } },
    seeds: { json: [{ text: 'a', 'my\nkey': 1 }] },
    cli: () => [
      `config["max\\ndepth"]: unknown key; valid keys are ${ALL_KEYS}`,
      `config["${'k'.repeat(57)}..."]: unknown key; valid keys are ${ALL_KEYS}`,
      'seeds[0]["my\\nkey"]: unknown key; valid keys are text, id, metadata',
    ],
    workflow: {},
  },
  {
    name: 'empty seeds array',
    seeds: { json: [] },
    cli: () => ['seeds: expected at least one seed, got an empty array'],
    workflow: {},
  },
  {
    name: 'empty entities list',
    seeds: { json: { entities: [] } },
    cli: () => ['seeds: expected at least one seed, got an empty array'],
    workflow: { seeds: [] },
  },
  {
    name: 'non-UTF-8 seeds file (latin-1), with the byte offset',
    seeds: { raw: Buffer.from('[\n  "prime numbers",\n  "caf\xe9 au lait"\n]\n', 'latin1') },
    cli: (p) => [exact(p.seeds, ': expected UTF-8 text, got a byte that is not valid UTF-8 \\(0xE9 at byte offset 27, line 3\\); re-save the file as UTF-8')],
  },
  {
    name: 'non-UTF-8 config file (UTF-16)',
    config: { raw: Buffer.from(`\ufeff${JSON.stringify(VALID_CONFIG)}`, 'utf16le') },
    cli: (p) => [exact(p.config, ': expected UTF-8 text, got UTF-16 text \\(byte order mark FF FE\\); re-save the file as UTF-8')],
  },
  {
    name: '50 MB seed line',
    seeds: { raw: `${JSON.stringify('x'.repeat(50 * 1024 * 1024))}\n` },
    seedsName: 'seeds.jsonl',
    // Read line by line: a line longer than a seed's JSON may be is not kept (bounded memory), just measured.
    cli: (p) => [`seeds[0]: expected at most 1 MiB of JSON for one seed (a text of at most ${MAX_SEED_CHARS} characters and its metadata), got 52428802 bytes (${p.seeds} line 1)`],
    // Through Temporal the input cannot even be submitted: the gRPC message limit is 4 MB.
    workflow: { refused: /larger than max|message too large|ResourceExhausted/i },
  },
  {
    name: 'a seed just over the length limit',
    seeds: { json: ['ok', 'y'.repeat(MAX_SEED_CHARS + 1)] },
    cli: () => [`seeds[1]: expected a seed of at most ${MAX_SEED_CHARS} characters, got ${MAX_SEED_CHARS + 1} characters`],
    workflow: {},
  },
  {
    // The CLI streams a seeds file of any size (it would pass these by reference): the bad seed at the end is found.
    name: 'more than 2 MB of seeds, the last one bad',
    seeds: { json: [...Array.from({ length: 2500 }, (_, i) => `seed ${i} ${'z'.repeat(1000)}`), 42] },
    cli: () => ['seeds[2500]: expected a non-empty string or {text, id?, metadata?}, got number 42'],
    workflow: { refused: /Blob data size exceeds limit/i },
  },
  {
    name: 'min_depth > max_depth',
    config: { json: { environment_mode: 'math', max_depth: 3, min_depth: 6 } },
    cli: () => ['config.min_depth: expected ≤ max_depth (3), got 6'],
    workflow: {},
  },
  {
    name: 'unknown tool',
    config: { json: { environment_mode: 'math', available_tools: ['calculator', 'hammer'] } },
    cli: () => ['config.available_tools[1]: expected a math tool (calculator); empty available_tools means all of them, got "hammer"'],
    workflow: {},
  },
  {
    name: "available_tools of another mode",
    config: { json: { environment_mode: 'python', available_tools: ['web_search', 'python_interpreter', 'calculator'] } },
    cli: () => [
      'config.available_tools[0]: expected a python tool (python_interpreter); empty available_tools means all of them, got "web_search"',
      'config.available_tools[2]: expected a python tool (python_interpreter); empty available_tools means all of them, got "calculator"',
    ],
    workflow: {},
  },
  {
    name: 'unknown mode',
    config: { json: { environment_mode: 'chemistry' } },
    cli: () => ['config.environment_mode: expected one of web, math, python, rag (or py), got "chemistry"'],
    workflow: {},
  },
  {
    name: 'negative numbers',
    config: { json: { environment_mode: 'math', max_depth: -1, branching_factor: -2, max_workers: -3, llm_timeout_seconds: -1, rate_limits: { llm_requests_per_second: -5 } } },
    cli: () => [
      'config.max_depth: expected an integer ≥ 1, got -1',
      'config.branching_factor: expected an integer ≥ 1, got -2',
      'config.max_workers: expected an integer ≥ 1, got -3',
      'config.rate_limits.llm_requests_per_second: expected a number > 0, got -5',
      'config.llm_timeout_seconds: expected a number of seconds ≥ 1, got -1',
    ],
    workflow: {},
  },
  {
    name: 'number_of_seed 0',
    config: { json: { environment_mode: 'math', number_of_seed: 0 } },
    cli: () => ['config.number_of_seed: expected an integer ≥ 1, got 0'],
    workflow: {},
  },
  {
    name: 'environment_kwargs unknown key',
    config: { json: { environment_mode: 'python', environment_kwargs: { python_timeout: 3, python_sandbox: 'none' } } },
    cli: () => [
      'config.environment_kwargs.python_timeout: expected a python setting (python_sandbox, python_timeout_seconds, python_memory_mb, python_max_output_bytes, python_max_processes, python_max_file_mb, python_max_open_files, python_scratch_mb), got 3',
    ],
    workflow: {},
  },
  {
    name: 'rag without a corpus',
    config: { json: { environment_mode: 'rag', environment_kwargs: {} } },
    cli: () => ['config.environment_kwargs.corpus_path: expected the path of the corpus to search (a folder of .md/.txt/.jsonl files or a .jsonl file), got nothing (missing)'],
    workflow: {},
  },
  {
    name: 'rate_limits unknown tool and key',
    config: { json: { environment_mode: 'math', rate_limits: { tool_calls_per_second: { hammer: 2, calculator: 0 }, burst: 3 } } },
    cli: () => [
      'config.rate_limits.tool_calls_per_second.calculator: expected a number > 0, got 0',
      'config.rate_limits.tool_calls_per_second.hammer: unknown key; valid keys are web_search, web_visit, calculator, python_interpreter, local_search',
      'config.rate_limits.burst: unknown key; valid keys are llm_requests_per_second, tool_calls_per_second',
    ],
    workflow: {},
  },
  {
    name: 'output_format "task"',
    config: { json: { environment_mode: 'math', output_format: 'task' } },
    cli: () => ['config.output_format: expected "qa" (task/OSWorld output is not supported), got "task"'],
    workflow: {},
  },
  {
    name: 'qa_examples of the wrong shape, empty model name',
    config: { json: { environment_mode: 'math', qa_examples: [{ question: 1 }], model_name: '' } },
    cli: () => [
      'config.qa_examples[0].question: expected a string, got 1',
      'config.qa_examples[0].answer: expected a string, got nothing (missing)',
      'config.model_name: expected a non-empty model name, got an empty string',
    ],
    workflow: {},
  },
  {
    name: 'config file holding null (a --max-workers flag does not make it valid)',
    config: { raw: 'null\n' },
    args: ['--max-workers', '3'],
    cli: () => ['config: expected a config object, got null'],
    workflow: { config: null },
  },
  {
    name: 'config file holding a list',
    config: { json: [VALID_CONFIG] },
    cli: () => ['config: expected a config object, got an array of 1'],
    workflow: {},
  },
  {
    name: 'seeds of the wrong types',
    seeds: { json: ['ok', 42, null, ['x'], true, '', '   '] },
    cli: () => [
      'seeds[1]: expected a non-empty string or {text, id?, metadata?}, got number 42',
      'seeds[2]: expected a non-empty string or {text, id?, metadata?}, got null',
      'seeds[3]: expected a non-empty string or {text, id?, metadata?}, got an array of 1',
      'seeds[4]: expected a non-empty string or {text, id?, metadata?}, got boolean true',
      'seeds[5]: expected a non-empty string, got an empty string',
      'seeds[6]: expected a non-empty string, got a whitespace-only string',
    ],
    workflow: {},
  },
  {
    name: 'seed object with an unknown key and every field wrong',
    seeds: { json: [{ text: 7, id: 'bad id!', metadata: [], colour: 'red' }] },
    cli: () => [
      'seeds[0].colour: unknown key; valid keys are text, id, metadata',
      'seeds[0].text: expected a non-empty string, got 7',
      'seeds[0].id: expected 1–100 characters from A–Z a–z 0–9 . _ : - (it names files and workflows), got "bad id!"',
      'seeds[0].metadata: expected an object, got an empty array',
    ],
    workflow: {},
  },
  {
    name: 'duplicate explicit ids with different text',
    seeds: { json: [{ text: 'Paris', id: 'city' }, { text: 'Rome', id: 'city' }, { text: 'Paris', id: 'city' }] },
    cli: () => ['seeds[1].id: expected an id no other seed uses, got "city" (seeds[0] has it, with different text)'],
    workflow: {},
  },
  {
    name: 'seeds file that is a blank JSON string',
    seeds: { raw: '"   "\n' },
    cli: () => ['seeds[0]: expected a non-empty string, got a whitespace-only string'],
    workflow: { seeds: ['   '] },
  },
  {
    name: 'config and seed problems together',
    config: { json: { environment_mode: 'math', max_depth: 0, colour: 1 } },
    seeds: { json: [{ text: 'a', extra: 1 }, 3] },
    cli: () => [
      'config.max_depth: expected an integer ≥ 1, got 0',
      `config.colour: unknown key; valid keys are ${ALL_KEYS}`,
      'seeds[0].extra: unknown key; valid keys are text, id, metadata',
      'seeds[1]: expected a non-empty string or {text, id?, metadata?}, got number 3',
    ],
    workflow: {},
  },
  // ------------------------------------------------ files and flags (CLI only)
  {
    name: 'missing config and seeds files',
    config: 'missing',
    seeds: 'missing',
    cli: (p) => [exact(p.config, ': config file not found'), exact(p.seeds, ': seed file not found')],
  },
  {
    name: 'missing seeds file does not hide config problems; bad --run-id',
    config: { json: { environment_mode: 'math', max_depth: -3 } },
    seeds: 'missing',
    args: ['--run-id', 'my run!'],
    cli: (p) => [
      exact(p.seeds, ': seed file not found'),
      '--run-id: expected 1–80 characters from A–Z a–z 0–9 . _ -, got "my run!"',
      'config.max_depth: expected an integer ≥ 1, got -3',
    ],
  },
  {
    name: 'YAML syntax error',
    config: { raw: 'environment_mode: math\nmax_depth: [1, 2\nmin_depth: 1\n' },
    configName: 'config.yaml',
    cli: (p) => [exact(p.config, ':\\d+:\\d+: invalid YAML \\([^\\n]+\\)')],
  },
  {
    name: 'YAML alias bomb',
    config: {
      raw: ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefg'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdef'[i]}`).join(', ')}]`)].join('\n'),
    },
    configName: 'config.yml',
    cli: (p) => [exact(p.config, ': invalid YAML \\(Excessive alias count indicates a resource exhaustion attack\\)')],
  },
  {
    name: 'JSON syntax error, with line and column',
    config: { raw: '{\n  "environment_mode": "math",\n  "max_depth": 3,\n}\n' },
    cli: (p) => [exact(p.config, ":4:1: invalid JSON \\(Expected double-quoted property name\\)")],
  },
  {
    name: 'pretty-printed seeds array with a syntax error (not mistaken for JSONL)',
    seeds: { raw: '[\n  "a",,\n  "b"\n]\n' },
    cli: (p) => [exact(p.seeds, ":2:7: invalid JSON \\(Unexpected token ','\\)")],
  },
  {
    name: 'JSONL seeds with two bad lines',
    seeds: { raw: '"ok"\n{"text": \n"fine"\n42x\n' },
    seedsName: 'seeds.jsonl',
    cli: (p) => [exact(p.seeds, ':2:9: invalid JSON \\(Unexpected end of JSON input\\)'), exact(p.seeds, ':4:3: invalid JSON \\(Unexpected non-whitespace character after JSON\\)')],
  },
  {
    name: 'seeds as an object',
    seeds: { json: { seeds: ['a'] } },
    cli: (p) => [exact(p.seeds, ': expected a JSON array of seeds, \\{"entities": \\[\\.\\.\\.\\]\\}, or JSONL \\(one seed per line\\), got an object without an "entities" array')],
  },
  {
    name: 'seeds file holding a number',
    seeds: { raw: '42\n' },
    cli: (p) => [exact(p.seeds, ': expected a JSON array of seeds, \\{"entities": \\[\\.\\.\\.\\]\\}, or JSONL \\(one seed per line\\), got number 42')],
  },
  {
    name: 'empty seeds file',
    seeds: { raw: '\n  \n' },
    cli: (p) => [exact(p.seeds, ': expected seeds, got an empty file')],
  },
  {
    name: 'empty config file',
    config: { raw: '' },
    cli: (p) => [exact(p.config, ': expected a config object, got an empty file')],
  },
  {
    name: 'a directory given as config',
    config: 'directory',
    configName: 'configs',
    cli: (p) => [exact(p.config, ': expected a config file, got a directory')],
  },
  {
    name: 'a config file with an unsupported extension',
    config: { raw: 'environment_mode = "math"\n' },
    configName: 'config.toml',
    cli: (p) => [exact(p.config, ': expected a \\.json, \\.yaml or \\.yml config file, got "\\.toml"')],
  },
  {
    name: '--max-workers 0',
    args: ['--max-workers', '0'],
    cli: () => ['--max-workers: expected an integer ≥ 1, got "0"'],
  },
  {
    name: '--number-of-seed -1',
    args: ['--number-of-seed', '-1'],
    cli: () => ['--number-of-seed: expected an integer ≥ 1, got "-1"'],
  },
  // ---- values that would run into a Temporal server limit, refused before anything is paid
  {
    name: 'max_depth 1000000: a seed workflow could never fit its history limit',
    config: { json: { ...VALID_CONFIG, max_depth: 1000000, branching_factor: 2 } },
    cli: () => [
      /^config\.max_depth: expected a tree whose seed workflow fits Temporal's history limit of 51,200 events \(limit\.historyCount\.error\): a tree of 7,999,990 nodes \(max_depth 1000000, branching_factor 2, depth_threshold 3\) may need [0-9,]+; lower max_depth, branching_factor or depth_threshold .*got 1000000$/,
    ],
    workflow: {},
  },
  {
    name: 'branching_factor 1000: the same limit, named',
    config: { json: { ...VALID_CONFIG, max_depth: 3, branching_factor: 1000, depth_threshold: 3 } },
    cli: () => [/^config\.max_depth: expected a tree whose seed workflow fits Temporal's history limit of 51,200 events .*a tree of 1,001,001,000 nodes/],
    workflow: {},
  },
  {
    name: 'max_workers above the server\'s pending-children limit',
    config: { json: { ...VALID_CONFIG, max_workers: 2500 } },
    cli: () => [
      'config.max_workers: expected at most 2,000: each running seed is a child workflow, and the Temporal server allows 2,000 pending children per workflow (limit.numPendingChildExecutions.error); for more parallelism run several batches, got 2500',
    ],
    workflow: {},
  },
  {
    name: 'a tree that fits but is absurd (1,022 nodes per seed): refused without --force',
    config: { json: { ...VALID_CONFIG, max_depth: 9, branching_factor: 2, depth_threshold: 9 } },
    cli: () => [/^config: each seed's tree would have 1,022 nodes \(more than 1,000\): 1,0\d\d LLM calls in all\. If that is really meant, pass --force/],
    workflow: {},
  },
];

// ------------------------------------------------ workflow-input-only cases (no file or flag equivalent)

interface WorkflowCase {
  name: string;
  input: (outputDir: string) => unknown;
  lines: string[];
}

const WORKFLOW_CASES: WorkflowCase[] = [
  {
    name: 'input: bad run_id, relative output_dir, unknown key',
    input: () => ({ run_id: 'bad id', config: VALID_CONFIG, seeds: VALID_SEEDS, output_dir: 'relative/out', colour: 1 }),
    lines: [
      'run_id: expected a run id (1–80 characters from A–Z a–z 0–9 . _ -), got "bad id"',
      'output_dir: expected an absolute path (it is resolved on the worker that writes outputs), got "relative/out"',
      'colour: unknown key; valid keys are run_id, config, seeds, seeds_file, output_dir, force, retry_failed',
    ],
  },
  {
    name: 'input: config missing, seeds an object',
    input: (out) => ({ run_id: 'r1', seeds: { entities: ['a'] }, output_dir: out }),
    lines: ['config: expected a config object, got nothing (missing)', 'seeds: expected an array of seeds, got an object'],
  },
  {
    name: 'input: seeds both inline and by reference',
    input: (out) => ({ run_id: 'r2', config: VALID_CONFIG, seeds: VALID_SEEDS, seeds_file: '/data/seeds.jsonl', output_dir: out }),
    lines: ['seeds_file: expected either seeds (inline) or seeds_file (by reference), got both; remove one of them'],
  },
  {
    name: 'input: no seeds at all',
    input: (out) => ({ run_id: 'r3', config: VALID_CONFIG, output_dir: out }),
    lines: ['seeds: expected an array of seeds, or seeds_file: the absolute path of a seeds file; got neither'],
  },
  {
    name: 'input: relative seeds_file',
    input: (out) => ({ run_id: 'r4', config: VALID_CONFIG, seeds_file: 'seeds.jsonl', output_dir: out }),
    lines: ['seeds_file: expected an absolute path (it is read by the workers serving the output task queue), got "seeds.jsonl"'],
  },
  {
    name: 'input: not an object',
    input: () => ['a'],
    lines: ['input: expected an object {run_id, config, seeds or seeds_file, output_dir}, got an array of 1'],
  },
];

// ---------------------------------------------------------------- the harness

let t: TestTemporal;
let sim: Simulator;
let worker: { stop(): Promise<void> };
let temporalBin: string;
let dir: string;
const queue = uniqueQueue('bad-input');

before(async () => {
  assert.ok(fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js')), 'run `npm run build` first (npm test does)');
  const bin = findTemporalCli();
  assert.ok(bin, 'the Temporal CLI (.tools/temporal) is needed: npm run setup');
  temporalBin = bin;
  t = await testTemporal();
  sim = await startSimulator();
  worker = await startTestWorker({ t, taskQueue: queue, llmBaseUrl: sim.url });
  dir = tempDir('qasynth-bad-input-');
});

after(async () => {
  await worker?.stop();
  await sim?.close();
  await t?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 50);
}

function place(caseDir: string, name: string, spec: FileSpec): string {
  const file = path.join(caseDir, name);
  if (spec === 'missing') return file;
  if (spec === 'directory') fs.mkdirSync(file);
  else if ('json' in spec) fs.writeFileSync(file, JSON.stringify(spec.json, null, 2));
  else fs.writeFileSync(file, spec.raw);
  return file;
}

function matches(line: string, expected: Expected): boolean {
  return typeof expected === 'string' ? line === expected : expected.test(line);
}

/** stderr → the problem lines (without `error: `); fails on anything else but commander's usage hint. */
function problemLines(stderr: string): string[] {
  assert.doesNotMatch(stderr, /^\s+at .+[:(]\d+:\d+\)?$/m, `a stack trace:\n${stderr}`);
  assert.doesNotMatch(stderr, /\b(TypeError|ReferenceError|RangeError|SyntaxError)\b/, stderr);
  const lines = stderr.split('\n').filter((l) => l.trim());
  const other = lines.filter((l) => !l.startsWith('error: ') && l !== '(run with --help for usage)');
  assert.deepEqual(other, [], `unexpected stderr lines:\n${stderr}`);
  return lines.filter((l) => l.startsWith('error: ')).map((l) => l.slice('error: '.length));
}

async function assertNeverStarted(workflowId: string): Promise<void> {
  await assert.rejects(t.client.workflow.getHandle(workflowId).describe(), WorkflowNotFoundError);
}

/** Submits `input` with `temporal workflow start` and returns the workflow id and the CLI's result. */
async function temporalStart(name: string, input: unknown): Promise<{ workflowId: string; start: Proc }> {
  const workflowId = `bad-input-${slug(name)}-${Math.random().toString(36).slice(2, 8)}`;
  const inputFile = path.join(dir, `${workflowId}.input.json`);
  fs.writeFileSync(inputFile, JSON.stringify(input));
  const start = await exec(temporalBin, [
    'workflow', 'start',
    '--address', t.address,
    '--namespace', 'default',
    '--type', 'synthesizeBatch',
    '--task-queue', queue,
    '--workflow-id', workflowId,
    '--input-file', inputFile,
  ]);
  fs.rmSync(inputFile, { force: true });
  return { workflowId, start };
}

/** The workflow failed at once with a non-retryable InvalidInput listing exactly `lines`, and did nothing. */
async function assertInvalidInputFailure(workflowId: string, lines: string[], outputDir: string): Promise<void> {
  const handle = t.client.workflow.getHandle(workflowId);
  const err = await handle.result().then(
    () => assert.fail('the workflow completed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError, String(err));
  const cause = err.cause;
  assert.ok(cause instanceof ApplicationFailure, `cause: ${String(cause)}`);
  assert.equal(cause.type, FailureType.InvalidInput);
  assert.equal(cause.nonRetryable, true);
  const [head, ...reasons] = cause.message.split('\n');
  assert.equal(head, 'invalid batch input:');
  assert.deepEqual(reasons.map((l) => l.trim()), lines, 'the workflow lists the same reasons as the CLI');
  assert.deepEqual(cause.details, [lines]);
  assert.equal((await handle.describe()).status.name, 'FAILED');
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  assert.ok(events.some((e) => e.workflowExecutionFailedEventAttributes), 'a WorkflowExecutionFailed event');
  assert.equal(events.filter((e) => e.activityTaskScheduledEventAttributes).length, 0, 'no activity was scheduled');
  assert.equal(events.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes).length, 0, 'no child was started');
  assert.equal(events.filter((e) => e.workflowTaskFailedEventAttributes).length, 0, 'no workflow task failed (no retry loop)');
  assert.equal(fs.existsSync(outputDir), false, 'nothing was written');
}

describe('bad input: exit 2 with one line per problem on the CLI; a non-retryable InvalidInput through temporal workflow start', { concurrency: CONCURRENCY }, () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const caseDir = path.join(dir, slug(c.name));
      fs.mkdirSync(caseDir);
      const paths: Paths = {
        config: place(caseDir, c.configName ?? 'config.json', c.config ?? { json: VALID_CONFIG }),
        seeds: place(caseDir, c.seedsName ?? 'seeds.json', c.seeds ?? { json: VALID_SEEDS }),
      };
      const outputDir = path.join(caseDir, 'out');
      const r = await exec(
        process.execPath,
        [CLI, 'run', '--config', paths.config, '--seeds', paths.seeds, '--output-dir', outputDir, '--task-queue', uniqueQueue('bad-cli'), '--no-progress', ...(c.args ?? [])],
        { TEMPORAL_ADDRESS: t.address, OPENAI_BASE_URL: sim.url, OPENAI_API_KEY: 'sk-bad-input' },
      );
      assert.equal(r.code, 2, `exit code\n${r.stderr}`);
      assert.equal(r.stdout, '');
      const lines = problemLines(r.stderr);
      const expected = c.cli(paths);
      assert.equal(lines.length, expected.length, `one line per problem; got:\n${lines.join('\n')}`);
      expected.forEach((e, i) => assert.ok(matches(lines[i]!, e), `line ${i + 1}:\n  ${lines[i]}\ndoes not match\n  ${String(e)}`));
      assert.ok(r.stderr.length < 4000, `stderr is short (${r.stderr.length} characters)`);
      assert.equal(fs.existsSync(outputDir), false, 'the output folder was not created');
      assert.equal(sim.requests().length, 0, 'the LLM simulator received no request');

      if (!c.workflow) return;
      const read = (spec: FileSpec | undefined, dflt: unknown) => (spec && typeof spec === 'object' && 'json' in spec ? spec.json : dflt);
      const wfOut = path.join(caseDir, 'wf-out');
      const input = {
        run_id: `bad-${slug(c.name).slice(0, 40)}`,
        config: 'config' in c.workflow ? c.workflow.config : read(c.config, VALID_CONFIG),
        seeds: 'seeds' in c.workflow ? c.workflow.seeds : read(c.seeds, VALID_SEEDS),
        output_dir: wfOut,
      };
      if ('refused' in c.workflow) {
        // Too large for Temporal: read the seeds from the file the CLI got.
        input.seeds = c.seedsName?.endsWith('.jsonl')
          ? fs.readFileSync(paths.seeds, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as unknown)
          : JSON.parse(fs.readFileSync(paths.seeds, 'utf8'));
        const { workflowId, start } = await temporalStart(c.name, input);
        assert.notEqual(start.code, 0, `temporal workflow start accepted the input:\n${start.stdout}`);
        assert.match(start.stderr, c.workflow.refused);
        await assertNeverStarted(workflowId);
        assert.equal(fs.existsSync(wfOut), false);
        return;
      }
      const { workflowId, start } = await temporalStart(c.name, input);
      assert.equal(start.code, 0, start.stderr);
      await assertInvalidInputFailure(workflowId, lines, wfOut);
      assert.equal(sim.requests().length, 0, 'the LLM simulator received no request');
    });
  }

  for (const w of WORKFLOW_CASES) {
    test(`workflow ${w.name}`, async () => {
      const wfOut = path.join(dir, `${slug(w.name)}-out`);
      const { workflowId, start } = await temporalStart(w.name, w.input(wfOut));
      assert.equal(start.code, 0, start.stderr);
      await assertInvalidInputFailure(workflowId, w.lines, wfOut);
    });
  }
});

test('the LLM simulator received no request at all', () => {
  assert.deepEqual(sim.requests(), []);
});
