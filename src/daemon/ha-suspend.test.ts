import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../config/schema.js';
import { haSuspended } from './ha-suspend.js';

describe('ha_suspend (issue 18, point 5)', () => {
  const config = ConfigSchema.parse({
    instances: {
      VI_1: { interface: 'eth0', virtual_router_id: 1, virtual_ipaddress: ['10.0.0.1/24'] },
      VI_2: { interface: 'eth0', virtual_router_id: 2, virtual_ipaddress: ['10.0.0.1/24', '10.0.0.2/24'] },
    },
    virtual_servers: [
      { address: '10.0.0.1', port: 80, ha_suspend: true },
      { address: '10.0.0.2', port: 80, ha_suspend: true },
      { address: '10.0.0.2', port: 443 },
      { address: '10.0.0.9', port: 80, ha_suspend: true },
    ],
  });
  it('suspends the checks of a virtual server while no instance owning its address is MASTER', () => {
    expect(haSuspended(config, new Map())).toEqual(new Set(['10.0.0.1 80 TCP', '10.0.0.2 80 TCP']));
    expect(haSuspended(config, new Map([['VI_1', 'MASTER'], ['VI_2', 'BACKUP']]))).toEqual(new Set(['10.0.0.2 80 TCP']));
    expect(haSuspended(config, new Map([['VI_2', 'MASTER']]))).toEqual(new Set());
  });
  it('never suspends one without ha_suspend, nor one whose address no instance owns', () => {
    const s = haSuspended(config, new Map());
    expect(s.has('10.0.0.2 443 TCP')).toBe(false);
    expect(s.has('10.0.0.9 80 TCP')).toBe(false);
  });
});
