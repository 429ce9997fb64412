// The status and control API: HTTP over a unix socket (mode 0600, so only root can
// use it) plus an optional TCP listener that is read-only (status and metrics) and
// binds 127.0.0.1 unless told otherwise.
import { mkdirSync, chmodSync, unlinkSync, existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { dirname } from 'node:path';
import type { DaemonStatus } from './status.js';

export interface CommandResult {
  ok: boolean;
  message: string;
}

export interface ControlHandlers {
  status(): DaemonStatus;
  metrics(): Promise<{ contentType: string; body: string }>;
  drain(rs: string, vs?: string): Promise<CommandResult>;
  undrain(rs: string, vs?: string): Promise<CommandResult>;
  maintenance(on: boolean): Promise<CommandResult>;
  stepDown(instance?: string): Promise<CommandResult>;
  reload(): Promise<CommandResult>;
}

export interface ControlServerOptions {
  socketPath: string;
  http?: { host: string; port: number };
  handlers: ControlHandlers;
  log?: { warn(obj: object, msg: string): void };
}

export interface ControlServer {
  socketPath: string;
  httpAddress?: string;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

function send(res: ServerResponse, code: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? `${JSON.stringify(body, null, 2)}\n` : String(body);
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(text);
}

function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('request body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (!text) return resolve({});
      try {
        const v = JSON.parse(text) as unknown;
        if (v && typeof v === 'object' && !Array.isArray(v)) resolve(v as Record<string, unknown>);
        else reject(new Error('the body must be a JSON object'));
      } catch {
        reject(new Error('the body is not valid JSON'));
      }
    });
    req.on('error', reject);
  });
}

function router(h: ControlHandlers, readOnly: boolean) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://vipkeeper');
    const route = `${req.method} ${url.pathname}`;
    try {
      switch (route) {
        case 'GET /status':
          return send(res, 200, h.status());
        case 'GET /metrics': {
          const m = await h.metrics();
          return send(res, 200, m.body, m.contentType);
        }
        case 'GET /healthz':
          return send(res, 200, { ok: true });
      }
      if (readOnly) return send(res, route.startsWith('POST ') ? 403 : 404, { ok: false, message: `${route} is not available on this listener` });
      const body = req.method === 'POST' ? await readJson(req) : {};
      const str = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : undefined);
      let result: CommandResult;
      switch (route) {
        case 'POST /drain':
        case 'POST /undrain': {
          const rs = str('rs');
          if (!rs) return send(res, 400, { ok: false, message: 'give the real server as {"rs": "ADDRESS:PORT"}' });
          result = route === 'POST /drain' ? await h.drain(rs, str('vs')) : await h.undrain(rs, str('vs'));
          break;
        }
        case 'POST /maintenance':
          if (typeof body.on !== 'boolean') return send(res, 400, { ok: false, message: 'give {"on": true} or {"on": false}' });
          result = await h.maintenance(body.on);
          break;
        case 'POST /stepdown':
          result = await h.stepDown(str('instance'));
          break;
        case 'POST /reload':
          result = await h.reload();
          break;
        default:
          return send(res, 404, { ok: false, message: `no route ${route}; see GET /status, GET /metrics, POST /drain, /undrain, /maintenance, /stepdown, /reload` });
      }
      return send(res, result.ok ? 200 : 409, result);
    } catch (e) {
      return send(res, 400, { ok: false, message: (e as Error).message });
    }
  };
}

/** True when something accepts connections on the socket (another daemon is running). */
function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

function listen(server: Server, ...args: [string] | [number, string]): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(...(args as [string]), () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export async function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const { socketPath } = opts;
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
  if (existsSync(socketPath)) {
    if (await socketInUse(socketPath)) throw new Error(`${socketPath} is in use: is another vipkeeper running? Give another --socket`);
    unlinkSync(socketPath); // left behind by a crashed daemon
  }
  const unixServer = createServer(router(opts.handlers, false));
  await listen(unixServer, socketPath);
  chmodSync(socketPath, 0o600);

  let httpServer: Server | undefined;
  let httpAddress: string | undefined;
  if (opts.http) {
    httpServer = createServer(router(opts.handlers, true));
    await listen(httpServer, opts.http.port, opts.http.host);
    const a = httpServer.address();
    httpAddress = a && typeof a === 'object' ? `${a.address}:${a.port}` : undefined;
  }
  return {
    socketPath,
    ...(httpAddress ? { httpAddress } : {}),
    async close() {
      await Promise.all(
        [unixServer, httpServer].filter((s): s is Server => s !== undefined).map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
            }),
        ),
      );
      try {
        unlinkSync(socketPath);
      } catch {
        // already gone
      }
    },
  };
}
