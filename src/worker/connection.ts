/**
 * Where the Temporal server is and how to authenticate, from flags and the environment (the variable names of
 * Temporal's own environment configuration, so one set of variables serves `temporal` and qasynth):
 *   TEMPORAL_ADDRESS                  host:port (`--address`); unset = the local dev server
 *   TEMPORAL_NAMESPACE                namespace (`--namespace`), default "default"
 *   TEMPORAL_API_KEY                  API key (Temporal Cloud, or a server with an authorizer); turns TLS on
 *   TEMPORAL_TLS_CLIENT_CERT_PATH     mTLS client certificate (PEM) ...
 *   TEMPORAL_TLS_CLIENT_KEY_PATH      ... and its key; both or neither; turn TLS on
 *   TEMPORAL_TLS_SERVER_CA_CERT_PATH  CA that signed the server's certificate (self-hosted TLS; not for Cloud)
 *   TEMPORAL_TLS_SERVER_NAME          TLS server name (SNI / host name check) when it differs from the address
 *   TEMPORAL_TLS                      "true" forces TLS on (system CAs); "false" forces it off, even with an API key
 * Secrets come from the environment only and are never logged.
 */
import fs from 'node:fs';
import { Connection } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { SEARCH_ATTRIBUTES } from '../shared/constants';
import { unknownSearchAttribute } from '../shared/search-attributes';

export interface TlsSettings {
  clientCertPair?: { crt: Buffer; key: Buffer };
  serverRootCACertificate?: Buffer;
  serverNameOverride?: string;
}

export interface TemporalTarget {
  address: string;
  namespace: string;
  apiKey?: string;
  tls?: TlsSettings | boolean;
}

/** A TEMPORAL_* setting that cannot work (missing half of a pair, unreadable file, bad boolean). */
export class TemporalSettingsError extends Error {
  override name = 'TemporalSettingsError';
}

