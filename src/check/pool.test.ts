import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../config/load.js';
import { ConfigSchema, type Config, type ConfigInput } from '../config/schema.js';
import { ServicePool, type PoolEvent } from './pool.js';
import { resolveServices, type ServicePlan } from './spec.js';
import { fixture } from '../../test/fixtures/keepalived/fixtures.js';

type VsIn = NonNullable<ConfigInput['virtual_servers']>[number];


function service(vs: Partial<VsIn>, extra: Partial<ConfigInput> = {}): ServicePlan {
  const config: Config = ConfigSchema.parse({ ...extra, virtual_servers: [{ address: '10.0.0.1', port: 80, ...vs }] });
  return resolveServices(config).services[0] as ServicePlan;
}

const tcp = { type: 'TCP_CHECK' as const };

/** Sets every checker of an RS to `up` (the pool only sees verdicts). */
function setRs(pool: ServicePool, plan: ServicePlan, rsKey: string, up: boolean, extra: { weight?: number; weightDelta?: number } = {}): PoolEvent[] {
  const rs = plan.realServers.find((r) => r.key === rsKey);
  if (!rs) throw new Error(rsKey);
  return rs.checks.flatMap((c) => pool.setCheck(rsKey, c.key, { up, ...extra }));
}

const types = (events: readonly PoolEvent[]) => events.map((e) => e.type);

describe('ServicePool: real servers', () => {
  it('an RS is alive iff every checker is up; an RS without checkers is always alive', () => {
    const plan = service({
      real_servers: [
        { address: '10.0.1.1', checks: [tcp, { type: 'PING_CHECK' }] },
        { address: '10.0.1.2', checks: [] },
      ],
    });
    const pool = new ServicePool(plan);
    const [tcpKey, pingKey] = (plan.realServers[0]?.checks ?? []).map((c) => c.key) as [string, string];
    expect(types(pool.bootstrap())).toEqual(['rsUp', 'rsUp', 'quorumUp']);

    expect(pool.setCheck('10.0.1.1:80', pingKey, { up: false })).toEqual([
      { type: 'rsDown', vs: '10.0.0.1 80 TCP', rs: '10.0.1.1:80', address: '10.0.1.1', port: 80, weight: 1, check: pingKey },
    ]);
    // a checker's change while the RS stays down: only the checker's event (keepalived mails it unless no_checker_emails)
    expect(pool.setCheck('10.0.1.1:80', tcpKey, { up: false })).toEqual([
      { type: 'checkDown', vs: '10.0.0.1 80 TCP', rs: '10.0.1.1:80', address: '10.0.1.1', port: 80, check: tcpKey, alive: false },
    ]);
    expect(types(pool.setCheck('10.0.1.1:80', pingKey, { up: true }))).toEqual(['checkUp']); // tcp still down
    expect(types(pool.setCheck('10.0.1.1:80', tcpKey, { up: true }))).toEqual(['rsUp']);
    expect(pool.desired().backends.map((b) => b.key)).toEqual(['10.0.1.1:80', '10.0.1.2:80']);
    expect(pool.setCheck('10.0.1.9:80', tcpKey, { up: false })).toEqual([]); // unknown RS: ignored
  });

  it('alpha: real servers start down and are added after their first success', () => {
    const plan = service({ alpha: true, real_servers: [{ address: '10.0.1.1', checks: [tcp] }] });
    const pool = new ServicePool(plan);
    expect(types(pool.bootstrap())).toEqual(['quorumDown']);
    expect(pool.desired().backends).toEqual([]);
    expect(types(setRs(pool, plan, '10.0.1.1:80', true))).toEqual(['rsUp', 'quorumUp']);
    expect(pool.desired().backends).toMatchObject([{ key: '10.0.1.1:80', weight: 1, reason: 'alive', role: 'real', lvsMethod: 'NAT' }]);
  });

  it('inhibit_on_failure keeps a failed RS at weight 0 instead of removing it', () => {
    const plan = service({
      real_servers: [
        { address: '10.0.1.1', weight: 5, inhibit_on_failure: true, checks: [tcp] },
        { address: '10.0.1.2', weight: 5, checks: [tcp] },
      ],
    });
    const pool = new ServicePool(plan);
    setRs(pool, plan, '10.0.1.1:80', false);
    setRs(pool, plan, '10.0.1.2:80', false);
    expect(pool.desired().backends).toMatchObject([{ key: '10.0.1.1:80', weight: 0, reason: 'inhibited' }]);
    setRs(pool, plan, '10.0.1.1:80', true);
    expect(pool.desired().backends).toMatchObject([{ key: '10.0.1.1:80', weight: 5, reason: 'alive' }]);
  });

  it('MISC dynamic weights and FILE_CHECK deltas change the effective weight (rsWeight), clamped at 0', () => {
    const plan = service(
      {
        quorum: 1,
        real_servers: [
          { address: '10.0.1.1', weight: 10, checks: [{ type: 'MISC_CHECK', misc_path: '/bin/w', misc_dynamic: true }, { type: 'FILE_CHECK', track_file: 'tf' }] },
        ],
      },
      { track_files: { tf: { file: '/run/tf', weight: 2 } } },
    );
    const pool = new ServicePool(plan);
    const [misc, file] = (plan.realServers[0]?.checks ?? []).map((c) => c.key) as [string, string];
    expect(pool.setCheck('10.0.1.1:80', misc, { up: true, weight: 3 })).toMatchObject([{ type: 'rsWeight', weight: 3, previous: 10 }]);
    expect(pool.setCheck('10.0.1.1:80', file, { up: true, weightDelta: 4 })).toMatchObject([{ type: 'rsWeight', weight: 7, previous: 3 }]);
    expect(pool.setCheck('10.0.1.1:80', misc, { up: true })).toMatchObject([{ type: 'rsWeight', weight: 14, previous: 7 }]);
    // The RS weight drops to 0: still alive, but the pool weight is 0, so the quorum is lost.
    expect(types(pool.setCheck('10.0.1.1:80', file, { up: true, weightDelta: -50 }))).toEqual(['rsWeight', 'quorumDown']);
    expect(pool.rsState('10.0.1.1:80')).toMatchObject({ alive: true, weight: 0 });
    expect(pool.desired().backends).toMatchObject([{ key: '10.0.1.1:80', weight: 0, reason: 'alive' }]);
  });
});

