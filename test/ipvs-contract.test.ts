/**
 * The IPVS backend contract (test/fixtures/ipvs-contract.ts) on the in-memory backend. The same
 * cases run on real IPVS in a QEMU guest in test/ipvs-real.test.ts.
 */
import { describe, expect, it } from 'vitest';

import { MemoryBackend } from '../src/ipvs/memory.js';
import { CONTRACT_CASES, checkContractCase, runContractCase, type ContractHarness } from './fixtures/ipvs-contract.js';

function memoryHarness(): ContractHarness {
  const backend = new MemoryBackend();
  return {
    backend,
    raw: async (script) => {
      await backend.applyScript(script);
    },
    reset: () => backend.flush(),
  };
}

describe('IPVS backend contract: memory', () => {
  for (const c of CONTRACT_CASES) {
    it(c.name, async () => {
      const r = await runContractCase(memoryHarness(), c);
      expect(checkContractCase(c, r)).toEqual([]);
    });
  }
});
