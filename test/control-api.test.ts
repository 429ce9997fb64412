// The control API over its unix socket, and the CLI commands that use it.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlServer, type ControlHandlers, type ControlServer } from '../src/daemon/control/server.js';
import { createMetrics } from '../src/daemon/control/metrics.js';
import type { DaemonStatus } from '../src/daemon/control/status.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'vipkeeper-ctl-'));
const socket = join(tmp, 'run', 'vk.sock');
const calls: string[] = [];

const status: DaemonStatus = {
  node: { hostname: 'lvs-a', routerId: 'lvs-a', pid: 42, version: '0.1.0', startedAt: new Date(0).toISOString(), uptimeS: 12 },
  config: { path: '/etc/vipkeeper/vipkeeper.yaml', format: 'yaml', hash: 'abcdef0123456789', loadedAt: new Date(0).toISOString(), reloads: { ok: 1, failed: 1 }, lastReload: { at: new Date(0).toISOString(), ok: false, error: 'x.yaml:3:5: error: bad' } },
  vrrp: {
    at: 1, running: true, transport: undefined, syncGroups: [],
    instances: [{
      name: 'VI_WEB', vrid: 51, version: 3, family: 4, interface: 'eth0', sourceIp: '192.0.2.2', advertIntervalMs: 1000, syncGroup: undefined, state: 'MASTER', basePriority: 110, effectivePriority: 80,
      masterSeen: undefined, vips: ['192.0.2.10/24'], vipsSet: true, maintenance: false, fault: { link: false, track: false, reason: '' },
      recentTransitions: [{ at: 5000, from: 'BACKUP', to: 'MASTER', reason: 'master down timer expired' }],
      counters: { advertsSent: 7, priorityZeroSent: 0, advertsReceived: 3, priorityZeroReceived: 1, advertsDropped: 2, lowerPriorityDiscarded: 0, sameIpConflicts: 0, becameMaster: 1, releasedMaster: 0, garpBursts: 1 },
      transport: { advertsSent: 7, sendErrors: 0, received: 5, accepted: 3, dropped: { ttl: 2 } },
    }],
  },
  health: {
    at: 1,
    scheduler: {} as never,
    services: [{ vs: 'TCP 192.0.2.10:80', quorum: 1, hysteresis: 0, quorumUp: true, sorryActive: false, weight: 3, threshold: 1, realServers: [
      { vs: 'TCP 192.0.2.10:80', rs: '192.0.2.21:80', address: '192.0.2.21', port: 80, up: true, weight: 3, configWeight: 3, checks: [] },
      { vs: 'TCP 192.0.2.10:80', rs: '192.0.2.22:80', address: '192.0.2.22', port: 80, up: false, weight: 0, configWeight: 1, checks: [] },
    ] }],
  },
  ipvs: { state: 'degraded', error: 'this kernel has no IP_VS', driftCorrections: 2, reconciles: 5, table: [] },
  maintenance: false,
  realServers: [
    { vs: 'TCP 192.0.2.10:80', address: '192.0.2.21', port: 80, verdict: 'up', weight: 3, drained: false },
    { vs: 'TCP 192.0.2.10:80', address: '192.0.2.22', port: 80, verdict: 'down', weight: 0, drained: false },
  ],
  drained: [],
  counters: { otherMasterSeen: { VI_WEB: 4 } },
  heap: { governorRequests: 6, fullCollections: 9, floorBytes: 100 * 2 ** 20, limitBytes: 132 * 2 ** 20 },
};

const metrics = createMetrics(() => status);
const handlers: ControlHandlers = {
  status: () => status,
  metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
  drain: async (rs, vs) => (calls.push(`drain ${rs} ${vs ?? ''}`), { ok: true, message: `draining ${rs}` }),
  undrain: async (rs) => (calls.push(`undrain ${rs}`), { ok: false, message: `${rs} is not drained` }),
  maintenance: async (on) => (calls.push(`maintenance ${on}`), { ok: true, message: `maintenance ${on ? 'on' : 'off'}` }),
  stepDown: async (i) => (calls.push(`stepdown ${i ?? '*'}`), { ok: true, message: 'stepped down' }),
  reload: async () => (calls.push('reload'), { ok: true, message: 'reloaded' }),
};

