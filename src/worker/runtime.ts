import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';

let installed = false;
/**
 * Sets the Temporal SDK's log level once per process, before any worker or native connection exists
 * (default WARN keeps terminals readable; QASYNTH_LOG_LEVEL=INFO or DEBUG for more).
 */
export function installRuntime(level: LogLevel = (process.env.QASYNTH_LOG_LEVEL?.toUpperCase() as LogLevel) || 'WARN'): void {
  if (installed) return;
  installed = true;
  Runtime.install({ logger: new DefaultLogger(level) });
}
