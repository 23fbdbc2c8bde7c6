/**
 * The TEMPORAL_* connection settings (src/worker/connection.ts) as Temporal Cloud and self-hosted TLS servers need
 * them: parsing (unit), and on the wire: a local HTTP/2 TLS server with a test CA shows that both the client
 * connection (`qasynth submit`/`status`) and the worker's native connection really use TLS, trust
 * TEMPORAL_TLS_SERVER_CA_CERT_PATH, send TEMPORAL_TLS_SERVER_NAME as SNI and send the API key as
 * `authorization: Bearer …` (Temporal Cloud's API-key auth). Certificates are made with openssl at test time.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { clientConnection, targetFromEnv, TemporalSettingsError, workerConnection } from '../../src/worker/connection';
import { tempDir } from '../helpers/temporal';

const SERVER_NAME = 'temporal.qasynth.test';
const API_KEY = 'qasynth-test-api-key-not-a-secret';

let dir: string;
const files = { ca: '', caKey: '', cert: '', key: '', csr: '', ext: '' };

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') assert.fail('openssl is needed to make the test certificates (apt-get install openssl)');
    throw e;
  }
}

before(() => {
  dir = tempDir('qasynth-tls-');
  for (const k of Object.keys(files) as (keyof typeof files)[]) files[k] = path.join(dir, `${k}.pem`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=qasynth test CA', '-keyout', files.caKey, '-out', files.ca]);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${SERVER_NAME}`, '-keyout', files.key, '-out', files.csr]);
  fs.writeFileSync(files.ext, `subjectAltName=DNS:${SERVER_NAME}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n`);
  openssl(['x509', '-req', '-in', files.csr, '-CA', files.ca, '-CAkey', files.caKey, '-CAcreateserial', '-days', '2', '-extfile', files.ext, '-out', files.cert]);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('targetFromEnv', () => {
  test('no address: null (the local dev server is used)', () => {
    assert.equal(targetFromEnv({}, {}), null);
  });
  test('plain address: no TLS, namespace default', () => {
    assert.deepEqual(targetFromEnv({}, { TEMPORAL_ADDRESS: 'temporal:7233' }), { address: 'temporal:7233', namespace: 'default' });
  });
  test('Temporal Cloud with an API key: TLS on (system CAs), key passed', () => {
    const t = targetFromEnv({}, { TEMPORAL_ADDRESS: 'us-east-1.aws.api.temporal.io:7233', TEMPORAL_NAMESPACE: 'qa.acct1', TEMPORAL_API_KEY: API_KEY });
    assert.deepEqual(t, { address: 'us-east-1.aws.api.temporal.io:7233', namespace: 'qa.acct1', apiKey: API_KEY, tls: true });
  });
  test('flags override the environment', () => {
    const t = targetFromEnv({ address: 'a:1', namespace: 'n' }, { TEMPORAL_ADDRESS: 'b:2', TEMPORAL_NAMESPACE: 'm' });
    assert.equal(t?.address, 'a:1');
    assert.equal(t?.namespace, 'n');
  });
  test('mTLS: both files read; a CA and a server name for self-hosted TLS', () => {
    const t = targetFromEnv({}, {
      TEMPORAL_ADDRESS: 'x:7233',
      TEMPORAL_TLS_CLIENT_CERT_PATH: files.cert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: files.key,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.ca,
      TEMPORAL_TLS_SERVER_NAME: SERVER_NAME,
    });
    assert.ok(t && typeof t.tls === 'object');
    const tls = t.tls as Exclude<typeof t.tls, boolean | undefined>;
    assert.deepEqual(tls.clientCertPair?.crt, fs.readFileSync(files.cert));
    assert.deepEqual(tls.serverRootCACertificate, fs.readFileSync(files.ca));
    assert.equal(tls.serverNameOverride, SERVER_NAME);
  });
  test('TEMPORAL_TLS=true forces TLS; TEMPORAL_TLS=false keeps an API key in plain text', () => {
    assert.equal(targetFromEnv({}, { TEMPORAL_ADDRESS: 'x:1', TEMPORAL_TLS: 'true' })?.tls, true);
    const t = targetFromEnv({}, { TEMPORAL_ADDRESS: 'x:1', TEMPORAL_TLS: 'false', TEMPORAL_API_KEY: API_KEY });
    assert.equal(t?.tls, false);
    assert.equal(t?.apiKey, API_KEY);
  });
  test('unusable settings are errors naming the variable', () => {
    assert.throws(() => targetFromEnv({}, { TEMPORAL_ADDRESS: 'x:1', TEMPORAL_TLS_CLIENT_CERT_PATH: files.cert }), (e: Error) => e instanceof TemporalSettingsError && /TEMPORAL_TLS_CLIENT_KEY_PATH/.test(e.message));
    assert.throws(() => targetFromEnv({}, { TEMPORAL_ADDRESS: 'x:1', TEMPORAL_TLS_SERVER_CA_CERT_PATH: path.join(dir, 'missing.pem') }), /TEMPORAL_TLS_SERVER_CA_CERT_PATH: cannot read .*missing\.pem \(ENOENT\)/);
    assert.throws(() => targetFromEnv({}, { TEMPORAL_ADDRESS: 'x:1', TEMPORAL_TLS: 'maybe' }), /TEMPORAL_TLS: expected true or false/);
    assert.throws(() => targetFromEnv({}, { TEMPORAL_ADDRESS: 'x:1', TEMPORAL_TLS: 'false', TEMPORAL_TLS_SERVER_NAME: 'a' }), /contradicts/);
  });
});

describe('on the wire: TLS, CA, server name and API key reach a gRPC server', () => {
  interface Seen {
    servername: string | false | null;
    path: string;
    authorization?: string;
  }
  let server: http2.Http2SecureServer;
  let port = 0;
  const seen: Seen[] = [];

  const sessions = new Set<http2.ServerHttp2Session>();
  before(async () => {
    server = http2.createSecureServer({ key: fs.readFileSync(files.key), cert: fs.readFileSync(files.cert), allowHTTP1: false });
    server.on('session', (s) => {
      sessions.add(s);
      s.once('close', () => sessions.delete(s));
    });
    server.on('stream', (stream, headers) => {
      seen.push({
        servername: (stream.session?.socket as TLSSocket | undefined)?.servername ?? null,
        path: String(headers[':path']),
        authorization: headers.authorization as string | undefined,
      });
      // A trailers-only gRPC answer: UNAUTHENTICATED, so the SDK stops after the first call.
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '16', 'grpc-message': 'test server' }, { endStream: true });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    // Clients keep their HTTP/2 sessions open; close() alone would wait for them.
    for (const s of sessions) s.destroy();
    await new Promise((r) => server.close(r));
  });

  const env = () => ({
    TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
    TEMPORAL_NAMESPACE: 'qa.acct1',
    TEMPORAL_API_KEY: API_KEY,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: files.ca,
    TEMPORAL_TLS_SERVER_NAME: SERVER_NAME,
  });

  for (const [name, connect] of [
    ['client connection (@temporalio/client)', clientConnection],
    ['worker connection (NativeConnection, Rust core)', workerConnection],
  ] as const) {
    test(name, async () => {
      const before = seen.length;
      const target = targetFromEnv({}, env())!;
      const conn = await (connect as (t: typeof target) => Promise<{ close(): Promise<void> }>)(target).then(
        (c) => c,
        (e: Error) => e,
      );
      if (!(conn instanceof Error)) await conn.close();
      const mine = seen.slice(before);
      assert.ok(mine.length > 0, `the TLS handshake succeeded and a gRPC call arrived (connect result: ${conn instanceof Error ? conn.message : 'connected'})`);
      for (const s of mine) {
        assert.equal(s.servername, SERVER_NAME, 'SNI is TEMPORAL_TLS_SERVER_NAME');
        assert.equal(s.authorization, `Bearer ${API_KEY}`, 'the API key is sent as a bearer token');
        assert.match(s.path, /^\/temporal\.api\.workflowservice\.v1\.WorkflowService\//);
      }
    });
  }

  test('without the CA the server is not trusted (TLS really verifies)', async () => {
    const before = seen.length;
    const { TEMPORAL_TLS_SERVER_CA_CERT_PATH: _ca, ...rest } = env();
    // (The worker connection: it fails at once; the client connection would wait for its 10 s connect timeout.)
    const err = await workerConnection(targetFromEnv({}, rest)!).then(
      async (c) => {
        await c.close();
        return null;
      },
      (e: Error) => e,
    );
    assert.ok(err, 'connecting must fail');
    assert.match(err.message, /certificate|UnknownIssuer|tls|transport/i);
    assert.equal(seen.length, before, 'no request reached the server');
  });
});
