/**
 * Mail from a running vipkeeper (issue 18 point 4): `vipkeeper run` in a namespace with two VRRP
 * instances on veth links and one real server with two TCP_CHECKs, mailing a real SMTP server
 * (aiosmtpd) in the same namespace. The same keepalived.conf runs twice:
 *
 * - flags off: each instance going MASTER mails "[router_id] VRRP Instance NAME - Entering MASTER
 *   state"; the first checker failing mails the real server DOWN; the second checker failing,
 *   while the real server is already down, mails again (keepalived mails each checker's change);
 *   VI_B's link going down mails its FAULT; the link coming back mails its BACKUP;
 * - no_checker_emails and no_email_faults: the same events, without the second checker's mail and
 *   without the FAULT mail.
 *
 * Mails go through one queue, one at a time, in order: the BACKUP mail arriving after the
 * suppressed events proves those were not merely late.
 *
 * Needs root, `ip netns`, the native addon and python3-aiosmtpd; without them it FAILS.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';
import { NetnsLab, requireNativeAddon, requireNetnsRoot, run, setupOrFail, type NsProcess } from './helpers/netns.js';
import { startVipkeeper, waitFor, writeFile } from './helpers/vipkeeper-proc.js';

const lab = new NetnsLab({ prefix: 'vkmail', scratch: true });
afterAll(() => lab.cleanup());

setupOrFail(() => {
  requireNetnsRoot();
  requireNativeAddon();
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import aiosmtpd'], { encoding: 'utf8', timeout: 30_000 });
  if (probe.status !== 0) throw new Error(`python3 module aiosmtpd is missing: apt-get install python3-aiosmtpd\n${probe.stderr}`);
});

const SMTP_PORT = 2525;
const RS = '[127.0.0.1]:tcp:8081';
const VS = '[10.67.0.100]:tcp:80';
const RS_PORT = 8081;
const SECOND_PORT = 8082;

function conf(flags: string[]): string {
  return [
    'global_defs {',
    '  router_id lb-mail',
    '  notification_email {',
    '    ops@example.test',
    '  }',
    '  notification_email_from vipkeeper@lb-mail.example.test',
    `  smtp_server 127.0.0.1 ${SMTP_PORT}`,
    '  smtp_connect_timeout 5',
    '  smtp_alert',
    '  vrrp_version 3',
    ...flags.map((f) => `  ${f}`),
    '}',
    ...['A', 'B'].map((n, i) =>
      [
        `vrrp_instance VI_${n} {`,
        '  state BACKUP',
        `  interface eth${i}`,
        `  virtual_router_id ${51 + i}`,
        '  priority 100',
        '  advert_int 0.2',
        '  virtual_ipaddress {',
        `    10.67.${i}.100/24 dev eth${i}`,
        '  }',
        '}',
      ].join('\n'),
    ),
    'virtual_server 10.67.0.100 80 {',
    '  protocol TCP',
    '  lb_algo rr',
    '  lb_kind NAT',
    `  real_server 127.0.0.1 ${RS_PORT} {`,
    ...[RS_PORT, SECOND_PORT].map((p) => [`    TCP_CHECK {`, `      connect_port ${p}`, '      connect_timeout 1', '      delay_loop 0.3', '      retry 0', '    }'].join('\n')),
    '  }',
    '}',
    '',
  ].join('\n');
}

interface Mail {
  subject: string;
  body: string;
  text: string;
}

function readMails(maildir: string): Mail[] {
  const dir = path.join(maildir, 'new');
  if (!existsSync(dir)) return [];
  // Python's Maildir names carry a per-process counter (Q<n>): its order is the order of arrival
  const q = (f: string) => Number(/Q(\d+)\./.exec(f)?.[1] ?? 0);
  return readdirSync(dir)
    .sort((a, b) => q(a) - q(b))
    .map((f) => {
      const text = readFileSync(path.join(dir, f), 'utf8').replace(/\r?\n[ \t]+/g, ' ');
      const [head = '', body = ''] = text.split(/\r?\n\r?\n/, 2);
      return { subject: /^Subject: (.*)$/m.exec(head)?.[1] ?? '', body: body.trim(), text };
    });
}

/** A TCP listener in the namespace (what TCP_CHECK connects to); killed to make its check fail. */
function listener(ns: string, port: number): NsProcess {
  const py = `import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('127.0.0.1',${port}))\ns.listen(64)\nprint('listening',flush=True)\nwhile True:\n  c,_=s.accept()\n  c.close()\n`;
  return lab.spawn(ns, ['/usr/bin/python3', '-c', py], `listener ${port}`);
}

