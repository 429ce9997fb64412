// The control-socket client against a real BIRD 2 (static routes only: no BGP, no listening
// socket, no traffic), plus the reply parser on every way a reply can be cut into chunks.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BirdControlError, birdCommand, birdConfigure, parseProtocols, ReplyParser, replyError } from './control.js';

const REPLY =
  '2002-Name       Proto      Table      State  Since         Info\n' +
  '1002-device1    Device     ---        up     1796671313    \n' +
  ' vk_peer_r1 BGP        ---        up     1796671320    Established   \n' +
  ' vk_peer_r2 BGP        ---        start  1796671321    Active        Socket: Connection refused\n' +
  '0000 \n';

describe('ReplyParser', () => {
  it('reads continuation lines with the code of the line before, and stops at the final line', () => {
    const p = new ReplyParser();
    p.push(`${REPLY}0001 not part of it\n`);
    expect(p.done).toBe(true);
    expect(p.lines.map((l) => l.code)).toEqual([2002, 1002, 1002, 1002, 0]);
    expect(p.rest()).toBe('0001 not part of it\n');
  });

  it('gives the same lines however the text is cut into chunks', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: REPLY.length }), { maxLength: 12 }), (cuts) => {
        const at = [...new Set(cuts)].sort((a, b) => a - b);
        const p = new ReplyParser();
        let prev = 0;
        for (const c of [...at, REPLY.length]) {
          p.push(REPLY.slice(prev, c));
          prev = c;
        }
        expect(p.done).toBe(true);
        expect(p.lines).toHaveLength(5);
      }),
    );
  });

  it('parses show protocols: state, since (epoch seconds) and the BGP state with its last error', () => {
    const p = new ReplyParser();
    p.push(REPLY);
    expect(parseProtocols(p.lines)).toEqual([
      { name: 'device1', proto: 'Device', table: '---', state: 'up', since: 1796671313, info: '' },
      { name: 'vk_peer_r1', proto: 'BGP', table: '---', state: 'up', since: 1796671320, info: 'Established' },
      { name: 'vk_peer_r2', proto: 'BGP', table: '---', state: 'start', since: 1796671321, info: 'Active        Socket: Connection refused' },
    ]);
  });

  it('finds the error line of a reply', () => {
    expect(replyError([{ code: 2, text: 'Reading' }, { code: 8002, text: 'x.conf:3:1 syntax error' }])).toBe('x.conf:3:1 syntax error');
    expect(replyError([{ code: 3, text: 'Reconfigured' }])).toBeUndefined();
  });
});

describe('against a running BIRD 2', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vk-bird-ctl-'));
  const conf = path.join(dir, 'bird.conf');
  const socket = path.join(dir, 'bird.ctl');
  const good = (routes: string) => `router id 10.0.0.1;\ntimeformat protocol "%s";\nprotocol static vk_vips4 { ipv4;\n${routes}}\n`;
  let bird: ChildProcess | undefined;
  let silent: Server | undefined;

  beforeAll(async () => {
    writeFileSync(conf, good(''));
    bird = spawn('bird', ['-f', '-c', conf, '-s', socket], { stdio: 'ignore' });
    const failed = new Promise<Error>((r) => bird?.once('error', r));
    for (let i = 0; i < 100; i++) {
      const e = await Promise.race([failed, new Promise((r) => setTimeout(r, 50))]);
      if (e instanceof Error) throw new Error(`bird is not installed (bash scripts/setup.sh installs bird2): ${e.message}`);
      if (await birdCommand(socket, 'show status', 500).then(() => true, () => false)) return;
    }
    throw new Error('bird did not answer on its control socket within 5 s');
  });
  afterAll(async () => {
    if (bird?.pid && bird.exitCode === null) {
      const gone = new Promise((r) => bird?.once('exit', r));
      bird.kill('SIGTERM');
      await gone;
    }
    silent?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('show protocols lists the static protocol, up', async () => {
    const rows = parseProtocols(await birdCommand(socket, 'show protocols'));
    expect(rows).toEqual([expect.objectContaining({ name: 'vk_vips4', proto: 'Static', state: 'up', since: expect.any(Number) })]);
    expect(Math.abs(rows[0]!.since! - Date.now() / 1000)).toBeLessThan(3600);
  });

  it('configure applies a changed file; the route is there afterwards', async () => {
    writeFileSync(conf, good('  route 10.99.0.10/32 blackhole { bgp_med = 7; };\n'));
    expect(await birdConfigure(socket)).toBe('Reconfigured');
    const routes = await birdCommand(socket, 'show route all');
    expect(routes.map((l) => l.text).join('\n')).toMatch(/10\.99\.0\.10\/32\s+blackhole[\s\S]*BGP\.med: 7/);
  });

  it('configure with a broken file is refused with BIRD’s own message, and the running config stays', async () => {
    writeFileSync(conf, 'router id 10.0.0.1;\nprotocol static vk_vips4 { ipv4; route nonsense; }\n');
    const err = await birdConfigure(socket).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BirdControlError);
    expect((err as BirdControlError).kind).toBe('refused');
    expect((err as Error).message).toMatch(/BIRD refused its configuration: .*bird\.conf:2/);
    const routes = await birdCommand(socket, 'show route');
    expect(routes.map((l) => l.text).join('\n')).toContain('10.99.0.10/32');
    writeFileSync(conf, good(''));
  });

  it('an unanswered command times out; a missing socket is unreachable', async () => {
    const quiet = path.join(dir, 'quiet.ctl');
    silent = createServer(() => undefined);
    await new Promise<void>((r) => silent?.listen(quiet, r));
    await expect(birdCommand(quiet, 'show status', 200)).rejects.toMatchObject({ kind: 'timeout' });
    await expect(birdCommand(path.join(dir, 'none.ctl'), 'show status')).rejects.toMatchObject({ kind: 'unreachable', message: expect.stringContaining('no control socket') });
  });
});
