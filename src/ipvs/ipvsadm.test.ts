import { describe, expect, it } from 'vitest';

import { IpvsError } from './backend.js';
import {
  IpvsadmBackend,
  parseCommand,
  parseDaemons,
  parseSave,
  parseStats,
  parseThresholds,
  parseTimeouts,
  renderOperation,
  renderSave,
  type Exec,
  type ExecResult,
} from './ipvsadm.js';
import { canonicalAddress, canonicalNetmask, normalizeFlags, parseServiceKey, serviceKey, tablesEqual } from './model.js';

// Captured from ipvsadm 1.31 on Debian's Linux 6.1 (the QEMU guest of lab/ipvs-vm.ts).
const SAVE = `-A -t 10.0.0.1:0 -s sh -p 360 -b sh-port
-A -t 10.0.0.1:80 -s rr
-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1
-a -t 10.0.0.1:80 -r 10.0.0.3:8080 -m -w 2
-a -t 10.0.0.1:80 -r 10.0.0.4:80 -i -w 1 --tun-type ipip
-a -t 10.0.0.1:80 -r 10.0.0.5:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum
-a -t 10.0.0.1:80 -r 10.0.0.7:80 -i -w 1 --tun-type gre --tun-csum
-A -t 10.0.0.10:80 -s lc -b flag-1,flag-2,flag-3
-A -u 10.0.0.1:53 -s wlc -p 600 -M 255.255.255.0 -o
-A --sctp-service 10.0.0.1:99 -s mh -b mh-fallback,mh-port
-A -t [2001:db8::1]:443 -s wrr -p 20 -M 48
-a -t [2001:db8::1]:443 -r [2001:db8::5]:443 -g -w 5
-A -f 1 -s rr
-a -f 1 -r 10.0.0.2:0 -g -w 1
-A -f 2 -6 -s rr -p 30 -M 64
-a -f 2 -6 -r [2001:db8::2]:0 -m -w 1
`;

const THRESHOLDS = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn 
  -> RemoteAddress:Port
TCP  10.0.0.1:0 sh (sh-port) persistent 360
TCP  10.0.0.1:80 rr
  -> 10.0.0.2:80                  0          0          0          0         
  -> 10.0.0.3:8080                100        50         3          12        
  -> 10.0.0.4:80                  0          0          0          0         
  -> 10.0.0.5:80                  0          0          0          0         
  -> 10.0.0.7:80                  0          0          0          0         
TCP  10.0.0.10:80 lc (flag-1,flag-2,flag-3)
UDP  10.0.0.1:53 wlc persistent 600 mask 255.255.255.0 ops
SCTP 10.0.0.1:99 mh (mh-fallback,mh-port)
TCP  [2001:db8::1]:443 wrr persistent 20 mask 48
  -> [2001:db8::5]:443            0          0          1          0         
FWM  1 rr
  -> 10.0.0.2:0                   0          0          0          0         
FWM  2 IPv6 rr persistent 30 mask 64
  -> [2001:db8::2]:0              7          0          0          0         
`;

const STATS = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  10.50.0.1:80                        4       24       20     1554     2604
  -> 10.51.0.2:80                        4       24       20     1554     2604
FWM  2 IPv6                              0        0        0        0        0
`;

