import { describe, expect, it } from 'vitest';

import { checkUdpReply, parseHexPattern } from './udp.js';

describe('parseHexPattern (keepalived read_hex_str)', () => {
  it('reads the man page example', () => {
    // "Ab12f 3 456 546443123" → AB 12 0F 03 45 06 54 64 43 12 03
    expect(parseHexPattern('Ab12f 3 456 546443123', false).data.toString('hex')).toBe('ab120f03450654644312' + '03');
  });

  it('X nibbles are wildcards in require_reply', () => {
    const p = parseHexPattern('12XX x4 X', true);
    expect(p.data.toString('hex')).toBe('120004' + '00');
    expect(p.care.toString('hex')).toBe('ff000f' + 'f0');
  });

  it('rejects X in a payload and other junk', () => {
    expect(() => parseHexPattern('12XX', false)).toThrow(SyntaxError);
    expect(() => parseHexPattern('12zz', true)).toThrow(SyntaxError);
  });
});

describe('checkUdpReply', () => {
  const p = parseHexPattern('de ad XX ef', true);

  it('matches with wildcards over min(reply, pattern) bytes', () => {
    expect(checkUdpReply(Buffer.from('dead00ef', 'hex'), p, 0, 255)).toBeUndefined();
    expect(checkUdpReply(Buffer.from('deadffef0102', 'hex'), p, 0, 255)).toBeUndefined();
    expect(checkUdpReply(Buffer.from('dead', 'hex'), p, 0, 255)).toBeUndefined();
    expect(checkUdpReply(Buffer.from('deae00ef', 'hex'), p, 0, 255)).toMatch(/byte 1/);
  });

  it('checks the length bounds', () => {
    expect(checkUdpReply(Buffer.alloc(3), undefined, 4, 10)).toMatch(/3 bytes outside 4..10/);
    expect(checkUdpReply(Buffer.alloc(11), undefined, 4, 10)).toMatch(/11 bytes/);
    expect(checkUdpReply(Buffer.alloc(10), undefined, 4, 10)).toBeUndefined();
  });
});
