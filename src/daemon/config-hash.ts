// The config's fingerprint in `vipkeeper status` (and the "config reloaded" line).
import { createHash } from 'node:crypto';
import type { Config } from '../config/schema.js';

export function configHash(config: Config): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
}