describe('model keys and values', () => {
  it.each([
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::', '::'],
    ['::ffff:10.0.0.1', '::ffff:10.0.0.1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['10.0.0.1', '10.0.0.1'],
  ])('canonicalAddress(%s) = %s', (a, want) => expect(canonicalAddress(a)).toBe(want));

  it('service keys round-trip', () => {
    for (const k of ['TCP 10.0.0.1:80', 'UDP [2001:db8::1]:53', 'SCTP 10.0.0.1:99', 'FWM 1 inet', 'FWM 7 inet6']) expect(serviceKey(parseServiceKey(k))).toBe(k);
    expect(() => parseServiceKey('ICMP 1.2.3.4:0')).toThrow(/Invalid service key/);
  });

  it('netmasks and flags', () => {
    expect(canonicalNetmask('24', 'inet')).toBe('255.255.255.0');
    expect(canonicalNetmask('255.255.0.0', 'inet')).toBe('255.255.0.0');
    expect(canonicalNetmask(undefined, 'inet6')).toBe('128');
    expect(canonicalNetmask('/64', 'inet6')).toBe('64');
    expect(() => canonicalNetmask('255.255.255.0', 'inet6')).toThrow(/prefix length/);
    expect(normalizeFlags(['mh-port', 'sh-fallback', 'flag-2'])).toEqual(['flag-1', 'flag-2']);
    expect(() => normalizeFlags(['hashed'])).toThrow(/Unknown scheduler flag/);
  });
});

describe('ipvsadm -Sn / -Ln parsing', () => {
  it('parses every option -Sn prints', () => {
    const t = parseSave(SAVE);
    expect(t.map((s) => serviceKey(s.id))).toEqual([
      'FWM 1 inet',
      'FWM 2 inet6',
      'SCTP 10.0.0.1:99',
      'TCP 10.0.0.10:80',
      'TCP 10.0.0.1:0',
      'TCP 10.0.0.1:80',
      'TCP [2001:db8::1]:443',
      'UDP 10.0.0.1:53',
    ]);
    const by = new Map(t.map((s) => [serviceKey(s.id), s]));
    expect(by.get('SCTP 10.0.0.1:99')).toMatchObject({ scheduler: 'mh', flags: ['flag-1', 'flag-2'] });
    expect(by.get('UDP 10.0.0.1:53')).toMatchObject({ scheduler: 'wlc', ops: true, persistence: { timeout: 600, netmask: '255.255.255.0' } });
    expect(by.get('FWM 2 inet6')).toMatchObject({ persistence: { timeout: 30, netmask: '64' }, dests: [{ address: '2001:db8::2', port: 0, forwarding: 'NAT' }] });
    expect(by.get('TCP 10.0.0.1:0')).toMatchObject({ persistence: { timeout: 360, netmask: '255.255.255.255' }, flags: ['flag-2'] });
    expect(by.get('TCP 10.0.0.1:80')?.dests.map((d) => [d.address, d.port, d.forwarding, d.weight, d.tunnel])).toEqual([
      ['10.0.0.2', 80, 'DR', 1, undefined],
      ['10.0.0.3', 8080, 'NAT', 2, undefined],
      ['10.0.0.4', 80, 'TUN', 1, { type: 'ipip' }],
      ['10.0.0.5', 80, 'TUN', 1, { type: 'gue', port: 6080, csum: 'csum' }],
      ['10.0.0.7', 80, 'TUN', 1, { type: 'gre', csum: 'csum' }],
    ]);
    // render → parse is the identity on tables
    expect(tablesEqual(parseSave(renderSave(t, { thresholds: true })), t)).toBe(true);
  });

  it('parses thresholds and connection counts', () => {
    const m = parseThresholds(THRESHOLDS);
    expect(m.get('TCP 10.0.0.1:80')?.get('10.0.0.3:8080')).toEqual({ uthreshold: 100, lthreshold: 50, activeConns: 3, inactiveConns: 12 });
    expect(m.get('TCP [2001:db8::1]:443')?.get('[2001:db8::5]:443')).toMatchObject({ activeConns: 1 });
    expect(m.get('FWM 2 inet6')?.get('[2001:db8::2]:0')).toMatchObject({ uthreshold: 7 });
    expect(m.get('TCP 10.0.0.10:80')?.size).toBe(0);
  });

  it('parses --stats --exact', () => {
    const s = parseStats(STATS);
    expect(s.get('TCP 10.50.0.1:80')).toMatchObject({ conns: 4, inPkts: 24, outPkts: 20, inBytes: 1554, outBytes: 2604 });
    expect(s.get('TCP 10.50.0.1:80')?.dests.get('10.51.0.2:80')?.conns).toBe(4);
    expect(s.get('FWM 2 inet6')?.conns).toBe(0);
    expect(parseStats('TCP  10.0.0.1:80    12K  3M 0 1G 0\n').get('TCP 10.0.0.1:80')).toMatchObject({ conns: 12_000, inPkts: 3_000_000, inBytes: 1e9 });
  });

  it('parses --daemon', () => {
    expect(
      parseDaemons(
        'master sync daemon (mcast=lo, syncid=7, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\nbackup sync daemon (mcast=eth1, syncid=0, maxlen=65507, group=224.0.0.81, port=8848, ttl=1)\n',
      ),
    ).toEqual([
      { role: 'master', interface: 'lo', syncid: 7, maxlen: 1472, group: '224.0.0.81', port: 8848, ttl: 1 },
      { role: 'backup', interface: 'eth1', syncid: 0, maxlen: 65507, group: '224.0.0.81', port: 8848, ttl: 1 },
    ]);
    expect(parseDaemons('')).toEqual([]);
  });

  it.each([
    ['-A -t 10.0.0.1:80 -s rr -p 300 -M 255.255.0.0 -b flag-1'],
    ['-E -u [2001:db8::1]:53 -s wlc -p 60 -M 64 --pe sip -o'],
    ['-D --sctp-service 10.0.0.1:99'],
    ['-a -f 3 -6 -r [2001:db8::9]:8080 -m -w 0 -x 10 -y 2'],
    ['-e -t 10.0.0.1:80 -r 10.0.0.2:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-remcsum'],
    ['-d -f 1 -r 10.0.0.2:0'],
  ])('command %s round-trips', (line) => {
    const c = parseCommand(line);
    expect(c.op).not.toBe('flush');
    if (c.op !== 'flush') expect(renderOperation(c)).toBe(line);
  });

  it('accepts long options and a leading "ipvsadm", and forces DR ports as ipvsadm does', () => {
    const c = parseCommand('ipvsadm --add-server --tcp-service 10.0.0.1:80 --real-server 10.0.0.2:8080 --gatewaying --weight 3');
    expect(c).toMatchObject({ op: 'add-dest', dest: { address: '10.0.0.2', port: 80, forwarding: 'DR', weight: 3 } });
    expect(parseCommand('-a -t 10.0.0.1:80 -r 10.0.0.2:8080 -g', { forceDestPort: false })).toMatchObject({ dest: { port: 8080 } });
    expect(parseCommand('-C')).toEqual({ op: 'flush' });
    expect(() => parseCommand('-A -t 10.0.0.1:80 --bogus')).toThrow(/Unknown ipvsadm option/);
    expect(() => parseCommand('-a -t 10.0.0.1:80')).toThrow(/No real server/);
  });
});

function fakeExec(handler: (args: readonly string[], input?: string) => Partial<ExecResult> | Error): Exec & { calls: { args: readonly string[]; input?: string }[] } {
  const calls: { args: readonly string[]; input?: string }[] = [];
  const fn = (async (args: readonly string[], input?: string) => {
    calls.push({ args, ...(input !== undefined ? { input } : {}) });
    const r = handler(args, input);
    if (r instanceof Error) throw r;
    return { code: 0, stdout: '', stderr: '', ...r };
  }) as Exec & { calls: typeof calls };
  fn.calls = calls;
  return fn;
}

describe('IpvsadmBackend', () => {
  it('reads -Sn and merges thresholds and connection counts from -Ln --thresholds', async () => {
    const exec = fakeExec((args) => ({ stdout: args[0] === '-Sn' ? SAVE : THRESHOLDS }));
    const t = await new IpvsadmBackend({ exec }).read();
    const d = t.find((s) => serviceKey(s.id) === 'TCP 10.0.0.1:80')?.dests.find((x) => x.address === '10.0.0.3');
    expect(d).toMatchObject({ uthreshold: 100, lthreshold: 50, activeConns: 3, inactiveConns: 12 });
    expect(exec.calls.map((c) => c.args.join(' ')).sort()).toEqual(['-Ln --thresholds', '-Sn']);
  });

  it('applies a plan as one ipvsadm -R with the script on stdin', async () => {
    const exec = fakeExec(() => ({}));
    const b = new IpvsadmBackend({ exec });
    const ops = [parseCommand('-A -t 10.0.0.1:80 -s rr'), parseCommand('-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1')].filter((c) => c.op !== 'flush');
    const r = await b.apply(ops as never);
    expect(exec.calls).toEqual([{ args: ['-R'], input: '-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1\n' }]);
    expect(r.script).toBe(exec.calls[0]?.input);
    await b.apply([]);
    expect(exec.calls).toHaveLength(1);
  });

  it('treats any stderr from ipvsadm -R as failure (its exit status is only the last line\'s)', async () => {
    const exec = fakeExec(() => ({ code: 0, stderr: 'Service already exists\n' }));
    await expect(new IpvsadmBackend({ exec }).applyScript('-A -t 10.0.0.1:80 -s rr\n-A -t 10.0.0.2:80 -s rr\n')).rejects.toMatchObject({
      kind: 'apply-failed',
      details: ['Service already exists'],
    });
  });

  it('says clearly when ipvsadm is missing or the kernel has no IPVS', async () => {
    const missing = fakeExec(() => Object.assign(new Error('spawn ipvsadm ENOENT'), { code: 'ENOENT' }));
    await expect(new IpvsadmBackend({ exec: missing }).read()).rejects.toThrow(/not found; install the ipvsadm package/);
    const noIpvs = fakeExec(() => ({
      code: 2,
      stderr: "modprobe: FATAL: Module ip_vs not found in directory /lib/modules/6.18\nCan't initialize ipvs: Protocol not available\nAre you sure that IP Virtual Server is built in the kernel or as module?\n",
    }));
    const err = await new IpvsadmBackend({ exec: noIpvs }).read().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IpvsError);
    expect(err).toMatchObject({ kind: 'no-ipvs' });
    expect((err as Error).message).toMatch(/^IPVS is not available in this kernel \(ipvsadm says: Can't initialize ipvs: Protocol not available\)/);
  });

  it('starts and stops sync daemons with every option', async () => {
    const exec = fakeExec(() => ({}));
    const b = new IpvsadmBackend({ exec });
    await b.startDaemon({ role: 'master', interface: 'eth1', syncid: 9, maxlen: 1400, group: '224.0.0.82', port: 8849, ttl: 2 });
    await b.stopDaemon('backup');
    expect(exec.calls.map((c) => c.args.join(' '))).toEqual([
      '--start-daemon master --mcast-interface eth1 --syncid 9 --sync-maxlen 1400 --mcast-group 224.0.0.82 --mcast-port 8849 --mcast-ttl 2',
      '--stop-daemon backup',
    ]);
  });

  it('reads the timeouts from -L --timeout, and says what it got when it cannot', async () => {
    expect(parseTimeouts('Timeout (tcp tcpfin udp): 900 120 300\n')).toEqual({ tcp: 900, tcpfin: 120, udp: 300 });
    const exec = fakeExec(() => ({ stdout: 'Timeout (tcp tcpfin udp): 7200 30 60\n' }));
    expect(await new IpvsadmBackend({ exec }).readTimeouts()).toEqual({ tcp: 7200, tcpfin: 30, udp: 60 });
    expect(exec.calls.map((c) => c.args.join(' '))).toEqual(['-L --timeout']);
    expect(() => parseTimeouts('nonsense')).toThrow(/Timeout \(tcp tcpfin udp\): N N N.*nonsense/);
  });
});
