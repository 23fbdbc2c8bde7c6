/**
 * Derived ids (never random) and seed normalisation. Workflow-safe.
 *
 * source_id is a content hash, so reordering or inserting seeds never changes an existing seed's id
 * (the original's index-based id broke resume). trajectory and QA ids keep the original's scheme.
 */
import { md5 } from '@noble/hashes/legacy';
import { bytesToHex } from '@noble/hashes/utils';
import type { Seed } from '../shared/types';
import { describeValue, formatPath, isPlainObject } from './format';

/**
 * UTF-8 bytes of a string (lone surrogates become U+FFFD, as TextEncoder). Hand-written so the id code has no
 * dependency on globals the workflow sandbox may not provide.
 */
export function utf8Bytes(text: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    let cp = text.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (next >= 0xdc00 && next <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (next - 0xdc00);
        i++;
      } else cp = 0xfffd;
    } else if (cp >= 0xdc00 && cp <= 0xdfff) cp = 0xfffd;
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return Uint8Array.from(out);
}

function md5Hex(text: string): string {
  return bytesToHex(md5(utf8Bytes(text)));
}

/** Order-independent source id: `src_` + first 12 hex digits of md5(utf8(text)). */
export function sourceIdFor(text: string): string {
  return `src_${md5Hex(text).slice(0, 12)}`;
}

/** The original's id: `src_<4-digit 1-based index>_<md5 hex[:8]>` (kept for compatibility checks). */
export function legacySourceId(index1: number, text: string): string {
  return `src_${String(index1).padStart(4, '0')}_${md5Hex(text).slice(0, 8)}`;
}

export function trajectoryId(sourceId: string, n: number): string {
  return `${sourceId}_traj_${n}`;
}

export function qaId(trajId: string, n: number): string {
  return `${trajId}_qa_${n}`;
}

/**
 * A deterministic non-negative 31-bit integer derived from the parts (md5 of their JSON encoding).
 * Used as the OpenAI `seed` so sibling branches (same prompt) sample differently but reproducibly.
 */
