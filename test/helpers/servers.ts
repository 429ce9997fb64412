/**
 * Real test servers for the probe tests, on loopback only (127.0.0.1 / ::1), each started by a
 * test and stopped after it. Every wait here is bounded.
 *
 * - startScriptedHttp: an HTTP/1.x server written on `net` (or `tls`) sockets, so that a test
 *   sees the exact request bytes and can misbehave on purpose: reset after reading the request,
 *   never answer, trickle the body, send chunked or wrong framing. (node:http would add its own
 *   headers and framing.) HTTPS uses a self-signed certificate made by `openssl req -x509`.
 * - startTcpRecorder: accepts connections and records whether each ended with FIN or RST.
 * - startNginx (nginx-light), startDnsmasq (dnsmasq-base), startAiosmtpd (python3-aiosmtpd):
 *   Debian daemons on a free loopback port with a temp config/prefix.
 * - startUdpEcho, startScriptedSmtp: small node servers.
 *
 * `Servers` collects everything a test file starts so `afterAll(() => servers.closeAll())`
 * stops it; the lab's process 'exit' hook SIGKILLs any child daemons still running.
 */
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

import { ChildProc } from '../../lab/process.js';
import { sleep, waitFor as labWaitFor } from '../../lab/wait.js';

export const LOOPBACK4 = '127.0.0.1';
export const LOOPBACK6 = '::1';

// ---------------------------------------------------------------- bookkeeping

export interface Closable {
  close(): Promise<void>;
}

/** Everything one test file started; `closeAll` stops it all and removes temp dirs. */
export class Servers {
  readonly #items: Closable[] = [];
  readonly #dirs: string[] = [];

  add<T extends Closable>(s: T): T {
    this.#items.push(s);
    return s;
  }

  /** A temp dir removed by closeAll. */
  tempDir(prefix = 'vk-probe-'): string {
    const d = mkdtempSync(path.join(os.tmpdir(), prefix));
    this.#dirs.push(d);
    return d;
  }