async function scenario(name: string, flags: string[]): Promise<Mail[]> {
  const ns = await lab.addNamespace(name);
  for (const [i, dev] of ['eth0', 'eth1'].entries()) {
    await lab.addVeth(ns, dev, ns, `p${i}`); // the peer stays up: dev has carrier until set down
    await lab.addAddress(ns, dev, `10.67.${i}.1/24`);
  }
  const maildir = path.join(lab.dir, `${name}-maildir`);
  const smtp = lab.spawn(ns, ['/usr/bin/python3', '-m', 'aiosmtpd', '-n', '-l', `127.0.0.1:${SMTP_PORT}`, '-c', 'aiosmtpd.handlers.Mailbox', maildir], 'aiosmtpd');
  const l1 = listener(ns, RS_PORT);
  const l2 = listener(ns, SECOND_PORT);
  await l1.waitForLine(/listening/);
  await l2.waitForLine(/listening/);
  await waitFor('aiosmtpd to listen', async () => (await run('ip', ['netns', 'exec', ns, 'ss', '-Hltn', `sport = :${SMTP_PORT}`])).stdout.trim() !== '', 20_000, 100);

  const file = writeFile(lab.dir, `${name}.conf`, conf(flags));
  const vk = await startVipkeeper(lab, ns, file);
  try {
    await vk.waitState('VI_A', 'MASTER');
    await vk.waitState('VI_B', 'MASTER');
    const health = (what: string) => vk.logs().filter((o) => typeof o.msg === 'string' && o.msg.startsWith(`health: ${what}`)).length;
    // the first checker fails: the real server goes down
    await l1.kill();
    await waitFor(() => `rsDown\n${vk.proc.describe()}`, () => health('rsDown') === 1, 10_000);
    // the second fails while the real server is down: only the checker changes
    await l2.kill();
    await waitFor(() => `checkDown\n${vk.proc.describe()}`, () => health('checkDown') === 1, 10_000);
    // VI_B's link goes down (FAULT) and comes back (BACKUP)
    await run('ip', ['-n', ns, 'link', 'set', 'eth1', 'down']);
    await vk.waitState('VI_B', 'FAULT');
    await run('ip', ['-n', ns, 'link', 'set', 'eth1', 'up']);
    await vk.waitState('VI_B', 'BACKUP');
    await waitFor(
      () => `the BACKUP mail (got ${JSON.stringify(readMails(maildir).map((m) => m.subject))})`,
      () => readMails(maildir).filter((m) => m.subject.includes('VI_B - Entering BACKUP')).length === 2, // at start, and now
      20_000,
      50,
    );
    // the virtual server's quorum mails (up at start, down with its only real server) are not what this is about
    const mails = readMails(maildir);
    expect(mails.filter((m) => m.subject === `[lb-mail] Virtualserver ${VS} - DOWN`).map((m) => m.body)).toEqual(['=> Lost quorum 1+0=1 <= 0 <=']);
    return mails.filter((m) => !m.subject.startsWith('[lb-mail] Virtualserver'));
  } finally {
    await vk.terminate();
    await smtp.stop();
  }
}

/** Both instances start in BACKUP, then become MASTER (each instance's two in order). */
const START = ['VI_A - Entering BACKUP', 'VI_A - Entering MASTER', 'VI_B - Entering BACKUP', 'VI_B - Entering MASTER'].map((s) => `[lb-mail] VRRP Instance ${s} state`);

describe('mail from the daemon', () => {
  it("sends keepalived's mails for VRRP transitions and each checker's change, FAULT included", async () => {
    const mails = await scenario('all', []);
    expect(mails.slice(0, 4).map((m) => m.subject).sort()).toEqual(START);
    const master = mails.find((m) => m.subject.includes('VI_A - Entering MASTER'))!;
    expect(master.body).toBe('=> VRRP Instance is now owning VRRP VIPs <=');
    expect(master.text).toMatch(/^From: vipkeeper@lb-mail\.example\.test$/m);
    expect(master.text).toMatch(/^To: ops@example\.test$/m);
    expect(mails.slice(4).map((m) => [m.subject, m.body])).toEqual([
      [`[lb-mail] Realserver ${RS} of virtual server ${VS} - DOWN`, '=> TCP CHECK failed on service <='],
      [`[lb-mail] Realserver ${RS} of virtual server ${VS} - DOWN`, '=> TCP CHECK failed on service <='],
      ['[lb-mail] VRRP Instance VI_B - Entering FAULT state', '=> VRRP Instance is nolonger owning VRRP VIPs <='],
      ['[lb-mail] VRRP Instance VI_B - Entering BACKUP state', '=> VRRP Instance is nolonger owning VRRP VIPs <='],
    ]);
  });

  it('no_checker_emails: no mail for a checker whose real server stays down; no_email_faults: no FAULT mail', async () => {
    const mails = await scenario('quiet', ['no_checker_emails', 'no_email_faults']);
    expect(mails.slice(0, 4).map((m) => m.subject).sort()).toEqual(START);
    expect(mails.slice(4).map((m) => m.subject)).toEqual([
      `[lb-mail] Realserver ${RS} of virtual server ${VS} - DOWN`,
      '[lb-mail] VRRP Instance VI_B - Entering BACKUP state',
    ]);
  });
});
