import { describe, expect, it } from 'vitest';

import { ipBatch, IpCommandError, ipJson, parseBatchStderr, type BatchRunner, type IpRunResult } from './ip-batch.js';

interface Call {
  args: readonly string[];
  input: string | undefined;
}

function fakeRunner(answer: (call: Call) => Partial<IpRunResult>): { run: BatchRunner; calls: Call[] } {
  const calls: Call[] = [];
  const run: BatchRunner = (args, input) => {
    const call = { args, input };
    calls.push(call);
    return Promise.resolve({ code: 0, stdout: '', stderr: '', ...answer(call) });
  };
  return { run, calls };
}

describe('parseBatchStderr', () => {
  it('attributes messages to the line of the following "Command failed" marker', () => {
    const p = parseBatchStderr(
      [
        'Warning: nodad option can be set only for IPv6 addresses',
        'Error: ipv4: Address already assigned.',
        'Command failed -:2',
        'RTNETLINK answers: File exists',
        'Error: something else',
        'Command failed -:5',
        '',
      ].join('\n'),
    );
    expect([...p.errors]).toEqual([
      [1, 'Error: ipv4: Address already assigned.'],
      [4, 'RTNETLINK answers: File exists\nError: something else'],
    ]);
    expect(p.warnings).toEqual(['Warning: nodad option can be set only for IPv6 addresses']);
    expect(p.trailing).toBe('');
  });

  it('reports text after the last marker as trailing (ip aborted)', () => {
    const p = parseBatchStderr('Cannot find device "x"\nCommand failed -:1\nError: argument "weird" is wrong: invalid scope value.\n');
    expect(p.errors.get(0)).toBe('Cannot find device "x"');
    expect(p.trailing).toBe('Error: argument "weird" is wrong: invalid scope value.');
  });
});

describe('ipBatch', () => {
  it('runs all lines through one "ip -force -batch -" process', async () => {
    const { run, calls } = fakeRunner(() => ({}));
    const r = await ipBatch(['addr add 10.0.0.1/32 dev eth0', 'addr add 10.0.0.2/32 dev eth0'], { run });
    expect(r).toEqual({ ok: true, errors: [], warnings: [], processes: 1 });
    expect(calls).toEqual([
      { args: ['-force', '-batch', '-'], input: 'addr add 10.0.0.1/32 dev eth0\naddr add 10.0.0.2/32 dev eth0\n' },
    ]);
  });

  it('puts -n NETNS first', async () => {
    const { run, calls } = fakeRunner(() => ({}));
    await ipBatch(['link set lo up'], { run, netns: 'ns1' });
    expect(calls[0]!.args).toEqual(['-n', 'ns1', '-force', '-batch', '-']);
  });

  it('runs nothing for no lines, and rejects lines with newlines', async () => {
    const { run, calls } = fakeRunner(() => ({}));
    expect(await ipBatch([], { run })).toEqual({ ok: true, errors: [], warnings: [], processes: 0 });
    expect(calls).toHaveLength(0);
    await expect(ipBatch(['a\nb'], { run })).rejects.toThrow(TypeError);
  });

  it('returns per-line errors', async () => {
    const { run } = fakeRunner(() => ({
      code: 1,
      stderr: 'Cannot find device "nosuch"\nCommand failed -:2\n',
    }));
    const lines = ['addr add 10.0.0.1/32 dev eth0', 'addr add 10.0.0.2/32 dev nosuch', 'addr add 10.0.0.3/32 dev eth0'];
    const r = await ipBatch(lines, { run });
    expect(r.ok).toBe(false);
    expect(r.processes).toBe(1);
    expect(r.errors).toEqual([{ index: 1, line: lines[1], message: 'Cannot find device "nosuch"' }]);
  });

  it('after an abort, re-runs every line without a verdict in its own process', async () => {
    const lines = ['l0 ok', 'l1 fails', 'l2 aborts', 'l3 ok'];
    const { run, calls } = fakeRunner(({ input }) => {
      if (input === lines.map((l) => `${l}\n`).join('')) {
        return { code: 255, stderr: 'E1\nCommand failed -:2\nError: garbage\n' };
      }
      if (input === 'l2 aborts\n') return { code: 255, stderr: 'Error: garbage\n' };
      if (input === 'l0 ok\n') return { code: 1, stderr: 'Error: already assigned.\nCommand failed -:1\n' };
      return {};
    });
    const r = await ipBatch(lines, { run });
    expect(r.processes).toBe(4);
    expect(calls.map((c) => c.input)).toEqual([
      'l0 ok\nl1 fails\nl2 aborts\nl3 ok\n',
      'l0 ok\n',
      'l2 aborts\n',
      'l3 ok\n',
    ]);
    expect(r.errors).toEqual([
      { index: 0, line: 'l0 ok', message: 'Error: already assigned.' },
      { index: 1, line: 'l1 fails', message: 'E1' },
      { index: 2, line: 'l2 aborts', message: 'Error: garbage' },
    ]);
  });

  it('treats a non-zero exit without any message as an abort', async () => {
    const { run } = fakeRunner(({ input }) => (input === 'x\n' ? { code: null } : {}));
    const r = await ipBatch(['x'], { run });
    expect(r.errors).toEqual([{ index: 0, line: 'x', message: 'ip was killed' }]);
  });
});

describe('ipJson', () => {
  it('runs ip -j and parses the output', async () => {
    const { run, calls } = fakeRunner(() => ({ stdout: '[{"ifname":"lo"}]\n' }));
    expect(await ipJson(['link', 'show'], { run, netns: 'ns1' })).toEqual([{ ifname: 'lo' }]);
    expect(calls[0]!.args).toEqual(['-n', 'ns1', '-j', 'link', 'show']);
  });

  it('returns [] for empty output', async () => {
    const { run } = fakeRunner(() => ({ stdout: '\n' }));
    expect(await ipJson(['addr', 'show'], { run })).toEqual([]);
  });

  it('throws IpCommandError with stderr on failure', async () => {
    const { run } = fakeRunner(() => ({ code: 1, stderr: 'Device "x" does not exist.\n' }));
    const err = await ipJson(['link', 'show', 'dev', 'x'], { run }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IpCommandError);
    expect((err as IpCommandError).stderr).toContain('does not exist');
    expect((err as Error).message).toContain('ip -j link show dev x failed (exit 1)');
  });

  it('throws on non-JSON output', async () => {
    const { run } = fakeRunner(() => ({ stdout: 'nope' }));
    await expect(ipJson(['link'], { run })).rejects.toThrow(/not JSON/);
  });
});
