// The one mailer (issue 17 point 6, issue 18 point 4): smtp_alert mails for VRRP state changes and
// checker events, sent to a real SMTP server (aiosmtpd on loopback), a bounded queue whose drops
// are counted, retries when the server is down.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigSchema, type ConfigInput } from '../src/config/schema.js';
import { checkerAlert, Mailer, quorumAlert, realServerAlert, vrrpAlert, vrrpMailOn } from '../src/daemon/mail/mailer.js';
import { checkerMailOn, type CheckerAlert } from '../src/daemon/scripts/checker-events.js';
import { startCheckerPort } from '../src/daemon/scripts/checker-port.js';
import type { Logger } from '../src/sys/logger.js';
import { freePort, LOOPBACK4, Servers, startAiosmtpd } from './helpers/servers.js';

const servers = new Servers();
afterAll(() => servers.closeAll());

function config(port: number, more: Partial<ConfigInput['global']> = {}, rest: Partial<ConfigInput> = {}) {
  return ConfigSchema.parse({
    global: {
      router_id: 'lb1',
      notification_email: ['ops@example.test', 'oncall@example.test'],
      notification_email_from: 'vipkeeper@lb1.example.test',
      smtp_server: { host: LOOPBACK4, port },
      smtp_helo_name: 'lb1.example.test',
      smtp_connect_timeout: '2s',
      ...more,
    },
    ...rest,
  });
}

/** The messages in an aiosmtpd Maildir, once `n` have arrived (bounded wait). */
async function messages(maildir: string, n: number): Promise<string[]> {
  const dir = path.join(maildir, 'new');
  for (let i = 0; i < 200; i++) {
    const files = existsSync(dir) ? readdirSync(dir) : [];
    if (files.length >= n) return files.map((f) => readFileSync(path.join(dir, f), 'utf8').replace(/\r?\n[ \t]+/g, ' ')); // headers unfolded
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`fewer than ${n} messages arrived in ${dir}`);
}

function capture(): { logger: Logger; text: () => string } {
  const lines: string[] = [];
  const put = (o: object, msg: string) => lines.push(`${msg} ${JSON.stringify(o)}`);
  const logger = { debug: put, info: put, warn: put, error: put, child: () => logger } as unknown as Logger;
  return { logger, text: () => lines.join('\n') };
}

