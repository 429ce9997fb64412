/**
 * Runs a throwaway copy of an instance through the paths a takeover and a stop take, so the
 * real instance runs compiled code the first time it needs them. V8 compiles a function on its
 * first call and optimises it later; a backup that has never been MASTER otherwise runs its
 * whole takeover (and a master its whole stop) cold, which the failover bench measured at
 * 1-3 ms before the first advert. Pure: no I/O, no clock, nothing leaves this function.
 */
import { VrrpInstance, type VrrpInstanceOptions, type VrrpInstanceParams } from './instance.js';

const ROUNDS = 4;

/**
 * `options.trace` lets a test see the transitions the copies went through. One round (the
 * Master_Down takeover) is the runtime's rehearsal just before a backup's timer expires.
 */
export function exerciseInstance(params: VrrpInstanceParams, options: VrrpInstanceOptions = {}, rounds = ROUNDS): void {
  for (let round = 0; round < rounds; round++) {
    const inst = new VrrpInstance({ ...params, initialState: 'BACKUP', preempt: true, preemptDelayMs: 0 }, options);
    const drain = (): void => {
      while (inst.pollTransmit()) {
        /* discard */
      }
      while (inst.pollEvent()) {
        /* discard */
      }
    };
    const interval = params.advertIntervalMs;
    const peer = params.family === 6 ? 'fe80::ffff:1' : '203.0.113.1';
    let now = 0;
    inst.start(now);
    drain();
    // a master's adverts, then (odd rounds) its priority-0 advert or (even rounds) silence:
    // BACKUP -> MASTER after Skew_Time or Master_Down_Interval, the two takeovers
    for (let i = 0; i < 2; i++) {
      now += interval;
      inst.handleAdvert(now, { srcIp: peer, priority: Math.min(params.priority + 1, 254), advertIntervalMs: interval });
      drain();
    }
    if (round % 2 === 1) {
      now += 1;
      inst.handleAdvert(now, { srcIp: peer, priority: 0, advertIntervalMs: interval });
      drain();
    }
    for (let i = 0; i < 8; i++) {
      const t = inst.pollTimeout();
      if (t === undefined) break;
      now = Math.max(now, t);
      inst.handleTimeout(now);
      drain();
    }
    // as MASTER: a lower priority advert, then stop (the priority-0 advert)
    inst.handleAdvert(now + 1, { srcIp: peer, priority: 1, advertIntervalMs: interval });
    drain();
    inst.command(now + 2, 'shutdown');
    drain();
  }
}
