/**
 * keepalived's `use_vmac`, as data: the macvlan an instance's VIPs live on, its name and its
 * virtual router MAC (RFC 5798 §7.3: 00:00:5e:00:01:VRID for IPv4, 00:00:5e:00:02:VRID for IPv6).
 * Pure: the interface itself is made by src/net/vmac.ts.
 */
import { configuredMac } from '../vocab/mac.js';

export { configuredMac };

export interface VmacSpec {
  /** The macvlan's name: `use_vmac NAME`, else keepalived's `vrrp.<VRID>`. */
  name: string;
  /** Its MAC, lower case, colon separated. */
  mac: string;
  /** The interface it sits on (the instance's `interface`). */
  base: string;
  family: 4 | 6;
  /** `vmac_xmit_base`: adverts go out of (and are read on) the base interface, not the VMAC. */
  xmitBase: boolean;
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

/** The virtual router MAC of `vrid` for `family` (RFC 5798 §7.3). */
export function virtualRouterMac(vrid: number, family: 4 | 6): string {
  return `00:00:5e:00:0${family === 4 ? 1 : 2}:${hex2(vrid)}`;
}

/** The VMAC of an instance, or undefined without `use_vmac` (or without an interface). */
export function vmacOf(
  inst: { use_vmac?: { name?: string | undefined; mac?: string | undefined } | undefined; vmac_xmit_base: boolean; interface?: string | undefined; virtual_router_id: number },
  family: 4 | 6,
): VmacSpec | undefined {
  if (!inst.use_vmac || inst.interface === undefined) return undefined;
  const vrid = inst.virtual_router_id;
  const mac = (inst.use_vmac.mac !== undefined ? configuredMac(inst.use_vmac.mac, vrid) : undefined) ?? virtualRouterMac(vrid, family);
  return { name: inst.use_vmac.name ?? `vrrp.${vrid}`, mac, base: inst.interface, family, xmitBase: inst.vmac_xmit_base };
}
