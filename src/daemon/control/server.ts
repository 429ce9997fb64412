// The status and control API: HTTP over a unix socket (mode 0600, so only root can
// use it) plus an optional TCP listener that is read-only (status and metrics) and
// binds 127.0.0.1 unless told otherwise.
//
// Whatever a client sends, the daemon survives it: every request is handled inside one
// try/catch (a malformed target, a body too large, a client that disconnects), the server
// bounds header size, header and request time and connections, and a request the HTTP
// parser rejects gets a 400 and a closed socket. The read-only listener answers only
// requests whose Host is an address or localhost (DNS rebinding).
import { lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, isIP, type Socket } from 'node:net';
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
  /** Tests shorten the timeouts. */
  limits?: Partial<ControlLimits>;
}

export type ControlLimits = { -readonly [K in keyof typeof CONTROL_LIMITS]: number };

/** Bounds on what one client may cost the daemon. */
export const CONTROL_LIMITS = {
  maxBodyBytes: 64 * 1024,
  maxHeaderBytes: 16 * 1024,
  /** A client must have sent its whole header block by then. */
  headersTimeoutMs: 5_000,
  /** ... and its whole request. */
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  /** Open connections per listener; more are closed at once. */
  maxConnections: 64,
  /** How often Node looks for connections past their header or request deadline. */
  timeoutCheckMs: 1_000,
} as const;

export interface ControlServer {
  socketPath: string;
  httpAddress?: string;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, code: number, body: unknown, type = 'application/json'): void {
  if (res.headersSent || res.destroyed) return;
  const text = type === 'application/json' ? `${JSON.stringify(body, null, 2)}\n` : String(body);
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(text);
}

/**
 * The path of a request target, or undefined when it is not an origin-form path. Never
 * throws: `new URL('//', base)` does, and that once ended the daemon (one request, one failover).
 */
export function requestPath(target: string | undefined): string | undefined {
  if (!target || target[0] !== '/') return undefined;
  const end = target.search(/[?#]/);
  return end < 0 ? target : target.slice(0, end);
}

/** The read-only listener answers only a Host that names an address or localhost. */
export function hostAllowed(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  return name === 'localhost' || isIP(name) !== 0;
}

function readJson(req: IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (!Number.isFinite(declared) || declared > maxBytes) {
    return Promise.reject(new HttpError(413, `the body may be at most ${maxBytes} bytes`));
  }
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        // Stop reading; the 413 goes out and then the connection is closed (see guarded).
        req.pause();
        reject(new HttpError(413, `the body may be at most ${maxBytes} bytes`));
      } else chunks.push(c);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (!text) return resolve({});
      try {
        const v = JSON.parse(text) as unknown;
        if (v && typeof v === 'object' && !Array.isArray(v)) resolve(v as Record<string, unknown>);
        else reject(new HttpError(400, 'the body must be a JSON object'));
      } catch {
        reject(new HttpError(400, 'the body is not valid JSON'));
      }
    });
    req.on('error', reject);
    req.on('aborted', () => reject(new HttpError(400, 'the client went away')));
  });
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Every request settles here: nothing a client sends can reject out of the server's callback. */
function guarded(handle: Handler, log: ControlServerOptions['log']): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) log?.warn({ err: (e as Error)?.message }, 'control API: request failed');
      send(res, status, { ok: false, message: e instanceof Error ? e.message : String(e) });
      if (status === 413) res.once('finish', () => req.socket.destroy());
    });
  };
}

function router(h: ControlHandlers, readOnly: boolean, limits: ControlLimits): Handler {
  return async (req, res) => {
    const path = requestPath(req.url);
    if (path === undefined) return send(res, 400, { ok: false, message: 'the request target must be a path such as /status' });
    if (readOnly && !hostAllowed(req.headers.host)) {
      return send(res, 421, { ok: false, message: 'this listener answers requests for an address or localhost only' });
    }
    const route = `${req.method} ${path}`;
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
      const body = req.method === 'POST' ? await readJson(req, limits.maxBodyBytes) : {};
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
      if (e instanceof HttpError) throw e;
      return send(res, 400, { ok: false, message: (e as Error).message });
    }
  };
}

function newServer(handler: Handler, limits: ControlLimits, log: ControlServerOptions['log']): Server {
  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: limits.timeoutCheckMs,
    },
    guarded(handler, log),
  );
  server.maxConnections = limits.maxConnections;
  // What the HTTP parser rejects (bad request line, headers too large, garbage): 400 and close.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (socket.writable && !socket.destroyed) {
      const code = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${code}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    }
    socket.destroy();
  });
  return server;
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

/** lstat without throwing: undefined when nothing is there. */
function lstatOrNone(path: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Listens on a unix socket created 0600 from the start (umask around bind, not chmod after). */
async function listenPrivate(server: Server, path: string): Promise<void> {
  const old = process.umask(0o177);
  try {
    await listen(server, path);
  } finally {
    process.umask(old);
  }
}

export async function startControlServer(opts: ControlServerOptions): Promise<ControlServer> {
  const { socketPath } = opts;
  const limits: ControlLimits = { ...CONTROL_LIMITS, ...opts.limits };
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
  const existing = lstatOrNone(socketPath);
  if (existing) {
    if (!existing.isSocket()) throw new Error(`${socketPath} exists and is not a socket; remove it or give another --socket`);
    if (await socketInUse(socketPath)) throw new Error(`${socketPath} is in use: is another vipkeeper running? Give another --socket`);
    unlinkSync(socketPath); // a stale socket, left behind by a crashed daemon
  }
  const unixServer = newServer(router(opts.handlers, false, limits), limits, opts.log);
  await listenPrivate(unixServer, socketPath);

  let httpServer: Server | undefined;
  let httpAddress: string | undefined;
  if (opts.http) {
    httpServer = newServer(router(opts.handlers, true, limits), limits, opts.log);
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
