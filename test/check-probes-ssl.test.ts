/**
 * SSL_GET with keepalived's SSL block (issue 18): a CA made with openssl, an HTTPS server on
 * loopback that requires a client certificate signed by it, and a second server whose
 * certificate another CA signed. keepalived 2.2.7 presents the SSL block's certificate and key
 * and verifies nothing (it loads `ca` but never asks OpenSSL to verify): vipkeeper does the
 * same, and verifies the server against `ca` only with its own verify_tls. Also tls_compliant:
 * the close_notify alert seen on the wire (TLS 1.2, where an alert is record type 21).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { httpProbe } from '../src/check/probes/http.js';
import { resolveChecks } from '../src/check/spec.js';
import type { ProbeResult, ProbeSpec, TlsClient } from '../src/check/types.js';
import { formatDiagnostic } from '../src/config/diagnostics.js';
import { hostIssues, realHost } from '../src/config/host-checks.js';
import { importKeepalivedText } from '../src/config/keepalived/import.js';
import { ConfigSchema } from '../src/config/schema.js';
import { LOOPBACK4, requireBinary, Servers, waitFor } from './helpers/servers.js';

const servers = new Servers();
afterAll(() => servers.closeAll());

const PASSPHRASE = 'correct-horse-battery';

function openssl(args: string[]): void {
  const r = spawnSync('openssl', args, { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.error?.message ?? r.stderr}`);
}

interface Pki {
  dir: string;
  ca: string;
  otherCa: string;
  serverCert: string;
  serverKey: string;
  rogueCert: string;
  rogueKey: string;
  clientCert: string;
  /** Encrypted with PASSPHRASE. */
  clientKey: string;
}

