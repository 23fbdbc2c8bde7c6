/**
 * The live view as a person sees it: `qasynth run` and `qasynth watch` in a pseudo-terminal (Python's pty, see
 * test/helpers/pty-record.py) 80 and 130 columns wide, against a simulator answering with latency and one forced
 * fault (a worker warning). Checks: LLM calls show up while no seed has finished (within 10 s of the first LLM
 * answer), every frame fits the width, the last frame carries the summary's numbers, and the warning lands in
 * the worker log file, not on the terminal. Also: a seed query adds no history event; `status` answers once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import stringWidth from 'string-width';
import { Client } from '@temporalio/client';
import { startSimulator, type Simulator } from '../../src/llm/simulator';
import { seedWorkflowId } from '../../src/shared/constants';
import type { SeedLiveProgress } from '../../src/shared/types';
import { seedProgressQuery } from '../../src/workflows/messages';
import { readProgress } from '../../src/client/progress';
import { localCliPath } from '../../src/server/temporal-cli';
import { heldAt, tempDir, testTemporal, uniqueQueue, waitFor, type TestTemporal } from '../helpers/temporal';
import { sourceIdFor } from '../../src/domain/ids';

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'bin', 'qasynth.js');
const PTY = path.join(ROOT, 'test', 'helpers', 'pty-record.py');
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const CLEAR = '\r\x1b[2K';
const TREE = { environment_mode: 'math', model_name: 'sim', max_depth: 3, branching_factor: 2, depth_threshold: 2, min_depth: 1, max_selected_traj: 2, max_workers: 3 };
const SEEDS = ['prime numbers', 'Fibonacci sequence', 'compound interest'];

interface Frame {
  t: number;
  text: string;
}
interface Screen {
  code: number;
  /** Everything printed (stdout and stderr, as the terminal got them). */
  raw: string;
  /** Each redraw of the progress line, with the time its first byte arrived. */
  frames: Frame[];
  /** The lines printed after the last frame (the summary). */
  after: string;
  /** Lines printed before the first frame. */
  before: string;
}