  async closeAll(): Promise<void> {
    const items = this.#items.splice(0).reverse();
    const errors: string[] = [];
    for (const s of items) {
      try {
        await withTimeout(s.close(), 10_000, 'closing a test server');
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    for (const d of this.#dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    if (errors.length) throw new Error(`closing test servers:\n${errors.join('\n')}`);
  }
}

/** A pause (the lab's `sleep`). */
export const delay = sleep;

/** Rejects if `p` does not settle within `ms`. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    if (t) clearTimeout(t);
  }
}

/** Polls `check` every `everyMs` until it returns true; throws after `timeoutMs` (the lab's `waitFor`). */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 50): Promise<void> {
  await labWaitFor(what, check, timeoutMs, everyMs);
}

/** A port that was free a moment ago (bind port 0, read it, close). */
export function freePort(type: 'tcp' | 'udp', host = LOOPBACK4): Promise<number> {
  return new Promise((resolve, reject) => {
    if (type === 'tcp') {
      const srv = net.createServer();
      srv.once('error', reject);
      srv.listen(0, host, () => {
        const port = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(port));
      });
    } else {
      const s = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
      s.once('error', reject);
      s.bind(0, host, () => {
        const port = s.address().port;
        s.close(() => resolve(port));
      });
    }
  });
}

/** A port with nothing listening (TCP connect is refused, UDP gets ICMP port unreachable). */
export const closedPort = freePort;

function listen(server: net.Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function closeServer(server: net.Server, sockets: Set<net.Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

// ---------------------------------------------------------------- child daemons

/** A child daemon (the lab's ChildProc; the lab's exit hook SIGKILLs it if it still runs). */
export class Daemon extends ChildProc implements Closable {
  constructor(label: string, argv: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
    super(label, argv, { cwd: opts.cwd ?? process.cwd(), env: opts.env ?? process.env, maxLines: 500 });
  }

  /** Waits for `ready`, failing early (with the daemon's output) if it exits. */
  async waitReady(ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    try {
      await waitFor(async () => {
        if (!this.running) throw new Error('exited');
        return ready();
      }, timeoutMs, `${this.label} to become ready`, 100);
    } catch (e) {
      await this.close();
      throw new Error(`${this.label} did not start: ${(e as Error).message}\n${this.describe()}`);
    }
  }

  close(): Promise<void> {
    return this.stop(5_000);
  }
}

/** Throws with an install hint unless `file` exists. */
export function requireBinary(file: string, pkg: string): void {
  if (!existsSync(file)) throw new Error(`${file} is missing: apt-get install ${pkg}`);
}

function tcpAccepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (v: boolean): void => {
      s.destroy();
      resolve(v);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(1000, () => done(false));
  });
}

// ---------------------------------------------------------------- scripted HTTP(S)

export interface RecordedRequest {
  /** The request bytes up to and including the blank line, as latin1 text. */
  raw: string;
  method: string;
  path: string;
  version: string;
  /** Header names lower-cased. */
  headers: Record<string, string>;
}

/** What the server does once it has read a request. */
export type Behaviour = (req: RecordedRequest, sock: net.Socket) => void;

function head(status: number, headers: Record<string, string>): string {
  return `HTTP/1.1 ${status} X\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
}

export const behaviours = {
  /** A complete response. `chunks`: send the body chunked in pieces of these sizes. */
  respond(status: number, body: string | Buffer = '', opts: { headers?: Record<string, string>; chunks?: number[]; noLength?: boolean } = {}): Behaviour {
    const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
    return (_req, sock) => {
      const headers: Record<string, string> = { 'Content-Type': 'text/plain', Connection: 'close', ...opts.headers };
      if (opts.chunks) {
        headers['Transfer-Encoding'] = 'chunked';
        const parts: Buffer[] = [Buffer.from(head(status, headers))];
        let off = 0;
        for (const n of opts.chunks) {
          const piece = b.subarray(off, off + n);
          off += piece.length;
          if (piece.length) parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
        }
        if (off < b.length) parts.push(Buffer.from(`${(b.length - off).toString(16)}\r\n`), b.subarray(off), Buffer.from('\r\n'));
        parts.push(Buffer.from('0\r\n\r\n'));
        sock.end(Buffer.concat(parts));
        return;
      }
      if (!opts.noLength) headers['Content-Length'] = String(b.length);
      sock.end(Buffer.concat([Buffer.from(head(status, headers)), b]));
    };
  },
  /** Read the request, then RST (resetAndDestroy). */
  reset(): Behaviour {
    return (_req, sock) => {
      sock.resetAndDestroy();
    };
  },
  /** Read the request and never answer (the server closes it at shutdown). */
  hang(): Behaviour {
    return () => {};
  },
  /** Close (FIN) without answering. */
  close(): Behaviour {
    return (_req, sock) => {
      sock.end();
    };
  },
  /** Headers at once, then `bytesPerTick` body bytes every `everyMs` (Content-Length set). */
  trickle(status: number, body: string, everyMs: number, bytesPerTick = 1): Behaviour {
    const b = Buffer.from(body);
    return (_req, sock) => {
      sock.write(head(status, { 'Content-Length': String(b.length), Connection: 'close' }));
      let off = 0;
      const t = setInterval(() => {
        if (sock.destroyed) {
          clearInterval(t);
          return;
        }
        sock.write(b.subarray(off, off + bytesPerTick));
        off += bytesPerTick;
        if (off >= b.length) {
          clearInterval(t);
          sock.end();
        }
      }, everyMs);
      sock.once('close', () => clearInterval(t));
    };
  },
  /** Raw bytes, then close. */
  raw(bytes: string | Buffer): Behaviour {
    return (_req, sock) => {
      sock.end(bytes);
    };
  },
};

export interface ScriptedHttpServer extends Closable {
  host: string;
  port: number;
  /** Requests read so far. */
  requests: RecordedRequest[];
  /** Behaviour per request path; `*` for anything else (default 404). */
  routes: Map<string, Behaviour>;
  /** Connections accepted so far. */
  connections: number;
  /** TLS only: the SNI server name of each connection (false when none was sent). */
  servernames: Array<string | false>;
  /** Connections not yet closed. */
  openConnections(): number;
}

export interface TlsFiles {
  cert: string;
  key: string;
  certPem: string;
  keyPem: string;
}

/** A self-signed certificate for localhost / 127.0.0.1 / ::1, made with openssl in `dir`. */
export function makeSelfSignedCert(dir: string): TlsFiles {
  requireBinary('/usr/bin/openssl', 'openssl');
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const r = spawnSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (r.status !== 0) throw new Error(`openssl req -x509 failed: ${r.error?.message ?? r.stderr}`);
  return { cert, key, certPem: readFileSync(cert, 'utf8'), keyPem: readFileSync(key, 'utf8') };
}

function parseRequest(raw: string): RecordedRequest {
  const lines = raw.split('\r\n');
  const [method = '', p = '', version = ''] = (lines[0] ?? '').split(' ');
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { raw, method, path: p, version, headers };
}

/** An HTTP (or, with `tls`, HTTPS) server running per-path behaviours. */
export async function startScriptedHttp(opts: { host?: string; routes?: Record<string, Behaviour>; tls?: TlsFiles } = {}): Promise<ScriptedHttpServer> {
  const host = opts.host ?? LOOPBACK4;
  const sockets = new Set<net.Socket>();
  const self: ScriptedHttpServer = {
    host,
    port: 0,
    requests: [],
    routes: new Map(Object.entries(opts.routes ?? {})),
    connections: 0,
    servernames: [],
    openConnections: () => sockets.size,
    close: () => closeServer(server, sockets),
  };
  const onSocket = (sock: net.Socket): void => {
    self.connections++;
    if (sock instanceof tls.TLSSocket) self.servernames.push((sock as tls.TLSSocket & { servername?: string | false }).servername ?? false);
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      sock.off('data', onData);
      const req = parseRequest(buf.subarray(0, end + 4).toString('latin1'));
      self.requests.push(req);
      const b = self.routes.get(req.path) ?? self.routes.get('*') ?? behaviours.respond(404, 'not found\n');
      b(req, sock);
    };
    sock.on('data', onData);
  };
  const server = opts.tls
    ? tls.createServer({ cert: opts.tls.certPem, key: opts.tls.keyPem }, onSocket)
    : net.createServer(onSocket);
  if (opts.tls) server.on('tlsClientError', () => {});
  self.port = await listen(server, host);
  return self;
}

// ---------------------------------------------------------------- TCP recorder

export interface TcpRecorder extends Closable {
  host: string;
  port: number;
  /** How each accepted connection ended: 'fin' (orderly), 'reset' (ECONNRESET), or still 'open'. */
  ends: Array<'open' | 'fin' | 'reset'>;
  /** `address:port` of each connection's client. */
  peers: string[];
}

/** Accepts connections (optionally sending `banner`) and records how each one ended. */
/** `halfOpenForever`: on the client's FIN, do not close our side (a server that never hangs up). */
export async function startTcpRecorder(opts: { host?: string; banner?: string; halfOpenForever?: boolean } = {}): Promise<TcpRecorder> {
  const host = opts.host ?? LOOPBACK4;
  const sockets = new Set<net.Socket>();
  const self: TcpRecorder = { host, port: 0, ends: [], peers: [], close: () => closeServer(server, sockets) };
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    const i = self.ends.push('open') - 1;
    self.peers.push(`${sock.remoteAddress}:${sock.remotePort}`);
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET') self.ends[i] = 'reset';
    });
    sock.on('end', () => {
      if (self.ends[i] === 'open') self.ends[i] = 'fin';
      if (!opts.halfOpenForever) sock.end();
    });
    sock.on('data', () => {});
    if (opts.banner !== undefined) sock.write(opts.banner);
  });
  self.port = await listen(server, host);
  return self;
}

// ---------------------------------------------------------------- UDP echo

export interface UdpEcho extends Closable {
  host: string;
  port: number;
  received: Buffer[];
}

/** Echoes each datagram back, or sends what `reply` returns (several datagrams in order; null = stay silent). */
export function startUdpEcho(opts: { host?: string; reply?: (msg: Buffer) => Buffer | Buffer[] | null } = {}): Promise<UdpEcho> {
  const host = opts.host ?? LOOPBACK4;
  const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  const self: UdpEcho = {
    host,
    port: 0,
    received: [],
    close: () => new Promise((resolve) => sock.close(() => resolve())),
  };
  sock.on('message', (msg, rinfo) => {
    self.received.push(msg);
    const out = opts.reply ? opts.reply(msg) : msg;
    for (const d of out === null ? [] : Array.isArray(out) ? out : [out]) sock.send(d, rinfo.port, rinfo.address);
  });
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, host, () => {
      self.port = sock.address().port;
      resolve(self);
    });
  });
}

// ---------------------------------------------------------------- nginx

export interface NginxServer extends Closable {
  host: string;
  port: number;
  prefix: string;
}

/** nginx (nginx-light) in the foreground, one process, serving `files` from a temp root. */
export async function startNginx(servers: Servers, files: Record<string, string | Buffer>, host = LOOPBACK4): Promise<NginxServer> {
  requireBinary('/usr/sbin/nginx', 'nginx-light');
  const prefix = servers.tempDir('vk-nginx-');
  const root = path.join(prefix, 'html');
  spawnSync('mkdir', ['-p', root, path.join(prefix, 'tmp'), path.join(prefix, 'logs')]);
  for (const [name, body] of Object.entries(files)) writeFileSync(path.join(root, name), body);
  const port = await freePort('tcp', host);
  const listenAddr = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
  const conf = path.join(prefix, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
master_process off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log stderr warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  server {
    listen ${listenAddr};
    server_name _;
    root ${root};
  }
}
`,
  );
  const d = new Daemon('nginx', ['/usr/sbin/nginx', '-p', prefix, '-c', conf, '-e', 'stderr']);
  await d.waitReady(() => tcpAccepts(host, port), 15_000);
  return servers.add({ host, port, prefix, close: () => d.close() });
}

