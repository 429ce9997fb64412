// The seam between the BGP director and a BGP daemon. vipkeeper never speaks BGP itself: an
// engine (BIRD 2 today, src/bgp/bird/engine.ts) holds the sessions to the routers and announces
// what the director tells it. A second engine (FRR, GoBGP) implements this interface.
import type { Bgp } from '../config/schema.js';
import type { Announcement } from './policy.js';

/** One BGP session, as the engine reports it. */
export interface PeerState {
  name: string;
  address: string;
  as: number;
  /** BGP FSM state: Established, Active, Connect, Idle, OpenSent, OpenConfirm; `down` if the engine has no session. */
  state: string;
  established: boolean;
  /** When the session last changed state (ISO), if the engine says. */
  since?: string;
  /** The engine's note on the session, e.g. its last error. */
  info?: string;
}

export interface EngineExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface BgpEngine {
  readonly name: string;
  /** The engine's process, while it runs (the hang watchdog kills it). */
  readonly pid: number | undefined;
  /** A path that appears in the engine's command line, so a watchdog can tell it from a reused PID. */
  readonly commandTag: string;
  /**
   * Starts the engine announcing exactly `announcements`; resolves once it answers. Rejects with
   * a message an operator can act on (binary missing, control socket in use, config refused).
   */
  start(bgp: Bgp, announcements: readonly Announcement[]): Promise<void>;
  /** Makes the running engine announce exactly `announcements`, with `bgp`'s sessions. */
  apply(bgp: Bgp, announcements: readonly Announcement[]): Promise<void>;
  /** Whether going from `from` to `to` needs a restart of the engine rather than apply(). */
  needsRestart(from: Bgp, to: Bgp): boolean;
  /** The sessions to the configured peers. */
  peers(bgp: Bgp): Promise<PeerState[]>;
  /** Stops the engine: its sessions close and the routers drop every route at once. */
  stop(): Promise<void>;
  /** Called once per start when the engine's process ends without stop(). */
  onExit(listener: (exit: EngineExit) => void): void;
}
