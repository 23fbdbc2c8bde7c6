import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import { DefaultLogger, Runtime, type LogEntry, type LogLevel } from '@temporalio/worker';

/**
 * Lines that say nothing a user can act on: a worker role without registrations; and the visibility lag of search
 * attributes registered a moment ago (a SQL visibility store takes seconds to show new ones to every service: the
 * workflow task that used them is retried and goes through; `ensureSearchAttributes` registered them).
 */
const EXPECTED_NOISE = /^No (activities|workflows) registered, not polling|BadSearchAttributes: Namespace \S+ has no mapping defined for search attribute Qasynth/;

/**
 * JSON for log metadata: Error objects (which JSON.stringify turns into `{}`) become their name, failure type,
 * message and cause chain, so every failure in a log line says what went wrong.
 */
export function logJson(meta: unknown): string {
  const seen = new WeakSet<object>();
  return JSON.stringify(meta, (_key, value: unknown) => {
    if (value instanceof Error) {
      const e = value as Error & { type?: unknown; cause?: unknown; failure?: unknown };
      const out: Record<string, unknown> = { name: e.name, message: e.message };
      if (typeof e.type === 'string') out.type = e.type;
      if (e.cause !== undefined) out.cause = e.cause;
      return out;
    }
    if (typeof value === 'bigint') return value.toString();
    if (value && typeof value === 'object') {
      if (seen.has(value)) return '[circular]';
      seen.add(value);
    }
    return value;
  });
}

/**
 * A seed workflow that failed or found no QA ends as a failed workflow on purpose (so the Web UI shows it as
 * Failed), after recording its error in its result file and reporting it to the run: not worth a warning line.
 */
export function expectedSeedFailure(entry: Pick<LogEntry, 'message' | 'meta'>): boolean {
  return entry.message === 'Workflow failed' && entry.meta?.workflowType === 'synthesizeSeed';
}

/** Log lines the worker does not print (EXPECTED_NOISE, matched on the message and its metadata as `meta` renders it; expectedSeedFailure). */
export function expectedNoise(entry: Pick<LogEntry, 'message' | 'meta'>, meta = metaText(entry)): boolean {
  return EXPECTED_NOISE.test(entry.message + meta) || expectedSeedFailure(entry);
}

/** ` <meta as JSON>`, or '' without metadata. */
function metaText(entry: Pick<LogEntry, 'meta'>): string {
  return entry.meta && Object.keys(entry.meta).length ? ` ${logJson(entry.meta)}` : '';
}

/** Where log lines go: stderr, or a file while a progress line holds the terminal (see logToFile). */
let sink: (line: string) => void = (line) => process.stderr.write(line);

function print(entry: LogEntry): void {
  const meta = metaText(entry);
  if (expectedNoise(entry, meta)) return;
  const at = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  sink(`${at} [${entry.level}] ${entry.message}${meta}\n`);
}

/**
 * Sends this process's log lines (the Temporal SDK's, the worker's, console.warn/error) to `file` (appended,
 * created with its folder) until the returned function is called, which puts them back on stderr. For the time
 * a progress line is shown: a log line written to the terminal would break into it.
 */
export function logToFile(file: string): () => void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'a');
  const write = (line: string) => {
    try {
      fs.writeSync(fd, line);
    } catch {
      /* a full disk must not stop the run */
    }
  };
  const previous = sink;
  const { warn, error } = console;
  sink = write;
  console.warn = (...args: unknown[]) => write(`${new Date().toISOString()} [console.warn] ${util.format(...args)}\n`);
  console.error = (...args: unknown[]) => write(`${new Date().toISOString()} [console.error] ${util.format(...args)}\n`);
  let restored = false;
  return () => {
    if (restored) return;
    restored = true;
    sink = previous;
    console.warn = warn;
    console.error = error;
    fs.closeSync(fd);
  };
}

let installed = false;
/**
 * Sets the Temporal SDK's log level once per process, before any worker or native connection exists
 * (default WARN keeps terminals readable; QASYNTH_LOG_LEVEL=INFO or DEBUG for more). Logs go to stderr, or to
 * a file while `logToFile` is in effect.
 */
export function installRuntime(level: LogLevel = (process.env.QASYNTH_LOG_LEVEL?.toUpperCase() as LogLevel) || 'WARN'): void {
  if (installed) return;
  installed = true;
  Runtime.install({
    logger: new DefaultLogger(level, print),
    // The SDK core's own log lines (workflow task failures, connection trouble) through the same logger: by
    // default core prints them straight to stderr, into the progress line and past the log file.
    telemetryOptions: { logging: { filter: { core: level, other: level }, forward: {} } },
  });
}