// ---------------------------------------------------------------- dnsmasq

export interface DnsmasqServer extends Closable {
  host: string;
  port: number;
}

/**
 * dnsmasq (dnsmasq-base) on 127.0.0.1:<free port>, no upstream servers: `example.test` → A
 * 127.0.0.9, names under `nx.test` → NXDOMAIN (local-only domain), anything else → REFUSED.
 */
export async function startDnsmasq(servers: Servers): Promise<DnsmasqServer> {
  requireBinary('/usr/sbin/dnsmasq', 'dnsmasq-base');
  const dir = servers.tempDir('vk-dnsmasq-');
  const host = LOOPBACK4;
  const port = await freePort('udp', host);
  const d = new Daemon('dnsmasq', [
    '/usr/sbin/dnsmasq',
    '--no-daemon',
    '--conf-file=/dev/null',
    `--port=${port}`,
    `--listen-address=${host}`,
    '--bind-interfaces',
    '--no-resolv',
    '--no-hosts',
    '--address=/example.test/127.0.0.9',
    '--local=/nx.test/',
    `--pid-file=${path.join(dir, 'dnsmasq.pid')}`,
    `--dhcp-leasefile=${path.join(dir, 'dnsmasq.leases')}`,
    '--user=root',
  ]);
  await d.waitReady(() => dnsAnswers(host, port), 15_000);
  return servers.add({ host, port, close: () => d.close() });
}

