/**
 * What a user meets before running anything: `--version`, help for commands that exist and an error for those
 * that do not, the README's CLI synopsis equal to `--help` (commands and flags, both ways), the README's links,
 * `validate`'s flags, and `server start --background` honouring its flags.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../../src/server/dev-server';
import { ROOT, runCli } from '../helpers/cli';
import { tempDir } from '../helpers/temporal';

const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** Flags (`--x`) and subcommands of a `--help` page, `-h, --help` left out (every command has it). */
function parseHelp(text: string): { flags: Set<string>; commands: string[] } {
  const flags = new Set<string>();
  const commands: string[] = [];
  let section = '';
  for (const line of text.split('\n')) {
    if (/^\S.*:$/.test(line)) section = line;
    const flag = /^ {2}(?:-\w, )?(--[a-z][a-z0-9-]*)/.exec(line);
    if (section === 'Options:' && flag && flag[1] !== '--help') flags.add(flag[1]);
    const cmd = /^ {2}([a-z][a-z0-9-]*)\b/.exec(line);
    if (section === 'Commands:' && cmd && cmd[1] !== 'help') commands.push(cmd[1]);
  }
  return { flags, commands };
}

/**
 * The README's synopsis: the first code block under `## CLI`. An entry starts with `qasynth <command>` (or
 * `qasynth a | b | c <args>` for several commands, or `qasynth --flag` for the program's own flags); indented
 * lines continue it; `NAME = …` defines a token used in entries. Subcommands (`corpus build | serve`) are words
 * of their parent's entry, and their flags count as the parent's.
 */
function parseSynopsis(readme: string): Map<string, { flags: Set<string>; words: Set<string> }> {
  const section = readme.slice(readme.indexOf('\n## CLI\n'));
  const block = /```\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, 'README: no code block under ## CLI');
  const defs = new Map<string, string>();
  const entries: { names: string[]; text: string }[] = [];
  for (const line of block.split('\n')) {
    const def = /^([A-Z]+) = (.*)$/.exec(line);
    if (def) defs.set(def[1], def[2]);
    else if (line.startsWith('qasynth ')) {
      const rest = line.slice('qasynth '.length).trim();
      if (rest.startsWith('-')) entries.push({ names: [''], text: rest });
      else {
        const m = /^([a-z][a-z0-9-]*(?:\s*\|\s*[a-z][a-z0-9-]*)*)(.*)$/.exec(rest)!;
        entries.push({ names: m[1].split('|').map((n) => n.trim()), text: m[2] });
      }
    } else if (/^\s+\S/.test(line) && entries.length) entries[entries.length - 1].text += ` ${line.trim()}`;
  }
  const out = new Map<string, { flags: Set<string>; words: Set<string> }>();
  for (const e of entries) {
    let text = e.text;
    for (const [k, v] of defs) text = text.replace(new RegExp(`\\b${k}\\b`, 'g'), v);
    const flags = new Set([...text.matchAll(/--[a-z][a-z0-9-]*/g)].map((m) => m[0]).filter((f) => f !== '--help'));
    const words = new Set([...text.matchAll(/(?:^|[\s|[])([a-z][a-z0-9-]*)(?=[\s|\]]|$)/g)].map((m) => m[1]));
    for (const n of e.names) out.set(n, { flags, words });
  }
  return out;
}

describe('CLI surface', () => {
  test('--version prints the package version', async () => {
    const r = await runCli(['--version']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout.trim(), JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
  });

  test('an unknown command with --help (or after `help`) is an error naming it, exit 2; a real one shows its help', async () => {
    for (const args of [['no-such-command', '--help'], ['help', 'no-such-command'], ['no-such-command', '-h'], ['no-such-command']]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /^error: unknown command 'no-such-command'/m, args.join(' '));
      assert.equal(r.stdout, '', `${args.join(' ')} printed help`);
    }
    const sub = await runCli(['corpus', 'no-such-sub', '--help']);
    assert.equal(sub.code, 2, sub.stdout + sub.stderr);
    assert.match(sub.stderr, /unknown command 'no-such-sub'/);
    const ok = await runCli(['status', '--help']);
    assert.equal(ok.code, 0);
    assert.match(ok.stdout, /^Usage: qasynth status \[options\] <run-id>/);
  });

  test('the README synopsis lists exactly the commands and flags of --help', async () => {
    const top = parseHelp((await runCli(['--help'])).stdout);
    assert.ok(top.commands.includes('run') && top.flags.has('--version'), 'top-level --help parsed');
    // Each command's flags, with its subcommands' (corpus build/serve, server start/stop/status).
    const help = new Map<string, { flags: Set<string>; subs: string[] }>([['', { flags: top.flags, subs: [] }]]);
    await Promise.all(
      top.commands.map(async (name) => {
        const page = parseHelp((await runCli([name, '--help'])).stdout);
        const flags = new Set(page.flags);
        for (const sub of page.commands) for (const f of parseHelp((await runCli([name, sub, '--help'])).stdout).flags) flags.add(f);
        help.set(name, { flags, subs: page.commands });
      }),
    );
    const readme = parseSynopsis(README);
    const missing: string[] = []; // in --help, not in the README
    const extra: string[] = []; // in the README, not in --help
    const label = (c: string) => (c ? `qasynth ${c}` : 'qasynth');
    for (const [cmd, h] of help) {
      const r = readme.get(cmd);
      if (!r) {
        missing.push(`${label(cmd)} (the whole command)`);
        continue;
      }
      for (const f of h.flags) if (!r.flags.has(f)) missing.push(`${label(cmd)} ${f}`);
      for (const f of r.flags) if (!h.flags.has(f)) extra.push(`${label(cmd)} ${f}`);
      for (const s of h.subs) if (!r.words.has(s)) missing.push(`${label(cmd)} ${s} (subcommand)`);
    }
    for (const cmd of readme.keys()) if (!help.has(cmd)) extra.push(`${label(cmd)} (the whole command)`);
    assert.deepEqual(
      { in_help_not_in_readme: missing.sort(), in_readme_not_in_help: extra.sort() },
      { in_help_not_in_readme: [], in_readme_not_in_help: [] },
      `README.md "## CLI" synopsis differs from --help:\n` +
        (missing.length ? `  missing from the README: ${missing.sort().join('; ')}\n` : '') +
        (extra.length ? `  in the README but not in --help: ${extra.sort().join('; ')}\n` : ''),
    );
  });

  test('the README links only files inside the repository, and each exists; it documents exit code 130', () => {
    const problems: string[] = [];
    for (const m of README.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      const target = m[1];
      if (/^[a-z]+:/.test(target)) continue; // http(s), mailto
      const abs = path.resolve(ROOT, target);
      if (!abs.startsWith(ROOT + path.sep)) problems.push(`${target}: outside the repository`);
      else if (!fs.existsSync(abs)) problems.push(`${target}: no such file`);
    }
    for (const m of README.matchAll(/`(\.\.\/[^`]+)`/g)) problems.push(`${m[1]}: a path outside the repository`);
    assert.deepEqual(problems, []);
    assert.match(README, /\b130 interrupted with Ctrl-C\b/);
  });

  test('validate offers no flag that does nothing: --output-dir is refused', async () => {
    const help = parseHelp((await runCli(['validate', '--help'])).stdout);
    assert.ok(!help.flags.has('--output-dir'));
    const r = await runCli(['validate', '--config', 'configs/math.json', '--seeds', 'examples/seeds.json', '--output-dir', 'x']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option '--output-dir'/);
  });
});

