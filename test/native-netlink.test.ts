/**
 * The addon's NetlinkSocket against the kernel (a read-only link dump of this test's network
 * namespace): a reply datagram larger than the receive buffer fails the transaction with
 * EMSGSIZE, at once, instead of waiting out the timeout for the answers the kernel cut off with it.
 */
import { describe, expect, it } from 'vitest';

import { encodeMessage, groupReplies, NETLINK_ROUTE, NLM_F_DUMP, NLM_F_REQUEST } from '../src/net/netlink.js';
import { native } from '../src/sys/addon.js';
import { requireNativeAddon } from './helpers/netns.js';

requireNativeAddon();

const RTM_GETLINK = 18;
const RTM_NEWLINK = 16;

/** An RTM_GETLINK dump request (ifinfomsg, AF_UNSPEC). */
function linkDump(seq: number): Buffer {
  return encodeMessage({ type: RTM_GETLINK, flags: NLM_F_REQUEST | NLM_F_DUMP, seq, header: Buffer.alloc(16) });
}

describe('native NetlinkSocket', () => {
  it('answers a link dump with the default receive buffer', async () => {
    const s = new (native().NetlinkSocket)(NETLINK_ROUTE);
    try {
      const sync = groupReplies(s.transact(linkDump(1), 5000)).get(1)!;
      expect(sync.errno).toBe(0);
      expect(sync.messages.length).toBeGreaterThan(0); // lo at least
      expect(sync.messages.every((m) => m.type === RTM_NEWLINK)).toBe(true);
      const async = groupReplies(await s.transactAsync(linkDump(2), 5000)).get(2)!;
      expect(async.messages.length).toBe(sync.messages.length);
    } finally {
      s.close();
    }
  });

  it('a reply larger than the receive buffer is EMSGSIZE, not a timeout (sync and async)', async () => {
    // a link message is over 1 KB; with a 256-byte buffer the first datagram is cut, and the
    // NLMSG_DONE that ends the dump would never be read
    const small = new (native().NetlinkSocket)(NETLINK_ROUTE, 256);
    try {
      let err: NodeJS.ErrnoException | undefined;
      try {
        small.transact(linkDump(3), 20_000);
      } catch (e) {
        err = e as NodeJS.ErrnoException;
      }
      expect(err?.code).toBe('EMSGSIZE');
      expect(err?.message).toMatch(/recv\(netlink\): a reply of \d+ bytes does not fit the 256-byte receive buffer: EMSGSIZE/);
    } finally {
      small.close();
    }
    const small2 = new (native().NetlinkSocket)(NETLINK_ROUTE, 256);
    try {
      await expect(small2.transactAsync(linkDump(4), 20_000)).rejects.toMatchObject({ code: 'EMSGSIZE' });
    } finally {
      small2.close();
    }
    expect(() => new (native().NetlinkSocket)(NETLINK_ROUTE, 8)).toThrow(/recvBytes must be an integer in \[64, 16777216\]/);
  });
});
