// The whole daemon as systemd runs it, from the compiled command: VRRP in its worker,
// health checks against a real server, the control socket, sd_notify (READY,
// WATCHDOG, RELOADING, STOPPING), SIGHUP reload (a bad config is refused and the
// old one keeps running) and SIGTERM.
import { execFile } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetnsLab, NsProcess, REPO_ROOT, setupOrFail } from './helpers/netns.js';
import { createLan, hasVip, sleep, waitFor, type Lan } from './helpers/vipkeeper-proc.js';
import type { DaemonStatus } from '../src/daemon/control/status.js';

const LISTENER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(120)
print('READY', flush=True)
while True:
    data = s.recv(4096)
    print(data.decode().replace('\\n', ' '), flush=True)
`;

const lab = new NetnsLab();
let lan: Lan;
let notify: NsProcess;
let d1: NsProcess;
let d2: NsProcess;
let rs: NsProcess | undefined;
const sock = (n: string) => path.join(lan.dir, `${n}.sock`);
const conf = (n: string) => path.join(lan.dir, `${n}.yaml`);

function yaml(name: string, priority: number): string {
  return `global:
  router_id: ${name}
  vrrp_version: 3
instances:
  VI_1:
    interface: eth0
    virtual_router_id: 61
    priority: ${priority}
    advert_int: 100ms
    virtual_ipaddress: [10.61.0.200/24]
virtual_servers:
  - address: 10.61.0.200
    port: 80
    protocol: TCP
    lb_algo: rr
    lb_kind: NAT
    delay_loop: 500ms
    connect_timeout: 400ms
    retry: 0
    real_servers:
      - address: 10.61.0.11
        port: 8080
        checks:
          - type: HTTP_GET
            url: [{ path: /health }]