describe('server start --background', () => {
  const state = tempDir('qasynth-bg-');
  const env = { QASYNTH_STATE_DIR: state, TEMPORAL_ADDRESS: undefined };
  after(async () => {
    await runCli(['server', 'stop'], env); // in case a test failed with the server up
  });

  test('honours --db-file and --headless, then --ui-port; status shows them; stop stops it', async () => {
    const port = await freePort();
    const db = path.join(state, 'custom', 'bg.db');
    const r = await runCli(['server', 'start', '--background', '--port', String(port), '--db-file', db, '--headless'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`started: 127\\.0\\.0\\.1:${port}, no Web UI \\(headless\\), state ${db.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.ok(fs.existsSync(db), 'the SQLite file is the one asked for');
    const info = JSON.parse(fs.readFileSync(path.join(state, 'server.json'), 'utf8'));
    assert.equal(info.dbFile, db);
    assert.equal(info.uiUrl, null);
    const again = await runCli(['server', 'start', '--background', '--port', String(port), '--ui-port', String(port + 1)], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /^already running: /m);
    assert.match(again.stderr, /warning: not Web UI port \d+, state .*: stop it first with `node bin\/qasynth\.js server stop`/);
    const status = await runCli(['server', 'status'], env);
    assert.match(status.stdout, new RegExp(`^running: 127\\.0\\.0\\.1:${port}, .*state ${db.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const stop = await runCli(['server', 'stop'], env);
    assert.match(stop.stderr, /^stopped/);

    const port2 = await freePort();
    const ui = await freePort();
    const withUi = await runCli(['server', 'start', '--background', '--port', String(port2), '--ui-port', String(ui), '--db-file', db], env);
    assert.equal(withUi.code, 0, withUi.stderr);
    assert.match(withUi.stderr, new RegExp(`Web UI http://127\\.0\\.0\\.1:${ui}`));
    const page = await fetch(`http://127.0.0.1:${ui}/`);
    assert.equal(page.status, 200, 'the Web UI answers on --ui-port');
    await page.arrayBuffer();
    assert.match((await runCli(['server', 'stop'], env)).stderr, /^stopped/);
  });
});
