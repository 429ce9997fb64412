// keepalived.conf → vipkeeper YAML. The header says what was carried over and what was not, with
// counts; each keyword vipkeeper does not act on is written as a comment where it was (inside its
// instance, virtual server, …), never as a live key.
import { resolve } from 'node:path';
import type { Unsupported } from './keepalived/context.js';
import { formatSummary, migrationSummary, type MigrationFacts } from './migrate-summary.js';
import type { Config } from './schema.js';
import { writeYaml } from './yaml-write.js';
import { yamlFinder } from './yaml-locate.js';

export { formatSummary, migrationSummary, type MigrationFacts, type MigrationSummary } from './migrate-summary.js';

/** Paths in a migrated file are absolute: it is read later, from anywhere. */
const rel = (f: string) => resolve(f);
/** Instance keys written even at their default: the ones a person tunes after migrating. */
export const MIGRATE_KEEP_DEFAULTS = ['priority', 'advert_int'] as const;

export function migrationHeader(source: string, configId: string, facts: MigrationFacts): string[] {
  const lines = [
    `vipkeeper configuration, migrated from ${rel(source)} (config-id '${configId}').`,
    'Check it with: vipkeeper check THIS_FILE',
    '',
    `keepalived keywords: ${formatSummary(migrationSummary(facts))}.`,
  ];
  const listed = facts.unsupported.filter((u) => u.status !== 'refused');
  if (listed.length) {
    lines.push('Not acted on by vipkeeper (each is also written as a comment where it was):');
    for (const u of listed) {
      const why = u.status === 'unknown' ? 'unknown to keepalived too' : u.note;
      lines.push(`  ${rel(u.loc.file)}:${u.loc.line}: ${u.keyword} (in ${u.block})${why ? ` - ${why}` : ''}`);
    }
  }
  lines.push('');
  return lines;
}

/** The comment lines written in place of a keyword that is not acted on (its block's lines too). */
function placeComment(u: Unsupported): string[] {
  const what = u.status === 'unknown' ? 'unknown keyword, ignored by keepalived too' : `not acted on by vipkeeper: ${u.note ?? ''}`;
  const [first = '', ...rest] = u.text.split('\n');
  return [`${first}    # ${rel(u.loc.file)}:${u.loc.line}, ${what}`, ...rest];
}

/** YAML body with each not-acted keyword as a comment inside the object it belonged to. */
function withComments(body: string, unsupported: readonly Unsupported[]): string {
  const lines = body.split('\n');
  const find = yamlFinder(body);
  const inserts = new Map<number, string[]>(); // after line index (-1: at the top)
  for (const u of unsupported) {
    if (u.status === 'refused') continue;
    let after = -1;
    let indent = 0;
    // the object it belonged to, else its nearest ancestor written in the YAML, else the top
    const { pos, depth } = find(u.path);
    if (depth > 0) {
      after = pos.line - 1;
      // a mapping key's children are indented by two; a list item's sit at its content column
      indent = typeof u.path[depth - 1] === 'number' ? pos.col - 1 : pos.col + 1;
    }
    const list = inserts.get(after) ?? [];
    for (const l of placeComment(u)) list.push(`${' '.repeat(indent)}# ${l}`);
    inserts.set(after, list);
  }
  const out: string[] = [...(inserts.get(-1) ?? [])];
  lines.forEach((l, i) => {
    out.push(l);
    const add = inserts.get(i);
    if (add) out.push(...add);
  });
  return out.join('\n');
}

export function migrateToYaml(config: Config, source: string, configId: string, facts: MigrationFacts): string {
  const header = migrationHeader(source, configId, facts);
  const text = writeYaml(config, [], MIGRATE_KEEP_DEFAULTS);
  const head = header.map((l) => (l ? `# ${l}` : '#')).join('\n');
  const body = withComments(text, facts.unsupported);
  return `${head}\n${body.endsWith('\n') ? body : `${body}\n`}`;
}

/**
 * ldirectord.cf → YAML: the header lists every directive not (or only partly) acted on with its
 * line, as `check` warns about them; the model follows.
 */
export function migrateLdirectordToYaml(config: Config, source: string, facts: { counts: { keywords: number; partial: number }; diagnostics: readonly { severity: string; loc: { file: string; line: number }; message: string }[] }): string {
  const warnings = facts.diagnostics.filter((d) => d.severity === 'warning');
  const lines = [
    `vipkeeper configuration, migrated from the ldirectord configuration ${rel(source)}.`,
    'Check it with: vipkeeper check THIS_FILE',
    'ldirectord has no VRRP: add an instances: section (or run it beside a keepalived/vipkeeper pair) for the VIP.',
    '',
    `ldirectord directives: ${facts.counts.keywords} read, ${warnings.length} not or only partly acted on:`,
    ...warnings.map((w) => `  ${rel(w.loc.file)}:${w.loc.line}: ${w.message}`),
    '',
  ];
  return `${lines.map((l) => (l ? `# ${l}` : '#')).join('\n')}\n${writeYaml(config)}`;
}
