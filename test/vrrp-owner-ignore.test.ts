/**
 * owner_ignore_adverts (keepalived 2.3; Debian's 2.2.7 does not read it, so keepalived is the
 * peer here, not the referee): two address owners (priority 255) on one VRID; vipkeeper starts
 * first, on the lower address, then keepalived (state MASTER) on the higher one. vipkeeper with
 * owner_ignore_adverts drops keepalived's adverts and stays MASTER; without it, it yields to the
 * higher address (equal priority, RFC 5798 §6.4.3), as before.
 *
 * Needs root, `ip netns`, the native addon and keepalived; without them it FAILS.
 */
import { describe, expect, it } from 'vitest';
import { requireKeepalived } from './helpers/keepalived-proc.js';
import { requireNativeAddon, requireNetnsRoot } from './helpers/netns.js';
import { usePair } from './helpers/pair.js';
import { sleep } from './helpers/vipkeeper-proc.js';

const PREFIX = '10.73.0';
const INSTANCE = 'VI_OWN';

function conf(ignore: boolean): string {
  return [
    'global_defs {',
    '    router_id owner_ignore',
    '    vrrp_version 3',
    '}',
    `vrrp_instance ${INSTANCE} {`,
    '    state MASTER',
    '    interface eth0',
    '    virtual_router_id 73',
    '    priority 255',
    '    advert_int 0.2',
    ...(ignore ? ['    owner_ignore_adverts'] : []),
    '    virtual_ipaddress {',
    `        ${PREFIX}.100/24`,
    '    }',
    '}',
    '',
  ].join('\n');
}

describe('owner_ignore_adverts against keepalived', () => {
  const pair = usePair({
    prefix: PREFIX,
    hosts: { d1: 11, d2: 12 },
    require: () => {
      requireNetnsRoot('owner_ignore_adverts tests');
      requireNativeAddon();
      requireKeepalived('owner_ignore_adverts tests');
    },
  });

  for (const ignore of [true, false]) {
    it(`an owner on the lower address ${ignore ? 'with owner_ignore_adverts stays MASTER' : 'without it yields to the higher one'}`, async () => {
      const p = await pair.vk('d1', pair.file(`vk-${ignore}.conf`, conf(ignore)));
      await p.waitState(INSTANCE, 'MASTER', 15_000);
      const k = pair.ka('d2', pair.file(`ka-${ignore}.conf`, conf(false)));
      // keepalived 2.2.7 also yields to vipkeeper's equal-priority advert: it may end in either state
      await k.waitLine(new RegExp(`\\(${INSTANCE}\\) Entering (MASTER|BACKUP) STATE`), 15_000);
      await sleep(2000); // ten advert intervals
      const states = p.transitions(INSTANCE).map((t) => t.to);
      if (ignore) expect(states).toEqual(['MASTER']);
      else expect(states).toContain('BACKUP');
    }, 60_000);
  }
});
