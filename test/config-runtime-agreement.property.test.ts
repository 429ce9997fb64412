// check, run and reload never disagree (issue 15, point 3): a config that loads without an error
// is one the VRRP engine starts. Before, `auth_type AH` passed check and `run` then exited 3.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../src/config/diagnostics.js';
import { loadConfigText } from '../src/config/load.js';
import { ConfigSchema } from '../src/config/schema.js';
import { validateConfig } from '../src/config/validate.js';
import { resolveInstance } from '../src/vrrp/params.js';
import { resolveTrackers } from '../src/vrrp/tracking.js';

const v4 = fc.constantFrom('10.0.0.1', '10.0.0.2', '192.0.2.7', '224.0.0.18', '224.0.0.99');
const v6 = fc.constantFrom('fd00::1', 'fd00::2', 'fe80::1', 'ff02::12', 'ff02::99');
// mostly IPv4, so that many generated instances are valid and reach the engine
const ip = fc.oneof({ arbitrary: v4, weight: 6 }, { arbitrary: v6, weight: 1 });

const instance = fc.record(
  {
    interface: fc.constantFrom('eth0', 'eth1'),
    virtual_router_id: fc.integer({ min: 1, max: 20 }),
    priority: fc.integer({ min: 1, max: 255 }),
    state: fc.constantFrom('MASTER', 'BACKUP'),
    version: fc.constantFrom(2, 3),
    advert_int: fc.constantFrom(1, 1, 2, 0.5),
    strict_mode: fc.boolean(),
    preempt_delay: fc.constantFrom(0, 0, 10, 1000, 2000),
    virtual_ipaddress: fc.array(ip, { maxLength: 3 }),
    unicast_peer: fc.array(ip, { maxLength: 2 }),
    unicast_src_ip: ip,
    mcast_src_ip: ip,
    mcast_dst_ip: ip,
    authentication: fc.record({ auth_type: fc.constantFrom('PASS', 'AH'), auth_pass: fc.constantFrom('secret', 'longerthan8') }),
  },
  { requiredKeys: ['virtual_router_id'] },
);

const config = fc.record(
  {
    global: fc.record({ vrrp_version: fc.constantFrom(2, 3), vrrp_strict: fc.boolean(), vrrp_mcast_group4: v4, vrrp_mcast_group6: v6 }, { requiredKeys: [] }),
    instances: fc.dictionary(fc.constantFrom('A', 'B', 'C'), instance, { maxKeys: 3 }),
  },
  { requiredKeys: ['instances'] },
);

describe('check and run agree', () => {
  it('every config that validates starts in the VRRP engine (params and trackers resolve)', () => {
    let started = 0;
    fc.assert(
      fc.property(config, (input) => {
        const parsed = ConfigSchema.safeParse(input);
        if (!parsed.success) return;
        if (validateConfig(parsed.data).some((i) => i.severity === 'error')) return;
        for (const name of Object.keys(parsed.data.instances)) {
          expect(() => resolveInstance(parsed.data, name, '10.0.0.9')).not.toThrow();
          expect(() => resolveTrackers(parsed.data, name)).not.toThrow();
          started++;
        }
      }),
      { numRuns: 3000 },
    );
    // the generator reaches valid configs often enough for this to mean something
    expect(started).toBeGreaterThan(300);
  });

  it('auth_type AH is refused by check, located, instead of failing run', () => {
    const text = 'vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 5\n  authentication {\n    auth_type AH\n    auth_pass secret\n  }\n  virtual_ipaddress {\n    10.0.0.1/24\n  }\n}\n';
    const r = loadConfigText(text, '/etc/keepalived/keepalived.conf', { configId: 'x' });
    expect(r.config).toBeUndefined();
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      '/etc/keepalived/keepalived.conf:5:5: error: auth_type AH is refused: vipkeeper does not implement IPsec AH (the engine would not start); use PASS, or no authentication',
    ]);
    expect(r.diagnostics.map(formatDiagnostic).join('\n')).not.toContain('secret');
  });
});
