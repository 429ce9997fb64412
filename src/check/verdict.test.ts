import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigSchema, type Config } from '../config/schema.js';
import { resolveChecks, type CheckPlan } from './spec.js';
import type { ProbeKind, ProbeResult } from './types.js';
import { CheckVerdict, verdictParams, type VerdictParams } from './verdict.js';

const OK: ProbeResult = { ok: true };
const FAIL: ProbeResult = { ok: false, reason: 'refused', detail: 'connection refused' };

/** A one-VS, one-RS, one-checker config with everything else at its default. */
function configWith(check: Record<string, unknown>, vs: Record<string, unknown> = {}): Config {
  return ConfigSchema.parse({
    track_files: { tf: { file: '/run/vipkeeper/tf' } },
    virtual_servers: [{ address: '10.0.0.1', port: 80, ...vs, real_servers: [{ address: '10.0.1.1', port: 8080, checks: [check] }] }],
  });
}

function planOf(check: Record<string, unknown>, vs: Record<string, unknown> = {}): CheckPlan {
  const [plan] = resolveChecks(configWith(check, vs));
  if (!plan) throw new Error('no plan');
  return plan;
}

const CHECKS: Record<ProbeKind, Record<string, unknown>> = {
  TCP_CHECK: { type: 'TCP_CHECK' },
  HTTP_GET: { type: 'HTTP_GET', url: [{ path: '/' }] },
  SSL_GET: { type: 'SSL_GET', url: [{ path: '/' }] },
  SMTP_CHECK: { type: 'SMTP_CHECK' },
  DNS_CHECK: { type: 'DNS_CHECK' },
  UDP_CHECK: { type: 'UDP_CHECK' },
  PING_CHECK: { type: 'PING_CHECK' },
  MISC_CHECK: { type: 'MISC_CHECK', misc_path: '/usr/local/bin/check.sh' },
  FILE_CHECK: { type: 'FILE_CHECK', track_file: 'tf' },
};

// keepalived 2.4 defaults with the VS default delay_loop of 60 s (docs/keepalived.md §3).
const DEFAULTS: { kind: ProbeKind; retry: number; delayBeforeRetryMs: number; failedDelayMs: number }[] = [
  { kind: 'TCP_CHECK', retry: 1, delayBeforeRetryMs: 1000, failedDelayMs: 60_000 },
  { kind: 'HTTP_GET', retry: 1, delayBeforeRetryMs: 3000, failedDelayMs: 60_000 },
  { kind: 'SSL_GET', retry: 1, delayBeforeRetryMs: 3000, failedDelayMs: 60_000 },
  { kind: 'SMTP_CHECK', retry: 1, delayBeforeRetryMs: 1000, failedDelayMs: 60_000 },
  { kind: 'DNS_CHECK', retry: 3, delayBeforeRetryMs: 60_000, failedDelayMs: 60_000 },
  { kind: 'UDP_CHECK', retry: 1, delayBeforeRetryMs: 1000, failedDelayMs: 60_000 },
  { kind: 'PING_CHECK', retry: 1, delayBeforeRetryMs: 1000, failedDelayMs: 60_000 },
  { kind: 'MISC_CHECK', retry: 0, delayBeforeRetryMs: 1000, failedDelayMs: 60_000 },
  { kind: 'FILE_CHECK', retry: 0, delayBeforeRetryMs: 1000, failedDelayMs: 60_000 },
];

