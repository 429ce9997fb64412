/**
 * The recorded keepalived verdicts (test/fixtures/keepalived/keepalived-verdicts.json, which
 * test/corpus.test.ts compares vipkeeper against) are what the installed keepalived says today:
 * every fixture is read again with `keepalived -t` in a private namespace with eth0..eth2, exactly
 * as record-verdicts.ts recorded it. A difference means a fixture changed without re-recording
 * (npx tsx test/fixtures/keepalived/record-verdicts.ts) or keepalived changed.
 *
 * Needs root, network namespaces and keepalived (scripts/setup.sh); without them it fails.
 */
import { describe, expect, it } from 'vitest';
import { FIXTURES, recordedVerdicts } from './fixtures/keepalived/fixtures.js';
import { keepalivedVerdicts } from './fixtures/keepalived/record-verdicts.js';

describe('recorded keepalived verdicts', () => {
  it('cover every fixture and config-id', () => {
    expect(recordedVerdicts().verdicts.map((v) => `${v.file}@${v.configId}`)).toEqual(FIXTURES.map((f) => `${f.file}@${f.configId}`));
  });

  it('are what keepalived says now', async () => {
    const now = await keepalivedVerdicts();
    const recorded = recordedVerdicts();
    expect(now.keepalived).toBe(recorded.keepalived);
    for (const v of now.verdicts) {
      const r = recorded.verdicts.find((x) => x.file === v.file && x.configId === v.configId);
      expect({ rc: v.rc, messages: v.messages }, `${v.file} (-i ${v.configId})`).toEqual({ rc: r?.rc, messages: r?.messages });
    }
  }, 120_000);
});
