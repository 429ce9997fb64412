// keepalived's `ha_suspend`: a virtual server's checks run only while its address is held here.
// An address owned by VRRP instances is held while one of them is MASTER; an address no instance
// owns is configured some other way and counts as held (keepalived looks at the interface).
import type { Config } from '../config/schema.js';
import { vsKey } from '../config/validate.js';

/** The ids (vsKey) of the virtual servers whose checks are suspended now. */
export function haSuspended(config: Config, states: ReadonlyMap<string, string>): Set<string> {
  const out = new Set<string>();
  if (!config.virtual_servers.some((vs) => vs.ha_suspend)) return out;
  const owners = new Map<string, string[]>();
  for (const [name, inst] of Object.entries(config.instances)) {
    for (const vip of inst.virtual_ipaddress) {
      const l = owners.get(vip.address);
      if (l) l.push(name);
      else owners.set(vip.address, [name]);
    }
  }
  for (const vs of config.virtual_servers) {
    if (!vs.ha_suspend || vs.address === undefined) continue;
    const by = owners.get(vs.address);
    if (by && !by.some((i) => states.get(i) === 'MASTER')) out.add(vsKey(vs));
  }
  return out;
}
