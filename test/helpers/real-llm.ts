/**
 * A REAL OpenAI-compatible server for tests: llama-cpp-python's server serving SmolLM2-135M-Instruct on
 * 127.0.0.1, provisioned and started by `scripts/real-llm.sh` (built once, cached under .tools/real-llm/).
 * See docs/real-endpoints.md "llama-cpp-python server" for how it behaves.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'scripts', 'real-llm.sh');

/**
 * The model name sent: the alias the local server answers to (`--model_alias` in scripts/real-llm.sh), or
 * QASYNTH_REAL_LLM_MODEL when the tier targets another server (QASYNTH_REAL_LLM_BASE_URL).
 */
export const REAL_LLM_MODEL = process.env.QASYNTH_REAL_LLM_MODEL?.trim() || 'smollm2-135m-instruct';

/** How long the server may take to answer GET /v1/models after it was spawned (model load is ~1 s; headroom for a busy machine). */
export const REAL_LLM_READY_TIMEOUT_MS = 120_000;

export interface RealLlmServer {
  /** OpenAI base URL, `http://127.0.0.1:<port>/v1`. */
  baseUrl: string;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  port: number;
  /** Everything the server printed (stdout and stderr interleaved), for diagnosis. */
  output(): string;
  /** Stops the server (SIGTERM to its process group, SIGKILL after 10 s) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Builds (first time: ~10 min on 2 cores) or reuses the cached venv and model. Throws with the script's
 * output when provisioning fails (e.g. no cmake/gcc).
 */
export function provisionRealLlm(): void {
  const r = spawnSync('bash', [SCRIPT, 'provision'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    throw new Error(`bash scripts/real-llm.sh provision failed (exit ${r.status ?? r.signal}); see the lines above and .tools/real-llm/build.log`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Provisions, then starts the server on a free loopback port and resolves once GET /v1/models answers 200
 * (polled every 250 ms; fails at once if the server exits, or after REAL_LLM_READY_TIMEOUT_MS).
 * `env` adds variables for the script (e.g. QASYNTH_REAL_LLM_N_CTX).
 */
export async function startRealLlmServer(env: Record<string, string> = {}): Promise<RealLlmServer> {
  const existing = process.env.QASYNTH_REAL_LLM_BASE_URL?.trim();
  if (existing) return useExistingServer(existing);
  provisionRealLlm();
  const port = await freePort();
  const child = spawn('bash', [SCRIPT, 'serve', String(port)], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so stop() reaches the python child too
  });
  let out = '';
  child.stdout!.on('data', (b) => (out += b));
  child.stderr!.on('data', (b) => (out += b));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const done = exited(child);
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, 10_000);
    await done;
    clearTimeout(timer);
  };
  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + REAL_LLM_READY_TIMEOUT_MS;
  let gone = false;
  child.once('exit', () => (gone = true));
  for (;;) {
    if (gone) throw new Error(`the llama-cpp-python server exited before it was ready:\n${out.slice(-3000)}`);
    try {
      const r = await fetch(`${origin}/v1/models`, { signal: AbortSignal.timeout(2000) });
      if (r.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the llama-cpp-python server did not answer GET /v1/models within ${REAL_LLM_READY_TIMEOUT_MS} ms:\n${out.slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { baseUrl: `${origin}/v1`, origin, port, output: () => out, stop };
}

/**
 * An OpenAI-compatible server that is already running (QASYNTH_REAL_LLM_BASE_URL, e.g. http://127.0.0.1:8000/v1):
 * nothing is provisioned, started or stopped. Throws when GET <base>/models does not answer 200 within 10 s.
 */
async function useExistingServer(baseUrl: string): Promise<RealLlmServer> {
  const base = baseUrl.replace(/\/+$/, '');
  const u = new URL(base);
  const r = await fetch(`${base}/models`, { signal: AbortSignal.timeout(10_000) }).catch((e: Error) => e);
  if (r instanceof Error || !r.ok) {
    throw new Error(`QASYNTH_REAL_LLM_BASE_URL=${base}: expected GET ${base}/models to answer 200, got ${r instanceof Error ? r.message : `HTTP ${r.status}`}`);
  }
  return { baseUrl: base, origin: u.origin, port: Number(u.port), output: () => '', stop: async () => {} };
}
