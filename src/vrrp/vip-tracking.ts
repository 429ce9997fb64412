/**
 * keepalived tracks the interfaces its VIPs sit on (2.2.7 `vrrp_complete_instance`: each VIP's and
 * excluded VIP's interface is added with weight 0, TRACK_ADDR): one going down sends the instance
 * to FAULT, as a weight-0 track_interface does, unless the VIP says `no_track`. The instance's own
 * interface is followed already (unless dont_track_primary, which keepalived also applies to VIPs
 * on it); so is its VMAC, which vipkeeper made. A track_interface with a weight on the same
 * interface becomes weight 0 (keepalived's add_vrrp_to_interface keeps the unweighted entry).
 */
import type { Vip } from '../config/schema.js';
import type { ResolvedTracker } from './tracking.js';

export interface VipTrackingInput {
  /** The VIPs as resolved (virtual_ipaddress then virtual_ipaddress_excluded, VMAC applied). */
  vips: readonly Vip[];
  /** Where a VIP without dev goes (the VMAC with use_vmac). */
  defaultDev: string | undefined;
  /** The instance's configured interface (the VMAC's base with use_vmac). */
  interface: string | undefined;
}

/** `trackers` plus a weight-0 interface tracker for every tracked VIP interface. */
export function withVipInterfaces(trackers: readonly ResolvedTracker[], r: VipTrackingInput): ResolvedTracker[] {
  const out = [...trackers];
  for (const v of r.vips) {
    if (v.no_track) continue;
    const dev = v.dev ?? r.defaultDev;
    if (dev === undefined || dev === r.defaultDev || dev === r.interface) continue;
    const i = out.findIndex((t) => t.kind === 'interface' && t.name === dev);
    if (i < 0) out.push({ kind: 'interface', name: dev, weight: 0, reverse: false, from: 'vip' });
    else if (out[i]!.weight !== 0) out[i] = { ...out[i]!, weight: 0, reverse: false, from: 'vip' };
  }
  return out;
}
