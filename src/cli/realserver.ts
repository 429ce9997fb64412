// `vipkeeper realserver up|down|status`: the LVS real-server side (src/realserver).
import { readFileSync } from 'node:fs';
import { loadRealServerText, realServerFromInput, type RealServerConfig, type RealServerInput } from '../config/realserver.js';
import { DEFAULT_STATE_FILE, readState, RealServerHost, removeState, writeState } from '../realserver/host.js';
import { describeStep, plan, recordApplied, stateKeys, status, undo } from '../realserver/plan.js';
import { EXIT } from './exit-codes.js';
import { printDiagnostics } from './output.js';

export interface RealServerOptions {
  file?: string;
  vip?: string[];
  mode?: string;
  dev?: string;
  director?: string;
  tunnelDev?: string;
  tunnel6Dev?: string;
  state?: string;
  dryRun?: boolean;
  json?: boolean;
}

function loadConfig(o: RealServerOptions): RealServerConfig | number {
  const flags = o.vip?.length || o.mode || o.dev || o.director || o.tunnelDev || o.tunnel6Dev;
  if (o.file && flags) {
    process.stderr.write('vipkeeper realserver: give either -f FILE or flags (--vip, --mode, --dev, ...), not both\n');
    return EXIT.usage;
  }
  let loaded;
  if (o.file) {
    let text: string;
    try {
      text = readFileSync(o.file, 'utf8');
    } catch (e) {
      process.stderr.write(`${o.file}: cannot read: ${(e as Error).message}\n`);
      return EXIT.runtime;
    }
    loaded = loadRealServerText(text, o.file);
  } else {
    const input: RealServerInput = {
      ...(o.mode ? { mode: o.mode as RealServerInput['mode'] } : {}),
      ...(o.dev ? { dev: o.dev } : {}),
      vips: o.vip ?? [],
      ...(o.director ? { director: o.director } : {}),
      ...(o.tunnelDev ? { tunnel_dev: o.tunnelDev } : {}),
      ...(o.tunnel6Dev ? { tunnel6_dev: o.tunnel6Dev } : {}),
    };
    loaded = realServerFromInput(input);
  }
  printDiagnostics(loaded.diagnostics);
  return loaded.config ?? EXIT.invalid;
}

function openHost(): RealServerHost | number {
  try {
    return new RealServerHost();
  } catch (e) {
    process.stderr.write(`vipkeeper realserver: cannot open rtnetlink: ${(e as Error).message}\n`);
    return EXIT.runtime;
  }
}

export async function runRealServerUp(o: RealServerOptions): Promise<number> {
  const c = loadConfig(o);
  if (typeof c === 'number') return c;
  const host = openHost();
  if (typeof host === 'number') return host;
  const stateFile = o.state ?? DEFAULT_STATE_FILE;
  try {
    const p = plan(c, host.observe(c));
    const fatal = p.problems.filter((t) => t.startsWith('/proc/sys/'));
    for (const t of p.problems) process.stderr.write(`realserver: ${fatal.includes(t) ? 'error' : 'warning'}: ${t}\n`);
    if (fatal.length) return EXIT.invalid;
    if (o.dryRun) {
      for (const s of p.steps) process.stdout.write(`would: ${describeStep(s)}\n`);
      process.stdout.write(p.steps.length ? `${p.steps.length} change(s) to make\n` : 'already set up: nothing to change\n');
      return EXIT.ok;
    }
    if (p.steps.length === 0) {
      process.stdout.write(`realserver ${c.mode}: already set up, nothing to change\n`);
      return p.problems.length ? EXIT.invalid : EXIT.ok;
    }
    // the state is written BEFORE the changes (crash-safe): undo only reverts what it finds changed
    let prev;
    try {
      prev = readState(stateFile);
      writeState(stateFile, recordApplied(prev, c.mode, p.steps));
    } catch (e) {
      process.stderr.write(`realserver: state file ${stateFile}: ${(e as Error).message}\n`);
      return EXIT.runtime;
    }
    const r = await host.apply(p.steps);
    for (const s of r.done) process.stdout.write(`${describeStep(s)}\n`);
    if (r.error) {
      process.stderr.write(`realserver: error: ${r.error}; ${r.done.length} of ${p.steps.length} change(s) made; 'vipkeeper realserver down' undoes them\n`);
      return EXIT.runtime;
    }
    process.stdout.write(`realserver ${c.mode}: ${r.done.length} change(s) made (state in ${stateFile})\n`);
    return p.problems.length ? EXIT.invalid : EXIT.ok;
  } finally {
    host.close();
  }
}

export async function runRealServerDown(o: RealServerOptions): Promise<number> {
  const stateFile = o.state ?? DEFAULT_STATE_FILE;
  let st;
  try {
    st = readState(stateFile);
  } catch (e) {
    process.stderr.write(`realserver: ${(e as Error).message}\n`);
    return EXIT.runtime;
  }
  if (!st) {
    process.stdout.write(`realserver: nothing to undo (no state file ${stateFile}: 'up' made no change, or 'down' already ran)\n`);
    return EXIT.ok;
  }
  const host = openHost();
  if (typeof host === 'number') return host;
  try {
    const steps = undo(st, host.observe(undefined, stateKeys(st), st.links.map((l) => l.name)));
    const r = await host.apply(steps);
    for (const s of r.done) process.stdout.write(`${describeStep(s)}\n`);
    if (r.error) {
      process.stderr.write(`realserver: error: ${r.error}; the state file ${stateFile} is kept, run down again\n`);
      return EXIT.runtime;
    }
    removeState(stateFile);
    process.stdout.write(`realserver: ${r.done.length} change(s) undone; the host is as it was before 'up'\n`);
    return EXIT.ok;
  } finally {
    host.close();
  }
}

export function runRealServerStatus(o: RealServerOptions): number {
  const c = loadConfig(o);
  if (typeof c === 'number') return c;
  const host = openHost();
  if (typeof host === 'number') return host;
  try {
    const items = status(c, host.observe(c));
    let recorded: number | undefined;
    try {
      const st = readState(o.state ?? DEFAULT_STATE_FILE);
      if (st) recorded = st.sysctls.length + st.addresses.length + st.links.length;
    } catch {
      recorded = undefined;
    }
    const ok = items.every((i) => i.ok);
    if (o.json) {
      process.stdout.write(`${JSON.stringify({ mode: c.mode, ok, items, stateFile: o.state ?? DEFAULT_STATE_FILE, recordedChanges: recorded ?? 0 }, null, 2)}\n`);
    } else {
      process.stdout.write(`real server (${c.mode}, LAN ${c.dev}): ${ok ? 'set up' : 'NOT fully set up'}\n`);
      for (const i of items) process.stdout.write(`  ${i.ok ? 'set    ' : 'MISSING'}  ${i.what}: ${i.detail}\n`);
      if (recorded !== undefined) process.stdout.write(`  ('down' would undo ${recorded} recorded change(s))\n`);
    }
    return ok ? EXIT.ok : EXIT.invalid;
  } finally {
    host.close();
  }
}
