// Generates a keepalived.conf of VS virtual servers × RS real servers, each real server with a
// TCP_CHECK (issue 19's table: 373 × 100 = 37,300 TCP_CHECKs, delay_loop 5, ~5 MB, ~300k lines).
//
//   npx tsx bench/config/gen.ts [--rs 37300] [--per-vs 100] > keepalived.conf
import { writeFileSync } from 'node:fs';

/** The config text for `total` real servers, `perVs` to a virtual server. */
export function generate(total: number, perVs = 100): string {
  const out: string[] = ['global_defs {', '  router_id lvs-bench', '}', ''];
  const nvs = Math.ceil(total / perVs);
  let left = total;
  for (let i = 0; i < nvs; i++) {
    out.push(
      `virtual_server 10.100.${i >> 8}.${i & 255} 80 {`,
      '  delay_loop 5',
      '  lb_algo wrr',
      '  lb_kind DR',
      '  protocol TCP',
    );
    const n = Math.min(perVs, left);
    left -= n;
    for (let j = 0; j < n; j++) {
      out.push(
        `  real_server 10.${1 + (i >> 8)}.${i & 255}.${j + 1} 80 {`,
        '    weight 1',
        '    TCP_CHECK {',
        '      connect_port 80',
        '      connect_timeout 3',
        '      retry 2',
        '      delay_before_retry 2',
        '    }',
        '  }',
      );
    }
    out.push('}', '');
  }
  return out.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string, def: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : def;
  };
  const text = generate(arg('rs', 37_300), arg('per-vs', 100));
  const o = process.argv.indexOf('-o');
  if (o >= 0) writeFileSync(process.argv[o + 1] as string, text);
  else process.stdout.write(text);
}
