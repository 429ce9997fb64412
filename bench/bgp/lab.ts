// The active-active BGP lab (test/fixtures/bgp-lab.ts draws it) built with the bench plumbing
// (bench/failover/lab.ts): a router namespace running BIRD 2 with ECMP, three directors running
// `vipkeeper run` with a bgp section, each with a local responder on the VIP and a health
// listener, and a client behind the router. Used by bench/bgp/run.ts and scripts/demo-bgp.ts.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { DIRECTORS, LAB, directorIp, directorYaml, parseNextHops, parseRouterRoutes, routerBirdConfig, routerPeers, type DirectorName, type DirectorYamlOptions, type RouterRoute } from '../../test/fixtures/bgp-lab.js';
import { BenchLab, parseIpTs, pollUntil, sh, type Proc, type VkCommand } from '../failover/lab.js';

export { DIRECTORS, LAB, directorIp, type DirectorName };

/** One change of the VIP's route in the router's kernel FIB, as `ip -ts monitor route` saw it. */
export interface FibEvent {
  /** epoch ms (ip's own timestamp) */
  t: number;
  hops: string[];
}

export interface BgpLab {
  lab: BenchLab;
  router: string;
  client: string;
  ns: Record<DirectorName, string>;
  routerSocket: string;
  fibEvents: FibEvent[];
  vipkeeper: Partial<Record<DirectorName, Proc>>;
  health: Partial<Record<DirectorName, Proc>>;
  socket(d: DirectorName): string;
  birdc(cmd: string): string;
  fibHops(): Promise<string[]>;
  ribRoutes(): RouterRoute[];
  startDirector(d: DirectorName, extra?: Partial<DirectorYamlOptions>): Promise<Proc>;
  startHealth(d: DirectorName): Promise<Proc>;
  waitHops(want: readonly string[], timeoutMs: number): Promise<boolean>;
}

const NODE = process.execPath;

async function waitLog(p: Proc, re: RegExp, timeoutMs: number): Promise<boolean> {
  return (await pollUntil(() => re.test(p.log()) || !p.running, timeoutMs, 20)) !== undefined && re.test(p.log());
}

