// keepalived.conf text for the health-check benchmarks: N real servers behind ceil(N/100) virtual
// servers (100 real servers each, like an LVS director with many services), every real server a
// distinct loopback address on port 80, one checker each, delay_loop 1 s. vipkeeper and keepalived
// read the same text.

export type CheckKind = 'tcp' | 'http';

/** The i-th real server's address (i from 0): 127.1.0.1, 127.1.0.2, … (all local on lo's 127/8). */
export function rsAddress(i: number): string {
  const h = i + 1;
  return `127.${1 + (h >> 16)}.${(h >> 8) & 255}.${h & 255}`;
}

export interface ChecksConfOptions {
  realServers: number;
  kind: CheckKind;
  perVs?: number;
  delayLoopS?: number;
  connectTimeoutS?: number;
  /** The RS address; default rsAddress (loopback). */
  address?: (i: number) => string;
  port?: number;
  /** Extra text inside global_defs / after it (e.g. a vrrp_instance). */
  globalDefs?: string[];
  extra?: string;
}

export function checksConf(o: ChecksConfOptions): string {
  const perVs = o.perVs ?? 100;
  const delay = o.delayLoopS ?? 1;
  const timeout = o.connectTimeoutS ?? 3;
  const port = o.port ?? 80;
  const addr = o.address ?? rsAddress;
  const lines: string[] = ['# bench: generated; the same text for keepalived and vipkeeper', 'global_defs {', '    router_id bench_checks', ...(o.globalDefs ?? []).map((l) => `    ${l}`), '}', ''];
  if (o.extra) lines.push(o.extra, '');
  const nVs = Math.ceil(o.realServers / perVs);
  let i = 0;
  for (let v = 0; v < nVs; v++) {
    lines.push(`virtual_server 10.123.${v >> 8}.${v & 255} ${port} {`, `    delay_loop ${delay}`, '    lb_algo wrr', '    lb_kind DR', '    protocol TCP');
    for (let k = 0; k < perVs && i < o.realServers; k++, i++) {
      lines.push(`    real_server ${addr(i)} ${port} {`, '        weight 1');
      if (o.kind === 'tcp') {
        lines.push('        TCP_CHECK {', `            connect_timeout ${timeout}`, '        }');
      } else {
        lines.push('        HTTP_GET {', '            url {', '                path /healthz', '                status_code 200', '            }', `            connect_timeout ${timeout}`, '        }');
      }
      lines.push('    }');
    }
    lines.push('}', '');
  }
  return lines.join('\n');
}