describe('the mailer', () => {
  it("sends keepalived's VRRP and checker alerts over SMTP to every recipient, with the sender and keepalived's subjects", async () => {
    const maildir = path.join(servers.tempDir('vk-maildir-'), 'md'); // aiosmtpd's Maildir makes it
    const smtp = await startAiosmtpd(servers, LOOPBACK4, maildir);
    const m = new Mailer(config(smtp.port));
    expect(m.enabled).toBe(true);
    m.send(vrrpAlert(m.routerId, 'instance', 'VI_1', 'MASTER'));
    m.send(realServerAlert(m.routerId, '[10.9.1.2]:tcp:80', '[10.9.0.1]:tcp:80', false));
    m.send(quorumAlert(m.routerId, { vs: '[10.9.0.1]:tcp:80', up: false, weight: 1, threshold: 2, quorum: 2, hysteresis: 0 }));
    const got = await messages(maildir, 3);
    await m.idle();
    expect(m.stats).toEqual({ queued: 0, sent: 3, failed: 0, dropped: 0 });
    const subjects = got.map((t) => /^Subject: (.*)$/m.exec(t)?.[1]).sort();
    expect(subjects).toEqual(
      [
        '[lb1] VRRP Instance VI_1 - Entering MASTER state',
        '[lb1] Realserver [10.9.1.2]:tcp:80 of virtual server [10.9.0.1]:tcp:80 - DOWN',
        '[lb1] Virtualserver [10.9.0.1]:tcp:80 - DOWN',
      ].sort(),
    );
    for (const t of got) {
      expect(t).toMatch(/^From: vipkeeper@lb1\.example\.test$/m);
      expect(t).toMatch(/^To: ops@example\.test, oncall@example\.test$/m);
      expect(t).toMatch(/^X-Peer:/m); // stored by aiosmtpd: it came over SMTP
    }
    expect(got.find((t) => t.includes('Entering MASTER'))).toContain('=> VRRP Instance is now owning VRRP VIPs <=');
    expect(got.find((t) => t.includes('Virtualserver'))).toContain('=> Lost quorum 2+0=2 <= 1 <='); // keepalived's do_vs_notifies
    m.stop();
  });

  it('with the server down: retries, then gives up and counts it; the error is logged without the message', async () => {
    const port = await freePort('tcp');
    const { logger, text } = capture();
    const m = new Mailer(config(port), { logger, attempts: 2, retryMs: 10 });
    m.send(vrrpAlert('lb1', 'instance', 'VI_1', 'BACKUP'));
    await m.idle();
    expect(m.stats).toMatchObject({ sent: 0, failed: 1, queued: 0 });
    expect(text()).toContain('will retry');
    expect(text()).toContain('giving up');
    expect(text()).not.toContain('nolonger owning');
    m.stop();
  });

  it('keeps a bounded queue: past it, alerts are dropped and counted, never blocking the caller', async () => {
    const port = await freePort('tcp');
    const m = new Mailer(config(port), { maxQueue: 4, attempts: 1, retryMs: 10 });
    let accepted = 0;
    for (let i = 0; i < 50; i++) if (m.send(vrrpAlert('lb1', 'instance', `VI_${i}`, 'MASTER'))) accepted++;
    // one in flight plus four queued
    expect(accepted).toBe(5);
    expect(m.stats.dropped).toBe(45);
    await m.idle();
    expect(m.stats).toMatchObject({ failed: 5, dropped: 45, queued: 0 });
    m.stop();
  });

  it("without a server or recipients nothing is sent; keepalived's precedence of smtp_alert, smtp_alert_vrrp and smtp_alert_checker", () => {
    expect(new Mailer(ConfigSchema.parse({ global: { smtp_server: { host: LOOPBACK4 } } })).enabled).toBe(false);
    const c = config(25, { smtp_alert: true, smtp_alert_vrrp: false });
    expect(vrrpMailOn(c, undefined)).toBe(false);
    expect(vrrpMailOn(c, true)).toBe(true);
    expect(checkerMailOn(c, undefined)).toBe(true);
    expect(checkerMailOn(config(25, { smtp_alert_checker: true }), undefined)).toBe(true);
    expect(checkerMailOn(config(25), undefined)).toBe(false);
    // no_email_faults: never for FAULT, whatever says to mail
    const nf = config(25, { smtp_alert: true, no_email_faults: true });
    expect(vrrpMailOn(nf, true, 'FAULT')).toBe(false);
    expect(vrrpMailOn(nf, true, 'BACKUP')).toBe(true);
    expect(vrrpMailOn(c, true, 'FAULT')).toBe(true);
  });

  it("a checker's mail names its kind, as keepalived's checkers do; the subject says the real server's state", () => {
    expect(checkerAlert('lb1', { kind: 'rs', up: false, rs: '[10.9.1.2]:tcp:80', vs: '[10.9.0.1]:tcp:80', check: { kind: 'TCP_CHECK', up: true } })).toEqual({
      subject: '[lb1] Realserver [10.9.1.2]:tcp:80 of virtual server [10.9.0.1]:tcp:80 - DOWN',
      body: '=> TCP CHECK succeed on service <=',
    });
    expect(checkerAlert('lb1', { kind: 'rs', up: true, rs: 'R', vs: 'V', check: { kind: 'HTTP_GET', up: true } }).body).toBe('=> CHECK succeed on service <=');
    expect(checkerAlert('lb1', { kind: 'rs', up: false, rs: 'R', vs: 'V', check: { kind: 'PING_CHECK', up: false } }).body).toBe('=> ICMP CHECK failed on service <=');
  });

  it("no_checker_emails: a checker's change while its real server's state stays is not mailed", async () => {
    const got: CheckerAlert[] = [];
    const vsCfg = { virtual_servers: [{ address: '10.9.0.1', port: 80, smtp_alert: true, real_servers: [{ address: '10.9.1.1', checks: [{ type: 'TCP_CHECK' as const }] }] }] };
    const vs = '10.9.0.1 80 TCP';
    const ev = { type: 'checkDown' as const, vs, rs: '10.9.1.1:80', address: '10.9.1.1', port: 80, check: 'TCP_CHECK 10.9.1.1:80 x', alive: false };
    for (const flag of [false, true]) {
      const port = await startCheckerPort(config(25, { no_checker_emails: flag }, vsCfg), capture().logger, (a) => got.push(a));
      port.onEvent(ev);
      await port.close();
    }
    expect(got).toEqual([{ kind: 'rs', up: false, rs: '[10.9.1.1]:tcp:80', vs: '[10.9.0.1]:tcp:80', check: { kind: 'TCP_CHECK', up: false } }]);
  });

  it('gets the checker alerts of a virtual server with smtp_alert, off the event path', async () => {
    const maildir = path.join(servers.tempDir('vk-maildir-'), 'md'); // aiosmtpd's Maildir makes it
    const smtp = await startAiosmtpd(servers, LOOPBACK4, maildir);
    const c = config(smtp.port, {}, {
      virtual_servers: [{ address: '10.9.0.1', port: 80, smtp_alert: true, real_servers: [{ address: '10.9.1.1', checks: [{ type: 'TCP_CHECK' }] }] }],
    });
    const m = new Mailer(c);
    const port = await startCheckerPort(c, capture().logger, (a) =>
      m.send(checkerAlert(m.routerId, a)),
    );
    const vs = '10.9.0.1 80 TCP';
    port.onEvent({ type: 'rsDown', vs, rs: '10.9.1.1:80', address: '10.9.1.1', port: 80, weight: 1 });
    expect(m.stats.queued).toBe(1); // handed over, not sent yet
    const got = await messages(maildir, 1);
    expect(got[0]).toMatch(/^Subject: \[lb1\] Realserver \[10\.9\.1\.1\]:tcp:80 of virtual server \[10\.9\.0\.1\]:tcp:80 - DOWN$/m);
    await port.close();
    await m.idle();
    m.stop();
  });
});
