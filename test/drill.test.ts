/**
 * `vipkeeper drill` against two real daemons (`vipkeeper run --socket`) in network namespaces: a
 * bridge with d1 (priority 150), d2 (priority 100) and a client, VRRPv3 at 100 ms over the raw
 * transport, like test/vrrp-pair.test.ts.
 *
 * - from the MASTER with `--peer-socket` and `--hand-back`: exit 0, a timeline on stdout, and a
 *   report whose events show the peer's advert as MASTER (from d2's address), the VIP's ARP answer
 *   from d2's MAC and the peer's status MASTER, within the bound; then mastership comes back;
 * - refusals (exit 1, nothing changes, no report): run on the BACKUP; the peer in FAULT (its link
 *   down) and so not BACKUP; the peer stopped; and usage errors (no peer given: exit 2).
 *
 * Needs root, `ip netns`, the native addon and arping; without them it FAILS (never skips).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { postCommand } from '../src/daemon/control/client.js';
import type { DrillReport } from '../src/drill/report.js';
import { compareIpvsTables } from '../src/drill/probe.js';
import { masterDownIntervalMs, skewTimeMs } from '../src/vrrp/timers.js';
import type { IpvsStatus } from '../src/daemon/control/status.js';
import { NetnsLab, REPO_ROOT, requireNativeAddon, requireNetnsRoot, run, setupOrFail } from './helpers/netns.js';
import { createLan, hasVip, startVipkeeper, waitFor, writeFile, type Lan, type VipkeeperProc } from './helpers/vipkeeper-proc.js';

const PREFIX = '10.62.0';
const VIP = `${PREFIX}.100`;
const INSTANCE = 'VI_DRILL';
const HTTP_PORT = 9100;

function yamlConf(routerId: string, priority: number, httpHost?: string): string {
  return [
    'global:',
    `  router_id: ${routerId}`,
    '  vrrp_version: 3',
    'instances:',
    `  ${INSTANCE}:`,
    '    state: BACKUP',
    '    interface: eth0',
    '    virtual_router_id: 62',
    `    priority: ${priority}`,
    '    advert_int: 100ms',
    '    virtual_ipaddress:',
    `      - ${VIP}/24 dev eth0`,
    ...(httpHost ? ['control:', `  http: { host: ${httpHost}, port: ${HTTP_PORT} }`] : []),
    '',
  ].join('\n');
}

const lab = new NetnsLab();
let lan: Lan;
let d1: VipkeeperProc;
let d2: VipkeeperProc;

setupOrFail(async () => {
  requireNetnsRoot('the drill tests');
  requireNativeAddon();
  await run('sh', ['-c', 'command -v arping']).catch(() => {
    throw new Error('the drill tests need arping (apt-get install iputils-arping)');
  });
  lan = await createLan(lab, PREFIX, { d1: 11, d2: 12, client: 10 });
  d2 = await startVipkeeper(lab, lan.nodes.d2!.ns, writeFile(lan.dir, 'd2.yaml', yamlConf('d2', 100, `${PREFIX}.12`)));
  d1 = await startVipkeeper(lab, lan.nodes.d1!.ns, writeFile(lan.dir, 'd1.yaml', yamlConf('d1', 150)));
  await d1.waitState(INSTANCE, 'MASTER', 10_000);
  await d2.waitState(INSTANCE, 'BACKUP', 10_000);
});

afterAll(async () => {
  try {
    await lab.cleanup();
  } finally {
    lan?.dispose();
  }
});

interface DrillRun {
  code: number | null;
  out: string;
  err: string;
}

/** `vipkeeper drill ARGS` inside `ns` (from the sources, via tsx), in `cwd`; bounded. */
async function drill(ns: string, args: string[], timeoutMs = 30_000, cwd?: string): Promise<DrillRun> {
  const argv = [process.execPath, '--import', TSX, path.join(REPO_ROOT, 'src', 'cli', 'bin.ts'), 'drill', ...args];
  const p = lab.spawn(ns, cwd ? ['sh', '-c', 'cd "$0" && exec "$@"', cwd, ...argv] : argv, `drill ${args.join(' ')}`);
  await p.waitExit(timeoutMs, false);
  const { code } = await p.exited;
  return { code, out: p.stdoutLines.join('\n'), err: p.stderrLines.join('\n') };
}

