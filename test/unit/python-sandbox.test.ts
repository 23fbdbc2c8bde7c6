/**
 * python_interpreter sandbox (bubblewrap + prlimit): hostile programs are contained, reported as observations
 * within the time limit, leave no process behind, and the next call still works.
 * Needs /usr/bin/bwrap, prlimit and Debian python3 with numpy + sympy (installed by the project's setup script).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../src/shared/constants';
import { executeTool } from '../../src/tools/registry';
import { pythonSettings, sandboxStats, setHostToolsForTest } from '../../src/tools/python-interpreter';

const TIMEOUT_S = 3;
const BOUND_MS = (TIMEOUT_S + 5) * 1000;
const kw = { python_timeout_seconds: TIMEOUT_S };

async function run(code: string, kwargs: Record<string, unknown> = kw, signal?: AbortSignal) {
  const started = Date.now();
  const obs = await executeTool('python_interpreter', { code }, { environment_kwargs: kwargs, signal });
  return { ...obs, ms: Date.now() - started };
}

/** Host pids still inside the pid namespace `inode` (readlink of /proc/<pid>/ns/pid is `pid:[inode]`). */
function processesInNamespace(inode: number): number[] {
  const want = `pid:[${inode}]`;
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/ns/pid`) === want) pids.push(Number(name));
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return pids;
}

/** After a call: no process of its sandbox is left and none is tracked as running. */
function assertSandboxGone(): void {
  const { running, lastPidNamespace } = sandboxStats();
  assert.equal(running, 0, 'a sandbox is still tracked as running');
  assert.ok(lastPidNamespace, 'bwrap reported its pid namespace');
  assert.deepEqual(processesInNamespace(lastPidNamespace), [], 'processes left in the sandbox pid namespace');
}

async function assertHealthy(): Promise<void> {
  const obs = await run('print(6 * 7)');
  assert.equal(obs.text, '42');
  assert.equal(obs.error, undefined);
  assertSandboxGone();
}

describe('python_interpreter sandbox (bwrap)', () => {
  it('runs a normal program and reports stdout only', async () => {
    const obs = await run('for i in range(3):\n    print("line", i)');
    assert.equal(obs.text, 'line 0\nline 1\nline 2');
    assert.equal(obs.error, undefined);
    assertSandboxGone();
  });

  it('has numpy and sympy', async () => {
    const np = await run('import numpy as np; print(np.arange(10).sum())');
    assert.equal(np.text, '45', np.text);
    const sp = await run('import sympy as sp\nx = sp.Symbol("x")\nprint(sp.integrate(x**2, x), sp.factorint(360))');
    assert.equal(sp.text, 'x**3/3 {2: 3, 3: 2, 5: 1}', sp.text);
  });

  it('kills `while True: pass` at the timeout', async () => {
    const obs = await run('while True:\n    pass');
    assert.equal(obs.error, true);
    assert.match(obs.text, new RegExp(`\\[killed: timeout after ${TIMEOUT_S} s\\]$`));
    assert.ok(obs.ms < BOUND_MS, `took ${obs.ms} ms`);
    assertSandboxGone();
    await assertHealthy();
  });

  it('contains a fork bomb (process limit + namespace kill) and leaves no process behind', async () => {
    const obs = await run('import os\nwhile True:\n    os.fork()');
    assert.equal(obs.error, true, obs.text);
    assert.ok(obs.ms < BOUND_MS, `took ${obs.ms} ms`);
    // The limit bites (BlockingIOError from fork) before the timeout ends it.
    assert.match(obs.text, /BlockingIOError|Resource temporarily unavailable|\[killed: timeout|\[output truncated/);
    assertSandboxGone();
    await assertHealthy();
  });

  it('reports a 10 GB allocation as MemoryError under the address-space limit', async () => {
    const obs = await run('b = bytearray(10 * 1024**3)\nprint(len(b))');
    assert.equal(obs.error, true);
    assert.match(obs.text, /MemoryError/);
    assert.match(obs.text, /\[killed: memory limit \(512 MB address space\)\]/);
    assert.ok(obs.ms < BOUND_MS, `took ${obs.ms} ms`);
    const np = await run('import numpy as np\na = np.ones((20000, 20000))');
    assert.match(np.text, /_ArrayMemoryError/);
    assert.match(np.text, /\[killed: memory limit \(512 MB address space\)\]$/);
    await assertHealthy();
  });

  it('does not show the host /etc/passwd', async () => {
    const obs = await run(
      'import os\ntry:\n    print(repr(open("/etc/passwd").read()))\nexcept OSError as e:\n    print(type(e).__name__)\nprint(sorted(os.listdir("/etc")))',
    );
    assert.equal(obs.text, "FileNotFoundError\n['alternatives', 'ld.so.cache']", obs.text);
    assert.doesNotMatch(obs.text, /root:/);
  });

  it('cannot write outside its working directory', async () => {
    const code = [
      'import os',
      'for p in ["/usr/x", "/tmp/../etc/x", "/x", "/usr/lib/python3/dist-packages/evil.py"]:',
      '    try:',
      '        open(p, "w").write("pwned")',
      '        print(p, "WRITTEN")',
      '    except OSError as e:',
      '        print(p, type(e).__name__)',
      'open("ok.txt", "w").write("fine")',
      'open("/tmp/ok.txt", "w").write("fine")',
      'print(os.getcwd(), sorted(os.listdir(".")))',
    ].join('\n');
    const obs = await run(code);
    assert.doesNotMatch(obs.text, /WRITTEN/);
    assert.match(obs.text, /^\/usr\/x (PermissionError|OSError)$/m);
    assert.match(obs.text, /^\/tmp\/\.\.\/etc\/x (PermissionError|OSError)$/m);
    assert.match(obs.text, /^\/work \['main\.py', 'ok\.txt'\]$/m);
    assert.equal(existsSync('/usr/x'), false);
    assert.equal(existsSync('/usr/lib/python3/dist-packages/evil.py'), false);
  });

  describe('network', () => {
    let server: net.Server;
    let port = 0;
    let connections = 0;
    before(async () => {
      server = net.createServer((s) => {
        connections++;
        s.end('hello from the host\n');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as AddressInfo).port;
    });
    after(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('cannot connect to a server listening on the host loopback', async () => {
      const obs = await run(
        `import socket\ntry:\n    s = socket.create_connection(("127.0.0.1", ${port}), timeout=2)\n    print("CONNECTED", s.recv(100))\n` +
          'except OSError as e:\n    print("refused", type(e).__name__)',
      );
      assert.match(obs.text, /^refused (ConnectionRefusedError|OSError|TimeoutError)/, obs.text);
      assert.doesNotMatch(obs.text, /CONNECTED/);
      assert.equal(connections, 0);
      // Sanity: the server does accept connections from the worker itself.
      await new Promise<void>((resolve, reject) => net.connect(port, '127.0.0.1', resolve).on('error', reject).end());
    });
  });

  it('truncates 100 MB of output and kills the program', async () => {
    const obs = await run("print('x' * 100_000_000)");
    assert.equal(obs.error, true);
    assert.match(obs.text, /\[output truncated at 1048576 bytes\]$/);
    assert.ok(obs.ms < BOUND_MS, `took ${obs.ms} ms`);
    assertSandboxGone();
    await assertHealthy();
  });

  it('honours a smaller python_max_output_bytes', async () => {
    const obs = await run("print('y' * 5000)", { ...kw, python_max_output_bytes: 1024 });
    assert.equal(obs.text, `${'y'.repeat(1024)}\n[output truncated at 1024 bytes]`);
  });

  it('kills the sandbox when the activity is cancelled', async () => {
    const ac = new AbortController();
    const pending = run('import time\nprint("started", flush=True)\ntime.sleep(60)', { python_timeout_seconds: 30 }, ac.signal);
    // Abort once this run's sandbox is up (its pid namespace is known; counted, since namespace inodes are reused).
    const before = sandboxStats().sandboxesUp;
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        const s = sandboxStats();
        if (s.running > 0 && s.sandboxesUp > before) {
          clearInterval(poll);
          resolve();
        }
      }, 10);
    });
    ac.abort();
    const obs = await pending;
    assert.equal(obs.error, true);
    assert.match(obs.text, /\[killed: cancelled\]$/);
    assert.ok(obs.ms < 10_000, `took ${obs.ms} ms`);
    assertSandboxGone();
  });

  it('reports a non-zero exit code', async () => {
    const obs = await run('import sys\nprint("bye")\nsys.exit(3)');
    assert.equal(obs.text, 'bye\n[exit code 3]');
    assert.equal(obs.error, true);
  });
});

describe('python_interpreter settings', () => {
  it('reads defaults and validates environment_kwargs', () => {
    assert.deepEqual(pythonSettings({}), {
      sandbox: 'bwrap', timeoutS: 10, memoryMb: 512, maxOutputBytes: 1048576, maxProcesses: 64, maxFileMb: 16, maxOpenFiles: 256, scratchMb: 64,
    });
    assert.equal(pythonSettings({ python_timeout_seconds: '5' }).timeoutS, 5);
    assert.equal(pythonSettings({ python_timeout_seconds: 10_000 }).timeoutS, 100);
    assert.throws(() => pythonSettings({ python_sandbox: 'docker' }), /python_sandbox: expected "bwrap" or "none", got "docker"/);
    assert.throws(() => pythonSettings({ python_memory_mb: -1 }), /python_memory_mb: expected a number ≥ 64/);
  });

  it('without bubblewrap: a non-retryable ToolUnavailable failure naming the fixes', async () => {
    setHostToolsForTest({ bwrap: null });
    try {
      const err = await run('print(1)').catch((e: unknown) => e);
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.equal(err.type, FailureType.ToolUnavailable);
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, /apt-get install bubblewrap/);
      assert.match(err.message, /python_sandbox to "none"/);
      // The explicit opt-out still runs (no isolation), with the same timeout.
      const none = await run('import os\nprint(os.getcwd().startswith("/work"), 40 + 2)', { ...kw, python_sandbox: 'none' });
      assert.equal(none.text, 'False 42');
      const loop = await run('while True:\n    pass', { python_timeout_seconds: 1, python_sandbox: 'none' });
      assert.match(loop.text, /\[killed: timeout after 1 s\]$/);
      assert.ok(loop.ms < 6000, `took ${loop.ms} ms`);
    } finally {
      setHostToolsForTest(undefined);
    }
  });
});
