/**
 * One process of the bench's process pool (bench/pool.ts): waits for seeds over the IPC channel and runs each,
 * one at a time, with {@link plainSeed} against the LLM simulator — a `ProcessPoolExecutor` worker of the
 * original tool. Like the original, every seed gets its own OpenAI client and activity objects.
 *
 * Messages in:  {type: 'seed', index, seed, config, run_id, output_dir, llm_url, max_retries}
 * Messages out: {type: 'ready'} once loaded; {type: 'done', index, result} or {type: 'failed', index, error}.
 * Exits when the channel closes.
 */
import { plainActivities, plainSeed, type PlainSeedResult } from './plain';
import type { Seed, SynthesisConfig } from '../src/shared/types';

/** A seed for this process to run. */
export interface PoolSeedMessage {
  type: 'seed';
  index: number;
  seed: Seed;
  config: SynthesisConfig;
  run_id: string;
  output_dir: string;
  llm_url: string;
  /** The OpenAI client's own retries (2 = the SDKs' default, what the original relied on). */
  max_retries: number;
}

/** What this process answers. */
export type PoolReply =
  | { type: 'ready' }
  | { type: 'done'; index: number; result: PlainSeedResult }
  | { type: 'failed'; index: number; error: string };

function send(m: PoolReply): void {
  process.send!(m);
}

if (require.main === module) {
  if (!process.send) {
    process.stderr.write('pool-child: must be started by bench/pool.ts with an IPC channel\n');
    process.exit(2);
  }
  process.on('message', (m: PoolSeedMessage) => {
    if (m?.type !== 'seed') return;
    const acts = plainActivities(m.llm_url, m.max_retries);
    plainSeed(acts, m.config, m.seed, m.run_id, m.output_dir, m.index).then(
      (result) => send({ type: 'done', index: m.index, result }),
      (e) => send({ type: 'failed', index: m.index, error: (e as Error).message }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready' });
}
