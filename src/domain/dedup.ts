/**
 * Deduplication of a run's QA (issue 10 item 3), applied by writeOutputs as it streams the seed results in input
 * order: the first occurrence is kept, each later one is dropped with the qa_id it duplicates. Deterministic (fixed
 * hash functions), so a retried writeOutputs writes identical files. Not workflow code: it uses `bloom-filters`.
 *
 * Three checks, in this order, against the QA kept so far:
 * 1. `exact_duplicate`: the same normalised question (src/domain/normalize.ts) anywhere in the run;
 * 2. `near_duplicate`: MinHash (bloom-filters' MinHash, NUM_PERM permutations) over the question's shingles
 *    (questionShingles: word 1- and 2-grams of the normalised question with every number written `#`), candidates
 *    found by LSH banding (BANDS bands of ROWS rows), kept when the estimated Jaccard similarity is ≥ the threshold;
 * 3. `answer_cap`: more than `max_qa_per_answer` QA of one seed with the same normalised answer.
 *
 * Memory: per kept QA, its qa_id, a 64-bit key of its question, its signature (NUM_PERM × 2 bytes) and BANDS LSH
 * entries, in typed arrays outside the V8 heap (the worker caps the heap) — never the texts. Measured in the README.
 */
import { createHash } from 'node:crypto';
import { MinHash } from 'bloom-filters';
import type { DedupConfig } from '../shared/types';
import { isNumberToken, normalizeAnswer, normalizedTokens } from './normalize';
import { fnv1a } from '../shared/fnv1a';

/** MinHash permutations: the estimate's standard error is √(J(1−J)/128) (0.035 at J = 0.8). */
export const NUM_PERM = 128;
/** LSH bands × rows = NUM_PERM. A pair with Jaccard J becomes a candidate with probability 1 − (1 − J^ROWS)^BANDS (0.947 at J = 0.8, 0.9997 at 0.9). */
export const BANDS = 16;
export const ROWS = 8;

/** Shingle values are hashed into [0, 2^26), so (a·x + b) stays below 2^53 (exact in floating point). */
const SHINGLE_SPACE = 2 ** 26;

function isPrime(x: number): boolean {
  if (x < 2) return false;
  for (let i = 2; i * i <= x; i++) if (x % i === 0) return false;
  return true;
}

/** The smallest prime ≥ SHINGLE_SPACE: the modulus of the hash functions (a·x + b) mod P. */
const PRIME = (() => {
  let p = SHINGLE_SPACE;
  while (!isPrime(p)) p++;
  return p;
})();

/** mulberry32: a small seeded PRNG, so the hash functions are the same in every process. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The NUM_PERM hash functions, fixed (seed 0x9a5e7): bloom-filters' own factory draws them with Math.random. */
const HASH_FUNCTIONS = (() => {
  const rnd = mulberry32(0x9a5e7);
  return Array.from({ length: NUM_PERM }, () => ({ a: 1 + Math.floor(rnd() * (PRIME - 1)), b: Math.floor(rnd() * PRIME), c: PRIME }));
})();

/**
 * The shingles of a question: the distinct word 1-grams and 2-grams of its normalised tokens, every number replaced
 * by `#` (so questions that differ only in a number or in the order of a few words stay close). `[]` when the
 * question has no tokens.
 */
export function questionShingles(question: string): string[] {
  const toks = normalizedTokens(question).map((t) => (isNumberToken(t) ? '#' : t));
  const out = new Set<string>(toks);
  for (let i = 0; i + 1 < toks.length; i++) out.add(`${toks[i]} ${toks[i + 1]}`);
  return [...out];
}

/** Exact Jaccard similarity |A ∩ B| / |A ∪ B| of two shingle lists (as sets); 0 when both are empty. */
export function jaccard(a: readonly string[], b: readonly string[]): number {
  const sa = new Set(a);
  const sb = new Set(b);
  let inter = 0;
  for (const x of sa) if (sb.has(x)) inter++;
  const union = sa.size + sb.size - inter;
  return union === 0 ? 0 : inter / union;
}

/** The MinHash signature of shingles (NUM_PERM values < PRIME), or null for no shingles. */
export function signature(shingles: readonly string[]): Uint32Array | null {
  if (shingles.length === 0) return null;
  const mh = new MinHash(NUM_PERM, HASH_FUNCTIONS);
  for (const s of shingles) mh.add(fnv1a(s) % SHINGLE_SPACE);
  return Uint32Array.from(mh._signature);
}

