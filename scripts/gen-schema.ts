// Writes config/vipkeeper.schema.json from the zod schema. With --check, fails
// when the checked-in file is stale (CI runs it through `npm test`).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConfigSchema } from '../src/config/schema.js';

const target = fileURLToPath(new URL('../config/vipkeeper.schema.json', import.meta.url));
const schema = { ...z.toJSONSchema(ConfigSchema, { io: 'input', target: 'draft-2020-12' }), $id: 'https://vipkeeper.invalid/vipkeeper.schema.json' };
const text = `${JSON.stringify(schema, null, 2)}\n`;

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // missing counts as stale
  }
  if (current !== text) {
    console.error(`${target} is stale: run \`npm run schema\` and commit the result`);
    process.exit(1);
  }
  console.log(`${target} is up to date`);
} else {
  writeFileSync(target, text);
  console.log(`wrote ${target}`);
}
