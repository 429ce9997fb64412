import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

import type { DrillReport } from './report.js';
import { escapeXml, timelineSvg } from './timeline-svg.js';

const report: DrillReport = {
  tool: 'vipkeeper drill',
  startedAt: '2026-12-07T22:40:00.000Z',
  host: 'd1',
  socket: '/run/vipkeeper/d1.sock',
  peer: 'socket /run/vipkeeper/d2.sock',
  instance: { name: 'VI_DRILL', vrid: 62, version: 3, family: 4, interface: 'eth0', vips: ['10.61.0.100/32'], priority: 150, advertIntervalMs: 100 },
  arp: { method: 'arping', measured: true },
  prechecks: [{ check: 'ipvs-tables-match', ok: true, warning: true, detail: 'both IPVS tables are empty: the comparison proves nothing' }],
  failover: {
    t0: '2026-12-07T22:40:01.000Z',
    events: [
      { t: 0, event: 'command-sent', detail: 'stepdown sent to this node' },
      { t: 3.2, event: 'command-acknowledged', detail: 'acknowledged: stepped down' },
      { t: 71.5, event: 'peer-advert-master', detail: 'peer advert as MASTER (from 10.61.0.2, priority 100)' },
      { t: 90, event: 'vip-arp-peer', detail: 'VIP 10.61.0.100 ARP answered by peer MAC 02:00:00:00:00:02 <&>' },
      { t: 118, event: 'peer-status-master', detail: 'peer status MASTER' },
    ],
    completed: true,
    durationMs: 118,
    boundMs: 461,
    boundExplained: '3 × 100 ms + Skew_Time 61 ms + 100 ms slack',
    withinBound: true,
    missing: [],
    notes: [],
  },
  result: 'pass',
  message: 'drill passed; the peer stays MASTER',
  exitCode: 0,
};

/** Parses with a real XML parser (Python's), returning the root tag and the event groups' data. */
function parse(svg: string): { root: string; events: [string, number][] } {
  const py = `import sys, json, xml.etree.ElementTree as ET
r = ET.fromstring(sys.stdin.read().encode())
ns = '{http://www.w3.org/2000/svg}'
print(json.dumps({'root': r.tag, 'events': [[g.get('data-event'), float(g.get('data-t'))] for g in r.iter(ns + 'g')]}))`;
  return JSON.parse(execFileSync('python3', ['-c', py], { input: svg, encoding: 'utf8' })) as { root: string; events: [string, number][] };
}

describe('the drill timeline as SVG', () => {
  it('is well-formed SVG with every event of the phase, in order, and the bound and verdict', () => {
    const svg = timelineSvg(report);
    const doc = parse(svg);
    expect(doc.root).toBe('{http://www.w3.org/2000/svg}svg');
    expect(doc.events).toEqual(report.failover!.events.map((e) => [e.event, e.t]));
    expect(svg).toContain('failover: 118 ms');
    expect(svg).toContain('PASS');
    expect(svg).toContain('bound 461 ms');
    expect(svg).toContain('t+72 ms  peer advert as MASTER (from 10.61.0.2, priority 100)');
    // details are escaped, not markup
    expect(svg).toContain('02:00:00:00:00:02 &lt;&amp;&gt;');
  });

  it('places each event at its time: x grows with t', () => {
    const svg = timelineSvg(report);
    const xs = [...svg.matchAll(/<circle cx="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(xs).toHaveLength(5);
    for (let i = 1; i < xs.length; i++) expect(xs[i]!).toBeGreaterThan(xs[i - 1]!);
  });

  it('a refused drill still draws: the reason instead of a phase', () => {
    const refused: DrillReport = { ...report, failover: undefined, result: 'refused', message: 'the peer follows 10.61.0.9, which is not this node', prechecks: [{ check: 'peer-hears-us', ok: false, detail: 'the peer follows 10.61.0.9, which is not this node' }] };
    const svg = timelineSvg(refused);
    expect(parse(svg).events).toEqual([]);
    expect(svg).toContain('no phase was measured (refused): the peer follows 10.61.0.9');
  });

  it('a slow phase is marked TOO SLOW; a hand-back is a second panel', () => {
    const slow = { ...report.failover!, durationMs: 700, withinBound: false };
    const svg = timelineSvg({ ...report, failover: slow, handBack: report.failover! });
    expect(svg).toContain('TOO SLOW');
    expect(svg).toContain('hand-back: 118 ms');
    expect(parse(svg).events).toHaveLength(10);
  });

  it('escapes all five XML specials', () => expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;'));
});