let server: ControlServer;
beforeAll(async () => {
  server = await startControlServer({ socketPath: socket, http: { host: '127.0.0.1', port: 0 }, handlers });
});
afterAll(async () => {
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** Runs the CLI asynchronously: the server under test lives in this process. */
function vk(args: string[], env: Record<string, string> = {}, user?: string): Promise<{ code: number | null; out: string; err: string }> {
  const argv = [process.execPath, join(root, 'bin/vipkeeper.js'), ...args];
  const [cmd, ...rest] = user ? ['setpriv', `--reuid=${user}`, '--regid=nogroup', '--clear-groups', ...argv] : argv;
  return new Promise((resolve) => {
    execFile(cmd as string, rest, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 }, (e, out, err) => {
      resolve({ code: e ? ((e as { code?: number }).code ?? null) : 0, out, err });
    });
  });
}

describe('control API', () => {
  it('makes the socket root-only (mode 0600)', () => {
    expect(statSync(socket).mode & 0o777).toBe(0o600);
  });

  it('refuses a non-root user', async () => {
    const r = await vk(['status', '--socket', socket], {}, 'nobody');
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/permission denied|EACCES/);
  });

  it('prints status as a table modelled on ipvsadm -Ln', async () => {
    const r = await vk(['status', '--socket', socket]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/VRRP Instance = VI_WEB\n +State += MASTER\n/);
    expect(r.out).toMatch(/Priority += 110 base, 80 effective/);
    expect(r.out).toMatch(/Master router += 192\.0\.2\.2 \(this node\)/);
    expect(r.out).toMatch(/IP Virtual Server table, as vipkeeper keeps it: degraded\n {2}this kernel has no IP_VS\n/);
    expect(r.out).toMatch(/-> 192\.0\.2\.22:80 .* down/);
    expect(r.out).toMatch(/last reload REFUSED/);
  });

  it('redraws with --watch, within bounds', async () => {
    const r = await vk(['status', '--socket', socket, '--watch', '0.5', '--count', '2']);
    expect(r.code).toBe(0);
    expect(r.out.match(/^Every 0\.5s: vipkeeper status/gm)).toHaveLength(2);
    expect(r.out.match(/VRRP Instance = VI_WEB/g)).toHaveLength(2);
    expect(await vk(['status', '--socket', socket, '--watch', '0.1'])).toMatchObject({ code: 2, err: expect.stringMatching(/--watch takes seconds from 0\.5 to 3600/) });
  });

  it('gives each real server address, port, verdict and weight with --json, socket from the environment', async () => {
    const r = await vk(['status', '--json'], { VIPKEEPER_SOCKET: socket });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as DaemonStatus;
    expect(j.realServers.map((x) => [x.address, x.port, x.verdict, x.weight])).toEqual([
      ['192.0.2.21', 80, 'up', 3],
      ['192.0.2.22', 80, 'down', 0],
    ]);
  });

  it('runs control commands', async () => {
    expect(await vk(['drain', '192.0.2.21:80', '--vs', 'TCP 192.0.2.10:80', '--socket', socket])).toMatchObject({ code: 0, out: 'draining 192.0.2.21:80\n' });
    expect(await vk(['undrain', '192.0.2.21:80', '--socket', socket])).toMatchObject({ code: 1, err: '192.0.2.21:80 is not drained\n' });
    expect((await vk(['maintenance', 'on', '--socket', socket])).code).toBe(0);
    expect((await vk(['maintenance', 'maybe', '--socket', socket])).code).toBe(2);
    expect((await vk(['stepdown', '--instance', 'VI_WEB', '--socket', socket])).code).toBe(0);
    expect((await vk(['reload', '--socket', socket])).code).toBe(0);
    expect(calls).toEqual(['drain 192.0.2.21:80 TCP 192.0.2.10:80', 'undrain 192.0.2.21:80', 'maintenance true', 'stepdown VI_WEB', 'reload']);
  });

  it('says plainly when no daemon listens', async () => {
    const r = await vk(['status', '--socket', join(tmp, 'none.sock')]);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/no such socket: is vipkeeper running\?/);
  });

  it('serves Prometheus metrics with exporter-compatible names', async () => {
    metrics.observeCheck('HTTP_GET', true, 12);
    const res = await fetch(`http://${server.httpAddress}/metrics`);
    const text = await res.text();
    expect(text).toMatch(/^keepalived_vrrp_state\{iname="VI_WEB",intf="eth0",vrid="51",ip_address="192\.0\.2\.10\/24"\} 2$/m);
    expect(text).toMatch(/^keepalived_advertisements_sent_total\{iname="VI_WEB",intf="eth0",vrid="51"\} 7$/m);
    expect(text).toMatch(/^keepalived_ip_ttl_errors_total\{iname="VI_WEB",intf="eth0",vrid="51"\} 2$/m);
    expect(text).toMatch(/^vipkeeper_vrrp_other_master_seen_total\{iname="VI_WEB"\} 4$/m);
    expect(text).toMatch(/^vipkeeper_vrrp_priority\{iname="VI_WEB",intf="eth0",vrid="51",kind="effective"\} 80$/m);
    expect(text).toMatch(/^vipkeeper_realserver_up\{vs="TCP 192\.0\.2\.10:80",rs="192\.0\.2\.22:80"\} 0$/m);
    expect(text).toMatch(/^vipkeeper_ipvs_drift_corrections_total 2$/m);
    expect(text).toMatch(/^vipkeeper_heap_governor_requests_total 6$/m);
    expect(text).toMatch(/^vipkeeper_heap_governor_limit_bytes 138412032$/m);
    expect(text).toMatch(/^vipkeeper_config_last_reload_successful 0$/m);
    expect(text).toMatch(/^vipkeeper_config_reloads_total\{result="failed"\} 1$/m);
    expect(text).toMatch(/^vipkeeper_check_latency_seconds_bucket/m);
  });

  it('keeps the TCP listener read-only', async () => {
    const r = await fetch(`http://${server.httpAddress}/maintenance`, { method: 'POST', body: '{"on":true}' });
    expect(r.status).toBe(403);
    expect((await fetch(`http://${server.httpAddress}/status`)).status).toBe(200);
  });
});
