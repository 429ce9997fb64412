import { describe, expect, it } from 'vitest';
import { hostIssues, type HostProbe } from './host-checks.js';
import { loadConfigText } from './load.js';

const CONF = `
vrrp_track_process tp {
    process nginx
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 5
    priority 100
    track_process {
        tp
    }
}
`;

const host = (inInitialNetns: boolean | undefined): HostProbe => ({
  name: 'h',
  interfaces: () => new Set(['eth0']),
  addresses: () => ['10.0.0.2'],
  scriptProblem: () => undefined,
  scriptFile: () => undefined,
  scriptSecurity: () => ({ unsafe: false }) as never,
  idsOf: () => ({ uid: 0, gid: 0 }),
  gidOf: () => 0,
  self: () => ({ ids: { uid: 0, gid: 0 }, caps: { setuid: true, setgid: true } }),
  inInitialNetns: () => inInitialNetns,
});

describe('hostIssues: track_process and the network namespace', () => {
  const config = loadConfigText(CONF, 'k.conf', { configId: 'x' }).config!;

  it('warns when this process runs outside the initial network namespace', () => {
    const issues = hostIssues(config, host(false));
    expect(issues).toEqual([expect.objectContaining({ severity: 'warning', path: ['track_processes', 'tp'], message: expect.stringMatching(/outside the initial network namespace.*scans \/proc every second/) })]);
  });

  it('says nothing in the initial namespace, or when it cannot be told', () => {
    expect(hostIssues(config, host(true))).toEqual([]);
    expect(hostIssues(config, host(undefined))).toEqual([]);
  });
});
