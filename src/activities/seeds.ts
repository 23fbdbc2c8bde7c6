/**
 * Seeds by reference (task queue `<base>-output`, on the worker that owns the output folder, like outputs.ts).
 *
 * `prepareSeeds` reads the run's seeds file once (src/config/seeds-stream.ts: bounded memory, any size) and keeps
 * the normalized unique seeds in the run folder (layout: src/activities/prepared-seeds.ts); `readSeedPage` serves
 * the workflow pages of that copy. The workflow never holds the seed list, and a change to the source file cannot
 * reach a running run (its pages come from the copy); a new execution of the run checks the file against the
 * sha256 it was prepared from.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../shared/constants';
import type { PrepareSeedsInput, PrepareSeedsResult, ReadSeedPageInput, Seed, SeedPage, SeedSummary } from '../shared/types';
import { readSeedsFile } from '../config/seeds-stream';
import { currentActivity, progressHeartbeat } from './heartbeat';
import { finishedSummary, runDir } from './outputs';
import { INDEX_ENTRY_BYTES as INDEX_ENTRY, readPreparedSeeds, SEEDS_INDEX, SEEDS_JSONL, SEEDS_PREPARED, type PreparedSeedsFile } from './prepared-seeds';

/**
 * How often a long read heartbeats (ms). The SDK sends at most one heartbeat per 0.8 × heartbeatTimeout; give
 * these activities a heartbeatTimeout of at least 10 s.
 */
export const SEEDS_HEARTBEAT_MS = 2000;
/** Bytes of a page as JSON beyond its seeds and summaries: `{"seeds":[],"finished":[],"next":…}`. */
const PAGE_OVERHEAD_BYTES = 64;

function invalidInput(message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({ type: FailureType.InvalidInput, nonRetryable: true, message, ...(details ? { details: [details] } : {}) });
}

function conflict(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: FailureType.OutputConflict, nonRetryable: true, message });
}

/** sha256 (hex) and size of a file, streamed. */
export async function fileSha256(file: string, beat?: (details: unknown) => void): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
    beat?.({ phase: 'checking', bytes_read: bytes });
  }
  return { sha256: hash.digest('hex'), bytes };
}

function result(p: PreparedSeedsFile, reused: boolean): PrepareSeedsResult {
  return {
    seeds_total: p.seeds_total,
    duplicates_dropped: p.duplicates_dropped,
    source: p.source,
    fingerprint_seeds: p.fingerprint_seeds,
    duplicated_seeds: p.duplicated_seeds,
    reused,
  };
}

/** Buffered writer of seeds.jsonl and seeds.index, into temp files (the activity renames them when all is well). */
class PreparedWriter {
  private readonly jsonl: number;
  private readonly index: number;
  private lines: string[] = [];
  private linesBytes = 0;
  private readonly offsets = Buffer.alloc(INDEX_ENTRY * 65536);
  private offsetsUsed = 0;
  private closed = false;
  /** Bytes written to seeds.jsonl so far (the offset of the next seed). */
  bytes = 0;

  constructor(readonly jsonlTmp: string, readonly indexTmp: string) {
    this.jsonl = fs.openSync(jsonlTmp, 'w');
    this.index = fs.openSync(indexTmp, 'w');
  }

  add(seed: Seed): void {
    this.offset(this.bytes + this.linesBytes);
    const line = `${JSON.stringify(seed)}\n`;
    this.lines.push(line);
    this.linesBytes += Buffer.byteLength(line);
    if (this.linesBytes >= 1024 * 1024) this.flushLines();
  }

  private offset(at: number): void {
    this.offsets.writeUIntLE(at, this.offsetsUsed, 6);
    this.offsets.writeUInt16LE(0, this.offsetsUsed + 6);
    this.offsetsUsed += INDEX_ENTRY;
    if (this.offsetsUsed === this.offsets.length) this.flushOffsets();
  }

  private flushLines(): void {
    if (!this.lines.length) return;
    fs.writeSync(this.jsonl, this.lines.join(''));
    this.bytes += this.linesBytes;
    this.lines = [];
    this.linesBytes = 0;
  }

  private flushOffsets(): void {
    if (this.offsetsUsed) fs.writeSync(this.index, this.offsets, 0, this.offsetsUsed);
    this.offsetsUsed = 0;
  }

  /** Writes the final offset (the end of the last seed), syncs and closes both files. */
  finish(): void {
    this.flushLines();
    this.offset(this.bytes);
    this.flushOffsets();
    for (const fd of [this.jsonl, this.index]) fs.fsyncSync(fd);
    this.close();
  }

  /** Closes the files once (a descriptor closed twice could be another file's by then). */
  private close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of [this.jsonl, this.index]) fs.closeSync(fd);
  }

  /** Closes and deletes the temp files. */
  discard(): void {
    try {
      this.close();
    } finally {
      for (const f of [this.jsonlTmp, this.indexTmp]) fs.rmSync(f, { force: true });
    }
  }
}

