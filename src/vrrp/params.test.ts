import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../config/load.js';
import { ConfigSchema, type Config, type ConfigInput } from '../config/schema.js';
import { VrrpInstance } from './instance.js';
import {
  InstanceConfigError,
  effectiveAdvertIntervalMs,
  instanceExpectations,
  instanceParams,
  instanceWire,
  resolveInstance,
} from './params.js';

type InstanceIn = NonNullable<ConfigInput['instances']>[string];

function cfg(inst: Partial<InstanceIn>, global: ConfigInput['global'] = {}): Config {
  return ConfigSchema.parse({
    global,
    instances: { VI_1: { interface: 'eth0', virtual_router_id: 51, virtual_ipaddress: ['10.0.0.100/24'], ...inst } },
  });
}

describe('instanceParams: keepalived defaults', () => {
  it('maps a minimal instance to keepalived 2.4 defaults', () => {
    const p = instanceParams(cfg({}), 'VI_1', '10.0.0.1');
    expect(p).toEqual({
      name: 'VI_1',
      vrid: 51,
      primaryIp: '10.0.0.1',
      version: 2,
      family: 4,
      priority: 100,
      advertIntervalMs: 1000,
      initialState: 'BACKUP',
      preempt: true,
      preemptDelayMs: 0,
      downTimerAdverts: 3,
      lowerPrioNoAdvert: false,
      higherPrioSendAdvert: true, // vipkeeper's default (keepalived: false): see the schema
      ownerIgnoreAdverts: false,
      transitionHistory: 20,
      garp: {
        masterDelayMs: 5000,
        masterRepeat: 5,
        masterRefreshMs: 0,
        masterRefreshRepeat: 1,
        lowerPrioDelayMs: 5000,
        lowerPrioRepeat: 5,
        intervalMs: 0,
      },
    });
    // The state machine accepts what we produce.
    expect(() => new VrrpInstance(p)).not.toThrow();
  });

  it('takes global vrrp_* defaults, and per-instance keys win over them', () => {
    const global = {
      vrrp_version: 3 as const,
      vrrp_garp_master_delay: '2s',
      vrrp_garp_master_repeat: 3,
      vrrp_garp_master_refresh: '60s',
      vrrp_garp_master_refresh_repeat: 2,
      vrrp_garp_interval: '10ms',
      vrrp_down_timer_adverts: 5,
      vrrp_lower_prio_no_advert: true,
      vrrp_higher_prio_send_advert: true,
    };
    const g = instanceParams(cfg({ advert_int: '100ms' }, global), 'VI_1', '10.0.0.1');
    expect(g).toMatchObject({
      version: 3,
      advertIntervalMs: 100,
      downTimerAdverts: 5,
      lowerPrioNoAdvert: true,
      higherPrioSendAdvert: true,
      garp: { masterDelayMs: 2000, masterRepeat: 3, masterRefreshMs: 60_000, masterRefreshRepeat: 2, lowerPrioDelayMs: 2000, lowerPrioRepeat: 3, intervalMs: 10 },
    });
    const i = instanceParams(
      cfg(
        {
          version: 2,
          garp_master_delay: '1s',
          garp_master_repeat: 2,
          garp_lower_prio_repeat: 1,
          down_timer_adverts: 4,
          lower_prio_no_advert: false,
          higher_prio_send_advert: false,
        },
        global,
      ),
      'VI_1',
      '10.0.0.1',
    );
    expect(i).toMatchObject({
      version: 2,
      downTimerAdverts: 4,
      lowerPrioNoAdvert: false,
      higherPrioSendAdvert: false,
      garp: { masterDelayMs: 1000, masterRepeat: 2, lowerPrioDelayMs: 1000, lowerPrioRepeat: 1 },
    });
  });

  it('maps state, priority, nopreempt and preempt_delay', () => {
    expect(instanceParams(cfg({ state: 'MASTER', priority: 150 }), 'VI_1', '10.0.0.1')).toMatchObject({ initialState: 'MASTER', priority: 150 });
    expect(instanceParams(cfg({ nopreempt: true, preempt_delay: '3s' }), 'VI_1', '10.0.0.1')).toMatchObject({ preempt: false, preemptDelayMs: 3000 });
  });

  it('IPv6 instances are VRRPv3 and use vrrp_gna_interval', () => {
    const c = cfg({ virtual_ipaddress: ['fe80::100/64', 'fd00::100/64'], advert_int: '0.5s' }, { vrrp_gna_interval: '20ms', vrrp_garp_interval: '5ms' });
    const r = resolveInstance(c, 'VI_1', 'fe80::1');
    expect(r.params).toMatchObject({ version: 3, family: 6, advertIntervalMs: 500, garp: { intervalMs: 20 } });
    expect(r.wire).toMatchObject({ family: 6, version: 3, mcastGroup: 'ff02::12', addresses: ['fe80::100', 'fd00::100'] });
    expect(r.expectations).toMatchObject({ family: 6, version: 3, advertIntervalCs: 50, mcastGroup: 'ff02::12' });
  });

  it('vrrp_min_garp: one GARP round, no delayed burst, no refresh (instance keys still win)', () => {
    expect(instanceParams(cfg({}, { vrrp_min_garp: true }), 'VI_1', '10.0.0.1').garp).toMatchObject({
      masterDelayMs: 0,
      masterRepeat: 1,
      masterRefreshMs: 0,
      lowerPrioDelayMs: 0,
      lowerPrioRepeat: 1,
    });
    expect(instanceParams(cfg({ garp_master_repeat: 4 }, { vrrp_min_garp: true }), 'VI_1', '10.0.0.1').garp.masterRepeat).toBe(4);
  });

  it('rounds advert intervals the way keepalived does', () => {
    expect(effectiveAdvertIntervalMs(2, 1000)).toBe(1000);
    expect(effectiveAdvertIntervalMs(2, 1400)).toBe(1000);
    expect(effectiveAdvertIntervalMs(2, 100)).toBe(1000);
    expect(effectiveAdvertIntervalMs(2, 400_000)).toBe(255_000);
    expect(effectiveAdvertIntervalMs(3, 104)).toBe(100);
    expect(effectiveAdvertIntervalMs(3, 1)).toBe(10);
    expect(effectiveAdvertIntervalMs(3, 50_000)).toBe(40_950);
  });

  it('throws for an unknown instance', () => {
    expect(() => instanceParams(cfg({}), 'nope', '10.0.0.1')).toThrow(InstanceConfigError);
  });
});

