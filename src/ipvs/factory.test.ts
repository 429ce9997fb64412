import { recordingLogger } from '../sys/logger.js';
import { describe, expect, it } from 'vitest';

import { ConfigSchema } from '../config/schema.js';
import { createIpvsBackend } from './factory.js';

const rec = recordingLogger;

describe('createIpvsBackend', () => {
  it('netlink by default where the addon loads; ipvsadm when configured', () => {
    expect(ConfigSchema.parse({}).ipvs.backend).toBe('netlink');
    expect(createIpvsBackend(ConfigSchema.parse({}), undefined, { loadAddon: () => ({}) }).name).toBe('netlink');
    const { lines, logger } = rec();
    expect(createIpvsBackend(ConfigSchema.parse({ ipvs: { backend: 'ipvsadm' } }), logger).name).toBe('ipvsadm');
    expect(lines).toEqual(['info: IPVS backend: ipvsadm']);
    expect(() => ConfigSchema.parse({ ipvs: { backend: 'ioctl' } })).toThrow();
  });

  it('falls back to ipvsadm, with a warning, when the native addon does not load', () => {
    const { lines, logger } = rec();
    const b = createIpvsBackend(ConfigSchema.parse({}), logger, {
      loadAddon: () => {
        throw new Error('native addon not built');
      },
    });
    expect(b.name).toBe('ipvsadm');
    expect(lines).toEqual(['warn: IPVS backend: the native addon does not load; using ipvsadm instead of netlink']);
  });
});
