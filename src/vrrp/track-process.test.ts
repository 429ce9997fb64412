import { describe, expect, it } from 'vitest';
import { FakeClock } from '../sys/clock.js';
import { paramsMatch, ProcessTrackerCore, type ProcessTrackerState, type TrackProcessDef } from './track-process.js';

const def = (d: Partial<TrackProcessDef> & { process: string }): TrackProcessDef => ({
  param_match: 'exact',
  full_command: false,
  weight: 0,
  weight_reverse: false,
  quorum: 1,
  ...d,
});

function setup(defs: Record<string, TrackProcessDef>) {
  const clock = new FakeClock();
  const changes: [string, ProcessTrackerState][] = [];
  const core = new ProcessTrackerCore(defs, { clock, onChange: (n, s) => changes.push([n, s]) });
  return { clock, changes, core };
}

const cmd = (...argv: string[]): string => argv.map((a) => `${a}\0`).join('');

describe('paramsMatch (keepalived check_params)', () => {
  it.each([
    ['exact', undefined, '', true],
    ['exact', undefined, cmd('x'), false],
    ['exact', cmd('10'), cmd('10'), true],
    ['exact', cmd('10'), cmd('100'), false],
    ['exact', cmd('10'), cmd('10', 'x'), false],
    ['partial', cmd('10'), cmd('10', 'x'), true],
    ['partial', cmd('10'), cmd('100'), false],
    ['partial', undefined, cmd('anything'), true],
    ['initial', cmd('10'), cmd('100'), true],
    ['initial', cmd('10'), cmd('100', 'x'), true],
    ['initial', cmd('a', '10'), cmd('b', '100'), false],
    ['initial', cmd('10'), cmd('1'), false],
    ['none', cmd('10'), cmd('zzz'), true],
  ] as const)('%s %j against %j → %s', (match, configured, actual, want) => {
    expect(paramsMatch(match, configured, actual)).toBe(want);
  });
});