describe('strict mode', () => {
  it('forces keepalived strict rules and says so', () => {
    const c = cfg(
      {
        state: 'MASTER',
        priority: 200,
        preempt_delay: '5s',
        down_timer_adverts: 7,
        lower_prio_no_advert: false,
        higher_prio_send_advert: true,
        authentication: { auth_type: 'PASS', auth_pass: 'secret12' },
      },
      { vrrp_strict: true },
    );
    const r = resolveInstance(c, 'VI_1', '10.0.0.1');
    expect(r.params).toMatchObject({
      initialState: 'BACKUP',
      preemptDelayMs: 0,
      downTimerAdverts: 3,
      lowerPrioNoAdvert: true,
      higherPrioSendAdvert: false,
      // only an address owner ignores adverts (keepalived 2.3: off below priority 255)
      ownerIgnoreAdverts: false,
      garp: { lowerPrioRepeat: 0, lowerPrioDelayMs: 0 },
    });
    expect(r.expectations).toMatchObject({ authType: 0, ownerIgnoreAdverts: false });
    expect(r.expectations.authPassword).toBeUndefined();
    expect(r.wire.authType).toBe(0);
    expect(r.warnings.join('\n')).toMatch(/state MASTER needs priority 255/);
    expect(r.warnings.join('\n')).toMatch(/authentication is not allowed/);
    expect(r.warnings.join('\n')).not.toContain('secret12');
  });

  it('per-instance strict_mode overrides the global switch', () => {
    expect(instanceParams(cfg({ strict_mode: false, priority: 255 }, { vrrp_strict: true }), 'VI_1', '10.0.0.1').ownerIgnoreAdverts).toBe(false);
    expect(instanceParams(cfg({ strict_mode: true, priority: 255 }), 'VI_1', '10.0.0.1').ownerIgnoreAdverts).toBe(true);
  });

  it('owner_ignore_adverts / vrrp_owner_ignore_adverts: an address owner only; strict mode sets it', () => {
    const p = (inst: Record<string, unknown>, g: Record<string, unknown> = {}) => resolveInstance(cfg(inst, g), 'VI_1', '10.0.0.1');
    expect(p({ priority: 255 }).params.ownerIgnoreAdverts).toBe(false);
    expect(p({ priority: 255 }, { vrrp_owner_ignore_adverts: true }).params.ownerIgnoreAdverts).toBe(true);
    expect(p({ priority: 255, owner_ignore_adverts: false }, { vrrp_owner_ignore_adverts: true }).params.ownerIgnoreAdverts).toBe(false);
    expect(p({ priority: 255, owner_ignore_adverts: true }).expectations.ownerIgnoreAdverts).toBe(true);
    const low = p({ priority: 100, owner_ignore_adverts: true });
    expect(low.params.ownerIgnoreAdverts).toBe(false);
    expect(low.warnings).toContain('owner_ignore_adverts ignored: the priority is not 255');
    const strict = p({ priority: 255, strict_mode: true, owner_ignore_adverts: false });
    expect(strict.params.ownerIgnoreAdverts).toBe(true);
  });

  it('keeps state MASTER for an address owner', () => {
    expect(instanceParams(cfg({ state: 'MASTER', priority: 255 }, { vrrp_strict: true }), 'VI_1', '10.0.0.1').initialState).toBe('MASTER');
  });
});

