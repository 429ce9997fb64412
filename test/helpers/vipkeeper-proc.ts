/**
 * VRRP integration-test helpers, re-exported from `lab/` (shared with the demo and the
 * benchmarks): a lab LAN, bounded polling, the namespace's addresses and neighbours, and
 * `vipkeeper run` as a child process inside a namespace.
 */
export { addresses, hasAddress as hasVip, neighMac, type LanNode } from '../../lab/netns.js';
export { createLan, primeArp, writeFile, type Lan } from '../../lab/lan.js';
export { startVipkeeper, VipkeeperProc, type StartVipkeeperOptions, type VkTransition } from '../../lab/vipkeeper.js';
export { sleep, waitFor } from '../../lab/wait.js';
