/**
 * The one mailer of the daemon: keepalived's `smtp_alert` mails for VRRP state changes and for
 * checker events (real server up/down, quorum gained/lost), sent over SMTP with nodemailer (a
 * maintained, dependency-free SMTP client; keepalived's own client speaks plain SMTP without
 * authentication, which nodemailer does as well, taking STARTTLS when the server offers it).
 *
 * It lives in the main thread: VRRP transitions reach it as events from the VRRP worker, so no
 * mail work ever runs on the VRRP thread; the checker hands alerts over and returns at once.
 *
 * - A bounded queue (`maxQueue`, default 64): when full, the new alert is dropped and counted
 *   (`stats.dropped`), with one warning per burst.
 * - One message in flight. A failed send (server down, refused) is retried after `retryMs`
 *   (doubling), at most `attempts` times in all, then dropped and counted (`stats.failed`).
 * - Nothing secret is logged: failures log the server, the subject and the error's message only.
 *
 * Format, as keepalived's smtp.c: From `notification_email_from`, To every `notification_email`,
 * Subject `[router_id] VRRP Instance VI_1 - Entering MASTER state`, `[router_id] Realserver
 * [10.0.0.2]:tcp:80 of virtual server [10.0.0.1]:tcp:80 - DOWN`, and a one-line body.
 */
import { hostname } from 'node:os';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Config } from '../../config/schema.js';
import { noopLogger, type Logger } from '../../sys/logger.js';
import type { CheckerAlert } from '../scripts/checker-events.js';

export interface MailStats {
  queued: number;
  sent: number;
  /** Given up after every attempt failed. */
  failed: number;
  /** Not queued: the queue was full, or the mailer is stopped. */
  dropped: number;
}

export interface Alert {
  subject: string;
  body: string;
}

export interface MailerOptions {
  logger?: Logger;
  maxQueue?: number;
  attempts?: number;
  retryMs?: number;
}

/** What the mailer needs of global_defs; undefined when mail is not configured. */
export interface MailSettings {
  host: string;
  port: number;
  from: string;
  to: string[];
  helo: string;
  connectTimeoutMs: number;
  routerId: string;
}

/** keepalived mails only with a server and at least one recipient. */
export function mailSettings(config: Config): MailSettings | undefined {
  const g = config.global;
  if (!g.smtp_server || g.notification_email.length === 0) return undefined;
  const host = hostname();
  return {
    host: g.smtp_server.host,
    port: g.smtp_server.port,
    // keepalived's default sender: keepalived@<hostname>
    from: g.notification_email_from ?? `keepalived@${host}`,
    to: [...g.notification_email],
    helo: g.smtp_helo_name ?? host,
    connectTimeoutMs: g.smtp_connect_timeout,
    routerId: g.router_id ?? host,
  };
}

/**
 * keepalived: an instance's (or group's) smtp_alert, else smtp_alert_vrrp, else smtp_alert; and
 * with no_email_faults, never for entering FAULT.
 */
export function vrrpMailOn(config: Config, own: boolean | undefined, state?: string): boolean {
  if (state === 'FAULT' && config.global.no_email_faults) return false;
  return own ?? config.global.smtp_alert_vrrp ?? config.global.smtp_alert;
}

const VRRP_BODY: Record<string, string> = {
  MASTER: '=> VRRP Instance is now owning VRRP VIPs <=',
  BACKUP: '=> VRRP Instance is nolonger owning VRRP VIPs <=',
  FAULT: '=> VRRP Instance is nolonger owning VRRP VIPs <=',
  STOP: '=> VRRP Instance stopped <=',
};

export function vrrpAlert(routerId: string, kind: 'instance' | 'group', name: string, state: string): Alert {
  const what = kind === 'instance' ? 'VRRP Instance' : 'VRRP Group';
  return { subject: `[${routerId}] ${what} ${name} - Entering ${state} state`, body: VRRP_BODY[state] ?? `=> ${what} ${name} is ${state} <=` };
}

/** keepalived's body of a checker's mail names some kinds (check_tcp.c, check_ping.c, …). */
const CHECK_NAME: Record<string, string> = { TCP_CHECK: 'TCP CHECK', PING_CHECK: 'ICMP CHECK', UDP_CHECK: 'UDP CHECK', DNS_CHECK: 'DNS_CHECK:' };

/**
 * The subject says the real server's state; the body the change of the checker that caused the
 * mail (`check`: a checker's change while the real server's state stays).
 */
export function realServerAlert(routerId: string, rs: string, vs: string, up: boolean, check?: { kind: string; up: boolean }): Alert {
  const name = (check && CHECK_NAME[check.kind]) ?? 'CHECK';
  const ok = check?.up ?? up;
  return {
    subject: `[${routerId}] Realserver ${rs} of virtual server ${vs} - ${up ? 'UP' : 'DOWN'}`,
    body: `=> ${name} ${ok ? 'succeed' : 'failed'} on service <=`,
  };
}