function checkAbsolute(name: string, value: string): void {
  if (typeof value !== 'string' || !path.isAbsolute(value)) {
    throw invalidInput(`${name}: expected an absolute path, got ${JSON.stringify(value)}`);
  }
}

function checkInt(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw invalidInput(`${name}: expected an integer ≥ ${min}, got ${JSON.stringify(value)}`);
}

/** `heartbeatMs`: how often the long reads heartbeat (default SEEDS_HEARTBEAT_MS; tests shorten it). */
export function createSeedActivities(opts: { heartbeatMs?: number } = {}) {
  const heartbeatMs = opts.heartbeatMs ?? SEEDS_HEARTBEAT_MS;
  return {
    /**
     * Validates the run's seeds file and keeps its normalized unique seeds in the run folder (see the module
     * comment), atomically. Idempotent: a retry, or a new execution of the run (resume, retry_failed), reuses what
     * an earlier one prepared when the file still has the sha256 it was prepared from.
     *
     * Errors (non-retryable): `InvalidInput` listing the file's problems (at most 50, then a count), as
     * `qasynth validate` prints them; `OutputConflict` when the file changed (or is gone, or number_of_seed
     * differs) since the run was prepared — the fix is a new run id, or the file as it was.
     * Heartbeats every SEEDS_HEARTBEAT_MS with `{phase, bytes_read, seeds_read}` (1,000,000 seeds: ~10 s).
     */
    async prepareSeeds(input: PrepareSeedsInput): Promise<PrepareSeedsResult> {
      checkAbsolute('output_dir', input.output_dir);
      checkAbsolute('seeds_file', input.seeds_file);
      const dir = runDir(input.output_dir, input.run_id);
      const beat = progressHeartbeat(heartbeatMs);
      const earlier = readPreparedSeeds(runDir(input.output_dir, input.run_id));
      if (earlier && fs.existsSync(path.join(dir, SEEDS_JSONL)) && fs.existsSync(path.join(dir, SEEDS_INDEX))) {
        let now: { sha256: string; bytes: number };
        try {
          now = await fileSha256(input.seeds_file, beat);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          throw conflict(
            `run ${input.run_id} was prepared from ${earlier.source.path} (sha256 ${earlier.source.sha256}), but ${input.seeds_file} ` +
              `${code === 'ENOENT' ? 'is gone' : `cannot be read (${(e as Error).message})`}; restore the file, or start a new run id`,
          );
        }
        if (now.sha256 !== earlier.source.sha256) {
          throw conflict(
            `seeds file ${input.seeds_file} changed since run ${input.run_id} was prepared from it (sha256 ${earlier.source.sha256}, ` +
              `${earlier.source.bytes} bytes; now ${now.sha256}, ${now.bytes} bytes): the run's seeds would not be the ones it started with. ` +
              'Start a new run id for the new seeds (qasynth derives one from the seeds when --run-id is not given), or restore the file',
          );
        }
        if (earlier.number_of_seed !== input.number_of_seed) {
          throw conflict(
            `run ${input.run_id} was prepared with number_of_seed ${earlier.number_of_seed ?? 'unset (all seeds)'}, got ${input.number_of_seed ?? 'unset (all seeds)'}; ` +
              'a run keeps its seed list: use a new run id for a different number of seeds',
          );
        }
        return result(earlier, true);
      }

      const before = fs.statSync(input.seeds_file, { throwIfNoEntry: false });
      fs.mkdirSync(dir, { recursive: true });
      const stamp = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
      const writer = new PreparedWriter(path.join(dir, `${SEEDS_JSONL}.tmp-${stamp}`), path.join(dir, `${SEEDS_INDEX}.tmp-${stamp}`));
      let read;
      try {
        read = await readSeedsFile(input.seeds_file, {
          numberOfSeed: input.number_of_seed,
          onSeed: (seed) => writer.add(seed),
          onProgress: (p) => beat({ phase: 'reading', ...p }),
          signal: currentActivity()?.cancellationSignal,
        });
        if (!read.ok) {
          throw invalidInput(`invalid seeds file ${input.seeds_file}:\n${read.issues.map((i) => `  ${i}`).join('\n')}`, read.issues);
        }
        writer.finish();
      } catch (e) {
        writer.discard();
        throw e;
      }
      const after = fs.statSync(input.seeds_file, { throwIfNoEntry: false });
      if (!before || !after || before.size !== after.size || before.mtimeMs !== after.mtimeMs || after.size !== read.bytes) {
        fs.rmSync(writer.jsonlTmp, { force: true });
        fs.rmSync(writer.indexTmp, { force: true });
        // Retryable: a writer still busy with the file will be done at a later attempt.
        throw ApplicationFailure.create({
          type: FailureType.SeedsFileChanging,
          message: `seeds file ${input.seeds_file} changed while it was being read; it is read again (finish writing it before submitting the run)`,
        });
      }
      fs.renameSync(writer.jsonlTmp, path.join(dir, SEEDS_JSONL));
      fs.renameSync(writer.indexTmp, path.join(dir, SEEDS_INDEX));
      const prepared: PreparedSeedsFile = {
        format_version: 1,
        source: { path: input.seeds_file, bytes: read.bytes, sha256: read.sha256 },
        number_of_seed: input.number_of_seed,
        seeds_total: read.seeds_total,
        duplicates_dropped: read.duplicates_dropped,
        duplicated_seeds: read.duplicated_seeds,
        fingerprint_seeds: read.fingerprint_seeds,
        jsonl_bytes: writer.bytes,
        prepared_at: new Date().toISOString(),
      };
      const metaFile = path.join(dir, SEEDS_PREPARED);
      const tmp = `${metaFile}.tmp-${stamp}`;
      fs.writeFileSync(tmp, JSON.stringify(prepared));
      fs.renameSync(tmp, metaFile);
      return result(prepared, false);
    },

    /**
     * Seeds `start…` of a prepared run, in order: at most `max_seeds`, and no more than fit in `max_bytes` of JSON
     * (at least one). With `with_finished`, each seed's summary when its result is final (succeeded or
     * budget-stopped), else null — exactly what `finishedSeeds` answers. `next` is the position after the last seed
     * returned (seeds_total at the end). Reads one byte range of seeds.jsonl located by seeds.index.
     */
    async readSeedPage(input: ReadSeedPageInput): Promise<SeedPage> {
      checkAbsolute('output_dir', input.output_dir);
      checkInt('start', input.start, 0);
      checkInt('max_seeds', input.max_seeds, 1);
      checkInt('max_bytes', input.max_bytes, 1);
      const prepared = readPreparedSeeds(runDir(input.output_dir, input.run_id));
      const dir = runDir(input.output_dir, input.run_id);
      if (!prepared) {
        throw conflict(`run ${input.run_id} has no prepared seeds in ${dir} (${SEEDS_PREPARED} is missing): prepareSeeds first; was the folder deleted?`);
      }
      const total = prepared.seeds_total;
      if (input.start > total) throw invalidInput(`start: expected at most ${total} (the run's seeds), got ${input.start}`);
      const want = Math.min(input.max_seeds, total - input.start);
      if (want === 0) return { seeds: [], finished: input.with_finished ? [] : null, next: total };

      const idx = fs.openSync(path.join(dir, SEEDS_INDEX), 'r');
      const offsets: number[] = [];
      try {
        const buf = Buffer.alloc((want + 1) * INDEX_ENTRY);
        const got = fs.readSync(idx, buf, 0, buf.length, input.start * INDEX_ENTRY);
        if (got !== buf.length) throw conflict(`${path.join(dir, SEEDS_INDEX)} is shorter than its ${total} seeds: the run folder is damaged; delete ${SEEDS_PREPARED} to prepare the seeds again`);
        for (let k = 0; k <= want; k++) offsets.push(buf.readUIntLE(k * INDEX_ENTRY, 6));
      } finally {
        fs.closeSync(idx);
      }
      // Seeds by size first (the index knows each line's length), then one read.
      let budget = input.max_bytes - PAGE_OVERHEAD_BYTES;
      let n = 0;
      while (n < want) {
        const seedBytes = offsets[n + 1]! - offsets[n]!; // its JSON plus the newline, the comma in the page
        if (n > 0 && seedBytes > budget) break;
        budget -= seedBytes;
        n += 1;
      }
      const fd = fs.openSync(path.join(dir, SEEDS_JSONL), 'r');
      let text: string;
      try {
        const buf = Buffer.alloc(offsets[n]! - offsets[0]!);
        fs.readSync(fd, buf, 0, buf.length, offsets[0]!);
        text = buf.toString('utf8');
      } finally {
        fs.closeSync(fd);
      }
      const seeds = text.split('\n', n).map((l) => JSON.parse(l) as Seed);
      if (!input.with_finished) return { seeds, finished: null, next: input.start + seeds.length };
      // Each summary must fit too: cut the page where the first one does not.
      const finished: (SeedSummary | null)[] = [];
      for (const seed of seeds) {
        const s = finishedSummary(input.output_dir, input.run_id, seed.source_id);
        const bytes = (s ? Buffer.byteLength(JSON.stringify(s)) : 4) + 1;
        if (finished.length > 0 && bytes > budget) break;
        budget -= bytes;
        finished.push(s);
      }
      return { seeds: seeds.slice(0, finished.length), finished, next: input.start + finished.length };
    },
  };
}

export type SeedActivities = ReturnType<typeof createSeedActivities>;