export function samplingSeedFor(...parts: (string | number)[]): number {
  const bytes = md5(utf8Bytes(JSON.stringify(parts)));
  // bytes[0] & 0x7f keeps the result in [0, 2^31).
  return ((bytes[0]! & 0x7f) << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!;
}

/** Explicit seed ids: safe in file names and workflow ids. */
export const SEED_ID_PATTERN = /^[A-Za-z0-9._:-]{1,100}$/;
/**
 * Longest seed text, in characters (UTF-16 units). A seed is an entity, a topic or a short passage; it goes into
 * every prompt and into the batch input (which Temporal limits to ~2 MB), so a longer one is a mistake.
 */
export const MAX_SEED_CHARS = 20_000;
const SEED_KEYS = ['text', 'id', 'metadata'] as const;

export interface DuplicateSeed {
  source_id: string;
  text: string;
  /** How many later occurrences were dropped (the first one is kept). */
  count: number;
}

export type NormalizeSeedsResult =
  | { ok: true; seeds: Seed[]; duplicates: DuplicateSeed[] }
  | { ok: false; issues: string[] };

/** Total number of dropped duplicate occurrences. */
export function duplicatesDropped(duplicates: readonly DuplicateSeed[]): number {
  return duplicates.reduce((n, d) => n + d.count, 0);
}

/** "got …" for a seed of the wrong type: `number 42`, `boolean true`, `null`, `an array of 2`, `an object`. */
function describeSeed(item: unknown): string {
  if (typeof item === 'number' || typeof item === 'boolean') return `${typeof item} ${String(item)}`;
  return describeValue(item);
}

/** One raw seed, checked: its text, explicit id and metadata, or every problem it has (`seeds[i]…: …`). */
export type CheckedSeed =
  | { ok: true; text: string; id?: string; metadata?: Record<string, unknown> }
  | { ok: false; issues: string[] };

/**
 * Validates one raw seed (a string or `{text, id?, metadata?}`) at input position `i` (0-based, after the
 * `number_of_seed` cut). Shared by normalizeSeeds and the streaming reader (src/config/seeds-stream.ts), so a
 * seed is judged, and its problems worded, the same inline and in a file of any size. Every problem of the seed
 * is reported; a text longer than MAX_SEED_CHARS is rejected before anything else looks at it.
 */
export function checkSeedItem(item: unknown, i: number): CheckedSeed {
  const issues: string[] = [];
  const at = `seeds[${i}]`;
  let text: string | undefined;
  let id: string | undefined;
  let metadata: Record<string, unknown> | undefined;
  let ok = true;
  const textAt = typeof item === 'string' ? at : `${at}.text`;
  if (typeof item === 'string') {
    text = item;
  } else if (isPlainObject(item)) {
    for (const k of Object.keys(item)) {
      if (!(SEED_KEYS as readonly string[]).includes(k)) {
        issues.push(`${formatPath([k], at)}: unknown key; valid keys are ${SEED_KEYS.join(', ')}`);
        ok = false;
      }
    }
    if (typeof item.text === 'string') text = item.text;
    else {
      issues.push(`${textAt}: expected a non-empty string, got ${describeValue(item.text)}`);
      ok = false;
    }
    if (item.id !== undefined) {
      if (typeof item.id === 'string' && SEED_ID_PATTERN.test(item.id)) id = item.id;
      else {
        issues.push(
          `${at}.id: expected 1–100 characters from A–Z a–z 0–9 . _ : - (it names files and workflows), got ${describeValue(item.id)}`,
        );
        ok = false;
      }
    }
    if (item.metadata !== undefined) {
      if (isPlainObject(item.metadata)) metadata = item.metadata;
      else {
        issues.push(`${at}.metadata: expected an object, got ${describeValue(item.metadata)}`);
        ok = false;
      }
    }
  } else {
    return { ok: false, issues: [`${at}: expected a non-empty string or {text, id?, metadata?}, got ${describeSeed(item)}`] };
  }
  if (text !== undefined) {
    // Length first: a huge seed is rejected without hashing or copying it.
    if (text.length > MAX_SEED_CHARS) {
      issues.push(`${textAt}: expected a seed of at most ${MAX_SEED_CHARS} characters, got ${text.length} characters`);
      return { ok: false, issues };
    }
    if (text.trim().length === 0) {
      issues.push(`${textAt}: expected a non-empty string, got ${describeValue(text)}`);
      return { ok: false, issues };
    }
  }
  if (!ok || text === undefined) return { ok: false, issues };
  return { ok: true, text, ...(id !== undefined ? { id } : {}), ...(metadata ? { metadata } : {}) };
}

/**
 * The problem of seed `i` whose source id (`explicit`: its own `id`, else derived from its text) seed `firstIndex`
 * already has, with different text.
 */
export function sourceIdClash(i: number, sourceId: string, explicit: boolean, firstIndex: number): string {
  return explicit
    ? `seeds[${i}].id: expected an id no other seed uses, got "${sourceId}" (seeds[${firstIndex}] has it, with different text)`
    : `seeds[${i}]: expected a seed whose source id is unique, got text whose id "${sourceId}" seeds[${firstIndex}] uses explicitly; give one of them another id`;
}

/**
 * Validates raw seeds (strings or `{text, id?, metadata?}`), applies `number_of_seed` (first N, as the
 * original), derives source ids, and collapses duplicates (same id and same text) to the first occurrence.
 * Issues name the seed's position in the input: `seeds[3]: expected …, got …`; every problem of every seed is
 * reported.
 */
export function normalizeSeeds(raw: readonly unknown[], numberOfSeed: number | null): NormalizeSeedsResult {
  const issues: string[] = [];
  const list = numberOfSeed == null ? raw : raw.slice(0, numberOfSeed);
  if (list.length === 0) return { ok: false, issues: ['seeds: expected at least one seed, got an empty array'] };
  const seeds: Seed[] = [];
  const firstIndex = new Map<string, { index: number; text: string; seedPos: number }>();
  const dupCounts = new Map<string, number>();

  list.forEach((item, i) => {
    const checked = checkSeedItem(item, i);
    if (!checked.ok) {
      issues.push(...checked.issues);
      return;
    }
    const { text, id, metadata } = checked;
    const source_id = id ?? sourceIdFor(text);
    const first = firstIndex.get(source_id);
    if (first) {
      if (first.text === text) {
        dupCounts.set(source_id, (dupCounts.get(source_id) ?? 0) + 1);
      } else {
        issues.push(sourceIdClash(i, source_id, id !== undefined, first.index));
      }
      return;
    }
    firstIndex.set(source_id, { index: i, text, seedPos: seeds.length });
    seeds.push(metadata ? { source_id, text, metadata } : { source_id, text });
  });

  if (issues.length > 0) return { ok: false, issues };
  const duplicates: DuplicateSeed[] = [...dupCounts.entries()]
    .map(([source_id, count]) => ({ source_id, text: firstIndex.get(source_id)!.text, count, pos: firstIndex.get(source_id)!.seedPos }))
    .sort((a, b) => a.pos - b.pos)
    .map(({ source_id, text, count }) => ({ source_id, text, count }));
  return { ok: true, seeds, duplicates };
}

/**
 * Place of an action-choice call in its run, the sample discriminator of its call-cache key (src/cache/key.ts):
 * the seed, the branch path of the node the call creates (branch indices from the root, e.g. `0.1.0`: first child
 * of the second child of the first child of the root) and the attempt (0-based retry of that slot). Branch paths,
 * unlike node ids (`d<depth>_t<creation index>_b<branch>`), do not depend on the order in which concurrent
 * branches finish, so a re-run of the same config and seeds gives every call the same place.
 */
export function actionCallPlace(sourceId: string, branchPath: string, attempt: number): string {
  return `${sourceId}/action/${branchPath}#${attempt}`;
}

/**
 * Place of a QA-synthesis call (see actionCallPlace): the selected path's trajectory id (`<source_id>_traj_<rank>`)
 * and the attempt (0-based), so retries of one path whose prompts happen to be identical stay distinct samples.
 */
export function qaCallPlace(trajectoryId: string, attempt: number): string {
  return `${trajectoryId}/qa#${attempt}`;
}

/**
 * Place of a verification call (see actionCallPlace): the QA's id, the role (`baseline`, `solver`, `judge`) and,
 * for the baseline, its attempt (`#k`), for the solver its attempt and step (`#k/s`). The judge's place is the QA
 * alone: its request already names the candidate answer, and one QA judges each distinct answer once.
 */
export function verifyCallPlace(qaId: string, role: 'baseline' | 'solver' | 'judge', attempt?: number, step?: number): string {
  if (role === 'judge') return `${qaId}/verify/judge`;
  return role === 'baseline' ? `${qaId}/verify/baseline#${attempt ?? 0}` : `${qaId}/verify/solver#${attempt ?? 0}/${step ?? 0}`;
}
