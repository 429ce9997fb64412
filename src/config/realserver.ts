/**
 * The real-server side's small config (`vipkeeper realserver -f FILE`), or the same from flags:
 *
 *   mode: dr            # dr | tun | nat
 *   dev: eth0           # the LAN interface (arp_ignore / arp_announce are set on it and on all)
 *   vips: [10.0.0.100, fd00::100]
 *   tunnel_dev: tunl0   # tun: the ipip device for IPv4 VIPs (default tunl0)
 *   tunnel6_dev: ip6tnl0  # tun: the ip6tnl device for IPv6 VIPs (default ip6tnl0)
 *   director: 10.0.0.1  # nat: the director's address the default route must point at
 *
 * Strict: an unknown key is an error with its line, never ignored.
 */
import { isIP } from 'node:net';
import yaml from 'js-yaml';
import { z } from 'zod';
import type { Diagnostic } from './diagnostics.js';
import { yamlLocator } from './yaml-locate.js';

const DEV = /^[^\s/:]{1,15}$/;
const Dev = z.string().regex(DEV, 'an interface name (1 to 15 characters, no blanks, / or :)').refine((s) => s !== '.' && s !== '..', 'an interface name');

/** A VIP as an address, or ADDRESS/32 (/128): a real server holds it as a host address only. */
const VipAddress = z.string().transform((s, ctx) => {
  const [addr, prefix, ...rest] = s.trim().split('/');
  const fam = isIP(addr ?? '');
  if (fam === 0 || rest.length > 0) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} is not an IPv4 or IPv6 address` });
    return z.NEVER;
  }
  const full = fam === 4 ? '32' : '128';
  if (prefix !== undefined && prefix !== full) {
    ctx.addIssue({ code: 'custom', message: `${s}: a real server holds a VIP as a host address (/${full}); a wider prefix would route the VIP's subnet to lo` });
    return z.NEVER;
  }
  return addr!;
});

export const RealServerConfigSchema = z.strictObject({
  mode: z.enum(['dr', 'tun', 'nat']).default('dr'),
  dev: Dev.default('eth0'),
  vips: z.array(VipAddress).default([]),
  tunnel_dev: Dev.default('tunl0'),
  tunnel6_dev: Dev.default('ip6tnl0'),
  director: z.string().refine((s) => isIP(s) !== 0, 'an IPv4 or IPv6 address').optional(),
});
export type RealServerConfig = z.output<typeof RealServerConfigSchema>;
export type RealServerInput = z.input<typeof RealServerConfigSchema>;

/** Cross-field rules: DR and TUN need VIPs; NAT holds none. */
function crossCheck(c: RealServerConfig): { path: string[]; message: string }[] {
  const out: { path: string[]; message: string }[] = [];
  if (c.mode !== 'nat' && c.vips.length === 0) out.push({ path: ['vips'], message: `mode ${c.mode} needs at least one VIP (--vip or vips:)` });
  if (c.mode === 'nat' && c.vips.length > 0) out.push({ path: ['vips'], message: 'mode nat: the real server holds no VIP (the director rewrites the destination); remove vips or use dr/tun' });
  if (c.mode !== 'nat' && c.director !== undefined) out.push({ path: ['director'], message: `director is only used in mode nat (the default-route check); mode ${c.mode} does not act on it` });
  return out;
}

export interface RealServerLoad {
  config?: RealServerConfig;
  diagnostics: Diagnostic[];
}

/** From flags (no file): problems are reported against `<flags>`. */
export function realServerFromInput(input: RealServerInput, file = '<flags>'): RealServerLoad {
  const r = RealServerConfigSchema.safeParse(input);
  const at = { file, line: 1, col: 1 };
  if (!r.success) return { diagnostics: r.error.issues.map((i) => ({ severity: 'error', loc: at, message: `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}` })) };
  const cross = crossCheck(r.data);
  const diagnostics: Diagnostic[] = cross.map((c) => ({ severity: c.path[0] === 'director' ? 'warning' : 'error', loc: at, message: `${c.path.join('.')}: ${c.message}` }));
  return diagnostics.some((d) => d.severity === 'error') ? { diagnostics } : { config: r.data, diagnostics };
}

/** A YAML file; every problem located at file:line:col. */
export function loadRealServerText(text: string, file: string): RealServerLoad {
  let doc: unknown;
  try {
    doc = yaml.load(text, { filename: file });
  } catch (e) {
    const ex = e as yaml.YAMLException;
    return { diagnostics: [{ severity: 'error', loc: { file, line: (ex.mark?.line ?? 0) + 1, col: (ex.mark?.column ?? 0) + 1 }, message: `invalid YAML: ${ex.reason ?? ex.message}` }] };
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return { diagnostics: [{ severity: 'error', loc: { file, line: 1, col: 1 }, message: 'the real-server config must be a YAML mapping (mode, dev, vips, ...)' }] };
  }
  const locate = yamlLocator(text);
  const r = RealServerConfigSchema.safeParse(doc);
  if (!r.success) {
    return {
      diagnostics: r.error.issues.map((i) => {
        const keys = i.code === 'unrecognized_keys' ? i.keys : [];
        const path = keys.length ? [...i.path, keys[0]!] : i.path;
        const message = keys.length ? `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `'${k}'`).join(', ')} (known: mode, dev, vips, tunnel_dev, tunnel6_dev, director)` : `${i.path.join('.')}: ${i.message}`;
        return { severity: 'error' as const, loc: { file, ...locate(path) }, message };
      }),
    };
  }
  const diagnostics: Diagnostic[] = crossCheck(r.data).map((c) => ({ severity: c.path[0] === 'director' ? 'warning' : 'error', loc: { file, ...locate(c.path) }, message: c.message }));
  return diagnostics.some((d) => d.severity === 'error') ? { diagnostics } : { config: r.data, diagnostics };
}
