/**
 * Records every outgoing TCP connection attempt made through `net.Socket.prototype.connect` and blocks any to a
 * host other than loopback, so a test can assert that a refused fetch never opened a socket and that nothing
 * ever leaves the machine.
 */
import * as net from 'node:net';

export interface ConnectGuard {
  /** Hosts (`host:port`) of the connection attempts since install or the last `reset()`. */
  attempts: string[];
  /** Attempts to non-loopback hosts (blocked with an error). */
  blocked: string[];
  reset(): void;
  uninstall(): void;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1']);

export function installConnectGuard(): ConnectGuard {
  const original = net.Socket.prototype.connect;
  const attempts: string[] = [];
  const blocked: string[] = [];
  net.Socket.prototype.connect = function guardedConnect(this: net.Socket, ...args: unknown[]) {
    // net.createConnection passes its normalized [options, cb] array as the first argument.
    const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
    let host: string | undefined;
    let port: unknown;
    if (first && typeof first === 'object') {
      const o = first as { host?: string; port?: unknown; path?: string };
      if (o.path) return (original as (...a: unknown[]) => net.Socket).apply(this, args); // IPC socket
      host = o.host ?? 'localhost';
      port = o.port;
    } else {
      port = first;
      host = typeof args[1] === 'string' ? args[1] : 'localhost';
    }
    attempts.push(`${host}:${String(port)}`);
    if (!LOOPBACK.has(host)) {
      blocked.push(`${host}:${String(port)}`);
      throw new Error(`connect-guard: connection to ${host}:${String(port)} blocked by the test`);
    }
    return (original as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof net.Socket.prototype.connect;
  return {
    attempts,
    blocked,
    reset() {
      attempts.length = 0;
      blocked.length = 0;
    },
    uninstall() {
      net.Socket.prototype.connect = original;
    },
  };
}
