// keepalived.conf → vipkeeper YAML, with a header that lists every keyword that
// could not be carried over and where it was.
import { relative } from 'node:path';
import type { Unsupported } from './keepalived/context.js';
import type { Config } from './schema.js';
import { writeYaml } from './yaml-write.js';

export function migrationHeader(source: string, configId: string, unsupported: readonly Unsupported[]): string[] {
  const rel = (f: string) => relative(process.cwd(), f) || f;
  const lines = [
    `vipkeeper configuration, migrated from ${rel(source)} (config-id '${configId}').`,
    'Check it with: vipkeeper check -f THIS_FILE',
    '',
  ];
  if (unsupported.length === 0) lines.push('Every keyword was carried over.');
  else {
    lines.push(`Not carried over (${unsupported.length}):`);
    for (const u of unsupported) {
      lines.push(`  ${rel(u.loc.file)}:${u.loc.line}: ${u.keyword} (in ${u.block})${u.note ? ` - ${u.note}` : ''}`);
    }
  }
  lines.push('');
  return lines;
}

export function migrateToYaml(config: Config, source: string, configId: string, unsupported: readonly Unsupported[]): string {
  return writeYaml(config, migrationHeader(source, configId, unsupported));
}
