// Pathological files are refused with a clear diagnostic, quickly, by check, run and reload alike.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../load.js';

const dir = mkdtempSync(path.join(tmpdir(), 'vk-lexlimits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('keepalived.conf expansion limits', () => {
  it('include fan-out (each file includes the next twice, 26 deep: 67 million files) is refused', () => {
    const depth = 26;
    for (let i = 0; i < depth; i++) {
      const next = path.join(dir, `f${i + 1}.conf`);
      writeFileSync(path.join(dir, `f${i}.conf`), `include ${next}\ninclude ${next}\n`);
    }
    writeFileSync(path.join(dir, `f${depth}.conf`), 'vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 1\n  priority 100\n}\n');
    const r = loadConfigFile(path.join(dir, 'f0.conf'), { configId: 'x' });
    expect(r.config).toBeUndefined();
    expect(r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message)).toContainEqual(expect.stringMatching(/^include limit exceeded \(10000 files opened through include/));
  }, 120_000);
});
