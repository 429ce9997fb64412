// A large generated keepalived.conf for the tests of issue 19 (as bench/config/gen.ts makes for the
// benchmarks): virtual servers of 100 real servers each, one TCP_CHECK a real server, and
// optionally a VRRP instance first. `moved(i)` picks the real servers (by running index) that get
// another address (last byte + 150): a reload that replaces some of them.
export function bigConf(total: number, opts: { instance?: string; moved?: (i: number) => boolean } = {}): string {
  const out: string[] = opts.instance ? [opts.instance] : [];
  let n = 0;
  for (let i = 0; i * 100 < total; i++) {
    out.push(`virtual_server 10.100.${i >> 8}.${i & 255} 80 {`, '  delay_loop 5', '  lb_algo wrr', '  lb_kind DR', '  protocol TCP');
    for (let j = 0; j < Math.min(100, total - i * 100); j++) {
      const last = opts.moved?.(n++) ? j + 151 : j + 1;
      out.push(`  real_server 10.${1 + (i >> 8)}.${i & 255}.${last} 80 {`, '    TCP_CHECK {', '      connect_timeout 3', '    }', '  }');
    }
    out.push('}');
  }
  return `${out.join('\n')}\n`;
}
