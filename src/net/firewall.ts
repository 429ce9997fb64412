/**
 * The no_accept firewall (keepalived's `no_accept`, and `vrrp_strict`'s), with nftables, in a table
 * of vipkeeper's own (`nftables NAME`, default `vipkeeper`; keepalived's default is `keepalived`,
 * so both can run on one host while migrating). The shape is keepalived 2.2.7's (read from its
 * run in a namespace):
 *
 *   table ip NAME  { set vips { type ipv4_addr }
 *                    chain in  { type filter hook input  priority PRIO; ip daddr @vips drop }
 *                    chain out { type filter hook output priority PRIO; ip saddr @vips drop } }
 *   table ip6 NAME { the same with ip6, letting neighbour discovery for the VIPs through }
 *
 * PRIO is `nftables_priority` (keepalived's default -1, i.e. just before the filter hook);
 * `nftables_counters` adds a counter to each drop rule. A VIP is in the set while its instance
 * is MASTER (not as the address owner, priority 255, which always accepts). The tables are made at
 * start (a previous run's are replaced) and deleted at stop. `nft` runs as a child process.
 */
import { spawn } from 'node:child_process';
import { isIP } from 'node:net';

export interface FirewallOptions {
  table: string;
  priority: number;
  counters: boolean;
  /** Runs `nft -f -` with `script` on stdin; default spawns nft. */
  run?: (script: string) => Promise<{ code: number | null; stderr: string }>;
}

function spawnNft(script: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('nft', ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(`cannot run nft${err.code === 'ENOENT' ? ' (is nftables installed?)' : ''}: ${err.message}`, { cause: err }));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(script);
  });
}

export class NoAcceptFirewall {
  private readonly run: (script: string) => Promise<{ code: number | null; stderr: string }>;
  /** Addresses in the sets, with how many instances hold each. */
  private readonly held = new Map<string, number>();
  private made = false;

  constructor(private readonly o: FirewallOptions) {
    if (!/^[A-Za-z][A-Za-z0-9_]{0,31}$/.test(o.table)) throw new Error(`nftables table name ${JSON.stringify(o.table)} is not valid (a letter, then letters, digits, _)`);
    this.run = o.run ?? spawnNft;
  }

  private async nft(script: string): Promise<void> {
    const r = await this.run(script);
    if (r.code !== 0) throw new Error(`nft failed (exit ${String(r.code)}): ${r.stderr.trim().split('\n').slice(0, 3).join(' | ')}`);
  }

  /** The table's text (for the script and the tests). */
  script(): string {
    const { table, priority, counters } = this.o;
    const c = counters ? 'counter ' : '';
    const prio = `priority filter ${priority < 0 ? '-' : '+'} ${Math.abs(priority)}`;
    const chains = (fam: 'ip' | 'ip6') => {
      const nd = fam === 'ip6' ? 'icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept; ' : '';
      return [
        `  chain in { type filter hook input ${prio}; policy accept; ${nd}${fam} daddr @vips ${c}drop; }`,
        `  chain out { type filter hook output ${prio}; policy accept; ${nd}${fam} saddr @vips ${c}drop; }`,
      ];
    };
    return [
      // replaces a previous run's tables in the same transaction
      `add table ip ${table}`,
      `delete table ip ${table}`,
      `add table ip6 ${table}`,
      `delete table ip6 ${table}`,
      `table ip ${table} {`,
      '  set vips { type ipv4_addr; }',
      ...chains('ip'),
      '}',
      `table ip6 ${table} {`,
      '  set vips { type ipv6_addr; }',
      ...chains('ip6'),
      '}',
      '',
    ].join('\n');
  }

  async start(): Promise<void> {
    await this.nft(this.script());
    this.made = true;
  }

  private elements(op: 'add' | 'delete', addrs: readonly string[]): string {
    const v4 = addrs.filter((a) => isIP(a) === 4);
    const v6 = addrs.filter((a) => isIP(a) === 6);
    return [
      ...(v4.length ? [`${op} element ip ${this.o.table} vips { ${v4.join(', ')} }`] : []),
      ...(v6.length ? [`${op} element ip6 ${this.o.table} vips { ${v6.join(', ')} }`] : []),
      '',
    ].join('\n');
  }

  /** Drops traffic to and from `addrs` from now on. */
  async drop(addrs: readonly string[]): Promise<void> {
    const fresh = [...new Set(addrs)].filter((a) => (this.held.get(a) ?? 0) === 0);
    for (const a of new Set(addrs)) this.held.set(a, (this.held.get(a) ?? 0) + 1);
    if (fresh.length && this.made) await this.nft(this.elements('add', fresh));
  }

  /** Lets `addrs` through again (once no other instance holds them). */
  async release(addrs: readonly string[]): Promise<void> {
    const gone: string[] = [];
    for (const a of new Set(addrs)) {
      const n = (this.held.get(a) ?? 0) - 1;
      if (n <= 0) {
        if (this.held.delete(a)) gone.push(a);
      } else this.held.set(a, n);
    }
    if (gone.length && this.made) await this.nft(this.elements('delete', gone));
  }

  /** Deletes the tables. */
  async stop(): Promise<void> {
    if (!this.made) return;
    this.made = false;
    this.held.clear();
    const t = this.o.table;
    await this.nft(`add table ip ${t}\ndelete table ip ${t}\nadd table ip6 ${t}\ndelete table ip6 ${t}\n`);
  }
}