`;
}

function vk(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(REPO_ROOT, 'bin/vipkeeper.js'), ...args], { timeout: 20_000 }, (e, out, err) =>
      resolve({ code: e ? Number((e as { code?: number }).code ?? 1) : 0, out, err }),
    );
  });
}

async function status(name: string): Promise<DaemonStatus> {
  const r = await vk(['status', '--json', '--socket', sock(name)]);
  if (r.code !== 0) throw new Error(`status ${name}: ${r.err}`);
  return JSON.parse(r.out) as DaemonStatus;
}

const state = async (name: string) => (await status(name)).vrrp?.instances[0]?.state;

function startDaemon(name: string, ns: string, env: NodeJS.ProcessEnv = process.env): NsProcess {
  return lab.spawn(ns, [process.execPath, path.join(REPO_ROOT, 'bin/vipkeeper.js'), 'run', '-f', conf(name), '--socket', sock(name)], `vipkeeper ${name}`, env);
}

function startRealServer(): NsProcess {
  const code = "require('http').createServer((q,s)=>s.end('ok')).listen(8080,'10.61.0.11',()=>console.log('LISTENING'))";
  return lab.spawn(lan.nodes.rs1!.ns, [process.execPath, '-e', code], 'rs1 http');
}

describe('vipkeeper run: the daemon', () => {
  setupOrFail(async () => {
    lan = await createLan(lab, '10.61.0', { d1: 1, d2: 2, rs1: 11, client: 100 });
    writeFileSync(conf('d1'), yaml('d1', 150));
    writeFileSync(conf('d2'), yaml('d2', 100));
    notify = new NsProcess('sd_notify listener', ['python3', '-c', LISTENER, path.join(lan.dir, 'notify.sock')]);
    await notify.waitForLine(/^READY$/);
    rs = startRealServer();
    await rs.waitForLine(/LISTENING/);
  });
  beforeAll(() => undefined);
  afterAll(async () => {
    notify?.child.kill('SIGKILL');
    await lab.cleanup();
    lan?.dispose();
  });

  it('starts under systemd-style notify: READY, then WATCHDOG pings tied to the VRRP loop', async () => {
    d1 = startDaemon('d1', lan.nodes.d1!.ns, { ...process.env, NOTIFY_SOCKET: path.join(lan.dir, 'notify.sock'), WATCHDOG_USEC: '400000' });
    d2 = startDaemon('d2', lan.nodes.d2!.ns);
    await d1.waitForLine(/"msg":"vipkeeper running"/, 20_000);
    await d2.waitForLine(/"msg":"vipkeeper running"/, 20_000);
    await notify.waitForLine(/READY=1/, 10_000);
    await notify.waitForLine(/WATCHDOG=1/, 10_000);
    expect(statSync(sock('d1')).mode & 0o777).toBe(0o600);
  });

  it('elects d1 and checks the real server through the daemon', async () => {
    await waitFor('d1 MASTER', async () => (await state('d1')) === 'MASTER', 10_000);
    expect(await state('d2')).toBe('BACKUP');
    expect(await hasVip(lan.nodes.d1!.ns, '10.61.0.200')).toBe(true);
    await waitFor('rs1 up', async () => (await status('d1')).realServers[0]?.verdict === 'up', 10_000);
    const s = await status('d1');
    // vrrp_rt_priority defaults to 10: the VRRP thread (only it) runs SCHED_RR; root has CAP_SYS_NICE.
    expect(s.vrrp?.thread).toMatchObject({ policy: 'rr', priority: 10, requested: 10 });
    expect(s.vrrp?.thread?.error).toBeUndefined();
    expect(s.realServers).toEqual([{ vs: '10.61.0.200 80 TCP', address: '10.61.0.11', port: 8080, verdict: 'up', weight: 1, drained: false }]);
    // This kernel has no IP_VS: the table is degraded, said plainly, and VRRP keeps working.
    await waitFor('IPVS degraded', async () => (await status('d1')).ipvs?.state === 'degraded', 10_000);
    expect((await status('d1')).ipvs?.error).toMatch(/IPVS is not available in this kernel/);
    expect(d1.stdoutLines.join('\n')).toMatch(/IPVS is not available in this kernel/);
  });

  it('survives malformed requests on its control socket (GET //, ///, //[::1 once ended the process)', async () => {
    const pid = (await status('d1')).node.pid;
    for (const target of ['//', '///', '//[::1']) {
      const reply = await new Promise<string>((resolve) => {
        const c = connect(sock('d1'));
        let got = '';
        c.on('data', (d) => (got += d.toString()));
        c.on('close', () => resolve(got));
        c.on('error', () => resolve(got));
        c.end(`GET ${target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      });
      expect(reply, target).toMatch(/^HTTP\/1\.1 40[04]/);
    }
    const s = await status('d1');
    expect(s.node.pid).toBe(pid);
    expect(s.vrrp?.instances[0]?.state).toBe('MASTER');
    expect(s.counters.unhandledErrors).toBe(0);
    expect(d1.child.exitCode).toBeNull();
  });

  it('refuses a second daemon for the same instances in the namespace, before it touches the VIP (exit 3)', async () => {
    const pid = (await status('d1')).node.pid;
    const second = lab.spawn(lan.nodes.d1!.ns, [process.execPath, path.join(REPO_ROOT, 'bin/vipkeeper.js'), 'run', '-f', conf('d1'), '--socket', sock('d1-second')], 'second vipkeeper d1');
    let vipAlways = true;
    let done = false;
    const watch = (async () => {
      while (!done) {
        if (!(await hasVip(lan.nodes.d1!.ns, '10.61.0.200'))) vipAlways = false;
        await sleep(10);
      }
    })();
    const exit = await second.exited;
    done = true;
    await watch;
    expect(exit.code).toBe(3);
    const err = second.stderrLines.join('\n');
    expect(err).toMatch(new RegExp(`VRRP instance VI_1 \\(eth0, IPv4, VRID 61\\) is already run by another vipkeeper \\(pid ${pid}\\) in this network namespace`));
    expect(second.stderrLines.filter((l) => l.trim())).toHaveLength(1);
    expect(vipAlways).toBe(true);
    expect(await hasVip(lan.nodes.d1!.ns, '10.61.0.200')).toBe(true);
    expect((await status('d1')).vrrp?.instances[0]?.state).toBe('MASTER');
    // `cleanup` by hand beside the live daemon would take the VIP away: refused too.
    const cleanup = await new Promise<{ code: number | null; err: string }>((resolve) => {
      const c = lab.spawn(lan.nodes.d1!.ns, [process.execPath, path.join(REPO_ROOT, 'bin/vipkeeper.js'), 'cleanup', '-f', conf('d1')], 'cleanup d1');
      void c.exited.then((e) => resolve({ code: e.code, err: c.stderrLines.join('\n') }));
    });
    expect(cleanup.code).toBe(3);
    expect(cleanup.err).toMatch(/is run by a live vipkeeper/);
    expect(await hasVip(lan.nodes.d1!.ns, '10.61.0.200')).toBe(true);
  });

  it('catches a real server that stops', async () => {
    rs!.child.kill('SIGKILL');
    await rs!.exited;
    await waitFor('rs1 down', async () => (await status('d1')).realServers[0]?.verdict === 'down', 10_000);
    const human = await vk(['status', '--socket', sock('d1')]);
    expect(human.out).toMatch(/-> 10\.61\.0\.11:8080 .* down/);
    rs = startRealServer();
    await rs.waitForLine(/LISTENING/);
    await waitFor('rs1 up again', async () => (await status('d1')).realServers[0]?.verdict === 'up', 10_000);
  });

  it('refuses a bad config on SIGHUP and keeps running the old one', async () => {
    writeFileSync(conf('d1'), 'instances:\n  VI_1:\n    virtual_router_id: 300\n');
    process.kill(d1.child.pid!, 'SIGHUP');
    await waitFor('reload refused', async () => (await status('d1')).config.lastReload?.ok === false, 10_000);
    const s = await status('d1');
    expect(s.config.lastReload?.error).toMatch(/d1\.yaml:3:5: error: .*virtual_router_id/);
    expect(s.config.reloads.failed).toBe(1);
    expect(s.vrrp?.instances[0]?.state).toBe('MASTER');
    await notify.waitForLine(/RELOADING=1/, 5000);
    const metrics = await new Promise<string>((resolve, reject) =>
      execFile('curl', ['-s', '--unix-socket', sock('d1'), 'http://vipkeeper/metrics'], (e, out) => (e ? reject(e) : resolve(out))),
    );
    expect(metrics).toMatch(/^vipkeeper_config_last_reload_successful 0$/m);
    writeFileSync(conf('d1'), yaml('d1', 150));
  });

  it('reloads an unchanged instance hitlessly on SIGHUP: it stays MASTER, keeps its VIP, the peer sees no gap', async () => {
    const before = { d1: d1.stdoutLines.length, d2: d2.stdoutLines.length };
    process.kill(d1.child.pid!, 'SIGHUP');
    await waitFor('reload applied', async () => (await status('d1')).config.lastReload?.ok === true, 10_000);
    await d1.waitForLine(/"msg":"VRRP config reloaded"/, 10_000);
    await sleep(500); // more than Master_Down_Interval (361 ms): a gap in d1's adverts would show at d2
    const d1After = d1.stdoutLines.slice(before.d1).join('\n');
    const d2After = d2.stdoutLines.slice(before.d2).join('\n');
    expect(d1After).toMatch(/"unchanged":\["VI_1"\]/);
    expect(d1After).not.toMatch(/"to":"/); // no transition on d1
    expect(d2After).not.toMatch(/"to":"/); // nor on the peer: adverts never paused
    expect(d1After).not.toMatch(/"action":"removed"|removing VIPs/);
    expect(await hasVip(lan.nodes.d1!.ns, '10.61.0.200')).toBe(true);
    const s = await status('d1');
    expect(s.config.reloads).toEqual({ ok: 1, failed: 1 });
    expect(s.vrrp?.instances[0]?.state).toBe('MASTER');
  });

  it('steps down on request and the peer takes over', async () => {
    const r = await vk(['stepdown', '--socket', sock('d1')]);
    expect(r.out).toMatch(/stepped down: VI_1/);
    await waitFor('d2 MASTER', async () => (await state('d2')) === 'MASTER', 5000);
    await waitFor('d1 BACKUP', async () => (await state('d1')) === 'BACKUP', 5000);
    expect(await hasVip(lan.nodes.d2!.ns, '10.61.0.200')).toBe(true);
  });

  it('stops on SIGTERM: exit 0, STOPPING sent, VIPs released', async () => {
    // d2 is MASTER now; stop it and d1 takes the VIP back.
    process.kill(d2.child.pid!, 'SIGTERM');
    const e2 = await d2.exited;
    expect(e2.code).toBe(0);
    expect(await hasVip(lan.nodes.d2!.ns, '10.61.0.200')).toBe(false);
    await waitFor('d1 MASTER again', async () => (await state('d1')) === 'MASTER', 5000);
    process.kill(d1.child.pid!, 'SIGTERM');
    expect((await d1.exited).code).toBe(0);
    await notify.waitForLine(/STOPPING=1/, 5000);
    expect(await hasVip(lan.nodes.d1!.ns, '10.61.0.200')).toBe(false);
    await sleep(10);
  });
});