/** Estimated Jaccard similarity of two signatures: the share of equal positions (as MinHash.compareWith). */
export function estimateSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let same = 0;
  for (let i = 0; i < NUM_PERM; i++) if (a[i] === b[i]) same++;
  return same / NUM_PERM;
}

/** Why a QA was dropped, and the kept QA it duplicates. */
export interface DedupVerdict {
  reason: 'exact_duplicate' | 'near_duplicate' | 'answer_cap';
  duplicate_of: string;
  /** near_duplicate: the estimated Jaccard similarity. */
  similarity?: number;
}

/** Kept QA compared per LSH bucket at most (a bucket crowded by many similar-but-not-duplicate questions). */
export const MAX_BUCKET_CHECKS = 64;

/** Rows per block of the typed-array stores below (they grow a block at a time, nothing is copied). */
const BLOCK = 4096;

/**
 * An append-only multimap from 32-bit keys to row numbers, in typed arrays (outside the V8 heap, which the worker
 * caps): open addressing with linear probing, doubled when half full. `some(key, visit)` visits the rows stored
 * under the key, oldest first.
 */
class IntMultimap {
  private keys = new Uint32Array(1024);
  private rows = new Int32Array(1024).fill(-1);
  private size = 0;

  add(key: number, row: number): void {
    if ((this.size + 1) * 2 > this.rows.length) this.grow();
    this.place(key >>> 0, row);
    this.size += 1;
  }

  private slot(key: number): number {
    return (Math.imul(key, 0x9e3779b1) >>> 0) & (this.rows.length - 1);
  }

  private place(key: number, row: number): void {
    const mask = this.rows.length - 1;
    let i = this.slot(key);
    while (this.rows[i] !== -1) i = (i + 1) & mask;
    this.keys[i] = key;
    this.rows[i] = row;
  }

  private grow(): void {
    const { keys, rows } = this;
    this.keys = new Uint32Array(rows.length * 2);
    this.rows = new Int32Array(rows.length * 2).fill(-1);
    // Re-inserted in row order, so the rows of one key stay oldest first along the probe sequence.
    const order: number[] = [];
    for (let i = 0; i < rows.length; i++) if (rows[i] !== -1) order.push(i);
    order.sort((a, b) => rows[a]! - rows[b]!);
    for (const i of order) this.place(keys[i]!, rows[i]!);
  }

  /** Calls `visit(row)` for each row stored under `key` until it returns true; returns whether one did. */
  some(key: number, visit: (row: number) => boolean): boolean {
    const k = key >>> 0;
    const mask = this.rows.length - 1;
    for (let i = this.slot(k); this.rows[i] !== -1; i = (i + 1) & mask) {
      if (this.keys[i] === k && visit(this.rows[i]!)) return true;
    }
    return false;
  }
}

/** Append-only strings (the kept qa_ids), UTF-8 in typed-array chunks, by row number. */
class StringStore {
  private static readonly CHUNK = 1 << 20;
  private readonly chunks: Uint8Array[] = [];
  private used = 0;
  /** Per row: chunk, offset, length. */
  private readonly where: Uint32Array[] = [];
  private count = 0;

  add(text: string): void {
    const bytes = Buffer.from(text, 'utf8');
    const last = this.chunks[this.chunks.length - 1];
    if (!last || this.used + bytes.length > last.length) {
      this.chunks.push(new Uint8Array(Math.max(StringStore.CHUNK, bytes.length)));
      this.used = 0;
    }
    this.chunks[this.chunks.length - 1]!.set(bytes, this.used);
    if (this.count % BLOCK === 0) this.where.push(new Uint32Array(BLOCK * 3));
    const w = this.where[Math.floor(this.count / BLOCK)]!;
    const o = (this.count % BLOCK) * 3;
    w[o] = this.chunks.length - 1;
    w[o + 1] = this.used;
    w[o + 2] = bytes.length;
    this.used += bytes.length;
    this.count += 1;
  }

  get(row: number): string {
    const w = this.where[Math.floor(row / BLOCK)]!;
    const o = (row % BLOCK) * 3;
    const chunk = this.chunks[w[o]!]!;
    return Buffer.from(chunk.buffer, chunk.byteOffset + w[o + 1]!, w[o + 2]!).toString('utf8');
  }
}


