// docs/keepalived-ledger.md, rendered from the ledger (scripts/gen-ledger.ts writes it; a test
// holds that the committed file is current).
import { BLOCKS, lookup, OWN_FIELDS, type BlockId } from './ledger.js';
import type { Block, Status } from './types.js';

const LABEL: Record<Status, string> = {
  acted: 'acted on',
  partial: 'partly acted on',
  'not-acted': '**not acted on**',
  refused: '**refused**',
};

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function rows(id: BlockId, block: Block): string[] {
  const out = ['| keyword | status | what vipkeeper does |', '|---|---|---|'];
  for (const keyword of Object.keys(block.entries).sort()) {
    const e = lookup(id, keyword);
    if (!e) continue;
    const notes: string[] = [];
    if (e.canonical !== keyword) notes.push(`another spelling of \`${e.canonical}\``);
    if (e.deprecated) notes.push(`deprecated in keepalived: write ${e.deprecated}`);
    if (e.since) notes.push(`keepalived ${e.since}+`);
    let what: string;
    if (e.status === 'acted') what = e.structural ? `read by the config layer (${e.by?.map((m) => `\`${m}\``).join(', ')})` : `by ${e.by?.map((m) => `\`${m}\``).join(', ')}`;
    else if (e.status === 'partial') what = `by ${e.by?.map((m) => `\`${m}\``).join(', ')}; but ${e.loses ?? ''}`;
    else if (e.status === 'refused') what = e.reason ?? '';
    else what = `${e.loses ?? ''}${e.reason ? ` (${e.reason})` : ''}`;
    if (e.note) notes.push(e.note);
    const extra = notes.length ? ` (${notes.join('; ')})` : '';
    out.push(`| \`${cell(keyword)}\` | ${LABEL[e.status]} | ${cell(what + extra)} |`);
  }
  return out;
}

export function renderLedger(): string {
  const counts: Record<Status, number> = { acted: 0, partial: 0, 'not-acted': 0, refused: 0 };
  for (const [id, block] of Object.entries(BLOCKS) as [BlockId, Block][]) {
    for (const k of Object.keys(block.entries)) counts[(lookup(id, k) as { status: Status }).status]++;
  }
  const lines = [
    '# keepalived keywords in vipkeeper',
    '',
    '<!-- Generated from src/config/ledger by `npm run ledger`; do not edit. -->',
    '',
    'Every keyword keepalived 2.2.7 accepts, and the later ones (2.3, 2.4) a config may bring, with what',
    'vipkeeper does with it. `vipkeeper check` reports every keyword that is not (fully) acted on, with',
    'its file, line and column; `vipkeeper migrate` writes such keywords as comments, not as live keys.',
    '',
    '- **acted on**: vipkeeper does what keepalived does; the module that does it is named.',
    '- **partly acted on**: as above, except for what the row says.',
    '- **not acted on**: read and checked, then dropped; the row says what you lose.',
    '- **refused**: a config using it does not load (`check` exits 1), because running without it would be worse.',
    '',
    `In all: ${counts.acted} acted on, ${counts.partial} partly, ${counts['not-acted']} not acted on, ${counts.refused} refused.`,
    'A keyword not listed here is unknown to keepalived as well: both warn and ignore it.',
    '',
  ];
  for (const [id, block] of Object.entries(BLOCKS) as [BlockId, Block][]) {
    if (Object.keys(block.entries).length === 0) continue;
    lines.push(`## ${block.title}`, '', ...rows(id, block), '');
  }
  lines.push('## vipkeeper\'s own settings (YAML only)', '', '| field | read by |', '|---|---|');
  for (const [field, e] of Object.entries(OWN_FIELDS)) lines.push(`| \`${field}\` | ${e.by?.map((m) => `\`${m}\``).join(', ')} |`);
  lines.push('');
  return lines.join('\n');
}
