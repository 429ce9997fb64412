import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GIVE_UP, parseConfigModel, readRealServer } from './parse-model.js';
import { ConfigSchema, RealServerSchema } from './schema.js';

// Values at and past every boundary the real-server schema has, and of every wrong type.
const VALUES: unknown[] = [
  0, -0, 1, -1, 2, 80, 65535, 65536, 2147483647, 2147483648, 1.5, 2 ** 53, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, NaN, Infinity, -Infinity,
  '', '1s', '100ms', ' 2 s ', '1.5', '3', '1x', 'x', '10.0.0.1', '::1', 'fe80::1%eth0', '1.2.3', 'DR', 'NAT', 'TUN', 'dr', 'eth0',
  true, false, null, undefined, [], {}, { command: '/bin/true' },
];
const RS_KEYS = [...Object.keys(RealServerSchema.shape), 'bogus'];
const CHECK_KEYS = ['connect_ip', 'connect_port', 'bindto', 'bind_port', 'bind_if', 'fwmark', 'connect_timeout', 'retry', 'delay_before_retry', 'delay_loop', 'warmup', 'alpha', 'log_all_failures', 'url', 'track_file', 'bogus'];

// Per key, values near its own range (so many servers get far enough to test the edge), else any.
const NEAR: Record<string, unknown[]> = {
  address: ['10.0.0.1', '2001:db8::1', 'nope'],
  port: [0, 80, 65535, 65536, -1, 1.5],
  weight: [0, 1, 2147483647, 2147483648, -1],
  lvs_method: ['NAT', 'DR', 'TUN', 'dr'],
  virtualhost: ['', 'www'],
  bind_if: ['eth0', ''],
  type: ['TCP_CHECK', 'PING_CHECK', 'HTTP_GET', 'MISC_CHECK', 'FILE_CHECK', 'tcp_check', 1],
};
const DURATIONS = ['1s', '100ms', ' 2 s ', '1.5', '1x', 0, 3, -1, 1.5, Infinity];
for (const k of ['connect_timeout', 'delay_before_retry', 'delay_loop', 'warmup']) NEAR[k] = DURATIONS;
for (const k of ['retry', 'uthreshold', 'lthreshold', 'fwmark']) NEAR[k] = [0, 1, 2 ** 53, -1, 1.5];
for (const k of ['connect_port', 'bind_port']) NEAR[k] = NEAR.port!;
for (const k of ['connect_ip', 'bindto']) NEAR[k] = NEAR.address!;
for (const k of ['alpha', 'inhibit_on_failure', 'smtp_alert', 'log_all_failures']) NEAR[k] = [true, false, 0];
const valueFor = (k: string) => fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...(NEAR[k] ?? VALUES)) }, { weight: 1, arbitrary: fc.constantFrom(...VALUES) });
const object = (keys: string[], max: number) =>
  fc.subarray(keys, { maxLength: max }).chain((ks) => fc.tuple(...ks.map((k) => valueFor(k))).map((vs) => Object.fromEntries(ks.map((k, i) => [k, vs[i]]))));

const check = fc.tuple(object(CHECK_KEYS, 4), fc.option(valueFor('type'), { freq: 8 })).map(([rest, type]) => (type === null ? rest : { type, ...rest }));
const realServer = fc.tuple(
  object(RS_KEYS.filter((k) => k !== 'checks' && k !== 'address'), 4),
  fc.oneof({ weight: 4, arbitrary: fc.array(check, { maxLength: 3 }) }, { weight: 1, arbitrary: fc.constantFrom(...VALUES) }),
  fc.boolean(),
  valueFor('address'),
).map(([rest, checks, withChecks, address]) => ({ address, ...rest, ...(withChecks ? { checks } : {}) }));

/** The output as zod builds it: the values and the order of the keys. */
const same = (a: unknown, b: unknown) => {
  expect(a).toStrictEqual(b);
  expect(JSON.stringify(a)).toBe(JSON.stringify(b));
};

describe('the real-server fast path', () => {
  it('gives what zod gives, or gives up (never accepts what zod refuses)', () => {
    let read = 0;
    fc.assert(
      fc.property(realServer, (rs) => {
        const fast = readRealServer(rs);
        if (fast === GIVE_UP) return;
        read++;
        const z = RealServerSchema.safeParse(rs);
        expect(z.success).toBe(true);
        same(fast, z.data);
      }),
      { numRuns: 3000, seed: 19 },
    );
    // not vacuous: a good share of the random servers are read fast
    expect(read).toBeGreaterThan(300);
  });

  it('reads the usual real server (a TCP_CHECK, durations as text and as seconds)', () => {
    const rs = { address: '10.1.0.1', port: 80, weight: 1, checks: [{ type: 'TCP_CHECK', connect_port: 80, connect_timeout: '3s', retry: 2, delay_before_retry: 2 }] };
    const fast = readRealServer(rs);
    expect(fast).not.toBe(GIVE_UP);
    same(fast, RealServerSchema.parse(rs));
    same(readRealServer({ address: '10.1.0.2' }), RealServerSchema.parse({ address: '10.1.0.2' }));
  });

  it('the whole model: the same as zod alone, and zod decides every problem', () => {
    const vs = (rs: unknown[]) => ({ address: '10.0.0.1', port: 80, lb_kind: 'DR', real_servers: rs });
    const good = { global: { router_id: 'a' }, virtual_servers: [vs([{ address: '10.1.0.1', checks: [{ type: 'TCP_CHECK' }] }, { address: '10.1.0.2', weight: 3 }]), vs([])] };
    same(parseConfigModel(good), ConfigSchema.safeParse(good));
    // a bad real server, a bad virtual-server field, a bad global field: zod's issues, unchanged
    for (const bad of [
      { virtual_servers: [vs([{ address: '10.1.0.1', weight: -1 }, { address: 'x' }])] },
      { virtual_servers: [{ ...vs([{ address: '10.1.0.1' }]), lb_algo: 'nope' }] },
      { global: { nope: 1 }, virtual_servers: [vs([{ address: '10.1.0.1' }])] },
      { virtual_servers: [vs([{ address: '10.1.0.1', tunnel: { type: 'gre' } }])] },
    ]) {
      const a = parseConfigModel(bad);
      const b = ConfigSchema.safeParse(bad);
      expect(a.success).toBe(b.success);
      same(a.error?.issues, b.error?.issues);
      same(a.data, b.data);
    }
  });
});