describe('ProcessTrackerCore', () => {
  it('matches on comm by default, on argv[0] with full_command, on arguments when given', () => {
    const { core } = setup({
      byComm: def({ process: 'sleep' }),
      byPath: def({ process: '/bin/sleep', full_command: true }),
      byArgs: def({ process: 'sleep', args: ['1000'] }),
      bareOnly: def({ process: 'sleep', args: [] }),
      partial: def({ process: 'sleep', args: ['1000'], param_match: 'partial' }),
    });
    core.scan([
      { pid: 1, id: { comm: 'sleep', cmdline: cmd('/bin/sleep', '5') } },
      { pid: 2, id: { comm: 'sleep', cmdline: cmd('sleep', '1000') } },
      { pid: 3, id: { comm: 'sleep', cmdline: cmd('sleep', '1000', 'x') } },
      { pid: 4, id: { comm: 'sleep', cmdline: cmd('sleep') } },
      { pid: 5, id: { comm: 'bash', cmdline: cmd('bash') } },
    ]);
    const counts = Object.fromEntries(Object.entries(core.states()).map(([n, s]) => [n, s.count]));
    expect(counts).toEqual({ byComm: 4, byPath: 1, byArgs: 1, bareOnly: 1, partial: 2 });
    expect(core.needsCmdline && core.needsComm).toBe(true);
  });

  it('quorum and quorum_max: in range is up; the start sets the state without onChange', () => {
    const { core, changes } = setup({ p: def({ process: 'nginx', quorum: 2, quorum_max: 3 }) });
    core.scan([{ pid: 10, id: { comm: 'nginx' } }]);
    expect(core.state('p')).toEqual({ count: 1, quorum: false });
    core.exec(11, { comm: 'nginx' });
    expect(core.state('p')).toEqual({ count: 2, quorum: true });
    core.exec(12, { comm: 'nginx' });
    core.exec(13, { comm: 'nginx' });
    expect(core.state('p')).toEqual({ count: 4, quorum: false });
    core.exit(13);
    expect(core.state('p')).toEqual({ count: 3, quorum: true });
    core.exit(12);
    core.exit(11);
    expect(core.state('p')).toEqual({ count: 1, quorum: false });
    expect(changes.map(([, s]) => s.quorum)).toEqual([true, false, true, false]);
  });

  it('quorum_max 0: up only while none runs', () => {
    const { core } = setup({ p: def({ process: 'bad', quorum_max: 0 }) });
    core.scan([]);
    expect(core.state('p')).toEqual({ count: 0, quorum: true });
    core.exec(5, { comm: 'bad' });
    expect(core.state('p')!.quorum).toBe(false);
    core.exit(5);
    expect(core.state('p')!.quorum).toBe(true);
  });

  it('a fork of a counted process counts the child; threads and unrelated forks do not', () => {
    const { core } = setup({ p: def({ process: 'nginx', quorum: 3 }) });
    core.scan([{ pid: 10, id: { comm: 'nginx' } }]);
    core.fork(10, 11);
    core.fork(99, 100);
    core.fork(11, 12);
    expect(core.state('p')).toEqual({ count: 3, quorum: true });
    // the child execs something else: it stops counting at once
    core.exec(12, { comm: 'sh' });
    expect(core.state('p')).toEqual({ count: 2, quorum: false });
  });

  it('terminate_delay delays the loss by exit; a new process within it keeps quorum', () => {
    const { core, clock, changes } = setup({ p: def({ process: 'x', terminate_delay: 2000 }) });
    core.scan([{ pid: 1, id: { comm: 'x' } }]);
    core.exit(1);
    clock.advance(1999);
    expect(core.state('p')).toEqual({ count: 0, quorum: true });
    core.exec(2, { comm: 'x' });
    clock.advance(5000);
    expect(core.state('p')).toEqual({ count: 1, quorum: true });
    expect(changes).toEqual([]);
    core.exit(2);
    clock.advance(2000);
    expect(changes).toEqual([['p', { count: 0, quorum: false }]]);
  });

  it('terminate_delay does not delay a loss by exec or rename', () => {
    const { core } = setup({ p: def({ process: 'x', terminate_delay: 2000 }) });
    core.scan([{ pid: 1, id: { comm: 'x' } }]);
    core.comm(1, 'y');
    expect(core.state('p')).toEqual({ count: 0, quorum: false });
    core.comm(1, 'x');
    expect(core.state('p')).toEqual({ count: 1, quorum: true });
    core.exec(1, { comm: 'z' });
    expect(core.state('p')).toEqual({ count: 0, quorum: false });
  });

  it('fork_delay delays a gain through fork, not through exec; an exit in the delay cancels it', () => {
    const { core, clock } = setup({ p: def({ process: 'w', quorum: 2, fork_delay: 1000 }) });
    core.scan([{ pid: 1, id: { comm: 'w' } }]);
    core.fork(1, 2);
    expect(core.state('p')).toEqual({ count: 2, quorum: false });
    clock.advance(1000);
    expect(core.state('p')).toEqual({ count: 2, quorum: true });
    core.exit(2);
    expect(core.state('p')!.quorum).toBe(false);
    core.fork(1, 3);
    core.exit(3); // within the fork delay: the timer is cancelled and the state decided now
    clock.advance(5000);
    expect(core.state('p')).toEqual({ count: 1, quorum: false });
    core.exec(4, { comm: 'w' });
    expect(core.state('p')!.quorum).toBe(true);
  });

  it('a rename to the tracked name counts; a rename of a full-command tracker is ignored', () => {
    const { core } = setup({ c: def({ process: 'app' }), f: def({ process: '/usr/bin/app', full_command: true }) });
    core.scan([]);
    core.comm(7, 'app');
    expect(core.state('c')!.count).toBe(1);
    expect(core.state('f')!.count).toBe(0);
    core.comm(7, 'app'); // not a change
    expect(core.state('c')!.count).toBe(1);
  });

  it('a process counts once per tracker, also when it execs itself again', () => {
    const { core } = setup({ p: def({ process: 'x', quorum: 2 }) });
    core.scan([{ pid: 1, id: { comm: 'x' } }]);
    core.exec(1, { comm: 'x' });
    expect(core.state('p')).toEqual({ count: 1, quorum: false });
  });

  it('rescan after lost events: gains at once, loses after terminate_delay', () => {
    const { core, clock, changes } = setup({ p: def({ process: 'x', terminate_delay: 500 }) });
    core.scan([]);
    core.rescan([{ pid: 3, id: { comm: 'x' } }]);
    expect(changes).toEqual([['p', { count: 1, quorum: true }]]);
    core.rescan([]);
    expect(core.state('p')).toEqual({ count: 0, quorum: true });
    clock.advance(500);
    expect(core.state('p')).toEqual({ count: 0, quorum: false });
    // the rescan forgot pid 3: its exit is nothing now
    core.exit(3);
    expect(core.state('p')!.count).toBe(0);
  });

  it('stop cancels pending delays', () => {
    const { core, clock, changes } = setup({ p: def({ process: 'x', terminate_delay: 500 }) });
    core.scan([{ pid: 1, id: { comm: 'x' } }]);
    core.exit(1);
    core.stop();
    clock.advance(1000);
    expect(changes).toEqual([]);
  });
});
