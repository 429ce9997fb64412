/**
 * SMTP_CHECK, after keepalived's check_smtp.c: connect, expect a 220 greeting, send
 * `HELO <heloName>`, expect 250, send `QUIT` and close. Replies are read whole: continuation
 * lines (`220-…`) are collected until the final `NNN ` line (keepalived only looks at the first
 * line of a packet, which can misread multi-line greetings). A wrong reply code fails with
 * 'status', a malformed reply or an early close with 'protocol'.
 */
import type { Probe, ProbeResult, ProbeSpec } from '../types.js';
import { CLOSE_GRACE_MS, closeGracefully, connectTcp, describeError, fail, ok, reasonFor, runAttempt } from './common.js';

type SmtpSpec = Extract<ProbeSpec, { kind: 'SMTP_CHECK' }>;

/** keepalived's default helo_name. */
export const DEFAULT_HELO_NAME = 'smtpchecker.keepalived.org';
const MAX_LINE = 4096;

/** Splits a byte stream into SMTP replies (code + text lines). */
export class SmtpReplyReader {
  private buf = '';
  private lines: string[] = [];

  /** Feeds data; returns the replies completed by it. Throws on a malformed line. */
  push(data: string): Array<{ code: number; lines: string[] }> {
    this.buf += data;
    const out: Array<{ code: number; lines: string[] }> = [];
    for (;;) {
      const nl = this.buf.indexOf('\n');
      if (nl < 0) break;
      const line = this.buf.slice(0, nl).replace(/\r$/, '');
      this.buf = this.buf.slice(nl + 1);
      const m = /^(\d{3})([ -]|$)/.exec(line);
      if (!m) throw new SyntaxError(`not an SMTP reply line: ${JSON.stringify(line.slice(0, 80))}`);
      this.lines.push(line);
      if (m[2] !== '-') {
        out.push({ code: Number(m[1]), lines: this.lines });
        this.lines = [];
      }
    }
    if (this.buf.length > MAX_LINE) throw new SyntaxError(`SMTP reply line longer than ${MAX_LINE} bytes`);
    return out;
  }
}

export const smtpProbe: Probe = (spec, signal) => {
  if (spec.kind !== 'SMTP_CHECK') return Promise.resolve(fail('error', `smtp probe cannot run ${spec.kind}`));
  return probeSmtp(spec, signal);
};

function probeSmtp(spec: SmtpSpec, signal: AbortSignal): Promise<ProbeResult> {
  const helo = spec.heloName || DEFAULT_HELO_NAME;
  const where = `${spec.address} port ${spec.port}`;
  return runAttempt({ timeoutMs: spec.timeoutMs, signal, phase: `connecting to ${where}` }, (a) => {
    let sock;
    try {
      sock = connectTcp(spec); // marked and bound to bind_if if asked
    } catch (e) {
      a.finish(fail(reasonFor(e), describeError(e)));
      return;
    }
    a.defer(() => sock.destroy());
    sock.setEncoding('latin1');
    const reader = new SmtpReplyReader();
    let step: 'greeting' | 'helo' | 'done' = 'greeting';

    const done = (result: ProbeResult): void => {
      if (step === 'done') return;
      step = 'done';
      if (!result.ok) {
        a.finish(result);
        return;
      }
      a.phase = 'closing';
      a.onDeadline = () => result;
      void closeGracefully(sock, Math.min(CLOSE_GRACE_MS, a.remainingMs())).then(() => a.finish(result));
    };

    sock.on('error', (e) => {
      if (step !== 'done') done(fail(reasonFor(e), `${describeError(e)} (while ${a.phase})`));
    });
    sock.once('connect', () => (a.phase = 'waiting for the 220 greeting'));
    sock.on('end', () => done(fail('protocol', `connection closed while ${a.phase}`)));
    sock.on('data', (d: string) => {
      if (step === 'done') return;
      let replies;
      try {
        replies = reader.push(d);
      } catch (e) {
        done(fail('protocol', describeError(e)));
        return;
      }
      for (const r of replies) {
        const text = r.lines[r.lines.length - 1] ?? '';
        if (step === 'greeting') {
          if (r.code !== 220) {
            done(fail('status', `greeting ${JSON.stringify(text.slice(0, 120))}, expected 220`));
            return;
          }
          step = 'helo';
          a.phase = 'waiting for the reply to HELO';
          sock.write(`HELO ${helo}\r\n`);
        } else if (step === 'helo') {
          if (r.code !== 250) {
            done(fail('status', `HELO answered ${JSON.stringify(text.slice(0, 120))}, expected 250`));
            return;
          }
          sock.write('QUIT\r\n');
          done(ok(`220 greeting, 250 to HELO ${helo}`));
          return;
        }
      }
    });
  });
}
