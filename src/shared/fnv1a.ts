/**
 * FNV-1a, 32-bit (Fowler–Noll–Vo; offset basis 0x811c9dc5, prime 0x01000193, over UTF-16 code units): a fast,
 * stable, non-cryptographic hash of a string to an unsigned 32-bit integer. Pure (safe in workflow code).
 * Used for MinHash shingles (src/domain/dedup.ts) and the simulator's feature-hashed embeddings.
 */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