function readPem(variable: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new TemporalSettingsError(`${variable}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

function parseBool(variable: string, raw: string | undefined): boolean | undefined {
  const v = raw?.trim().toLowerCase();
  if (!v) return undefined;
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  throw new TemporalSettingsError(`${variable}: expected true or false, got ${JSON.stringify(raw)}`);
}

export function targetFromEnv(overrides: { address?: string; namespace?: string } = {}, env = process.env): TemporalTarget | null {
  const address = overrides.address ?? env.TEMPORAL_ADDRESS;
  if (!address) return null;
  const target: TemporalTarget = { address, namespace: overrides.namespace ?? env.TEMPORAL_NAMESPACE ?? 'default' };
  const apiKey = env.TEMPORAL_API_KEY?.trim();
  if (apiKey) target.apiKey = apiKey;

  const certPath = env.TEMPORAL_TLS_CLIENT_CERT_PATH?.trim();
  const keyPath = env.TEMPORAL_TLS_CLIENT_KEY_PATH?.trim();
  if (!!certPath !== !!keyPath) {
    throw new TemporalSettingsError(
      `TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH: set both (mTLS) or neither; only ${certPath ? 'the certificate' : 'the key'} is set`,
    );
  }
  const tls: TlsSettings = {};
  if (certPath && keyPath) {
    tls.clientCertPair = { crt: readPem('TEMPORAL_TLS_CLIENT_CERT_PATH', certPath), key: readPem('TEMPORAL_TLS_CLIENT_KEY_PATH', keyPath) };
  }
  const caPath = env.TEMPORAL_TLS_SERVER_CA_CERT_PATH?.trim();
  if (caPath) tls.serverRootCACertificate = readPem('TEMPORAL_TLS_SERVER_CA_CERT_PATH', caPath);
  const serverName = env.TEMPORAL_TLS_SERVER_NAME?.trim();
  if (serverName) tls.serverNameOverride = serverName;

  const forced = parseBool('TEMPORAL_TLS', env.TEMPORAL_TLS);
  const customized = Object.keys(tls).length > 0;
  if (forced === false) {
    if (customized) {
      throw new TemporalSettingsError('TEMPORAL_TLS=false contradicts the TEMPORAL_TLS_* certificate / server-name settings that are also set');
    }
    // Explicitly plain-text (e.g. an API key checked by a server's authorizer behind a TLS-terminating proxy).
    target.tls = false;
  } else if (customized) {
    target.tls = tls;
  } else if (forced === true || apiKey) {
    // Temporal Cloud with an API key: TLS with the system's CAs.
    target.tls = true;
  }
  return target;
}

/** Connection options shared by the client and the worker connections. */
function connectOptions(t: TemporalTarget): { address: string; apiKey?: string; tls?: TlsSettings | boolean } {
  // `tls: false` must stay false: the SDK turns TLS on by itself whenever an API key is given and tls is unset.
  return { address: t.address, ...(t.apiKey ? { apiKey: t.apiKey } : {}), ...(t.tls !== undefined ? { tls: t.tls } : {}) };
}

export async function clientConnection(t: TemporalTarget): Promise<Connection> {
  return Connection.connect(connectOptions(t));
}

export async function workerConnection(t: TemporalTarget): Promise<NativeConnection> {
  // Loaded here, not at the top: the client side (the CLI's control commands, the `qasynth` package) uses this
  // module without the worker SDK's native bridge.
  const { installRuntime } = await import('./runtime');
  const { NativeConnection: Native } = await import('@temporalio/worker');
  installRuntime();
  return Native.connect(connectOptions(t));
}

/**
 * How long {@link ensureSearchAttributes} waits for search attributes that exist to become usable. A server with
 * a SQL visibility store maps custom search attributes through the namespace record, which each frontend and
 * history host caches and refreshes every `system.namespaceCacheRefreshInterval` (2 s by default in
 * go.temporal.io/server v1.29); measured on the cluster tier: usable 0.2–1.8 s after `addSearchAttributes`.
 */
export const SEARCH_ATTRIBUTE_VISIBLE_TIMEOUT_MS = 30_000;

/**
 * Polls until the frontend accepts a visibility query naming every one of `names` (a start with them as search
 * attributes is then accepted too). Returns the names still refused after `timeoutMs` ([] when all are usable, or
 * when the server refuses the query for another reason, which this cannot judge). The listing
 * (`listSearchAttributes`) is no such check: it reads the database, not the cache a start is validated against.
 */
export async function waitForSearchAttributes(
  conn: Connection,
  namespace: string,
  names: string[],
  timeoutMs = SEARCH_ATTRIBUTE_VISIBLE_TIMEOUT_MS,
): Promise<string[]> {
  if (!names.length) return [];
  const query = names.map((n) => `${n} = "qasynth-probe"`).join(' AND ');
  const deadline = Date.now() + timeoutMs;
  let delay = 50;
  for (;;) {
    try {
      await conn.workflowService.listWorkflowExecutions({ namespace, pageSize: 1, query });
      return [];
    } catch (e) {
      const unknown = unknownSearchAttribute(e);
      if (!unknown) return [];
      if (Date.now() > deadline) return names;
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 500);
  }
}

/**
 * Registers qasynth's search attributes when missing (the dev server started by qasynth has them already), then
 * waits until the server accepts them (bounded by {@link SEARCH_ATTRIBUTE_VISIBLE_TIMEOUT_MS}): on a SQL
 * visibility store new ones are refused for up to a namespace-cache refresh, and a run started in that window
 * failed with "Failed to start Workflow".
 * Returns the names it could not create or that never became usable, so callers can say how to create them.
 */
export async function ensureSearchAttributes(conn: Connection, namespace: string): Promise<string[]> {
  const wanted = Object.values(SEARCH_ATTRIBUTES);
  try {
    const have = await conn.operatorService.listSearchAttributes({ namespace });
    const existing = new Set(Object.keys(have.customAttributes ?? {}));
    const missing = wanted.filter((n) => !existing.has(n));
    if (missing.length) {
      await conn.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(missing.map((n) => [n, 2 /* INDEXED_VALUE_TYPE_KEYWORD */])),
      });
    }
    // Also when they existed: another process may have registered them a moment ago.
    return await waitForSearchAttributes(conn, namespace, wanted);
  } catch {
    return wanted;
  }
}
