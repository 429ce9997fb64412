import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { configHash } from './config-hash.js';
import { loadConfigOffThread } from './config-thread.js';

const dir = mkdtempSync(path.join(tmpdir(), 'vk-config-thread-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CONF = `global_defs {
  router_id lb1
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int 1
  no_such_keyword here
  virtual_ipaddress {
    10.1.0.100/24
  }
}
`;

describe('loadConfigOffThread (reload parses off the main thread)', () => {
  it('gives what loadConfigFile gives: the same config and located diagnostics', async () => {
    const f = path.join(dir, 'keepalived.conf');
    writeFileSync(f, CONF);
    const off = await loadConfigOffThread(f, { configId: 'lb1' }, 120_000);
    expect(off.config).toBeDefined();
    const { hash, reader, ...loaded } = off;
    expect(loaded).toEqual(loadConfigFile(f, { configId: 'lb1' }));
    // the reader's own account of its time (CPU where /proc/thread-self is there)
    expect(reader?.parseMs).toBeGreaterThanOrEqual(0);
    // the status hash comes computed from the thread, the same as the main thread's
    expect(hash).toBe(configHash(off.config as Config));
    expect(off.diagnostics.some((d) => d.loc.line === 10 && /no_such_keyword/.test(d.message))).toBe(true);
  }, 150_000);

  it('refuses a config that takes too long to read; the main thread keeps running meanwhile', async () => {
    // one million lines from one ~SEQ: tens of seconds to read, far past the bound given here
    const f = path.join(dir, 'huge.conf');
    writeFileSync(f, `${CONF}~SEQ(i,1,999999) unknown_kw_$i x\n`);
    let ticks = 0;
    const t = setInterval(() => ticks++, 20);
    const r = await loadConfigOffThread(f, { configId: 'lb1' }, 5000);
    clearInterval(t);
    expect(r.config).toBeUndefined();
    expect(r.diagnostics).toEqual([
      expect.objectContaining({ severity: 'error', message: expect.stringMatching(/took longer than 5 s and was abandoned.*the running config stays/) }),
    ]);
    // an in-thread parse would have blocked every timer until it ended
    expect(ticks).toBeGreaterThan(0);
  }, 60_000);

  it('a file that cannot be read is an answer, not a rejection', async () => {
    const r = await loadConfigOffThread(path.join(dir, 'missing.conf'), {}, 120_000);
    expect(r.unreadable).toBe(true);
    expect(r.diagnostics[0]?.message).toMatch(/no such file/);
  }, 150_000);
});