/** A CA signing a server and a client certificate; another CA signing a second server's. */
function makePki(dir: string): Pki {
  requireBinary('/usr/bin/openssl', 'openssl');
  const f = (n: string) => path.join(dir, n);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  const ca = (name: string) => openssl(['req', '-x509', ...ec, '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.pem`), '-days', '2', '-subj', `/CN=${name}`]);
  const leaf = (name: string, signer: string, keyArgs: string[], ext: string) => {
    openssl(['req', ...ec, ...keyArgs, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${name}`]);
    writeFileSync(f(`${name}.ext`), ext);
    openssl(['x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${signer}.pem`), '-CAkey', f(`${signer}.key`), '-CAcreateserial', '-out', f(`${name}.pem`), '-days', '2', '-extfile', f(`${name}.ext`)]);
  };
  ca('ca');
  ca('other-ca');
  const serverExt = 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n';
  leaf('server', 'ca', ['-nodes'], serverExt);
  leaf('rogue', 'other-ca', ['-nodes'], serverExt);
  leaf('client', 'ca', ['-passout', `pass:${PASSPHRASE}`], 'extendedKeyUsage=clientAuth\n');
  chmodSync(f('client.key'), 0o600);
  return {
    dir,
    ca: f('ca.pem'),
    otherCa: f('other-ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    rogueCert: f('rogue.pem'),
    rogueKey: f('rogue.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
  };
}

interface MtlsServer {
  port: number;
  /** Subjects of the client certificates of the requests served. */
  clients: string[];
  close(): Promise<void>;
}

/** HTTPS on loopback requiring a client certificate signed by `ca`. */
async function startMtls(cert: string, key: string, ca: string, opts: { maxVersion?: tls.SecureVersion } = {}): Promise<MtlsServer> {
  const clients: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(
    { cert: readFileSync(cert), key: readFileSync(key), ca: readFileSync(ca), requestCert: true, rejectUnauthorized: true, ...(opts.maxVersion ? { maxVersion: opts.maxVersion } : {}) },
    (sock) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      sock.on('error', () => {});
      clients.push(String(sock.getPeerCertificate().subject?.CN));
      sock.once('data', () => sock.end('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n'));
    },
  );
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK4, resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    clients,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * A TCP relay in front of `port` that records the TLS record types the client sends after its
 * first application data (the request), and whether the client's side ended with a FIN.
 */
async function startRecordTap(port: number): Promise<{ port: number; after: number[][]; close(): Promise<void> }> {
  const after: number[][] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((c) => {
    const types: number[] = [];
    after.push(types);
    let seenRequest = false;
    let buf = Buffer.alloc(0);
    const up = net.connect(port, LOOPBACK4);
    for (const s of [c, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 5 && buf.length >= 5 + buf.readUInt16BE(3)) {
        const type = buf[0]!;
        if (seenRequest) types.push(type);
        if (type === 23) seenRequest = true;
        buf = buf.subarray(5 + buf.readUInt16BE(3));
      }
      up.write(d);
    });
    up.on('data', (d) => c.write(d));
    c.on('end', () => up.end());
    up.on('end', () => c.end());
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK4, resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    after,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

type SslSpec = Extract<ProbeSpec, { kind: 'HTTP_GET' | 'SSL_GET' }>;

function sslGet(port: number, more: Partial<SslSpec> = {}): SslSpec {
  return { kind: 'SSL_GET', address: LOOPBACK4, port, timeoutMs: 5000, httpProtocol: '1.1', verifyTls: false, url: { path: '/', statusCodes: [] }, ...more };
}

const run = (spec: ProbeSpec): Promise<ProbeResult> => httpProbe(spec, new AbortController().signal);

let pki: Pki;
let good: MtlsServer;
let rogue: MtlsServer;
let client: TlsClient;

beforeAll(async () => {
  pki = makePki(servers.tempDir('vk-pki-'));
  good = servers.add(await startMtls(pki.serverCert, pki.serverKey, pki.ca));
  rogue = servers.add(await startMtls(pki.rogueCert, pki.rogueKey, pki.ca));
  client = { ca: pki.ca, certificate: pki.clientCert, key: pki.clientKey, password: PASSPHRASE };
});

describe('SSL_GET with the SSL block', () => {
  it('presents the client certificate (its key unlocked with the password): the server that requires one answers', async () => {
    await expect(run(sslGet(good.port, { tlsClient: client }))).resolves.toMatchObject({ ok: true, detail: 'HTTP 200' });
    expect(good.clients.at(-1)).toBe('client');
  });

  it('without it, the server refuses the handshake and the check fails', async () => {
    const r = await run(sslGet(good.port));
    expect(r.ok).toBe(false);
  });

  it('a wrong password fails the check with a message that names the files, never the password', async () => {
    const r = await run(sslGet(good.port, { tlsClient: { ...client, password: 'not-the-passphrase' } }));
    expect(r).toMatchObject({ ok: false, reason: 'error' });
    const detail = (r as { detail: string }).detail;
    expect(detail).toContain(pki.clientKey);
    expect(detail).not.toContain('not-the-passphrase');
    expect(detail).not.toContain(PASSPHRASE);
  });

  it("as keepalived 2.2.7, a server certificate the CA did not sign is not refused (keepalived loads ca but verifies nothing)", async () => {
    await expect(run(sslGet(rogue.port, { tlsClient: client }))).resolves.toMatchObject({ ok: true });
  });

  it('with verify_tls the server is verified against the SSL block’s ca: the rogue one fails, the right one passes', async () => {
    const r = await run(sslGet(rogue.port, { tlsClient: client, verifyTls: true }));
    expect(r).toMatchObject({ ok: false, reason: 'protocol' });
    await expect(run(sslGet(good.port, { tlsClient: client, verifyTls: true }))).resolves.toMatchObject({ ok: true });
    // against another CA, the right server fails too: the ca replaces the system's
    await expect(run(sslGet(good.port, { tlsClient: { ...client, ca: pki.otherCa }, verifyTls: true }))).resolves.toMatchObject({ ok: false });
  });
});

describe('tls_compliant', () => {
  it('without it, the connection closes without a close_notify (keepalived 2.2.7); with it, a close_notify alert goes first', async () => {
    const tls12 = servers.add(await startMtls(pki.serverCert, pki.serverKey, pki.ca, { maxVersion: 'TLSv1.2' }));
    const tap = servers.add(await startRecordTap(tls12.port));
    await expect(run(sslGet(tap.port, { tlsClient: client }))).resolves.toMatchObject({ ok: true });
    await expect(run(sslGet(tap.port, { tlsClient: client, tlsCompliant: true }))).resolves.toMatchObject({ ok: true });
    // a failed check (the status is not accepted) on an intact session: close_notify too
    await expect(run(sslGet(tap.port, { tlsClient: client, tlsCompliant: true, url: { path: '/', statusCodes: [[300, 399]] } }))).resolves.toMatchObject({ ok: false, reason: 'status' });
    // the relay sees each client side end (FIN, or the close after close_notify)
    await waitFor(() => tap.after.length === 3 && tls12.clients.length === 3, 2000, 'the three connections');
    await new Promise((r) => setTimeout(r, 300));
    expect(tap.after[0]).toEqual([]); // nothing after the request: just the TCP close
    expect(tap.after[1]).toEqual([21]); // one alert record: close_notify
    expect(tap.after[2]).toEqual([21]);
  });
});

describe('from keepalived.conf to the probe', () => {
  const conf = (dir: string) => `
SSL {
  ca ${dir}/ca.pem
  certificate ${dir}/client.pem
  key ${dir}/client.key
  password ${PASSPHRASE}
}
virtual_server 192.0.2.10 443 {
  protocol TCP
  real_server 192.0.2.21 443 {
    SSL_GET {
      url {
        path /
        tls_compliant
      }
    }
  }
}
`;

  it('the SSL block reaches every SSL_GET; the password is never shown in a diagnostic', () => {
    // an extra word on the password line: a diagnostic about that very line
    const text = conf(pki.dir).replace(`password ${PASSPHRASE}`, `password ${PASSPHRASE} extra`);
    const r = importKeepalivedText(text, '/etc/keepalived/keepalived.conf', { configId: 'lb' });
    expect(r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic)).toEqual([]);
    expect(r.config?.ssl).toEqual({ ca: pki.ca, certificate: pki.clientCert, key: pki.clientKey, password: PASSPHRASE });
    const shown = r.diagnostics.map(formatDiagnostic).join('\n');
    expect(shown).toMatch(/keepalived\.conf:6:\d+: .*password/);
    expect(shown).not.toContain(PASSPHRASE);
    const plan = resolveChecks(ConfigSchema.parse(r.config))[0]!;
    expect(plan.specs[0]).toMatchObject({ kind: 'SSL_GET', tlsClient: { ca: pki.ca, password: PASSPHRASE }, tlsCompliant: true });
  });

  it('check warns about SSL files it cannot read and a key others can read', () => {
    const c = ConfigSchema.parse({ ssl: { ca: path.join(pki.dir, 'missing.pem'), certificate: pki.clientCert, key: pki.clientKey } });
    const host = realHost();
    expect(hostIssues(c, host).map((i) => i.message)).toEqual([expect.stringMatching(/SSL ca: .*missing\.pem cannot be read \(ENOENT\)/)]);
    chmodSync(pki.clientKey, 0o644);
    try {
      expect(hostIssues(c, host).map((i) => i.message)).toContainEqual(expect.stringMatching(/SSL key: .*client\.key is readable or writable by others \(mode 0644\)/));
    } finally {
      chmodSync(pki.clientKey, 0o600);
    }
  });
});
