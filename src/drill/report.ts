/**
 * What a drill reports: the pre-checks, each measured phase's timeline, the verdict. Plain data,
 * written as JSON (and the timeline as SVG, see timeline-svg.ts).
 */

export interface PrecheckResult {
  check: string;
  /** false refuses the drill; a warning (ok, with `warning` set) is printed and recorded. */
  ok: boolean;
  detail: string;
  warning?: boolean;
}

export interface TimelineEvent {
  /** Milliseconds since t0 (the command was sent). */
  t: number;
  event: string;
  detail: string;
}

export interface PhaseReport {
  t0: string;
  events: TimelineEvent[];
  completed: boolean;
  durationMs: number | undefined;
  boundMs: number;
  boundExplained: string;
  withinBound: boolean;
  /** Required events that were not seen. */
  missing: string[];
  /** The command was refused or failed. */
  error?: string;
  notes: string[];
}

export interface DrillReport {
  tool: 'vipkeeper drill';
  startedAt: string;
  finishedAt?: string;
  host: string;
  socket: string;
  peer: string;
  instance?: {
    name: string;
    vrid: number;
    version: number;
    family: number;
    interface: string | undefined;
    vips: string[];
    priority: number;
    advertIntervalMs: number;
  };
  peerInstance?: { name: string; priority: number; address?: string; mac?: string };
  arp: { method: string; measured: boolean; why?: string };
  prechecks: PrecheckResult[];
  failover?: PhaseReport;
  handBack?: PhaseReport;
  result: 'pass' | 'fail' | 'refused';
  message: string;
  exitCode: number;
}

export function fmtMs(ms: number): string {
  return `${Math.round(ms)} ms`;
}

export function isoNow(): string {
  return new Date().toISOString();
}

/** Why a phase did not complete, in one line. */
export function incomplete(what: string, r: PhaseReport, timeoutMs: number): string {
  if (r.error) return `${what}: ${r.error}`;
  return `${what} did not complete within --peer-timeout ${fmtMs(timeoutMs)}: not seen: ${r.missing.join(', ')}`;
}
