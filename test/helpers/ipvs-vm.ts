/** The QEMU guest with real IPVS, for tests: re-exported from `lab/ipvs-vm.ts` (shared with the benchmarks). */
export * from '../../lab/ipvs-vm.js';
