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
  /** Entries being written (put, putInBackground), by key: the envelope's JSON. */
  private readonly writing = new Map<string, string>();

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
   * The value stored under `key` if there is one and `valid` accepts it, else undefined (a miss). An entry still
   * being written in the background is answered from memory. Never throws.
   * @param valid checks the shape of a stored value (entries of an older or foreign layout are misses).
   */
  async get<T>(key: string, valid: (v: unknown) => v is T): Promise<T | undefined> {
    const writing = this.writing.get(key);
    if (writing !== undefined) return this.decode(key, writing, valid);
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
    return this.decode(key, data.toString('utf8'), valid);
  }

  private decode<T>(key: string, text: string, valid: (v: unknown) => v is T): T | undefined {
    try {
      const env = JSON.parse(text) as Envelope;
      if (env && env.v === 1 && valid(env.value)) return env.value;
      this.warnOnce(key, 'call cache: entry of an unexpected shape, treated as a miss', {});
    } catch (err) {
      this.warnOnce(key, 'call cache: entry is not JSON, treated as a miss', { error: String((err as Error).message ?? err) });
    }
    return undefined;
  }

  /**
   * Stores `value` (JSON-serialisable) under `key`, resolved once it is on disk. Never throws: a failed write is
   * logged once.
   */
  async put(key: string, value: unknown): Promise<void> {
    await this.startWrite(key, value);
  }

  /**
   * Starts storing `value` under `key` and returns at once: the call's result goes back to its workflow while the
   * entry is written (~2 ms, ~8 file operations), and `get` answers it from memory meanwhile. What a crash can lose
   * is the same as with an awaited `put`: a kill -9 within those milliseconds of the answer loses the entry either
   * way, and the call is paid again; a graceful stop waits for the writes still going ({@link flushCallCaches}).
   * The value is serialised before this returns (the caller may change it afterwards).
   */
  putInBackground(key: string, value: unknown): void {
    void this.startWrite(key, value);
  }

  /** Serialises `value` now and writes it, answered from memory until the write ends (tracked for the flush). */
  private startWrite(key: string, value: unknown): Promise<void> {
    const envelope = JSON.stringify({ v: 1, value } satisfies Envelope);
    this.writing.set(key, envelope);
    const write: Promise<void> = cacache
      .put(this.dir, key, envelope)
      .then(
        () => undefined,
        (err: unknown) => {
          this.warnOnce(`put:${key}`, 'call cache: could not store an entry (the call itself succeeded)', {
            error: String((err as Error).message ?? err),
          });
        },
      )
      .finally(() => {
        if (this.writing.get(key) === envelope) this.writing.delete(key);
        pendingWrites.delete(write);
      });
    pendingWrites.add(write);
    return write;
  }
}

/** Background writes of every CallCache of this process not yet finished. */
const pendingWrites = new Set<Promise<void>>();

/** Resolves when every background write started so far has finished (for a worker's graceful stop). Never throws. */
export async function flushCallCaches(): Promise<void> {
  while (pendingWrites.size > 0) await Promise.all([...pendingWrites]);
}
