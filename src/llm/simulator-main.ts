/**
 * Runs the LLM simulator as its own process:
 *   tsx src/llm/simulator-main.ts --port 0 --latency-ms 50 [--seed 7] [--rpm 600] [--profile hermes-tags] [--context-chars 6000]
 * Prints one JSON line `{"url": "http://127.0.0.1:<port>/v1", "profile": "<name>"}` to stdout once listening;
 * exits on SIGTERM/SIGINT. Control it with `connectSimulator(url)` from src/llm/simulator (HTTP endpoints under
 * /_sim/). `--profile` takes one of the names in src/llm/simulator/profiles.ts (`--profile help` lists them).
 */
import { getProfile, PROFILE_NAMES, PROFILES, startSimulator } from './simulator';

interface Args {
  port: number;
  latencyMs: number;
  seed: number;
  rpm: number;
  contextChars: number;
  profile: string;
}

function parseArgs(argv: string[]): Args {
  const out: Args = { port: 0, latencyMs: 0, seed: 0, rpm: 0, contextChars: 0, profile: 'openai' };
  const numbers: Record<string, 'port' | 'latencyMs' | 'seed' | 'rpm' | 'contextChars'> = {
    '--port': 'port', '--latency-ms': 'latencyMs', '--seed': 'seed', '--rpm': 'rpm', '--context-chars': 'contextChars',
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const key = numbers[flag];
    if (!key && flag !== '--profile') throw new Error(`unknown option ${flag}; valid options: ${[...Object.keys(numbers), '--profile'].join(', ')}`);
    const raw = inline ?? argv[++i];
    if (flag === '--profile') {
      if (raw === undefined) throw new Error(`--profile: expected one of ${PROFILE_NAMES.join(', ')}, got nothing`);
      out.profile = raw;
      continue;
    }
    const n = Number(raw);
    if (raw === undefined || !Number.isInteger(n) || n < 0) throw new Error(`${flag}: expected an integer ≥ 0, got ${JSON.stringify(raw)}`);
    out[key!] = n;
  }
  if (out.profile === 'help') {
    process.stdout.write(`${PROFILE_NAMES.map((n) => `${n.padEnd(24)} ${PROFILES[n].imitates}`).join('\n')}\n`);
    process.exit(0);
  }
  getProfile(out.profile);
  return out;
}

async function main(): Promise<void> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message.replace(/^profile:/, '--profile:')}\n`);
    process.exit(2);
  }
  const sim = await startSimulator({
    port: args.port,
    latencyMs: args.latencyMs,
    seed: args.seed,
    profile: args.profile,
    ...(args.contextChars > 0 ? { contextChars: args.contextChars } : {}),
    ...(args.rpm > 0 ? { rateLimit: { requestsPerMinute: args.rpm } } : {}),
  });
  process.stdout.write(`${JSON.stringify({ url: sim.url, profile: sim.profile() })}\n`);
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
