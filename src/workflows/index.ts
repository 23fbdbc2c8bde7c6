/** Workflow entry point for the bundler: every workflow type the worker serves. */
export { synthesizeBatch } from './synthesize-batch';
export { synthesizeSeed } from './synthesize-seed';
