// The rendered files, read by BIRD 2 itself (`bird -p`: parse only, no daemon).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BgpSchema, type Bgp } from '../../config/schema.js';
import type { Announcement } from '../policy.js';
import { birdPaths, renderBirdConfig, renderVipsInclude } from './render.js';

const dir = mkdtempSync(path.join(tmpdir(), 'vk-bird-render-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bgp(over: Record<string, unknown> = {}): Bgp {
  return BgpSchema.parse({
    local_as: 65001,
    router_id: '10.0.0.1',
    peers: [
      { name: 'r1', address: '10.0.0.254', as: 65000, password: 'pa$$ w\\rd', bfd: true },
      { address: 'fd00::fe', as: 65000, source_address: 'fd00::1', multihop: 2 },
    ],
    vips: ['10.99.0.10', 'fd00:99::10/128'],
    ...over,
  });
}

const announced: Announcement[] = [
  { prefix: '10.99.0.11/32', family: 4, med: 0, communities: ['65001:100', '65001:1:2'], draining: false },
  { prefix: '10.99.0.10/32', family: 4, med: 4294967295, communities: ['65535:0'], draining: true },
  { prefix: 'fd00:99::10/128', family: 6, med: 7, communities: [], draining: false },
];

/** bird -p on the two files; returns BIRD's complaint, or '' when it parses. */
function birdParse(main: string, include: string): string {
  const paths = birdPaths(dir);
  writeFileSync(paths.config, main);
  writeFileSync(paths.include, include);
  const r = spawnSync('bird', ['-p', '-c', paths.config], { encoding: 'utf8' });
  if (r.error) throw new Error(`bird is not installed (bash scripts/setup.sh installs bird2): ${r.error.message}`);
  return r.status === 0 ? '' : `${r.stderr}${r.stdout}`.trim();
}

describe('BIRD config rendering', () => {
  it('BIRD 2 parses the main file and the include, with and without announcements', () => {
    const main = renderBirdConfig(bgp(), birdPaths(dir));
    expect(birdParse(main, renderVipsInclude([]))).toBe('');
    expect(birdParse(main, renderVipsInclude(announced))).toBe('');
  });

  it('one session per peer with its options; the password only in the main file', () => {
    const main = renderBirdConfig(bgp(), birdPaths(dir));
    expect(main).toContain('protocol bgp vk_peer_r1 {');
    expect(main).toContain('protocol bgp vk_peer_peer2 {');
    expect(main).toContain('  neighbor 10.0.0.254 as 65000;');
    expect(main).toContain('  local as 65001;');
    expect(main).toContain('  local fd00::1 as 65001;');
    expect(main).toContain('  multihop 2;');
    expect(main).toContain('  password "pa$$ w\\rd";');
    expect(main).toContain('  bfd on;');
    expect(main).toContain('protocol bfd vk_bfd { }');
    expect(main).toContain('  hold time 9;\n  keepalive time 3;');
    expect(main).toContain('  graceful restart off;');
    expect(main).toContain('ipv4 { import none; export filter vk_export4; next hop self; };');
    expect(main).toContain('ipv6 { import none; export filter vk_export6; next hop self; };');
    expect(main).toContain(`include "${birdPaths(dir).include}";`);
    expect(renderVipsInclude(announced)).not.toContain('pa$$');
  });

  it('no BFD protocol when no peer asks for it; keepalive_time when given', () => {
    const main = renderBirdConfig(bgp({ peers: [{ address: '10.0.0.254', as: 65000 }], hold_time: '30s', keepalive_time: '5s' }), birdPaths(dir));
    expect(main).not.toContain('bfd');
    expect(main).toContain('  hold time 30;\n  keepalive time 5;');
  });

  it('routes in prefix order with MED and communities (standard and large); drain marked', () => {
    const inc = renderVipsInclude(announced);
    expect(inc).toContain(
      [
        'protocol static vk_vips4 {',
        '  ipv4;',
        '  route 10.99.0.10/32 blackhole { bgp_med = 4294967295; bgp_community.add((65535,0)); }; # draining',
        '  route 10.99.0.11/32 blackhole { bgp_med = 0; bgp_community.add((65001,100)); bgp_large_community.add((65001,1,2)); };',
        '}',
      ].join('\n'),
    );
    expect(inc).toContain(['protocol static vk_vips6 {', '  ipv6;', '  route fd00:99::10/128 blackhole { bgp_med = 7; };', '}'].join('\n'));
  });

  it('is deterministic: the same input gives the same text', () => {
    expect(renderVipsInclude([...announced].reverse())).toBe(renderVipsInclude(announced));
    expect(renderBirdConfig(bgp(), birdPaths(dir))).toBe(renderBirdConfig(bgp(), birdPaths(dir)));
  });
});
