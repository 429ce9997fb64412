import { closeSync, fstatSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { createLogger, formatPrettyLine, logFormat, REDACTED } from './logger.js';

const dir = mkdtempSync(join(tmpdir(), 'vipkeeper-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('log format: human on a terminal, JSON for the journal and pipes', () => {
  const fd = openSync(join(dir, 'out'), 'w');
  afterAll(() => closeSync(fd));
  const st = fstatSync(fd);

  it('a terminal gets human lines, anything else JSON', () => {
    expect(logFormat({}, fd, true)).toBe('human');
    expect(logFormat({}, fd, false)).toBe('json');
  });

  it('under systemd (JOURNAL_STREAM names this stdout) JSON, even if it looks like a terminal', () => {
    expect(logFormat({ JOURNAL_STREAM: `${st.dev}:${st.ino}` }, fd, true)).toBe('json');
    // JOURNAL_STREAM inherited by a child whose stdout is elsewhere (a terminal) does not count
    expect(logFormat({ JOURNAL_STREAM: `${st.dev}:${st.ino + 1}` }, fd, true)).toBe('human');
  });

  it('VIPKEEPER_LOG_FORMAT decides when set', () => {
    expect(logFormat({ VIPKEEPER_LOG_FORMAT: 'json' }, fd, true)).toBe('json');
    expect(logFormat({ VIPKEEPER_LOG_FORMAT: 'human', JOURNAL_STREAM: `${st.dev}:${st.ino}` }, fd, false)).toBe('human');
  });
});

describe('human lines', () => {
  it('one event is one line: time, level, message, then the fields', () => {
    const line = formatPrettyLine(
      JSON.stringify({ level: 'warn', time: '2026-12-07T22:31:02.123Z', name: 'vipkeeper', pid: 1, hostname: 'd1', component: 'vrrp', msg: 'vrrp_rt_priority 10: cannot set SCHED_RR (EPERM: needs CAP_SYS_NICE or LimitRTPRIO=); VRRP runs with normal scheduling', requested: 10, err: 'Operation not permitted' }),
    );
    expect(line).toBe(
      '22:31:02.123 WARN  vrrp_rt_priority 10: cannot set SCHED_RR (EPERM: needs CAP_SYS_NICE or LimitRTPRIO=); VRRP runs with normal scheduling  component=vrrp requested=10 err="Operation not permitted"\n',
    );
  });

  it('newlines inside a message or a field stay on the line, escaped', () => {
    const line = formatPrettyLine(JSON.stringify({ level: 'error', time: '2026-12-07T22:31:02.123Z', msg: 'two\nlines', detail: 'a\nb' }));
    expect(line.split('\n')).toHaveLength(2);
    expect(line).toMatch(/two\\nlines {2}detail="a\\nb"\n$/);
  });

  it('the pretty logger writes human lines, secrets redacted', () => {
    const out: string[] = [];
    const log = createLogger({ pretty: true, destination: { write: (s: string) => void out.push(s) } });
    log.info({ instance: 'VI_1', auth_pass: 'hunter2' }, 'state changed');
    expect(out.join('')).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO  state changed {2}instance=VI_1 auth_pass=\[redacted\]\n$/);
    expect(out.join('')).not.toContain('hunter2');
    expect(REDACTED).toBe('[redacted]');
  });
});
