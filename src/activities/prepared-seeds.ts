/**
 * The prepared seeds of a by-reference run (written by `prepareSeeds`, src/activities/seeds.ts), in its run folder
 * `<output_dir>/<run_id>/`:
 *   seeds.jsonl            one `{source_id, text, metadata?}` per line, in input order
 *   seeds.index            (seeds_total + 1) little-endian uint64 byte offsets into seeds.jsonl: seed i is the line
 *                          from offset[i] to offset[i+1]; a page is read with one seek, never a scan
 *   seeds.prepared.json    what was prepared from which file (PreparedSeedsFile), written last: its presence means
 *                          the two files above are complete
 * Readers for the output activities (writeOutputs, prepareRun) and the seed activities.
 */
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { Seed, SeedsSource } from '../shared/types';

export const SEEDS_JSONL = 'seeds.jsonl';
export const SEEDS_INDEX = 'seeds.index';
export const SEEDS_PREPARED = 'seeds.prepared.json';
/** Bytes per seeds.index entry (uint64 LE; offsets below 2⁴⁸ are written). */
export const INDEX_ENTRY_BYTES = 8;

/** What seeds.prepared.json holds. */
export interface PreparedSeedsFile {
  format_version: 1;
  source: SeedsSource;
  number_of_seed: number | null;
  seeds_total: number;
  duplicates_dropped: number;
  duplicated_seeds: number;
  /** seedListFingerprint of the seeds' ids (src/config/seeds-stream.ts). */
  fingerprint_seeds: string;
  /** Size of seeds.jsonl, in bytes. */
  jsonl_bytes: number;
  prepared_at: string;
}

/** The prepared-seeds record in a run folder, or null when it has none (inline seeds, or not prepared yet). */
export function readPreparedSeeds(dir: string): PreparedSeedsFile | null {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, SEEDS_PREPARED), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  return JSON.parse(text) as PreparedSeedsFile;
}

/** The prepared seeds of a run folder in order, streamed from seeds.jsonl (memory: one read chunk). */
export async function* preparedSeeds(dir: string): AsyncGenerator<Seed> {
  const input = fs.createReadStream(path.join(dir, SEEDS_JSONL), { highWaterMark: 1024 * 1024 });
  const lines = readline.createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      if (line) yield JSON.parse(line) as Seed;
    }
  } finally {
    lines.close();
    input.destroy();
  }
}