describe('verdict: every checker kind with keepalived defaults', () => {
  it.each(DEFAULTS)('$kind: retry $retry, so an UP checker goes DOWN on failure number retry+1', ({ kind, retry, delayBeforeRetryMs, failedDelayMs }) => {
    const plan = planOf(CHECKS[kind]);
    expect(plan.timing.retry).toBe(retry);
    expect(plan.timing.delayBeforeRetryMs).toBe(delayBeforeRetryMs);
    const v = new CheckVerdict(verdictParams(plan));

    // Starts UP (no alpha); a first success keeps it UP and waits delay_loop.
    expect(v.up).toBe(true);
    const first = v.observe(OK);
    expect(first).toMatchObject({ up: true, changed: false, nextDelayMs: 60_000 });

    // retry failures: still UP, each followed by a retry after delay_before_retry.
    for (let i = 1; i <= retry; i++) {
      const out = v.observe(FAIL);
      expect(out, `failure ${i}`).toMatchObject({ up: true, changed: false, retrying: true, nextDelayMs: delayBeforeRetryMs });
    }
    // Failure retry+1: DOWN.
    const down = v.observe(FAIL);
    expect(down).toMatchObject({ up: false, changed: true, retrying: false, nextDelayMs: failedDelayMs });

    // Failures while DOWN change nothing and never retry.
    expect(v.observe(FAIL)).toMatchObject({ up: false, changed: false, retrying: false, nextDelayMs: failedDelayMs });
  });

  it.each(DEFAULTS.filter((d) => d.kind !== 'HTTP_GET' && d.kind !== 'SSL_GET'))('$kind: one success brings a DOWN checker UP', ({ kind }) => {
    const v = new CheckVerdict(verdictParams(planOf(CHECKS[kind])));
    v.observe(FAIL); // startup: the first failure is conclusive
    expect(v.up).toBe(false);
    expect(v.observe(OK)).toMatchObject({ up: true, changed: true, nextDelayMs: 60_000 });
  });

  it.each(DEFAULTS)('$kind: right after startup the first failure is conclusive', ({ kind }) => {
    const v = new CheckVerdict(verdictParams(planOf(CHECKS[kind])));
    expect(v.observe(FAIL)).toMatchObject({ up: false, changed: true });
  });

  it.each(DEFAULTS)('$kind: alpha starts DOWN; a first failure is not a change', ({ kind }) => {
    const plan = planOf({ ...CHECKS[kind], ...(kind === 'FILE_CHECK' ? {} : { alpha: true }) }, kind === 'FILE_CHECK' ? { alpha: true } : {});
    expect(plan.timing.alpha).toBe(true);
    const v = new CheckVerdict(verdictParams(plan));
    expect(v.up).toBe(false);
    expect(v.observe(FAIL)).toMatchObject({ up: false, changed: false });
  });

  it.each(DEFAULTS)('$kind: alpha, then one success: UP', ({ kind }) => {
    const v = new CheckVerdict({ ...verdictParams(planOf(CHECKS[kind])), alpha: true });
    expect(v.observe(OK)).toMatchObject({ up: true, changed: true });
  });

  it('counts time like keepalived: TCP at delay_loop 6 s, retry 2, delay_before_retry 2 s detects a dead RS 6+2+2 s after the last good check', () => {
    const v = new CheckVerdict(verdictParams(planOf({ type: 'TCP_CHECK', retry: 2, delay_before_retry: '2s' }, { delay_loop: '6s' })));
    let t = 0;
    t += v.observe(OK).nextDelayMs; // the RS dies right after this check
    let out = v.observe(FAIL);
    while (out.up) {
      t += out.nextDelayMs;
      out = v.observe(FAIL);
    }
    expect(t).toBe(10_000);
  });
});

