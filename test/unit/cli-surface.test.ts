/** Pure pieces of the CLI's surface: the printed command form, the duplicates wording, the Config type. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { cliCommand } from '../../src/cli/command';
import { describeDuplicates } from '../../src/cli/inputs';
import { workerCommand } from '../../src/client/pollers';
import type { Config } from '../../src/api';

test('cliCommand: `qasynth` only when started through a qasynth on the PATH, else node and the path from here', () => {
  const root = '/repo';
  assert.equal(cliCommand('/usr/local/bin/qasynth', '/anywhere', root), 'qasynth');
  assert.equal(cliCommand('/repo/dist/cli/main.js', '/repo', root), `node ${path.join('bin', 'qasynth.js')}`);
  assert.equal(cliCommand('/repo/bin/qasynth.js', '/repo/out', root), `node ${path.join('..', 'bin', 'qasynth.js')}`);
  assert.equal(cliCommand('/repo/bin/qasynth.js', '/home/me/work', root), 'node /repo/bin/qasynth.js');
  assert.equal(cliCommand(undefined, '/repo', root), `node ${path.join('bin', 'qasynth.js')}`);
});

test('workerCommand names the task queue unless it is the default', () => {
  assert.match(workerCommand('qasynth'), / worker$/);
  assert.match(workerCommand('q-7'), / worker --task-queue q-7$/);
});

test('describeDuplicates: copies dropped (BatchResult.duplicates_dropped), then the distinct seeds with copies', () => {
  assert.equal(describeDuplicates(0, 0), '');
  assert.equal(describeDuplicates(1, 1), '1 duplicate copy dropped (1 seed appears more than once)');
  assert.equal(describeDuplicates(3, 2), '3 duplicate copies dropped (2 seeds appear more than once)');
  assert.equal(describeDuplicates(2), '2 duplicate copies dropped');
});

test('Config is typed from the schema: a wrong type or an unknown key does not compile', () => {
  const ok: Config = { environment_mode: 'math', max_depth: 3, rate_limits: { llm_requests_per_second: 2 } };
  // @ts-expect-error max_depth is a number
  const wrongType: Config = { max_depth: 'three' };
  // @ts-expect-error no such key
  const unknownKey: Config = { colour: 'blue' };
  // @ts-expect-error no such mode
  const wrongMode: Config = { environment_mode: 'chess' };
  assert.ok(ok && wrongType && unknownKey && wrongMode);
});