describe('ServicePool: quorum, hysteresis and the sorry server', () => {
  it('fixture quorum.conf: gained at 9 alive (7+2), kept down to 5 (7−2), lost below 5', () => {
    const r = loadConfigFile(fixture('quorum.conf'), { configId: 'test' });
    const plan = resolveServices(r.config as Config).services[0] as ServicePlan;
    const pool = new ServicePool(plan);
    const keys = plan.realServers.map((rs) => rs.key);
    const log: string[] = [];
    const set = (i: number, up: boolean) => {
      for (const e of setRs(pool, plan, keys[i] as string, up)) if (e.type.startsWith('quorum')) log.push(`${e.type}@${pool.state().weight}`);
    };

    // alpha: every RS starts down, so the quorum starts lost.
    expect(pool.bootstrap()).toEqual([{ type: 'quorumDown', vs: '10.22.0.1 80 TCP', weight: 0, threshold: 9, initial: true }]);
    for (let i = 0; i < 8; i++) set(i, true);
    expect(pool.state()).toMatchObject({ quorumUp: false, weight: 8, threshold: 9 });
    set(8, true);
    expect(log).toEqual(['quorumUp@9']);
    expect(pool.state().threshold).toBe(5);
    set(9, true);
    // Flapping between 7 and 6 (and down to 5) does not lose the quorum.
    for (let i = 9; i >= 5; i--) set(i, false);
    expect(pool.state()).toMatchObject({ quorumUp: true, weight: 5 });
    set(5, true);
    set(5, false);
    expect(log).toEqual(['quorumUp@9']);
    set(4, false);
    expect(log).toEqual(['quorumUp@9', 'quorumDown@4']);
    // Back up needs 9 again, not 7.
    for (let i = 4; i < 8; i++) set(i, true);
    expect(pool.state()).toMatchObject({ quorumUp: false, weight: 8 });
    set(8, true);
    expect(log).toEqual(['quorumUp@9', 'quorumDown@4', 'quorumUp@9']);
  });

  it('sorry server: in when the quorum is lost (real servers out, inhibited ones at 0), out when it is back', () => {
    const plan = service({
      quorum: 2,
      sorry_server: { address: '10.0.9.9', port: 8080 },
      real_servers: [
        { address: '10.0.1.1', checks: [tcp] },
        { address: '10.0.1.2', checks: [tcp] },
        { address: '10.0.1.3', inhibit_on_failure: true, checks: [tcp] },
      ],
    });
    const pool = new ServicePool(plan);
    expect(types(pool.bootstrap())).toEqual(['rsUp', 'rsUp', 'rsUp', 'quorumUp']);
    expect(types(setRs(pool, plan, '10.0.1.1:80', false))).toEqual(['rsDown']);
    expect(types(setRs(pool, plan, '10.0.1.2:80', false))).toEqual(['rsDown', 'quorumDown', 'sorryIn']);
    const d = pool.desired();
    expect(d).toMatchObject({ quorumUp: false, sorryActive: true });
    expect(d.backends).toMatchObject([
      { key: '10.0.1.3:80', weight: 0, reason: 'displaced', role: 'real' },
      { key: '10.0.9.9:8080', weight: 1, reason: 'sorry', role: 'sorry' },
    ]);
    // One RS back restores the quorum (2 alive): the sorry server leaves and the alive RS return.
    expect(types(setRs(pool, plan, '10.0.1.1:80', true))).toEqual(['rsUp', 'quorumUp', 'sorryOut']);
    expect(pool.desired().backends.map((b) => [b.key, b.weight, b.reason])).toEqual([
      ['10.0.1.1:80', 1, 'alive'],
      ['10.0.1.3:80', 1, 'alive'],
    ]);
  });

  it('an RS that recovers while the sorry server serves stays out until the quorum is back', () => {
    const plan = service({
      quorum: 2,
      hysteresis: 1,
      sorry_server: { address: '10.0.9.9' },
      real_servers: ['10.0.1.1', '10.0.1.2', '10.0.1.3'].map((address) => ({ address, checks: [tcp] })),
    });
    const pool = new ServicePool(plan);
    expect(pool.state()).toMatchObject({ quorumUp: true, weight: 3, threshold: 1 });
    setRs(pool, plan, '10.0.1.1:80', false);
    expect(types(setRs(pool, plan, '10.0.1.2:80', false))).toEqual(['rsDown']); // 1 alive: not below 2−1
    expect(types(setRs(pool, plan, '10.0.1.3:80', false))).toEqual(['rsDown', 'quorumDown', 'sorryIn']);
    expect(types(setRs(pool, plan, '10.0.1.1:80', true))).toEqual(['rsUp']); // 1 < 2+1
    expect(types(setRs(pool, plan, '10.0.1.2:80', true))).toEqual(['rsUp']); // 2 < 3
    expect(pool.desired().backends.map((b) => b.key)).toEqual(['10.0.9.9:80']);
    expect(types(setRs(pool, plan, '10.0.1.3:80', true))).toEqual(['rsUp', 'quorumUp', 'sorryOut']);
    expect(pool.desired().backends.map((b) => b.key)).toEqual(['10.0.1.1:80', '10.0.1.2:80', '10.0.1.3:80']);
  });

  it('sorry_server_inhibit keeps the sorry server at weight 0 while the quorum is up', () => {
    const plan = service({ sorry_server: { address: '10.0.9.9', inhibit: true }, real_servers: [{ address: '10.0.1.1', checks: [tcp] }] });
    const pool = new ServicePool(plan);
    expect(pool.desired().backends).toMatchObject([
      { key: '10.0.1.1:80', weight: 1, reason: 'alive' },
      { key: '10.0.9.9:80', weight: 0, reason: 'sorryStandby', role: 'sorry' },
    ]);
    setRs(pool, plan, '10.0.1.1:80', false);
    expect(pool.desired().backends).toMatchObject([{ key: '10.0.9.9:80', weight: 1, reason: 'sorry' }]);
  });

  it('starts with the sorry server in when the quorum cannot be met at startup (alpha)', () => {
    const plan = service({ alpha: true, sorry_server: { address: '10.0.9.9' }, real_servers: [{ address: '10.0.1.1', checks: [tcp] }] });
    const pool = new ServicePool(plan);
    expect(pool.bootstrap()).toEqual([
      { type: 'quorumDown', vs: '10.0.0.1 80 TCP', weight: 0, threshold: 1, initial: true },
      { type: 'sorryIn', vs: '10.0.0.1 80 TCP', sorry: '10.0.9.9:80', address: '10.0.9.9', port: 80, initial: true },
    ]);
    expect(pool.desired().backends).toMatchObject([{ key: '10.0.9.9:80', role: 'sorry' }]);
  });

  it('without a sorry server, losing the quorum only notifies; the alive RS stay', () => {
    const plan = service({ quorum: 2, real_servers: [{ address: '10.0.1.1', checks: [tcp] }, { address: '10.0.1.2', checks: [tcp] }] });
    const pool = new ServicePool(plan);
    expect(types(setRs(pool, plan, '10.0.1.2:80', false))).toEqual(['rsDown', 'quorumDown']);
    expect(pool.desired()).toMatchObject({ quorumUp: false, sorryActive: false, backends: [{ key: '10.0.1.1:80', weight: 1 }] });
  });
});

