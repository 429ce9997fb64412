import { describe, expect, it } from 'vitest';
import { parseIpLine } from './routes.js';

describe('route and rule lines', () => {
  it("drops keepalived's own words, marks protocol 18 and finds the family", () => {
    expect(parseIpLine('route', '10.1.0.0/16 via 10.0.0.1 dev eth0 no_track')).toMatchObject({ family: 4, append: false, args: ['10.1.0.0/16', 'via', '10.0.0.1', 'dev', 'eth0', 'protocol', '18'] });
    expect(parseIpLine('route', 'blackhole fd00:1::/64 append')).toMatchObject({ family: 6, append: true, args: ['blackhole', 'fd00:1::/64', 'protocol', '18'] });
    expect(parseIpLine('rule', 'fwmark 7 table 100 inet6 priority 5')).toMatchObject({ family: 6, args: ['fwmark', '7', 'table', '100', 'priority', '5', 'protocol', '18'] });
    expect(parseIpLine('route', '10.2.0.0/16 dev eth0 track_group G1 proto static')).toMatchObject({ args: ['10.2.0.0/16', 'dev', 'eth0', 'proto', 'static'] });
  });
});
