// The one-line count of a keepalived.conf's keywords (carried over, not acted on, unknown,
// refused): `check` prints it, `migrate` writes it in the header. Apart from migrate.ts so that
// `check` does not load the YAML writer (js-yaml) it does not use.
import type { Unsupported } from './keepalived/context.js';

export interface MigrationFacts {
  /** Keyword lines read, and how many of them are only partly acted on. */
  counts: { keywords: number; partial: number };
  /** Keywords not acted on, unknown or refused, as the importer found them. */
  unsupported: readonly Unsupported[];
}

export interface MigrationSummary {
  carried: number;
  partial: number;
  notActed: number;
  unknown: number;
  refused: number;
}

export function migrationSummary(facts: MigrationFacts): MigrationSummary {
  const keywordLines = facts.unsupported.filter((u) => !u.option);
  const count = (s: Unsupported['status']) => keywordLines.filter((u) => u.status === s).length;
  const notActed = count('not-acted');
  const unknown = count('unknown');
  const refused = count('refused');
  return {
    carried: facts.counts.keywords - notActed - unknown - refused,
    partial: facts.counts.partial,
    notActed: notActed + facts.unsupported.filter((u) => u.option).length,
    unknown,
    refused,
  };
}

/** One line: "120 keywords carried over (3 only partly acted on), 5 not acted on, 1 unknown, 0 refused". */
export function formatSummary(s: MigrationSummary): string {
  return `${s.carried} keyword${s.carried === 1 ? '' : 's'} carried over${s.partial ? ` (${s.partial} only partly acted on, see the warnings)` : ''}, ${s.notActed} not acted on, ${s.unknown} unknown, ${s.refused} refused`;
}
