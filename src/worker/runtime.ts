import { DefaultLogger, Runtime, type LogEntry, type LogLevel } from '@temporalio/worker';

/**
 * Expected at start-up: each of qasynth's per-queue workers serves only workflows or only activities,
 * and the SDK warns about the half it does not serve.
 */
const EXPECTED_NOISE = /^No (activities|workflows) registered, not polling/;

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

function print(entry: LogEntry): void {
  if (EXPECTED_NOISE.test(entry.message) || expectedSeedFailure(entry)) return;
  const at = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const meta = entry.meta && Object.keys(entry.meta).length ? ` ${logJson(entry.meta)}` : '';
  process.stderr.write(`${at} [${entry.level}] ${entry.message}${meta}\n`);
}

let installed = false;
/**
 * Sets the Temporal SDK's log level once per process, before any worker or native connection exists
 * (default WARN keeps terminals readable; QASYNTH_LOG_LEVEL=INFO or DEBUG for more). Logs go to stderr.
 */
export function installRuntime(level: LogLevel = (process.env.QASYNTH_LOG_LEVEL?.toUpperCase() as LogLevel) || 'WARN'): void {
  if (installed) return;
  installed = true;
  Runtime.install({ logger: new DefaultLogger(level, print) });
}