/** tsx by absolute URL, so the drill can run in any working directory. */
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

const reportsInRepo = () => readdirSync(REPO_ROOT).filter((f) => f.startsWith('vipkeeper-drill-'));

/** Both daemons back to d1 MASTER / d2 BACKUP (after a test that moved things). */
async function settled(): Promise<void> {
  await waitFor(`d1 MASTER with the VIP, d2 BACKUP without`, async () => d1.state(INSTANCE) === 'MASTER' && d2.state(INSTANCE) === 'BACKUP' && (await hasVip(d1.ns, VIP)) && !(await hasVip(d2.ns, VIP)), 10_000, 50);
}

describe('vipkeeper drill', () => {
  it('fails over to the BACKUP, prints the timeline, writes the report, and hands back', async () => {
    await settled();
    const report = path.join(lan.dir, 'drill-report.json');
    const svg = path.join(lan.dir, 'drill-timeline.svg');
    const r = await drill(d1.ns, ['--socket', d1.socket, '--peer-socket', d2.socket, '--hand-back', '--report', report, '--svg', svg]);
    expect(r.code, `${r.out}\n${r.err}`).toBe(0);

    // The timeline, as an operator reads it.
    expect(r.out).toMatch(/ok\s+this node is MASTER for VI_DRILL/);
    expect(r.out).toMatch(/ok\s+peer VI_DRILL is BACKUP for VRID 62/);
    // No virtual servers on either node: the comparison is over nothing, so it warns (never a vacuous ok).
    expect(r.out).toMatch(/warn\s+IPVS is managed on neither node: nothing to compare|warn\s+both IPVS tables are empty/);
    expect(r.out).not.toMatch(/ok\s+IPVS tables identical/);
    expect(r.out).toMatch(/t\+0\s+ms\s+stepdown sent to this node/);
    expect(r.out).toMatch(new RegExp(`t\\+\\d+\\s+ms\\s+peer advert as MASTER \\(from ${lan.nodes.d2!.ip.replace(/\./g, '\\.')}, priority 100`));
    expect(r.out).toMatch(new RegExp(`t\\+\\d+\\s+ms\\s+VIP ${VIP.replace(/\./g, '\\.')} ARP answered by peer MAC ${lan.nodes.d2!.mac}`));
    expect(r.out).toMatch(/t\+\d+\s+ms\s+peer status MASTER/);
    expect(r.out).toMatch(/failover completed in \d+ ms \(bound \d+ ms = 3 × 100 ms \+ Skew_Time 61 ms .*\): PASS/);
    expect(r.out).toMatch(/hand-back completed in \d+ ms .*: PASS/);

    // The report.
    const rep = JSON.parse(readFileSync(report, 'utf8')) as DrillReport;
    expect(rep.result).toBe('pass');
    expect(rep.exitCode).toBe(0);
    expect(rep.instance).toMatchObject({ name: INSTANCE, vrid: 62, version: 3, interface: 'eth0', advertIntervalMs: 100 });
    expect(rep.prechecks.every((c) => c.ok)).toBe(true);
    expect(rep.prechecks.map((c) => c.check)).toEqual(['local-master', 'peer-reachable', 'peer-backup', 'peer-priority', 'peer-hears-us', 'ipvs-tables-match', 'no-other-master']);
    expect(rep.peerInstance).toMatchObject({ name: INSTANCE, priority: 100, address: lan.nodes.d2!.ip, mac: lan.nodes.d2!.mac });
    expect(rep.arp.measured).toBe(true);
    const fo = rep.failover!;
    const t = (k: string) => fo.events.find((e) => e.event === k)?.t;
    expect(fo.events[0]).toMatchObject({ t: 0, event: 'command-sent' });
    for (const k of ['command-acknowledged', 'local-backup', 'peer-advert-master', 'vip-arp-peer', 'peer-status-master']) expect(t(k), k).toBeTypeOf('number');
    expect(fo.completed).toBe(true);
    expect(fo.withinBound).toBe(true);
    expect(fo.durationMs).toBe(Math.max(t('peer-advert-master')!, t('vip-arp-peer')!, t('peer-status-master')!));
    expect(fo.boundMs).toBe(461); // 3 × 100 + (256 − 100) / 256 × 100 + 100 slack
    // The takeover follows the priority-0 advert after the peer's Skew_Time (61 ms), not a full
    // Master_Down_Interval: the peer's first advert as MASTER comes well inside the bound.
    expect(t('peer-advert-master')!).toBeGreaterThanOrEqual(40);
    expect(t('peer-advert-master')!).toBeLessThan(361);
    const hb = rep.handBack!;
    expect(hb.completed && hb.withinBound).toBe(true);
    expect(hb.events.map((e) => e.event)).toEqual(expect.arrayContaining(['command-sent', 'peer-advert-priority-0', 'peer-status-backup', 'local-master']));
    // The same timeline as a picture: one dot per event of both phases.
    expect(r.out).toContain(`timeline: ${svg}`);
    const picture = readFileSync(svg, 'utf8');
    expect(picture).toMatch(/^<\?xml version="1\.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(picture.match(/<g class="event"/g)).toHaveLength(fo.events.length + hb.events.length);
    expect(picture).toMatch(/failover: \d+ ms <tspan fill="#2e7d32">PASS<\/tspan>/);

    // And the pair really is back: d1 MASTER with the VIP.
    await settled();
  });

  it('prints the report as JSON with --json, and writes ./vipkeeper-drill-<time>.json by default', async () => {
    await settled();
    const dir = mkdtempSync(path.join(lan.dir, 'cwd-'));
    const r = await drill(d1.ns, ['--socket', d1.socket, '--peer-socket', d2.socket, '--hand-back', '--json'], 30_000, dir);
    expect(r.code, r.err).toBe(0);
    const rep = JSON.parse(r.out) as DrillReport;
    expect(rep.result).toBe('pass');
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^vipkeeper-drill-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z\.json$/);
    expect(rep).toEqual(JSON.parse(readFileSync(path.join(dir, files[0]!), 'utf8')));
    await settled();
  });

  it("asks the peer through its read-only HTTP status listener (--peer-status), and leaves the peer MASTER without --hand-back", async () => {
    await settled();
    const report = path.join(lan.dir, 'drill-http.json');
    const r = await drill(d1.ns, ['--socket', d1.socket, '--peer-status', `http://${lan.nodes.d2!.ip}:${HTTP_PORT}`, '--report', report]);
    try {
      expect(r.code, `${r.out}\n${r.err}`).toBe(0);
      expect(r.out).toMatch(new RegExp(`peer via http http://${lan.nodes.d2!.ip.replace(/\./g, '\\.')}:${HTTP_PORT}/status`));
      expect(r.out).toMatch(/failover completed in \d+ ms .*: PASS/);
      expect(r.out).toMatch(/the peer stays MASTER/);
      const rep = JSON.parse(readFileSync(report, 'utf8')) as DrillReport;
      expect(rep.result).toBe('pass');
      expect(rep.handBack).toBeUndefined();
      await waitFor('d2 MASTER', () => d2.state(INSTANCE) === 'MASTER', 5000);
      expect(await hasVip(d2.ns, VIP)).toBe(true);
    } finally {
      // Hand back by hand, as an operator would: `vipkeeper stepdown` on the peer.
      const back = await postCommand(d2.socket, '/stepdown', {});
      expect(back.body.ok, back.body.message).toBe(true);
    }
    await settled();
  });

  it('refuses on the BACKUP: the drill runs on the MASTER', async () => {
    await settled();
    const before = reportsInRepo();
    const r = await drill(d2.ns, ['--socket', d2.socket, '--peer-socket', d1.socket]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/refused: this node is BACKUP for VI_DRILL: the drill runs on the MASTER/);
    expect(reportsInRepo()).toEqual(before);
    expect(d1.state(INSTANCE)).toBe('MASTER');
  });

  it('refuses without a way to ask the peer (usage, exit 2)', async () => {
    const r = await drill(d1.ns, ['--socket', d1.socket]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--peer-socket PATH .* or --peer-status URL/);
    const hb = await drill(d1.ns, ['--socket', d1.socket, '--peer-status', 'http://10.62.0.12:9', '--hand-back']);
    expect(hb.code).toBe(2);
    expect(hb.err).toMatch(/--hand-back needs --peer-socket/);
  });

  it('refuses when the peer is not BACKUP (its link is down: FAULT)', async () => {
    await settled();
    await lab.exec(d2.ns, ['ip', 'link', 'set', 'eth0', 'down']);
    try {
      await waitFor('d2 in FAULT', async () => d2.state(INSTANCE) === 'FAULT', 10_000, 20);
      const r = await drill(d1.ns, ['--socket', d1.socket, '--peer-socket', d2.socket]);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(/FAIL peer VI_DRILL is FAULT for VRID 62: it must be BACKUP/);
      expect(r.err).toMatch(/refused: peer VI_DRILL is FAULT/);
      expect(d1.state(INSTANCE)).toBe('MASTER'); // nothing was stepped down
      expect(await hasVip(d1.ns, VIP)).toBe(true);
    } finally {
      await lab.exec(d2.ns, ['ip', 'link', 'set', 'eth0', 'up']);
    }
    await d2.waitState(INSTANCE, 'BACKUP', 10_000);
  });

  it('refuses when the peer is down (stopped)', async () => {
    await settled();
    await d2.terminate();
    expect(existsSync(d2.socket)).toBe(false);
    const before = reportsInRepo();
    const r = await drill(d1.ns, ['--socket', d1.socket, '--peer-socket', d2.socket, '--peer-timeout', '2s']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAIL the peer does not answer: .*no such socket/);
    expect(r.err).toMatch(/refused: the peer does not answer/);
    expect(reportsInRepo()).toEqual(before);
    expect(d1.state(INSTANCE)).toBe('MASTER');
    expect(await hasVip(d1.ns, VIP)).toBe(true);
  });
});