/** Runs the CLI in a pty `cols` wide; returns what the terminal showed. `onSpawn` gets the pty's process (to stop it). */
function inPty(cols: number, args: string[], env: Record<string, string>, onSpawn?: (p: ChildProcess) => void): Promise<Screen> {
  const transcript = path.join(tempDir('qasynth-pty-'), 'transcript.jsonl');
  return new Promise((resolve, reject) => {
    const p = spawn(PYTHON, [PTY, String(cols), '40', transcript, process.execPath, CLI, ...args], {
      cwd: ROOT,
      env: { ...process.env, OPENAI_BASE_URL: '', OPENAI_API_KEY: '', ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    onSpawn?.(p);
    p.on('error', reject);
    p.on('exit', (code) => {
      const chunks = fs.readFileSync(transcript, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { t: number; d: string });
      let raw = '';
      const at: { offset: number; t: number }[] = [];
      for (const c of chunks) {
        at.push({ offset: raw.length, t: c.t });
        raw += Buffer.from(c.d, 'base64').toString('utf8');
      }
      const timeAt = (offset: number) => [...at].reverse().find((a) => a.offset <= offset)!.t;
      const frames: Frame[] = [];
      let from = raw.indexOf(CLEAR);
      const first = from;
      let lastEnd = raw.length;
      while (from >= 0) {
        const next = raw.indexOf(CLEAR, from + CLEAR.length);
        const piece = raw.slice(from + CLEAR.length, next < 0 ? raw.length : next);
        const nl = piece.indexOf('\r\n');
        const text = nl < 0 ? piece : piece.slice(0, nl);
        // A note above the line is `CLEAR note \r\n frame`: the frame after the note is drawn again at once.
        frames.push({ t: timeAt(from), text: text.replace(/\x1b\[\?25[lh]/g, '') });
        if (next < 0) lastEnd = from + CLEAR.length + (nl < 0 ? piece.length : nl + 2);
        from = next;
      }
      resolve({
        code: code ?? -1,
        raw,
        frames,
        after: raw.slice(lastEnd).replace(/\x1b\[\?25[lh]/g, ''),
        before: first < 0 ? raw : raw.slice(0, first),
      });
    });
  });
}

const callsIn = (s: string) => Number(/(\d+) (?:LLM )?calls/.exec(s)?.[1] ?? NaN);
/** The segments of a frame, without the phase word and the bar. */
const segments = (frame: string) => frame.split(' · ').map((s) => s.replace(/^[█░]+ /, '')).filter((s) => s !== 'done');

let t: TestTemporal;
let sim: Simulator;
let simStart: number;
let dir: string;
before(async () => {
  assert.ok(fs.existsSync(path.join(ROOT, 'dist', 'cli', 'main.js')), 'run `npm run build` first');
  t = await testTemporal();
  simStart = Date.now();
  // Every answer takes 300 ms: a seed makes ~12 calls one after another, so it runs for seconds.
  sim = await startSimulator({ latencyMs: 300 });
  dir = tempDir();
});
after(async () => {
  await sim?.close();
  await t?.close();
});

function write(name: string, content: unknown): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, typeof content === 'string' ? content : JSON.stringify(content));
  return f;
}

/** When the simulator first answered an LLM call successfully (ms since epoch; `simStart` is taken before it started). */
function firstAnswerAt(): number {
  const ok = sim.requests().filter((r) => r.status === 200 && typeof r.answered_ms === 'number');
  assert.ok(ok.length > 0, 'the simulator answered');
  return simStart + Math.min(...ok.map((r) => r.answered_ms!));
}

describe('live progress in a terminal', () => {
  for (const cols of [130, 80]) {
    test(`qasynth run at ${cols} columns: live LLM calls, frames that fit, last frame = summary, warnings in the log file`, async () => {
      sim.resetLog();
      // One 500 on an action choice: the activity fails once and is retried — the worker logs a warning.
      sim.script([{ match: { kind: 'action' }, after: 3, times: 1, respond: { status: 500 } }]);
      const runId = `live-${cols}`;
      const out = path.join(dir, `out-${cols}`);
      const args = ['run', '--config', write(`c${cols}.json`, TREE), '--seeds', write(`s${cols}.json`, SEEDS), '--output-dir', out, '--task-queue', uniqueQueue('live'), '--run-id', runId];
      const screen = await inPty(cols, args, { TEMPORAL_ADDRESS: t.address, OPENAI_BASE_URL: sim.url, OPENAI_API_KEY: 'sk-live' });
      assert.equal(screen.code, 0, screen.raw);
      assert.ok(sim.requests().some((r) => r.status === 500), 'the fault fired');

      // Within 10 s of the first LLM answer the line shows LLM calls — while no seed has finished yet.
      const answered = firstAnswerAt();
      const live = screen.frames.find((f) => callsIn(f.text) > 0);
      assert.ok(live, `a frame with LLM calls:\n${screen.frames.map((f) => f.text).join('\n')}`);
      assert.ok(live.t - answered < 10_000, `LLM calls shown ${live.t - answered} ms after the first answer`);
      assert.ok(
        screen.frames.some((f) => callsIn(f.text) > 0 && new RegExp(`^(?:[█░]+ )?0/${SEEDS.length}\\b`).test(f.text)),
        'LLM calls counted while 0 seeds had finished (running seeds’ partial counters)',
      );

      // Every frame fits (cols − 1) and is made of whole segments.
      for (const f of screen.frames) assert.ok(stringWidth(f.text) <= cols - 1, `${stringWidth(f.text)} columns: ${f.text}`);

      // The log path is said once, before the line; no log line reaches the terminal; the warning is in the file.
      const logFile = path.join(out, runId, 'worker.log');
      assert.equal(screen.raw.split(`worker log: ${logFile}`).length, 2, screen.before);
      assert.ok(screen.before.includes(`worker log: ${logFile}`));
      assert.doesNotMatch(screen.raw, /\[(WARN|ERROR|INFO)\]|Activity failed|taskToken/);
      assert.match(fs.readFileSync(logFile, 'utf8'), /\[WARN\] Activity failed .*HTTP 500/);

      // The last frame equals the summary: the same totals line, the same seed count.
      const last = screen.frames.at(-1)!.text;
      const summary = screen.after;
      const totals = /^ {2}totals {8}(.*)$/m.exec(summary.replace(/\r/g, ''))?.[1];
      assert.ok(totals, summary);
      for (const seg of segments(last)) {
        if (/^\d+\/\d+( seeds)?$/.test(seg)) assert.match(summary, new RegExp(`${seg.split(' ')[0]} seeds succeeded`));
        else assert.ok(totals.split(' · ').includes(seg), `final frame segment ${JSON.stringify(seg)} not in the summary's totals ${JSON.stringify(totals)}`);
      }
      // …and the summary's numbers are the statistics file's.
      const stats = JSON.parse(fs.readFileSync(/statistics +(\S+)/.exec(summary)![1]!, 'utf8'));
      assert.ok(totals.includes(`${stats.llm.calls} LLM calls`), totals);
      assert.match(last, new RegExp(`\\b${stats.llm.calls} (LLM )?calls`));
    });
  }

  test('a seed query adds no history event; `qasynth watch` follows a run started with `temporal workflow start`; `status` once', async () => {
    sim.resetLog();
    sim.clearScript();
    // The first seed's fourth action choice waits at the endpoint (held) until the check below is done: a seed
    // waiting for an answer adds no event, so 20 queries on it must leave its history as it was.
    sim.script([{ match: { kind: 'action', contains: SEEDS[0]! }, after: 3, respond: { hold: 'quiet' } }]);
    /** Stopped in `finally`: a failed assertion must not leave `qasynth watch` following a run no worker serves. */
    let watcher: ChildProcess | undefined;
    const queue = uniqueQueue('watch');
    const runId = 'watch-1';
    const env = { TEMPORAL_ADDRESS: t.address, OPENAI_BASE_URL: sim.url, OPENAI_API_KEY: 'sk-watch' };
    const worker = spawn(process.execPath, [CLI, 'worker', '--task-queue', queue], { cwd: ROOT, env: { ...process.env, ...env }, stdio: 'ignore' });
    const client = new Client({ connection: t.connection, namespace: 'default' });
    try {
      const input = { run_id: runId, config: TREE, seeds: SEEDS, output_dir: path.join(dir, 'out-watch') };
      const started = spawn(localCliPath(ROOT), ['workflow', 'start', '--address', t.address, '--task-queue', queue, '--type', 'synthesizeBatch', '--workflow-id', `qasynth-${runId}`, '--input', JSON.stringify(input)], { stdio: ['ignore', 'ignore', 'inherit'] });
      assert.equal(await new Promise((r) => started.on('exit', r)), 0);

      const screen = inPty(80, ['watch', runId], { TEMPORAL_ADDRESS: t.address }, (p) => (watcher = p));
      // While it runs: the seed answers its query, and 20 queries leave its history as it was — no event, and
      // above all no signal or update (what a query sent as a message would write).
      await waitFor(() => heldAt(sim, 'quiet'), 120_000, 'the first seed waiting for an answer');
      const sid = sourceIdFor(SEEDS[0]!);
      const h = client.workflow.getHandle(seedWorkflowId(runId, sid));
      const before = (await h.fetchHistory()).events?.length ?? 0;
      const answers: SeedLiveProgress[] = [];
      for (let k = 0; k < 20; k++) answers.push(await h.query(seedProgressQuery));
      const added = ((await h.fetchHistory()).events ?? []).slice(before);
      sim.release('quiet');
      assert.equal(answers[0]!.source_id, sid);
      assert.ok(answers[0]!.llm_calls >= 3, `the seed's finished calls are in its answer (${answers[0]!.llm_calls})`);
      assert.deepEqual(answers.map((a) => a.llm_calls), answers.map(() => answers[0]!.llm_calls), 'nothing moved while the call was held');
      assert.deepEqual(added.map((e) => e.eventType), [], 'no event was written during 20 queries');
      const st = await new Promise<string>((resolve) => {
        const p = spawn(process.execPath, [CLI, 'status', runId, '--json'], { cwd: ROOT, env: { ...process.env, ...env } });
        let o = '';
        p.stdout.on('data', (b) => (o += b));
        p.on('exit', () => resolve(o));
      });
      const status = JSON.parse(st);
      assert.ok(['RUNNING', 'COMPLETED'].includes(status.status));
      assert.equal(typeof status.progress.llm_calls, 'number');

      const s = await screen;
      assert.equal(s.code, 0, s.raw);
      for (const f of s.frames) assert.ok(stringWidth(f.text) <= 79, f.text);
      assert.match(s.after, /run watch-1 complete: 3\/3 seeds succeeded/);
      const totals = /^ {2}totals {8}(.*)$/m.exec(s.after.replace(/\r/g, ''))![1]!;
      for (const seg of segments(s.frames.at(-1)!.text)) if (!/\//.test(seg)) assert.ok(totals.split(' · ').includes(seg), `${seg} ∉ ${totals}`);
    } finally {
      watcher?.kill('SIGKILL');
      sim.clearScript();
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
  });
});
