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
 * Memory: per kept QA, its qa_id, one exact-question key, its signature (NUM_PERM × 4 bytes) and BANDS LSH entries —
 * never the texts (measured in the README: about 1 KB per kept QA).
 */
import { createHash } from 'node:crypto';
import { MinHash } from 'bloom-filters';
import type { DedupConfig } from '../shared/types';
import { isNumberToken, normalizeAnswer, normalizedTokens } from './normalize';

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

/** 32-bit FNV-1a of a string (UTF-16 code units). */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

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
  mh.bulkLoad(shingles.map((s) => fnv1a(s) % SHINGLE_SPACE));
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

/** Signatures of kept QA, in blocks, so memory grows in steps without copying. */
const BLOCK = 4096;

/**
 * The run's dedup state (see the module comment). Call `beginSeed()` before each seed's QA (the answer cap is per
 * seed), then `check(qa)` for each QA in input order: null = keep (and it is remembered), else why it is dropped.
 */
export class QaDeduplicator {
  private readonly ids: string[] = [];
  private readonly exact = new Map<string, number>();
  private readonly bands: Map<number, number>[] = Array.from({ length: BANDS }, () => new Map());
  private readonly blocks: Uint32Array[] = [];
  private perAnswer = new Map<string, { count: number; first: string }>();

  constructor(private readonly config: Pick<DedupConfig, 'near_duplicate_threshold' | 'max_qa_per_answer'>) {}

  /** Starts a new seed: the answer cap counts from zero. */
  beginSeed(): void {
    this.perAnswer = new Map();
  }

  /** QA kept so far. */
  get kept(): number {
    return this.ids.length;
  }

  private sig(i: number): Uint32Array {
    const block = this.blocks[Math.floor(i / BLOCK)]!;
    const off = (i % BLOCK) * NUM_PERM;
    return block.subarray(off, off + NUM_PERM);
  }

  private bandKey(sig: Uint32Array, band: number): number {
    let h = 0x811c9dc5 ^ band;
    for (let r = band * ROWS; r < (band + 1) * ROWS; r++) {
      h = Math.imul(h ^ sig[r]!, 0x01000193);
      h = Math.imul(h ^ (sig[r]! >>> 16), 0x01000193);
    }
    return h >>> 0;
  }

  /** null: keep `qa` (now remembered); else the reason it duplicates a kept QA. */
  check(qa: { qa_id: string; question: string; answer: string }): DedupVerdict | null {
    const norm = normalizeAnswer(qa.question);
    const exactKey = createHash('sha256').update(norm || qa.question.trim()).digest('base64').slice(0, 16);
    const same = this.exact.get(exactKey);
    if (same !== undefined) return { reason: 'exact_duplicate', duplicate_of: this.ids[same]! };

    const sig = signature(questionShingles(qa.question));
    const keys = sig ? Array.from({ length: BANDS }, (_, b) => this.bandKey(sig, b)) : [];
    if (sig) {
      let best = -1;
      let bestSim = 0;
      const seen = new Set<number>();
      keys.forEach((k, b) => {
        const cand = this.bands[b]!.get(k);
        if (cand === undefined || seen.has(cand)) return;
        seen.add(cand);
        const sim = estimateSimilarity(sig, this.sig(cand));
        if (sim >= this.config.near_duplicate_threshold && (sim > bestSim || (sim === bestSim && cand < best))) {
          best = cand;
          bestSim = sim;
        }
      });
      if (best >= 0) return { reason: 'near_duplicate', duplicate_of: this.ids[best]!, similarity: bestSim };
    }

    const answerKey = normalizeAnswer(qa.answer) || qa.answer.trim().toLowerCase();
    const prev = this.perAnswer.get(answerKey);
    if (this.config.max_qa_per_answer > 0 && prev && prev.count >= this.config.max_qa_per_answer) {
      return { reason: 'answer_cap', duplicate_of: prev.first };
    }

    // Kept: remember it.
    const i = this.ids.length;
    this.ids.push(qa.qa_id);
    this.exact.set(exactKey, i);
    if (i % BLOCK === 0) this.blocks.push(new Uint32Array(BLOCK * NUM_PERM));
    if (sig) {
      this.sig(i).set(sig);
      // The first kept QA of a bucket stays its representative.
      keys.forEach((k, b) => {
        if (!this.bands[b]!.has(k)) this.bands[b]!.set(k, i);
      });
    }
    if (prev) prev.count += 1;
    else this.perAnswer.set(answerKey, { count: 1, first: qa.qa_id });
    return null;
  }
}
