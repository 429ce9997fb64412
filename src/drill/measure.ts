/**
 * One measured phase of a drill: send a command at t0, then follow probes (polled statuses and
 * events recorded off the wire) until the required ones are seen or the timeout passes.
 */
import { nowMs, sleep } from './probe.js';
import { isoNow, type PhaseReport, type TimelineEvent } from './report.js';

/** How often a status is polled. */
const POLL_MS = 25;
/** After the required events, how long optional ones (VIPs in a status) are still awaited. */
const GRACE_MS = 700;

export interface Probe {
  key: string;
  /** Needed for the phase to count as complete (and for its duration). */
  required?: boolean;
  /** Polled every POLL_MS: a detail string once the event happened. */
  poll?: () => Promise<string | undefined>;
  /** Checked every few ms against what a listener recorded, with the event's own time. */
  wire?: () => { at: number; detail: string } | undefined;
}

export interface MeasureOptions {
  label: string;
  boundMs: number;
  boundExplained: string;
  timeoutMs: number;
  print: (s: string) => void;
  command: () => Promise<{ ok: boolean; message: string }>;
  commandLabel: string;
  probes: (t0: number) => Probe[];
}

export async function measure(m: MeasureOptions): Promise<PhaseReport> {
  const events: TimelineEvent[] = [];
  const seen = new Set<string>();
  const t0 = nowMs();
  const t0Iso = isoNow();
  const add = (key: string, at: number, detail: string): void => {
    if (seen.has(key)) return;
    seen.add(key);
    const t = Math.max(0, Math.round((at - t0) * 10) / 10);
    events.push({ t, event: key, detail });
  };
  add('command-sent', t0, m.commandLabel);
  const notes: string[] = [];
  let failed: string | undefined;
  const cmd = m.command().then(
    (r) => {
      if (r.ok) add('command-acknowledged', nowMs(), `acknowledged: ${r.message}`);
      else failed = `the command was refused: ${r.message}`;
    },
    (e: unknown) => {
      failed = `the command failed: ${(e as Error).message}`;
    },
  );
  const probes = m.probes(t0);
  const required = probes.filter((p) => p.required).map((p) => p.key);
  const deadline = t0 + m.timeoutMs;

  // Pollers: each polls on its own so a slow status does not delay the others. Optional events
  // (VIPs in a status, which the daemon refreshes periodically) get a short grace after the
  // required ones.
  let requiredDoneAt: number | undefined;
  const graceOver = (): boolean => requiredDoneAt !== undefined && (!required.length || nowMs() > requiredDoneAt + GRACE_MS);
  const pollers = probes
    .filter((p) => p.poll)
    .map(async (p) => {
      while (!seen.has(p.key) && !failed && nowMs() < deadline && !(p.required ? requiredDoneAt !== undefined : graceOver())) {
        const before = nowMs();
        try {
          const d = await p.poll!();
          // The event happened between the request and the answer; take the answer's time.
          if (d) add(p.key, nowMs(), d);
        } catch (e) {
          if (notes.length < 20) notes.push(`${p.key}: ${(e as Error).message}`);
        }
        const left = POLL_MS - (nowMs() - before);
        if (left > 0) await sleep(left);
      }
    });
  const wires = probes.filter((p) => p.wire);
  while (!failed && nowMs() < deadline && !graceOver()) {
    for (const p of wires) {
      if (seen.has(p.key)) continue;
      const w = p.wire!();
      if (w) add(p.key, w.at, w.detail);
    }
    if (requiredDoneAt === undefined && required.every((k) => seen.has(k))) requiredDoneAt = nowMs();
    if (requiredDoneAt !== undefined && probes.every((p) => seen.has(p.key))) break;
    await sleep(5);
  }
  for (const p of wires) {
    if (seen.has(p.key)) continue;
    const w = p.wire!();
    if (w) add(p.key, w.at, w.detail);
  }
  await Promise.all(pollers);
  // The command's own answer (bounded by its timeout); never leave a timer behind.
  let raceTimer: NodeJS.Timeout | undefined;
  await Promise.race([cmd, new Promise<void>((r) => (raceTimer = setTimeout(r, Math.max(0, deadline - nowMs()))))]);
  clearTimeout(raceTimer);
  events.sort((a, b) => a.t - b.t);
  for (const e of events) m.print(`  t+${String(Math.round(e.t)).padEnd(6)} ms  ${e.detail}`);
  if (failed) notes.unshift(failed);
  for (const n of notes) m.print(`  note: ${n}`);
  const missing = required.filter((k) => !seen.has(k));
  const completed = !failed && missing.length === 0;
  const durationMs = completed ? Math.max(...events.filter((e) => required.includes(e.event)).map((e) => e.t)) : undefined;
  return {
    t0: t0Iso,
    events,
    completed,
    durationMs,
    boundMs: Math.round(m.boundMs),
    boundExplained: m.boundExplained,
    withinBound: durationMs !== undefined && durationMs <= m.boundMs,
    missing,
    ...(failed ? { error: failed } : {}),
    notes,
  };
}