describe('verdict: HTTP_GET / SSL_GET url rotation', () => {
  const params = (urls: number, extra: Partial<VerdictParams> = {}): VerdictParams => ({
    kind: 'HTTP_GET',
    retry: 1,
    delayLoopMs: 6000,
    delayBeforeRetryMs: 3000,
    alpha: false,
    urlCount: urls,
    ...extra,
  });

  it('checks one url per delay_loop, in turn', () => {
    const v = new CheckVerdict(params(3));
    const seen: number[] = [];
    for (let i = 0; i < 7; i++) {
      seen.push(v.nextIndex);
      expect(v.observe(OK).nextDelayMs).toBe(6000);
    }
    expect(seen).toEqual([0, 1, 2, 0, 1, 2, 0]);
  });

  it('retries the same url, then goes DOWN and retries at max(delay_before_retry, delay_loop)', () => {
    const v = new CheckVerdict(params(2));
    v.observe(OK);
    v.observe(OK); // a full pass: has run
    v.observe(OK); // url 0 good, now on url 1
    expect(v.nextIndex).toBe(1);
    expect(v.observe(FAIL)).toMatchObject({ up: true, retrying: true, nextIndex: 1, nextDelayMs: 3000 });
    expect(v.observe(FAIL)).toMatchObject({ up: false, changed: true, nextIndex: 1, nextDelayMs: 6000 });
    expect(v.observe(FAIL)).toMatchObject({ up: false, changed: false, nextIndex: 1, nextDelayMs: 6000 });
    expect(new CheckVerdict(params(1, { delayBeforeRetryMs: 9000 })).observe(FAIL).nextDelayMs).toBe(9000);
  });

  it('comes back after the failed url answers and then one clean pass over every url', () => {
    const v = new CheckVerdict(params(2));
    v.observe(FAIL); // startup: DOWN at once, url 0 marked failed
    expect(v.up).toBe(false);
    expect(v.observe(OK)).toMatchObject({ up: false, nextIndex: 0 }); // clears the mark, restarts the pass
    expect(v.observe(OK)).toMatchObject({ up: false, nextIndex: 1 });
    expect(v.observe(OK)).toMatchObject({ up: true, changed: true, nextIndex: 0 });
  });

  it('with one url, a DOWN checker needs two successes in a row', () => {
    const v = new CheckVerdict(params(1));
    v.observe(FAIL);
    expect(v.observe(OK).up).toBe(false);
    expect(v.observe(OK)).toMatchObject({ up: true, changed: true });
  });

  it('fast_recovery checks again at once while DOWN without a failed url', () => {
    const v = new CheckVerdict(params(2, { fastRecovery: true }));
    expect(v.observe(OK).nextDelayMs).toBe(0); // first pass not finished yet
    expect(v.observe(OK).nextDelayMs).toBe(6000);
    v.observe(FAIL);
    expect(v.observe(FAIL)).toMatchObject({ up: false, nextDelayMs: 6000 }); // a url is marked failed
    expect(v.observe(OK)).toMatchObject({ up: false, nextDelayMs: 0 }); // mark cleared: hurry
    expect(v.observe(OK)).toMatchObject({ up: false, nextDelayMs: 0 });
    expect(v.observe(OK)).toMatchObject({ up: true, nextDelayMs: 6000 });
  });
});

describe('verdict: weights and timing anchors', () => {
  it('MISC_CHECK misc_dynamic takes the weight of each success and restores the configured weight on exit 0', () => {
    const plan = planOf({ type: 'MISC_CHECK', misc_path: '/bin/w', misc_dynamic: true });
    expect(plan.dynamic).toBe(true);
    const v = new CheckVerdict(verdictParams(plan));
    expect(v.observe({ ok: true, weight: 5 })).toMatchObject({ up: true, weight: 5, weightChanged: true });
    expect(v.observe({ ok: true, weight: 5 })).toMatchObject({ weight: 5, weightChanged: false });
    const down = v.observe({ ok: false, reason: 'exit', detail: 'exit 1' });
    expect(down).toMatchObject({ up: false, weight: 5, weightChanged: false });
    const back = v.observe({ ok: true });
    expect(back.weight).toBeUndefined();
    expect(back).toMatchObject({ up: true, weightChanged: true });
  });

  it('MISC_CHECK without misc_dynamic ignores weights, and counts delays from the start of a run', () => {
    const v = new CheckVerdict(verdictParams(planOf(CHECKS.MISC_CHECK)));
    const out = v.observe({ ok: true, weight: 9 });
    expect(out.weight).toBeUndefined();
    expect(out.delayFrom).toBe('start');
    expect(new CheckVerdict(verdictParams(planOf(CHECKS.TCP_CHECK))).observe(OK).delayFrom).toBe('end');
  });

  it('FILE_CHECK results carry a weight delta', () => {
    const v = new CheckVerdict(verdictParams(planOf({ type: 'FILE_CHECK', track_file: 'tf', weight: 10 })));
    expect(v.observe({ ok: true, weight: -20 })).toMatchObject({ up: true, weightDelta: -20, weightChanged: true });
    expect(v.observe({ ok: true, weight: 0 })).toMatchObject({ weightDelta: 0, weightChanged: true });
  });
});