/** keepalived's do_vs_notifies: `=> Lost quorum QUORUM+HYSTERESIS=THRESHOLD <= WEIGHT <=` (its format, '+' and '<=' whatever the direction). */
export function quorumAlert(routerId: string, a: Omit<Extract<CheckerAlert, { kind: 'quorum' }>, 'kind'>): Alert {
  const what = a.up ? (a.initial ? 'Starting with quorum up' : 'Gained quorum') : a.initial ? 'Starting with quorum down' : 'Lost quorum';
  return {
    subject: `[${routerId}] Virtualserver ${a.vs} - ${a.up ? 'UP' : 'DOWN'}`,
    body: `=> ${what} ${a.quorum}+${a.hysteresis}=${a.threshold} <= ${a.weight} <=`,
  };
}

/** The mail of a checker event (checker-events.ts). */
export function checkerAlert(routerId: string, a: CheckerAlert): Alert {
  return a.kind === 'rs' ? realServerAlert(routerId, a.rs, a.vs, a.up, a.check) : quorumAlert(routerId, a);
}

interface Queued {
  alert: Alert;
  attempt: number;
}

export class Mailer {
  private settings: MailSettings | undefined;
  private transport: Transporter | undefined;
  private readonly queue: Queued[] = [];
  private sending = false;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private warnedFull = false;
  private readonly log: Logger;
  private readonly maxQueue: number;
  private readonly attempts: number;
  private readonly retryMs: number;
  private readonly counters = { sent: 0, failed: 0, dropped: 0 };
  private idleWaiters: (() => void)[] = [];

  constructor(config: Config, opts: MailerOptions = {}) {
    this.log = opts.logger ?? noopLogger;
    this.maxQueue = opts.maxQueue ?? 64;
    this.attempts = opts.attempts ?? 3;
    this.retryMs = opts.retryMs ?? 5000;
    this.setConfig(config);
  }

  get stats(): MailStats {
    return { ...this.counters, queued: this.queue.length + (this.sending ? 1 : 0) };
  }

  /** The router id subjects carry (global router_id, else the host name). */
  get routerId(): string {
    return this.settings?.routerId ?? hostname();
  }

  get enabled(): boolean {
    return this.settings !== undefined;
  }

  /** Start and every reload: a changed server or sender applies to the next message. */
  setConfig(config: Config): void {
    const next = mailSettings(config);
    const same = JSON.stringify(next) === JSON.stringify(this.settings);
    this.settings = next;
    if (same) return;
    this.transport?.close();
    this.transport = next
      ? nodemailer.createTransport({
          host: next.host,
          port: next.port,
          secure: false,
          name: next.helo,
          connectionTimeout: next.connectTimeoutMs,
          greetingTimeout: next.connectTimeoutMs,
          socketTimeout: next.connectTimeoutMs,
          // keepalived sends in clear; STARTTLS when offered is no worse, whatever the certificate
          tls: { rejectUnauthorized: false },
          logger: false,
          debug: false,
        })
      : undefined;
  }

  /** Queues one alert; returns at once. False when dropped (full, stopped, or mail not configured). */
  send(alert: Alert): boolean {
    if (!this.settings || this.stopped) {
      if (this.settings) this.counters.dropped++;
      return false;
    }
    if (this.queue.length >= this.maxQueue) {
      this.counters.dropped++;
      if (!this.warnedFull) {
        this.warnedFull = true;
        this.log.warn({ queued: this.queue.length, dropped: this.counters.dropped }, `mail queue full (${this.maxQueue}); alerts are dropped until it drains`);
      }
      return false;
    }
    this.queue.push({ alert, attempt: 0 });
    this.pump();
    return true;
  }

  private pump(): void {
    if (this.sending || this.stopped || this.retryTimer) return;
    const next = this.queue.shift();
    if (!next) {
      this.warnedFull = false;
      for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    const s = this.settings;
    const t = this.transport;
    if (!s || !t) {
      this.counters.dropped += 1 + this.queue.length;
      this.queue.length = 0;
      this.pump();
      return;
    }
    this.sending = true;
    next.attempt++;
    t.sendMail({ from: s.from, to: s.to, subject: next.alert.subject, text: `${next.alert.body}\n` }).then(
      () => {
        this.sending = false;
        this.counters.sent++;
        this.pump();
      },
      (e: unknown) => {
        this.sending = false;
        const err = e instanceof Error ? e.message : String(e);
        if (next.attempt >= this.attempts || this.stopped) {
          this.counters.failed++;
          this.log.error({ server: `${s.host}:${s.port}`, subject: next.alert.subject, err, attempts: next.attempt }, 'mail alert not sent; giving up');
          this.pump();
          return;
        }
        this.log.warn({ server: `${s.host}:${s.port}`, subject: next.alert.subject, err, attempt: next.attempt }, 'mail alert not sent; will retry');
        this.queue.unshift(next);
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.pump();
        }, this.retryMs * 2 ** (next.attempt - 1));
        this.retryTimer.unref();
      },
    );
  }

  /** Resolves when the queue is empty and nothing is in flight (bounded by the caller). */
  idle(): Promise<void> {
    if (!this.sending && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Stops sending: what is queued is dropped (counted); a message in flight may still go. */
  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.counters.dropped += this.queue.length;
    this.queue.length = 0;
    this.transport?.close();
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
