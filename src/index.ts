/**
 * The `qasynth` package: what a script imports (`import { connect, submit, watch } from 'qasynth'`). Everything
 * here is documented where it is defined: src/api.ts (inputs, submit, follow, control), src/client/connect.ts
 * (connecting with the CLI's TEMPORAL_* settings), src/client/pollers.ts (is a worker serving a run?).
 */
export {
  batchHandle,
  batchResult,
  ConfigError,
  loadConfig,
  loadSeeds,
  MAX_BATCH_INPUT_BYTES,
  pauseBatch,
  prepareBatch,
  queryProgress,
  queryRun,
  readProgress,
  resumeBatch,
  retryFailed,
  RunNotFoundError,
  setMaxWorkers,
  submit,
  submitBatch,
  watch,
} from './api';
export type {
  BatchHandle,
  Config,
  PreparedBatch,
  ProgressReader,
  ResolvedConfig,
  RunUpdate,
  SeedSpec,
  SubmitOptions,
  SubmitOutcome,
  SubmitRequest,
  SubmitResult,
  WatchOptions,
} from './api';
export { connect, resolveServer, TemporalUnreachableError } from './client/connect';
export type { ConnectOptions, QasynthConnection } from './client/connect';
export { NoWorkerError, WorkerTimeoutError, workflowPollers } from './client/pollers';
export type { PollerReport } from './client/pollers';
export { TemporalSettingsError } from './worker/connection';
export type { BatchCounters, BatchInput, BatchProgress, BatchResult, BatchCompletion } from './shared/types';
