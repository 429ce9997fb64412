// Picks the IPVS backend from config.ipvs.backend: netlink (the default) where the native addon
// loads, else ipvsadm. A netlink choice whose addon cannot load falls back to ipvsadm with a
// warning, so a build without the addon still programs IPVS.
import type { Config } from '../config/schema.js';
import { native } from '../sys/addon.js';
import type { Logger } from '../sys/logger.js';
import type { IpvsBackend } from './backend.js';
import { IpvsadmBackend } from './ipvsadm.js';
import { NetlinkIpvsBackend } from './netlink.js';


export interface FactoryOptions {
  /** replaces the addon probe (tests) */
  loadAddon?: () => unknown;
}

export function createIpvsBackend(config: Pick<Config, 'ipvs'>, logger?: Logger, opts: FactoryOptions = {}): IpvsBackend {
  const want = config.ipvs.backend ?? 'netlink';
  if (want === 'ipvsadm') {
    logger?.info({ backend: 'ipvsadm' }, 'IPVS backend: ipvsadm');
    return new IpvsadmBackend();
  }
  try {
    (opts.loadAddon ?? native)();
  } catch (e) {
    logger?.warn({ backend: 'ipvsadm', reason: (e as Error).message }, 'IPVS backend: the native addon does not load; using ipvsadm instead of netlink');
    return new IpvsadmBackend();
  }
  logger?.info({ backend: 'netlink' }, 'IPVS backend: generic netlink');
  return new NetlinkIpvsBackend();
}