export async function buildBgpLab(tag: string, vk: VkCommand, opts: { holdTime?: number } = {}): Promise<BgpLab> {
  const lab = new BenchLab(tag);
  const bridge = await lab.addNamespace('lan');
  await lab.addBridge(bridge);
  const mac = (n: number) => `02:10:21:00:00:${n.toString(16).padStart(2, '0')}`;
  const routerNode = await lab.addNode(bridge, 'router', LAB.routerLan, mac(254));
  const router = routerNode.ns;
  const client = await lab.addNamespace('client');
  await sh('ip', ['-n', router, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client]);
  await sh('ip', ['-n', router, 'link', 'set', 'eth1', 'up']);
  await sh('ip', ['-n', client, 'link', 'set', 'eth0', 'up']);
  await sh('ip', ['-n', router, 'addr', 'add', `${LAB.routerClientSide}/24`, 'dev', 'eth1']);
  await sh('ip', ['-n', client, 'addr', 'add', `${LAB.client}/24`, 'dev', 'eth0']);
  await sh('ip', ['-n', client, 'route', 'add', 'default', 'via', LAB.routerClientSide]);
  await lab.exec(router, ['sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.fib_multipath_hash_policy=1']);

  const routerSocket = path.join(lab.dir, 'router.ctl');
  const rconf = path.join(lab.dir, 'router.conf');
  writeFileSync(rconf, routerBirdConfig({ routerId: LAB.routerLan, localAs: LAB.routerAs, peers: routerPeers(), ...(opts.holdTime ? { holdTime: opts.holdTime } : {}) }));
  lab.spawn(router, ['bird', '-f', '-c', rconf, '-s', routerSocket], 'router-bird');

  const birdc = (cmd: string): string => {
    const r = spawnSync('birdc', ['-s', routerSocket, ...cmd.split(' ')], { encoding: 'utf8' });
    return r.stdout ?? '';
  };
  if ((await pollUntil(() => birdc('show status').includes('Daemon is up'), 10_000, 50)) === undefined) throw new Error("the router's bird did not start");

  // every change of the VIP's route in the router's FIB, with ip's own timestamps
  const fibEvents: FibEvent[] = [];
  let current: FibEvent | undefined;
  lab.spawnLines(router, ['ip', '-ts', 'monitor', 'route'], 'router-monitor', (line) => {
    const t = parseIpTs(line);
    if (t !== undefined) {
      current = undefined;
      if (!line.includes(`${LAB.vip} `)) return;
      const via = /\bvia (\S+)/.exec(line);
      current = { t, hops: line.includes('Deleted') || !via ? [] : [via[1] as string] };
      fibEvents.push(current);
    } else if (current) {
      const hop = /nexthop via (\S+)/.exec(line);
      if (hop) current.hops = [...current.hops, hop[1] as string].sort();
    }
  });

  const ns = {} as Record<DirectorName, string>;
  for (const d of DIRECTORS) {
    const node = await lab.addNode(bridge, d, directorIp(d), mac(DIRECTORS.indexOf(d) + 1));
    ns[d] = node.ns;
    await sh('ip', ['-n', ns[d], 'addr', 'add', `${LAB.vip}/32`, 'dev', 'lo']);
    await sh('ip', ['-n', ns[d], 'route', 'add', LAB.clientNet, 'via', LAB.routerLan]);
    const web = lab.spawn(ns[d], [NODE, path.join('test', 'fixtures', 'bgp-responder.mjs'), JSON.stringify({ host: LAB.vip, port: LAB.vipPort, name: d })], `web-${d}`);
    if (!(await waitLog(web, /listening/, 10_000))) throw new Error(`the responder of ${d} did not start:\n${web.log()}`);
  }

  const self: BgpLab = {
    lab,
    router,
    client,
    ns,
    routerSocket,
    fibEvents,
    vipkeeper: {},
    health: {},
    socket: (d) => path.join(lab.dir, `${d}.sock`),
    birdc,
    fibHops: async () => parseNextHops((await sh('ip', ['-n', router, '-j', 'route', 'show', `${LAB.vip}/32`])).stdout),
    ribRoutes: () => parseRouterRoutes(birdc(`show route all ${LAB.vip}/32`)),
    async startHealth(d) {
      const p = lab.spawn(ns[d], [NODE, path.join('test', 'fixtures', 'bgp-responder.mjs'), JSON.stringify({ host: directorIp(d), port: LAB.healthPort, name: d, tcp: true })], `health-${d}`);
      if (!(await waitLog(p, /listening/, 10_000))) throw new Error(`the health listener of ${d} did not start:\n${p.log()}`);
      self.health[d] = p;
      return p;
    },
    async startDirector(d, extra = {}) {
      const conf = path.join(lab.dir, `${d}.yaml`);
      writeFileSync(conf, directorYaml({ name: d, runtimeDir: path.join(lab.dir, `${d}-bird`), socket: self.socket(d), ...extra }));
      const p = lab.spawn(ns[d], [...vk.argv, 'run', '-f', conf, '--socket', self.socket(d), '--log-level', 'info'], `vipkeeper-${d}`);
      if (!(await waitLog(p, /"msg":"vipkeeper running"/, 30_000))) throw new Error(`vipkeeper on ${d} did not start:\n${p.log()}`);
      self.vipkeeper[d] = p;
      return p;
    },
    async waitHops(want, timeoutMs) {
      const w = [...want].sort().join();
      return (await pollUntil(async () => (await self.fibHops()).join() === w, timeoutMs, 10)) !== undefined;
    },
  };
  for (const d of DIRECTORS) await self.startHealth(d);
  return self;
}

/** The first FIB change at or after `since` whose next hops leave out `hop`. */
export function firstWithout(events: readonly FibEvent[], since: number, hop: string): FibEvent | undefined {
  return events.find((e) => e.t >= since && !e.hops.includes(hop));
}

/** Times (epoch ms) of vipkeeper's "VIP withdrawn" log lines, from its log file. */
export function withdrawLogTimes(log: string, vip: string): number[] {
  const out: number[] = [];
  for (const line of log.split('\n')) {
    if (!line.startsWith('{') || !line.includes('"state":"withdrawn"') || !line.includes(vip)) continue;
    try {
      out.push(Date.parse((JSON.parse(line) as { time: string }).time));
    } catch {
      // a partial line at the end of the file
    }
  }
  return out;
}
