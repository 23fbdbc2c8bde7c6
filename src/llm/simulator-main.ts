/**
 * Runs the LLM simulator as its own process:
 *   tsx src/llm/simulator-main.ts --port 0 --latency-ms 50 [--seed 7] [--rpm 600]
 * Prints one JSON line `{"url": "http://127.0.0.1:<port>/v1"}` to stdout once listening; exits on SIGTERM/SIGINT.
 * Control it with `connectSimulator(url)` from src/llm/simulator.ts (HTTP endpoints under /_sim/).
 */
import { startSimulator } from './simulator';

function parseArgs(argv: string[]): { port: number; latencyMs: number; seed: number; rpm: number } {
  const out = { port: 0, latencyMs: 0, seed: 0, rpm: 0 };
  const names: Record<string, keyof typeof out> = { '--port': 'port', '--latency-ms': 'latencyMs', '--seed': 'seed', '--rpm': 'rpm' };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const key = names[flag];
    if (!key) throw new Error(`unknown option ${flag}; valid options: ${Object.keys(names).join(', ')}`);
    const raw = inline ?? argv[++i];
    const n = Number(raw);
    if (raw === undefined || !Number.isInteger(n) || n < 0) throw new Error(`${flag}: expected an integer ≥ 0, got ${JSON.stringify(raw)}`);
    out[key] = n;
  }
  return out;
}

async function main(): Promise<void> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(2);
  }
  const sim = await startSimulator({
    port: args.port,
    latencyMs: args.latencyMs,
    seed: args.seed,
    ...(args.rpm > 0 ? { rateLimit: { requestsPerMinute: args.rpm } } : {}),
  });
  process.stdout.write(`${JSON.stringify({ url: sim.url })}\n`);
  const stop = () => {
    sim.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`simulator failed to start: ${(e as Error)?.message ?? String(e)}\n`);
  process.exit(1);
});