describe('drill helpers', () => {
  const table = (weights: [number, number], extra: Partial<IpvsStatus> = {}): IpvsStatus => ({
    state: 'in-sync',
    driftCorrections: 0,
    reconciles: 1,
    table: [
      {
        service: 'TCP 10.0.0.100:80',
        scheduler: 'rr',
        flags: [],
        dests: [
          { address: '10.0.0.21', port: 80, forwarding: 'DR', weight: weights[0], activeConn: 5 },
          { address: '10.0.0.22', port: 80, forwarding: 'DR', weight: weights[1], inactConn: 2 },
        ],
      },
    ],
    ...extra,
  });

  it('compares IPVS tables without the connection counters or the order', () => {
    const a = table([1, 1]);
    const b = table([1, 1]);
    b.table[0]!.dests.reverse();
    b.table[0]!.dests[0]!.activeConn = 99;
    expect(compareIpvsTables(a, b)).toEqual([]);
    expect(compareIpvsTables(undefined, undefined)).toEqual([]);
  });

  it('lists every difference', () => {
    expect(compareIpvsTables(table([1, 1]), table([1, 0]))).toEqual(['TCP 10.0.0.100:80 -> 10.0.0.22:80: weight 1 here, 0 on the peer']);
    const other = table([1, 1]);
    other.table[0]!.scheduler = 'wlc';
    other.table[0]!.dests.pop();
    other.table.push({ service: 'UDP 10.0.0.100:53', scheduler: 'rr', flags: [], dests: [] });
    expect(compareIpvsTables(table([1, 1]), other)).toEqual([
      'UDP 10.0.0.100:53: only on the peer',
      'TCP 10.0.0.100:80: scheduler rr here, wlc on the peer',
      'TCP 10.0.0.100:80 -> 10.0.0.22:80: only here',
    ]);
    expect(compareIpvsTables(table([1, 1]), undefined)).toEqual(['IPVS is managed here but not on the peer']);
  });

  it('computes the bound from the VRRP timers of the instance version', () => {
    expect(skewTimeMs(2, 100, 1000)).toBeCloseTo(609.375);
    expect(skewTimeMs(2, 100, 2000)).toBeCloseTo(609.375); // v2: independent of the interval
    expect(masterDownIntervalMs(3, 100, 100)).toBeCloseTo(360.9375);
    expect(masterDownIntervalMs(3, 150, 100)).toBeCloseTo(341.40625);
  });
});
