/**
 * Where the Temporal server is: `--address` / TEMPORAL_ADDRESS, namespace, and for Temporal Cloud an API
 * key (TEMPORAL_API_KEY) or mTLS client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH).
 * Secrets come from the environment only and are never logged.
 */
import fs from 'node:fs';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { SEARCH_ATTRIBUTES } from '../shared/constants';
import { installRuntime } from './runtime';

export interface TemporalTarget {
  address: string;
  namespace: string;
  apiKey?: string;
  tls?: { clientCertPair?: { crt: Buffer; key: Buffer }; serverNameOverride?: string } | boolean;
}

export function targetFromEnv(overrides: { address?: string; namespace?: string } = {}, env = process.env): TemporalTarget | null {
  const address = overrides.address ?? env.TEMPORAL_ADDRESS;
  if (!address) return null;
  const target: TemporalTarget = { address, namespace: overrides.namespace ?? env.TEMPORAL_NAMESPACE ?? 'default' };
  if (env.TEMPORAL_API_KEY) {
    target.apiKey = env.TEMPORAL_API_KEY;
    target.tls = true;
  }
  if (env.TEMPORAL_TLS_CLIENT_CERT_PATH && env.TEMPORAL_TLS_CLIENT_KEY_PATH) {
    target.tls = {
      clientCertPair: {
        crt: fs.readFileSync(env.TEMPORAL_TLS_CLIENT_CERT_PATH),
        key: fs.readFileSync(env.TEMPORAL_TLS_CLIENT_KEY_PATH),
      },
    };
  } else if (env.TEMPORAL_TLS === 'true') {
    target.tls = target.tls || true;
  }
  return target;
}

export async function clientConnection(t: TemporalTarget): Promise<Connection> {
  return Connection.connect({ address: t.address, apiKey: t.apiKey, tls: t.tls || undefined });
}

export async function workerConnection(t: TemporalTarget): Promise<NativeConnection> {
  installRuntime();
  return NativeConnection.connect({ address: t.address, apiKey: t.apiKey, tls: t.tls || undefined });
}

/**
 * Registers qasynth's search attributes when missing (the dev server started by qasynth has them already).
 * Returns the names it could not create, so callers can say how to create them by hand.
 */
export async function ensureSearchAttributes(conn: Connection, namespace: string): Promise<string[]> {
  const wanted = Object.values(SEARCH_ATTRIBUTES);
  try {
    const have = await conn.operatorService.listSearchAttributes({ namespace });
    const existing = new Set(Object.keys(have.customAttributes ?? {}));
    const missing = wanted.filter((n) => !existing.has(n));
    if (!missing.length) return [];
    await conn.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((n) => [n, 2 /* INDEXED_VALUE_TYPE_KEYWORD */])),
    });
    return [];
  } catch {
    return wanted;
  }
}
