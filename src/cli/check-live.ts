// `vipkeeper check --live`: the ARP-problem probe of src/realserver/arp-watch.ts, run once.
import type { Config } from '../config/schema.js';
import { describeFinding, drVips, probeDrVips } from '../realserver/arp-watch.js';
import { EXIT } from './exit-codes.js';

/**
 * Asks who answers ARP for each DR/TUN VIP: from the interface holding it when this node is
 * MASTER (any other MAC is a problem), else from the interface of the VRRP instance that carries
 * it (then the MASTER answers, as it should; a MAC the neighbour table knows as one of the
 * service's real servers is still a problem). Exit 1 when a real server answers.
 */
export async function runLiveArpCheck(config: Config, json: boolean): Promise<number> {
  const vips = drVips(config);
  const instanceIf = (vip: string): string | undefined =>
    Object.values(config.instances).find((i) => i.virtual_ipaddress.some((v) => v.address === vip) || i.virtual_ipaddress_excluded.some((v) => v.address === vip))?.interface;
  const outcomes = await probeDrVips(vips, { waitS: 1, fallbackIfname: instanceIf });
  let problems = 0;
  const lines: string[] = [];
  for (const o of outcomes) {
    if (!o.ifname) {
      lines.push(`live: ${o.vip}: not held here and no VRRP instance carries it; not probed`);
      continue;
    }
    if (o.error) lines.push(`live: ${o.vip}: probe failed: ${o.error}`);
    const real = o.findings.filter((f) => f.realServer !== undefined);
    const other = o.findings.filter((f) => f.realServer === undefined);
    problems += real.length;
    for (const f of real) lines.push(`live: ${describeFinding(f)}`);
    for (const f of other) lines.push(`live: ${o.vip}: answered on ${o.ifname} by ${f.mac}${f.addresses.length ? ` (${f.addresses.join(', ')})` : ''}: the MASTER if this node is BACKUP, else a problem`);
    if (o.findings.length === 0 && !o.error) lines.push(`live: ${o.vip}: asked on ${o.ifname}; no other host answers ARP for it`);
  }
  if (vips.length === 0) lines.push('live: no DR/TUN virtual server with an IPv4 address: nothing to probe');
  if (json) process.stdout.write(`${JSON.stringify({ arp: outcomes }, null, 2)}\n`);
  else process.stdout.write(`${lines.join('\n')}\n`);
  return problems > 0 ? EXIT.invalid : EXIT.ok;
}
