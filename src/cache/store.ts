/**
 * The call cache's store: a content-addressable folder managed by `cacache` (npm's own cache library), shared by
 * every activity of a worker process and by every process on the machine that opens the same folder.
 *
 * Why cacache (and not SQLite through better-sqlite3): it is plain JavaScript, so `npm ci` installs it anywhere
 * without compiling; better-sqlite3 12 finds no prebuilt binary without access to GitHub and compiles SQLite from
 * source on every clean install (about a minute here, and python3/make/g++ in every image). cacache is made for
 * many concurrent writers — npm processes share one cache — : content goes to a temporary file and is renamed
 * into place, the index is append-only with a hash per line, and every read checks the content's integrity.
 *
 * Failure rule: the cache never fails a call. An entry that cannot be read (corrupt content, a bad index line, a
 * value of the wrong shape) is a miss, logged once per key; a write that fails is logged once and forgotten.
 */
import cacache from 'cacache';

/** Versioned envelope of every stored value. */
interface Envelope {
  v: 1;
  value: unknown;
}

/** How the store reports problems (a worker's logger). */
export type CacheWarn = (message: string, meta?: Record<string, unknown>) => void;

/** Most distinct keys remembered as "already logged" (a flood of bad entries still logs boundedly). */
const MAX_LOGGED = 1000;

export class CallCache {
  private readonly logged = new Set<string>();

  /**
   * @param dir the cache folder (created on first write); the same folder may be opened by several processes.
   * @param warn where unreadable entries and failed writes are reported (once per key).
   */
  constructor(
    readonly dir: string,
    private readonly warn: CacheWarn = () => {},
  ) {}

  private warnOnce(key: string, message: string, meta: Record<string, unknown>): void {
    if (this.logged.has(key) || this.logged.size >= MAX_LOGGED) return;
    this.logged.add(key);
    this.warn(message, { ...meta, key, cache_dir: this.dir });
  }

  /**
   * The value stored under `key` if there is one and `valid` accepts it, else undefined (a miss). Never throws.
   * @param valid checks the shape of a stored value (entries of an older or foreign layout are misses).
   */
  async get<T>(key: string, valid: (v: unknown) => v is T): Promise<T | undefined> {
    let data: Buffer;
    try {
      data = (await cacache.get(this.dir, key)).data;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code !== 'ENOENT') {
        this.warnOnce(key, 'call cache: unreadable entry, treated as a miss', { error: String((err as Error).message ?? err), code });
      }
      return undefined;
    }
    try {
      const env = JSON.parse(data.toString('utf8')) as Envelope;
      if (env && env.v === 1 && valid(env.value)) return env.value;
      this.warnOnce(key, 'call cache: entry of an unexpected shape, treated as a miss', {});
    } catch (err) {
      this.warnOnce(key, 'call cache: entry is not JSON, treated as a miss', { error: String((err as Error).message ?? err) });
    }
    return undefined;
  }

  /** Stores `value` (JSON-serialisable) under `key`. Never throws: a failed write is logged once. */
  async put(key: string, value: unknown): Promise<void> {
    try {
      await cacache.put(this.dir, key, JSON.stringify({ v: 1, value } satisfies Envelope));
    } catch (err) {
      this.warnOnce(`put:${key}`, 'call cache: could not store an entry (the call itself succeeded)', {
        error: String((err as Error).message ?? err),
      });
    }
  }
}