/** True if a DNS server answers (anything) on host:port within 500 ms. */
function dnsAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => done(false), 500);
    const done = (v: boolean): void => {
      clearTimeout(t);
      s.close();
      resolve(v);
    };
    s.on('error', () => done(false));
    s.on('message', () => done(true));
    // id 0x1234, RD, one question: example.test A IN
    const q = Buffer.from('123401000001000000000000076578616d706c65047465737400' + '00010001', 'hex');
    s.send(q, port, host);
  });
}

// ---------------------------------------------------------------- SMTP

export interface SmtpServer extends Closable {
  host: string;
  port: number;
  /** Lines received (scripted server only). */
  transcript: string[];
}

/**
 * aiosmtpd (python3-aiosmtpd), a real RFC 5321 server, on a free loopback port. With `maildir`,
 * every message it accepts is stored there (its Mailbox handler: new/ holds one file a message).
 */
export async function startAiosmtpd(servers: Servers, host = LOOPBACK4, maildir?: string): Promise<SmtpServer> {
  requireBinary('/usr/bin/python3', 'python3');
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import aiosmtpd'], { encoding: 'utf8', timeout: 30_000 });
  if (probe.status !== 0) throw new Error(`python3 module aiosmtpd is missing: apt-get install python3-aiosmtpd\n${probe.stderr}`);
  const port = await freePort('tcp', host);
  const listenArg = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
  const handler = maildir ? ['aiosmtpd.handlers.Mailbox', maildir] : ['aiosmtpd.handlers.Sink'];
  const d = new Daemon('aiosmtpd', ['/usr/bin/python3', '-m', 'aiosmtpd', '-n', '-l', listenArg, '-c', ...handler]);
  await d.waitReady(() => tcpAccepts(host, port), 20_000);
  return servers.add({ host, port, transcript: [], close: () => d.close() });
}

/**
 * A scripted SMTP responder: sends `greeting`, answers HELO with `helo` (null: close the
 * connection instead; '' : stay silent), QUIT with 221.
 */
export async function startScriptedSmtp(opts: { host?: string; greeting: string; helo?: string | null }): Promise<SmtpServer> {
  const host = opts.host ?? LOOPBACK4;
  const sockets = new Set<net.Socket>();
  const self: SmtpServer = { host, port: 0, transcript: [], close: () => closeServer(server, sockets) };
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    sock.setEncoding('latin1');
    sock.write(opts.greeting);
    let buf = '';
    sock.on('data', (d: string) => {
      buf += d;
      for (let nl = buf.indexOf('\r\n'); nl >= 0; nl = buf.indexOf('\r\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        self.transcript.push(line);
        if (/^HELO /i.test(line)) {
          if (opts.helo === null) sock.end();
          else sock.write(opts.helo ?? '250 scripted.test\r\n');
        }
        else if (/^QUIT$/i.test(line)) sock.end('221 bye\r\n');
        else sock.write('502 not implemented\r\n');
      }
    });
  });
  self.port = await listen(server, host);
  return self;
}