describe('ServicePool.applyPlan (reload)', () => {
  it('keeps the state of RS and checkers present in both plans, adds new RS, drops removed ones', () => {
    const before = service({ real_servers: [{ address: '10.0.1.1', checks: [tcp] }, { address: '10.0.1.2', checks: [tcp] }] });
    const pool = new ServicePool(before);
    setRs(pool, before, '10.0.1.1:80', false);
    const after = service({
      quorum: 1,
      real_servers: [
        { address: '10.0.1.1', checks: [tcp] },
        { address: '10.0.1.3', checks: [tcp] },
      ],
    });
    const events = pool.applyPlan(after);
    expect(events).toMatchObject([{ type: 'rsUp', rs: '10.0.1.3:80' }]);
    expect(pool.state().realServers.map((r) => [r.key, r.alive])).toEqual([
      ['10.0.1.1:80', false],
      ['10.0.1.3:80', true],
    ]);
  });

  it('a changed weight of an alive RS gives rsWeight; a changed quorum is re-evaluated', () => {
    const before = service({ real_servers: [{ address: '10.0.1.1', weight: 1, checks: [tcp] }] });
    const pool = new ServicePool(before);
    const after = service({ quorum: 1, real_servers: [{ address: '10.0.1.1', weight: 4, checks: [tcp] }] });
    expect(pool.applyPlan(after)).toMatchObject([{ type: 'rsWeight', weight: 4, previous: 1 }]);
    const stricter = service({ quorum: 5, real_servers: [{ address: '10.0.1.1', weight: 4, checks: [tcp] }, { address: '10.0.1.2', weight: 4, alpha: true, checks: [tcp] }] });
    expect(types(pool.applyPlan(stricter))).toEqual(['quorumDown']);
  });
});
