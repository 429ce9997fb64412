import { describe, expect, it } from 'vitest';
import { MAX_REPORTED_DIAGNOSTICS } from './keepalived/context.js';
import { capDiagnostics, loadConfigText } from './load.js';

const INSTANCE = (priority: string) => `vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  priority ${priority}
  virtual_ipaddress {
    10.1.0.100/24
  }
}
`;

describe('diagnostics are capped (a pathological file costs neither minutes nor megabytes of lines)', () => {
  it('past the cap, diagnostics are counted in one last line', () => {
    const r = loadConfigText(`${INSTANCE('100')}~SEQ(i,1,5000) unknown_kw_$i x\n`, 'k.conf', { configId: 'x' });
    expect(r.diagnostics).toHaveLength(MAX_REPORTED_DIAGNOSTICS + 1);
    expect(r.diagnostics.at(-1)).toMatchObject({ severity: 'warning', message: expect.stringMatching(/^4000 warning\(s\) more not listed/) });
    // still the same verdict: unknown keywords are warnings, the config loads, each is in the ledger list
    expect(r.config).toBeDefined();
    expect(r.unsupported).toHaveLength(5000);
  });

  it('an error past the cap still refuses the config, and the summary says it is an error', () => {
    const r = loadConfigText(`~SEQ(i,1,1500) unknown_kw_$i x\n${INSTANCE('abc')}`, 'k.conf', { configId: 'x' });
    expect(r.config).toBeUndefined();
    expect(r.diagnostics.at(-1)).toMatchObject({ severity: 'error', message: expect.stringMatching(/^1 error\(s\) and 500 warning\(s\) more not listed/) });
  });

  it('capDiagnostics keeps short lists as they are', () => {
    const d = [{ severity: 'error' as const, loc: { file: 'f', line: 1, col: 1 }, message: 'm' }];
    expect(capDiagnostics(d, 'f')).toBe(d);
  });
});
