/**
 * An LVS-DR site with real IPVS, in the QEMU guest (lab/ipvs-vm.ts): the director (the guest's root
 * namespace: bridge, VIP, IPVS by ipvsadm), two real servers set up by `vipkeeper realserver up`
 * (the CLI bundled into the guest), and a client that reaches the VIP through the director and is
 * answered by both real servers directly; the client's ARP entry for the VIP is the director's;
 * `down` leaves each real server exactly as it was. FAILS (never skips) without QEMU or the image.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bootOnce, bundleAgent, REPO_ROOT, runGuest, taskResult, type GuestRun } from './helpers/ipvs-vm.js';

interface Cmd {
  code: number;
  stdout: string;
  stderr: string;
}
interface DrSite {
  before: Record<'rs1' | 'rs2', string>;
  after: Record<'rs1' | 'rs2', string>;
  up1: Record<'rs1' | 'rs2', Cmd>;
  up2: Cmd;
  status: Cmd;
  direct: string;
  answers: string[];
  clientNeigh: string;
  directorMac: string;
  table: string;
  down: Record<'rs1' | 'rs2', Cmd>;
  down2: Cmd;
}

const vm = bootOnce(async (): Promise<GuestRun> => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'vk-rs-guest-'));
  try {
    const cli = path.join(tmp, 'vipkeeper.mjs');
    await bundleAgent(cli, path.join(REPO_ROOT, 'src', 'cli', 'bin.ts'));
    return await runGuest([{ id: 'dr', kind: 'dr-site' }], {
      agent: path.join(REPO_ROOT, 'test', 'fixtures', 'realserver-guest.ts'),
      files: { 'vipkeeper.mjs': readFileSync(cli) },
      timeoutMs: 600_000,
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
beforeAll(vm.boot, 20 * 60_000);

describe('an LVS-DR site in the QEMU guest, real servers set up by vipkeeper realserver', () => {
  it('the client reaches the VIP through the director and both real servers answer; down restores each real server', () => {
    const run = vm.get();
    console.info(`ipvs-realserver guest: boot ${(run.timing.bootMs / 1000).toFixed(1)} s, agent ${(run.timing.agentMs / 1000).toFixed(1)} s`);
    const r = taskResult<DrSite>(run, 'dr');
    for (const n of ['rs1', 'rs2'] as const) {
      expect(r.up1[n].code, r.up1[n].stdout + r.up1[n].stderr).toBe(0);
      expect(r.up1[n].stdout).toMatch(/ip addr add 10\.62\.0\.100\/32 dev lo/);
    }
    expect(r.up2.stdout).toMatch(/already set up, nothing to change/);
    expect(r.status.code, r.status.stdout).toBe(0);
    // through IPVS (rr, DR): both real servers answer, each directly from the VIP
    expect(r.table).toMatch(/10\.62\.0\.11:80\s+Route/);
    expect(r.direct).toBe('rs1');
    expect(r.answers, r.table).toHaveLength(4);
    expect(new Set(r.answers), `${r.answers.join('\n')}\n${r.table}`).toEqual(new Set(['rs1', 'rs2']));
    // no real server answered ARP for the VIP: the client's entry is the director's MAC
    expect(r.clientNeigh).toContain(`lladdr ${r.directorMac}`);
    for (const n of ['rs1', 'rs2'] as const) {
      expect(r.down[n].code, r.down[n].stdout + r.down[n].stderr).toBe(0);
      expect(r.after[n]).toBe(r.before[n]);
    }
    expect(r.down2.stdout).toMatch(/nothing to undo/);
  });
});
