/**
 * Connecting to the Temporal server that runs qasynth batches, the same way for the CLI's control commands
 * (`submit`, `status`, `pause`, …) and for scripts (`connect()` in the package's API):
 *   1. `address` / `namespace` given by the caller (the CLI's `--address` / `--namespace`), else
 *   2. the environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY and the TEMPORAL_TLS_* variables
 *      (read by targetFromEnv in src/worker/connection.ts, which documents each variable), else
 *   3. the project's background dev server (`qasynth server start --background`, or the one `qasynth run`
 *      started), else 127.0.0.1:7233 (a `temporal server start-dev` of the user's own).
 */
import { Client, Connection } from '@temporalio/client';
import { backgroundServer } from '../server/dev-server';
import { clientConnection, targetFromEnv, type TemporalTarget } from '../worker/connection';

/** Where to connect, for {@link connect}. Every field is optional; see the module comment for the order. */
export interface ConnectOptions {
  /** host:port of the Temporal frontend; default $TEMPORAL_ADDRESS, else the local dev server. */
  address?: string;
  /** Namespace; default $TEMPORAL_NAMESPACE, else "default". */
  namespace?: string;
  /** The environment to read TEMPORAL_* from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** A connection to the server: the Temporal client qasynth's functions take, and how to close it. */
export interface QasynthConnection {
  /** Temporal client bound to the namespace; pass it to submit(), watch(), pauseBatch(), … */
  client: Client;
  /** The underlying gRPC connection (its workflowService serves describeTaskQueue and the like). */
  connection: Connection;
  /** Where it is connected (secrets are not in it: the API key is held by the connection only). */
  target: { address: string; namespace: string; tls: boolean };
  /** Base URL of the Web UI when known (the local dev server's), else null. */
  uiUrl: string | null;
  /** Closes the connection; call it when done, or the process keeps running. */
  close(): Promise<void>;
}

/** The server could not be reached; `cause` is the SDK's error. */
export class TemporalUnreachableError extends Error {
  override name = 'TemporalUnreachableError';
}

/**
 * Resolves the server as the module comment says, without connecting. Throws TemporalSettingsError (from
 * src/worker/connection.ts) for unusable TEMPORAL_* settings (half an mTLS pair, an unreadable file, …).
 */
export function resolveServer(opts: ConnectOptions = {}): { target: TemporalTarget; uiUrl: string | null } {
  const target = targetFromEnv({ address: opts.address, namespace: opts.namespace }, opts.env ?? process.env);
  if (target) return { target, uiUrl: null };
  const bg = backgroundServer();
  const env = opts.env ?? process.env;
  return {
    target: { address: bg?.address ?? '127.0.0.1:7233', namespace: opts.namespace ?? env.TEMPORAL_NAMESPACE ?? 'default' },
    uiUrl: bg?.uiUrl ?? 'http://127.0.0.1:8233',
  };
}

/**
 * Connects to the Temporal server with the CLI's settings (see the module comment). Throws
 * TemporalUnreachableError naming the address when nothing answers there, TemporalSettingsError for unusable
 * TEMPORAL_* variables.
 */
export async function connect(opts: ConnectOptions = {}): Promise<QasynthConnection> {
  const { target, uiUrl } = resolveServer(opts);
  let connection: Connection;
  try {
    connection = await clientConnection(target);
  } catch (e) {
    throw new TemporalUnreachableError(
      `cannot reach a Temporal server at ${target.address} (${(e as Error).message}). ` +
        'Start one with `qasynth server start --background`, or set TEMPORAL_ADDRESS.',
      { cause: e },
    );
  }
  return {
    client: new Client({ connection, namespace: target.namespace }),
    connection,
    target: { address: target.address, namespace: target.namespace, tls: !!target.tls },
    uiUrl,
    close: () => connection.close(),
  };
}
