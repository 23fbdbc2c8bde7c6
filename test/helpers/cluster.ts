/**
 * For tests that need the real multi-service Temporal cluster (scripts/cluster/) rather than the dev server: the
 * cluster's state folder, from QASYNTH_TEST_CLUSTER_DIR, which `npm run test:cluster` sets. Anywhere else these
 * tests fail at once with a message saying how to run them (the dev server has no separate history service to
 * kill, and it refreshes search attributes on every read, hiding the races a real server has).
 */
import assert from 'node:assert/strict';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { waitFor } from './temporal';

/** The cluster's state folder (for killService / restartService); fails clearly when not on the cluster tier. */
export function requireCluster(what: string): string {
  const dir = process.env.QASYNTH_TEST_CLUSTER_DIR;
  assert.ok(
    process.env.QASYNTH_TEST_TEMPORAL_KIND === 'cluster' && dir,
    `this test (${what}) needs the multi-service Temporal cluster on PostgreSQL, not the dev server: run it with ` +
      '`npm run test:cluster` (or `npx tsx scripts/run-tests.ts --cluster <this file>`)',
  );
  return dir;
}

/**
 * Registers a new namespace and waits (polling) until the frontend serves it: a fresh namespace has none of
 * qasynth's search attributes, the state a new user's server is in.
 */
export async function freshNamespace(conn: Connection, prefix: string): Promise<string> {
  const namespace = `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
  await conn.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
  await waitFor(
    async () => {
      try {
        await conn.workflowService.listWorkflowExecutions({ namespace, pageSize: 1 });
        return true;
      } catch {
        return false;
      }
    },
    60_000,
    `namespace ${namespace} to be served`,
  );
  return namespace;
}
