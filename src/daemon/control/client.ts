// Talks to a running daemon over its control socket.
import { request } from 'node:http';
import type { CommandResult } from './server.js';
import type { DaemonStatus } from './status.js';

export const DEFAULT_SOCKET = '/run/vipkeeper/vipkeeper.sock';

/** --socket, else $VIPKEEPER_SOCKET, else the default. */
export function resolveSocket(flag?: string): string {
  return flag ?? process.env.VIPKEEPER_SOCKET ?? DEFAULT_SOCKET;
}

export class DaemonUnreachable extends Error {}

export function call<T>(socketPath: string, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 10_000): Promise<{ code: number; body: T }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      { socketPath, method, path, headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const type = res.headers['content-type'] ?? '';
          try {
            resolve({ code: res.statusCode ?? 0, body: (type.includes('json') ? JSON.parse(text) : text) as T });
          } catch (e) {
            reject(e);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new DaemonUnreachable(`no answer from ${socketPath} within ${timeoutMs} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e instanceof DaemonUnreachable) return reject(e);
      const why =
        e.code === 'ENOENT' ? 'no such socket: is vipkeeper running? (give --socket or set VIPKEEPER_SOCKET)'
          : e.code === 'EACCES' ? 'permission denied: the control socket is for root only'
            : e.code === 'ECONNREFUSED' ? 'connection refused: the daemon is not listening'
              : e.message;
      reject(new DaemonUnreachable(`${socketPath}: ${why}`));
    });
    if (payload) req.write(payload);
    req.end();
  });
}

export const getStatus = (socket: string) => call<DaemonStatus>(socket, 'GET', '/status');
export const postCommand = (socket: string, path: string, body: unknown) => call<CommandResult>(socket, 'POST', path, body);
