// BIRD's control socket (what birdc speaks): a unix socket, one command a line, replies as lines
// `CODE-text` (more follow), ` text` (more of the same code) and `CODE text` (the last line).
// Codes 0xxx are success, 1xxx/2xxx table rows and headers, 8xxx run-time errors, 9xxx parse
// errors. One connection per command: the commands are rare (a configure per change, a poll of
// the sessions every few seconds) and a fresh connection never inherits a half-read reply.
import { createConnection } from 'node:net';

export interface ReplyLine {
  code: number;
  text: string;
}

/** Feeds reply text in; `done` once a final line (`CODE text`) has been read. PURE. */
export class ReplyParser {
  readonly lines: ReplyLine[] = [];
  done = false;
  private partial = '';
  private lastCode = 0;

  /** Text after the final line (unread). */
  rest(): string {
    return this.partial;
  }

  push(chunk: string): void {
    this.partial += chunk;
    let nl: number;
    while (!this.done && (nl = this.partial.indexOf('\n')) >= 0) {
      const line = this.partial.slice(0, nl);
      this.partial = this.partial.slice(nl + 1);
      const m = /^(\d{4})([ -])(.*)$/.exec(line);
      if (m) {
        this.lastCode = Number(m[1]);
        this.lines.push({ code: this.lastCode, text: m[3] as string });
        if (m[2] === ' ') this.done = true;
      } else if (line.startsWith(' ')) {
        this.lines.push({ code: this.lastCode, text: line.slice(1) });
      } else if (line.length > 0) {
        this.lines.push({ code: this.lastCode, text: line });
      }
    }
  }
}

/** The first error line of a reply (codes 8000 and up), as BIRD wrote it. */
export function replyError(lines: readonly ReplyLine[]): string | undefined {
  const e = lines.find((l) => l.code >= 8000);
  return e ? e.text.trim() || `BIRD error ${e.code}` : undefined;
}

export class BirdControlError extends Error {
  constructor(
    message: string,
    readonly kind: 'unreachable' | 'timeout' | 'refused',
  ) {
    super(message);
    this.name = 'BirdControlError';
  }
}

/** Sends one command and resolves with its reply (after BIRD's greeting). Rejects with BirdControlError. */
export function birdCommand(socket: string, command: string, timeoutMs = 5000): Promise<ReplyLine[]> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(socket);
    let greeting = true;
    let parser = new ReplyParser();
    let settled = false;
    const finish = (err: Error | undefined, lines?: ReplyLine[]) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      if (err) reject(err);
      else resolve(lines ?? []);
    };
    const timer = setTimeout(() => finish(new BirdControlError(`BIRD did not answer '${command}' within ${timeoutMs} ms on ${socket}`, 'timeout')), timeoutMs);
    conn.setEncoding('utf8');
    conn.on('data', (chunk: string) => {
      parser.push(chunk);
      if (!parser.done) return;
      if (greeting) {
        // BIRD greets first ("0001 BIRD 2.0.12 ready."), then answers the command
        greeting = false;
        const rest = parser.rest();
        parser = new ReplyParser();
        conn.write(`${command}\n`);
        parser.push(rest);
        if (!parser.done) return;
      }
      finish(undefined, parser.lines);
    });
    conn.on('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'ENOENT' ? 'no control socket' : e.code === 'ECONNREFUSED' ? 'nothing listens on the control socket' : e.message;
      finish(new BirdControlError(`BIRD control socket ${socket}: ${why}`, 'unreachable'));
    });
    conn.on('close', () => finish(new BirdControlError(`BIRD closed the control socket ${socket} before answering '${command}'`, 'unreachable')));
  });
}

/** `configure`: BIRD reads its files again. Resolves with BIRD's last line; rejects when it refuses the files. */
export async function birdConfigure(socket: string, timeoutMs?: number): Promise<string> {
  const lines = await birdCommand(socket, 'configure', timeoutMs);
  const err = replyError(lines);
  if (err) throw new BirdControlError(`BIRD refused its configuration: ${err}`, 'refused');
  return lines[lines.length - 1]?.text ?? '';
}

/** One row of `show protocols`. */
export interface ProtocolRow {
  name: string;
  proto: string;
  table: string;
  /** up, start, down, flush, ... */
  state: string;
  /** seconds since the epoch (the config sets `timeformat protocol "%s"`) */
  since?: number;
  /** For BGP: Established, Active, Connect, Idle, OpenSent, OpenConfirm, then any last error. */
  info: string;
}

/** Parses `show protocols` (header 2002, rows 1002 and continuations). PURE. */
export function parseProtocols(lines: readonly ReplyLine[]): ProtocolRow[] {
  const rows: ProtocolRow[] = [];
  for (const l of lines) {
    if (l.code !== 1002) continue;
    const m = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+)\s*(.*)$/.exec(l.text);
    if (!m) continue;
    rows.push({ name: m[1] as string, proto: m[2] as string, table: m[3] as string, state: m[4] as string, since: Number(m[5]), info: (m[6] as string).trim() });
  }
  return rows;
}