describe('codec expectations and wire', () => {
  it('PASS authentication on VRRPv2', () => {
    const c = cfg({ authentication: { auth_type: 'PASS', auth_pass: '1111' } });
    expect(instanceExpectations(c, 'VI_1')).toMatchObject({ vrid: 51, version: 2, family: 4, advertIntervalCs: 100, authType: 1, authPassword: '1111', addresses: ['10.0.0.100'] });
    expect(instanceWire(c, 'VI_1')).toMatchObject({ authType: 1, authPassword: '1111' });
  });

  it('ignores authentication on VRRPv3 with a warning', () => {
    const r = resolveInstance(cfg({ version: 3, authentication: { auth_type: 'PASS', auth_pass: 'abcdefgh' } }), 'VI_1', '10.0.0.1');
    expect(r.expectations.authType).toBe(0);
    expect(r.warnings).toEqual(['authentication is VRRPv2-only; ignored for VRRPv3']);
  });

  it('rejects IPsec AH, which the engine does not implement', () => {
    expect(() => instanceParams(cfg({ authentication: { auth_type: 'AH', auth_pass: 'x' } }), 'VI_1', '10.0.0.1')).toThrow(/AH/);
  });

  it('unicast peers, source address, TTL and source check', () => {
    const c = cfg(
      {
        unicast_src_ip: '10.0.0.1',
        unicast_peer: ['10.0.0.2', { address: '10.0.0.3', min_ttl: 250, max_ttl: 255 }],
        unicast_ttl: 64,
        mcast_src_ip: '10.0.0.9',
      },
      { vrrp_check_unicast_src: true },
    );
    const w = instanceWire(c, 'VI_1');
    expect(w).toMatchObject({ srcIp: '10.0.0.1', unicastTtl: 64, unicastPeers: [{ address: '10.0.0.2' }, { address: '10.0.0.3', minTtl: 250, maxTtl: 255 }] });
    expect(instanceExpectations(c, 'VI_1')).toMatchObject({ checkUnicastSrc: true, unicastPeers: w.unicastPeers });
    // multicast mode uses mcast_src_ip
    expect(instanceWire(cfg({ mcast_src_ip: '10.0.0.9' }), 'VI_1')).toMatchObject({ srcIp: '10.0.0.9', unicastPeers: [], unicastTtl: 255 });
  });

  it('unicast_fault_no_peer without peers is a config fault', () => {
    expect(resolveInstance(cfg({ unicast_fault_no_peer: true }), 'VI_1', '10.0.0.1').configFault).toMatch(/no unicast peers/);
    expect(resolveInstance(cfg({}), 'VI_1', '10.0.0.1').configFault).toBeUndefined();
  });

  it('multicast group: mcast_dst_ip, else the global group', () => {
    expect(instanceWire(cfg({}, { vrrp_mcast_group4: '224.0.0.19' }), 'VI_1').mcastGroup).toBe('224.0.0.19');
    expect(instanceWire(cfg({ mcast_dst_ip: '224.0.0.20' }), 'VI_1').mcastGroup).toBe('224.0.0.20');
    expect(() => instanceWire(cfg({ mcast_dst_ip: 'ff02::12' }), 'VI_1')).toThrow(/not IPv4/);
  });

  it('v3_checksum_as_v2 applies to VRRPv3 over IPv4 only', () => {
    expect(instanceWire(cfg({ version: 3 }, { v3_checksum_as_v2: true }), 'VI_1').v3ChecksumAsV2).toBe(true);
    expect(instanceWire(cfg({ version: 3, v3_checksum_as_v2: false }, { v3_checksum_as_v2: true }), 'VI_1').v3ChecksumAsV2).toBe(false);
    expect(instanceWire(cfg({}, { v3_checksum_as_v2: true }), 'VI_1').v3ChecksumAsV2).toBe(false);
  });

  it('VIPs to configure include the excluded ones; only virtual_ipaddress is advertised', () => {
    const r = resolveInstance(cfg({ virtual_ipaddress_excluded: ['10.0.1.5/32 dev eth1'] }), 'VI_1', '10.0.0.1');
    expect(r.vips.map((v) => v.address)).toEqual(['10.0.0.100', '10.0.1.5']);
    expect(r.wire.addresses).toEqual(['10.0.0.100']);
    expect(r.defaultDev).toBe('eth0');
  });
});

describe('from keepalived.conf', () => {
  it('state MASTER without priority is the address owner; advert_int 0.1 on v3', () => {
    const text = [
      'global_defs {',
      '  vrrp_version 3',
      '}',
      'vrrp_instance VI_LAB {',
      '  state MASTER',
      '  interface eth0',
      '  virtual_router_id 51',
      '  advert_int 0.1',
      '  virtual_ipaddress {',
      '    10.99.0.100/24 dev eth0',
      '  }',
      '}',
    ].join('\n');
    const loaded = loadConfigText(text, 'k.conf', { configId: 'x', format: 'keepalived' });
    expect(loaded.config).toBeDefined();
    const p = instanceParams(loaded.config!, 'VI_LAB', '10.99.0.11');
    expect(p).toMatchObject({ version: 3, priority: 255, initialState: 'MASTER', advertIntervalMs: 100 });
  });
});