/**
 * The run's dedup state (see the module comment). Call `beginSeed()` before each seed's QA (the answer cap is per
 * seed), then `check(qa)` for each QA in input order: null = keep (and it is remembered), else why it is dropped.
 * What is remembered per kept QA lives in typed arrays outside the V8 heap: its qa_id (UTF-8), a 64-bit key of its
 * normalised question, the low 16 bits of each signature value (a chance equality adds 2^-16 per position to the
 * estimate) and one LSH entry per band.
 */
export class QaDeduplicator {
  private readonly ids = new StringStore();
  private count = 0;
  /** Exact questions: the first 32 bits of the key → rows; the next 32 bits per row confirm. */
  private readonly exact = new IntMultimap();
  private readonly exactLow: Uint32Array[] = [];
  /** LSH buckets of every band (the band number is hashed into the key). */
  private readonly lsh = new IntMultimap();
  private readonly sigs: Uint16Array[] = [];
  private perAnswer = new Map<string, { count: number; first: string }>();

  constructor(private readonly config: Pick<DedupConfig, 'near_duplicate_threshold' | 'max_qa_per_answer'>) {}

  /** Starts a new seed: the answer cap counts from zero. */
  beginSeed(): void {
    this.perAnswer = new Map();
  }

  /** QA kept so far. */
  get kept(): number {
    return this.count;
  }

  private sig(row: number): Uint16Array {
    const off = (row % BLOCK) * NUM_PERM;
    return this.sigs[Math.floor(row / BLOCK)]!.subarray(off, off + NUM_PERM);
  }

  private bandKey(sig: Uint16Array, band: number): number {
    let h = Math.imul(0x811c9dc5 ^ band, 0x01000193);
    for (let r = band * ROWS; r < (band + 1) * ROWS; r++) h = Math.imul(h ^ sig[r]!, 0x01000193);
    return h >>> 0;
  }

  /** null: keep `qa` (now remembered); else the reason it duplicates a kept QA. */
  check(qa: { qa_id: string; question: string; answer: string }): DedupVerdict | null {
    const norm = normalizeAnswer(qa.question);
    const digest = createHash('sha256').update(norm || qa.question.trim()).digest();
    const hi = digest.readUInt32BE(0);
    const lo = digest.readUInt32BE(4);
    let same = -1;
    this.exact.some(hi, (row) => {
      if (this.exactLow[Math.floor(row / BLOCK)]![row % BLOCK] !== lo) return false;
      same = row;
      return true;
    });
    if (same >= 0) return { reason: 'exact_duplicate', duplicate_of: this.ids.get(same) };

    const full = signature(questionShingles(qa.question));
    const sig = full ? Uint16Array.from(full, (v) => v & 0xffff) : null;
    const keys = sig ? Array.from({ length: BANDS }, (_, b) => this.bandKey(sig, b)) : [];
    if (sig) {
      let best = -1;
      let bestSim = 0;
      const seen = new Set<number>();
      for (const k of keys) {
        let checked = 0;
        this.lsh.some(k, (row) => {
          if (++checked > MAX_BUCKET_CHECKS) return true;
          if (seen.has(row)) return false;
          seen.add(row);
          const sim = estimateSimilarity(sig, this.sig(row));
          if (sim >= this.config.near_duplicate_threshold && (sim > bestSim || (sim === bestSim && row < best))) {
            best = row;
            bestSim = sim;
          }
          return false;
        });
      }
      if (best >= 0) return { reason: 'near_duplicate', duplicate_of: this.ids.get(best), similarity: bestSim };
    }

    const answerKey = normalizeAnswer(qa.answer) || qa.answer.trim().toLowerCase();
    const prev = this.perAnswer.get(answerKey);
    if (this.config.max_qa_per_answer > 0 && prev && prev.count >= this.config.max_qa_per_answer) {
      return { reason: 'answer_cap', duplicate_of: prev.first };
    }

    // Kept: remember it.
    const row = this.count++;
    this.ids.add(qa.qa_id);
    if (row % BLOCK === 0) {
      this.exactLow.push(new Uint32Array(BLOCK));
      this.sigs.push(new Uint16Array(BLOCK * NUM_PERM));
    }
    this.exactLow[Math.floor(row / BLOCK)]![row % BLOCK] = lo;
    this.exact.add(hi, row);
    if (sig) {
      this.sig(row).set(sig);
      for (const k of keys) this.lsh.add(k, row);
    }
    if (prev) prev.count += 1;
    else this.perAnswer.set(answerKey, { count: 1, first: qa.qa_id });
    return null;
  }
}
