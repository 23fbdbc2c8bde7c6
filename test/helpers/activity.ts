import { MockActivityEnvironment } from '@temporalio/testing';

/** Runs an activity function in a fresh MockActivityEnvironment, keeping its argument and result types. */
export function runActivity<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return new MockActivityEnvironment().run(fn, ...args) as Promise<R>;
}

/** Same, in a given environment (e.g. one that listens for heartbeats). */
export function runActivityIn<A extends unknown[], R>(env: MockActivityEnvironment, fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return env.run(fn, ...args) as Promise<R>;
}
