import { describe, expect, it } from 'vitest';
import { processIdCaps } from '../config/host-privileges.js';
import { ConfigSchema } from '../config/schema.js';
import { scriptPrivilegeProblems } from './script-privileges.js';

const config = ConfigSchema.parse({
  global: { script_user: { user: 'nobody' } },
  vrrp_scripts: { chk: { script: '/bin/true' } },
  virtual_servers: [
    {
      address: '10.0.0.1',
      port: 80,
      real_servers: [{ address: '10.0.1.1', port: 80, checks: [{ type: 'MISC_CHECK', misc_path: '/bin/true' }, { type: 'MISC_CHECK', misc_path: { command: '/bin/false', user: 'root' } }] }],
    },
  ],
});

describe('scripts under another user, and the capabilities to switch', () => {
  it('reads CAP_SETUID / CAP_SETGID from CapEff', () => {
    expect(processIdCaps('Name:\tnode\nCapEff:\t0000000000003000\n')).toEqual({ setuid: false, setgid: false });
    expect(processIdCaps('CapEff:\t00000000000000c0\n')).toEqual({ setuid: true, setgid: true });
    expect(processIdCaps('CapEff:\t0000000000000040\n')).toEqual({ setuid: false, setgid: true });
    expect(processIdCaps('no caps here')).toBeUndefined();
  });

  it('root without the capabilities: one problem per user that needs a switch, at its first script (MISC_CHECK included)', async () => {
    const root = { uid: 0, gid: 0 };
    const none = processIdCaps('CapEff:\t0000000000003000\n');
    const problems = await scriptPrivilegeProblems(config, { caps: none, own: root });
    // script_user nobody: the vrrp_script and the first MISC_CHECK; the second MISC_CHECK runs as root, no switch
    expect(problems).toEqual([
      { path: ['vrrp_scripts', 'chk', 'script'], message: expect.stringMatching(/^scripts run as user 'nobody' \(uid 65534 gid 65534\), but this process \(uid 0\) lacks CAP_SETUID and CAP_SETGID: every such script would fail with EPERM/) },
    ]);
    expect(problems[0]?.message).toMatch(/CapabilityBoundingSet=CAP_SETUID CAP_SETGID/);
    // granted: nothing to say
    expect(await scriptPrivilegeProblems(config, { caps: { setuid: true, setgid: true }, own: root })).toEqual([]);
  });
});
