/**
 * A lab LAN: one bridge (IGMP snooping off, so VRRP multicast floods) in its own namespace and
 * one namespace per node with `eth0` on the bridge, plus a scratch directory for configs, pid
 * files and logs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import type { LanNode, NetnsLab } from './netns.js';

export interface Lan {
  bridgeNs: string;
  nodes: Record<string, LanNode>;
  /** A scratch directory for configs, pid files and logs; removed by `dispose()`. */
  dir: string;
  dispose(): void;
}

/** `02:<the three prefix bytes>:00:<host>`: a locally administered MAC that names the node. */
export function labMac(prefix: string, host: number): string {
  const bytes = prefix.split('.').map((x) => Number(x).toString(16).padStart(2, '0'));
  return `02:${bytes.join(':')}:00:${host.toString(16).padStart(2, '0')}`;
}

/** Nodes `PREFIX.<host>/24` (10.0.0.0/8 only) on one bridge; MACs from `mac` (default `labMac`). */
export async function createLan(lab: NetnsLab, prefix: string, hosts: Record<string, number>, mac: (host: number) => string = (h) => labMac(prefix, h)): Promise<Lan> {
  const bridgeNs = await lab.addNamespace();
  await lab.addBridge(bridgeNs, 'br0');
  const nodes: Record<string, LanNode> = {};
  for (const [name, host] of Object.entries(hosts)) {
    const node = await lab.addNode(bridgeNs, undefined, `${prefix}.${host}`, mac(host));
    nodes[name] = { ...node, name };
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'vk-lan-'));
  return { bridgeNs, nodes, dir, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Write `text` to `dir/name`; returns the path. */
export function writeFile(dir: string, name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** Fill the neighbour entry of `ns` for `ip` (a ping that may or may not be answered). */
export async function primeArp(lab: NetnsLab, ns: string, ip: string): Promise<void> {
  await lab.exec(ns, ['ping', '-c', '1', '-W', '1', '-q', ip]).catch(() => undefined);
}