describe('verdict: properties', () => {
  const l4Kinds: ProbeKind[] = ['TCP_CHECK', 'UDP_CHECK', 'SMTP_CHECK', 'DNS_CHECK', 'PING_CHECK', 'MISC_CHECK', 'FILE_CHECK'];

  it('layer-4 kinds: the verdict is exactly "fewer than retry+1 failures since the last success" (first failure conclusive at startup)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...l4Kinds),
        fc.integer({ min: 0, max: 6 }),
        fc.boolean(),
        fc.array(fc.boolean(), { maxLength: 60 }),
        (kind, retry, alpha, seq) => {
          const v = new CheckVerdict({ kind, retry, delayLoopMs: 5000, delayBeforeRetryMs: 700, alpha });
          let model = !alpha;
          let seenSuccess = false;
          let run = 0; // consecutive failures
          for (const ok of seq) {
            const before = model;
            if (ok) {
              seenSuccess = true;
              run = 0;
              model = true;
            } else {
              run++;
              if (!seenSuccess) model = false; // startup: one failure is enough (alpha: already down)
              else if (run === retry + 1) model = false;
            }
            const out = v.observe(ok ? OK : FAIL);
            expect(out.up).toBe(model);
            expect(out.changed).toBe(model !== before);
            // Retries happen only while an UP checker is still counting.
            const retrying = !ok && model && seenSuccess && run <= retry;
            expect(out.retrying).toBe(retrying);
            expect(out.nextDelayMs).toBe(retrying ? 700 : 5000);
          }
        },
      ),
    );
  });

  it('HTTP/SSL: an UP checker goes DOWN exactly on the (retry+1)th consecutive failure, whatever the url count', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<ProbeKind>('HTTP_GET', 'SSL_GET'),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.boolean(), { maxLength: 80 }),
        (kind, retry, urls, seq) => {
          const v = new CheckVerdict({ kind, retry, delayLoopMs: 5000, delayBeforeRetryMs: 700, alpha: false, urlCount: urls });
          for (let i = 0; i < urls; i++) v.observe(OK); // one clean pass: has run
          let run = 0;
          for (const ok of seq) {
            const wasUp = v.up;
            run = ok ? 0 : run + 1;
            const out = v.observe(ok ? OK : FAIL);
            if (wasUp && !ok) expect(out.changed).toBe(run === retry + 1);
            if (!wasUp && !ok) expect(out.changed).toBe(false);
            if (out.changed && !out.up) expect(run).toBe(retry + 1);
            expect(out.nextIndex).toBeGreaterThanOrEqual(0);
            expect(out.nextIndex).toBeLessThan(urls);
          }
        },
      ),
    );
  });

  it('HTTP/SSL: a DOWN checker comes back after at most urls+1 successes with no failure in between', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.array(fc.boolean(), { maxLength: 40 }), (retry, urls, prefix) => {
        const v = new CheckVerdict({ kind: 'HTTP_GET', retry, delayLoopMs: 5000, delayBeforeRetryMs: 700, alpha: false, urlCount: urls });
        for (const ok of prefix) v.observe(ok ? OK : FAIL);
        let n = 0;
        while (!v.up) {
          v.observe(OK);
          n++;
          expect(n).toBeLessThanOrEqual(urls + 1);
        }
      }),
    );
  });
});
