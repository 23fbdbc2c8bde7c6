/** The simulator's deterministic embeddings (`POST /v1/embeddings`). */
import { fnv1a } from '../../shared/fnv1a';

/** Default dimensionality of simulator embeddings. */
export const EMBEDDING_DIMS = 256;

const EMBED_STOP = new Set(
  'a an and are as at be by for from has have in is it its of on or that the their this to was were which with what who whom how when where why did does do'.split(' '),
);

/**
 * Deterministic "semantic" vector: word unigrams (weight 1) and character trigrams of each word (weight 0.5),
 * feature-hashed with a sign bit into `dims` buckets, L2-normalised. Texts sharing words or word pieces
 * (Lovelace / Lovelace's, engine / engines) get a higher cosine similarity.
 */
export function embedText(text: string, dims = EMBEDDING_DIMS): Float32Array {
  const v = new Float32Array(dims);
  const add = (feature: string, weight: number) => {
    const h = fnv1a(feature);
    v[h % dims]! += (h & 0x80000000 ? -1 : 1) * weight;
  };
  const words = (text.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((w) => !EMBED_STOP.has(w));
  for (const w of words) {
    add(`w:${w}`, 1);
    const padded = ` ${w} `;
    for (let i = 0; i + 3 <= padded.length; i++) add(`t:${padded.slice(i, i + 3)}`, 0.5);
  }
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  if (norm === 0) v[0] = 1;
  else for (let i = 0; i < dims; i++) v[i]! /= norm;
  return v;
}
