// Writes config/vipkeeper.schema.json from the zod schema. With --check, fails
// when the checked-in file is stale (CI runs it through `npm test`).
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { reportedFields } from '../src/config/ledger/ledger.js';
import { ConfigSchema } from '../src/config/schema.js';
import { writeOrCheck } from './generated.js';

const target = fileURLToPath(new URL('../config/vipkeeper.schema.json', import.meta.url));
const schema = { ...z.toJSONSchema(ConfigSchema, { io: 'input', target: 'draft-2020-12' }), $id: 'https://vipkeeper.invalid/vipkeeper.schema.json' };
annotate(schema);

type Node = Record<string, unknown>;

/**
 * The keyword ledger in the schema: a field vipkeeper does not act on (or only partly) says so in
 * its description, and carries `x-vipkeeper: not-acted | partial` for editors and linters.
 */
function annotate(root: Node): void {
  for (const use of reportedFields()) {
    const steps = use.pattern.split('.').flatMap((part) => {
      const m = /^(.*?)((?:\[\])*)$/.exec(part) as RegExpExecArray;
      return [...(m[1] ? [m[1]] : []), ...Array.from({ length: (m[2] ?? '').length / 2 }, () => '[]')];
    });
    const note = use.entry.status === 'partial' ? `Only partly acted on by vipkeeper: ${use.entry.loses}.` : `Not acted on by vipkeeper: ${use.entry.loses}.`;
    for (const node of find(root, steps)) {
      node.description = typeof node.description === 'string' ? `${node.description} ${note}` : note;
      node['x-vipkeeper'] = use.entry.status;
    }
  }
}

/** The sub-schemas a field pattern names, through unions. */
function find(node: Node, steps: string[]): Node[] {
  const [step, ...rest] = steps;
  if (step === undefined) return [node];
  const alts = ['anyOf', 'oneOf', 'allOf'].flatMap((k) => (Array.isArray(node[k]) ? (node[k] as Node[]) : []));
  if (alts.length) return alts.flatMap((a) => find(a, steps));
  let next: unknown;
  if (step === '[]') next = node.items;
  else if (step === '*') next = node.additionalProperties;
  else next = (node.properties as Record<string, unknown> | undefined)?.[step];
  return next && typeof next === 'object' ? find(next as Node, rest) : [];
}
const text = `${JSON.stringify(schema, null, 2)}\n`;

if (!writeOrCheck(target, text, 'npm run schema')) process.exit(1);
