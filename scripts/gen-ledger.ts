// Writes docs/keepalived-ledger.md from the keyword ledger (src/config/ledger). With --check,
// fails when the committed file is stale.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderLedger } from '../src/config/ledger/render.js';

const target = fileURLToPath(new URL('../docs/keepalived-ledger.md', import.meta.url));
const text = renderLedger();

if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // missing counts as stale
  }
  if (current !== text) {
    console.error(`${target} is stale: run \`npm run ledger\` and commit the result`);
    process.exit(1);
  }
  console.log(`${target} is up to date`);
} else {
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, text);
  console.log(`wrote ${target}`);
}
