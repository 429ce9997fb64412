// The last step of every generator (gen-schema, gen-ledger, gen-man): write the generated file, or
// with --check compare it with the checked-in one, so that no generated file drifts from the code.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export const checking = process.argv.includes('--check');

/** Writes `text` to `target`, or with --check says whether `target` holds it; returns false when it is stale. */
export function writeOrCheck(target: string, text: string, regenerate: string): boolean {
  if (!checking) {
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, text);
    console.log(`wrote ${target}`);
    return true;
  }
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // missing counts as stale
  }
  if (current !== text) {
    console.error(`${target} is stale: run \`${regenerate}\` and commit the result`);
    return false;
  }
  console.log(`${target} is up to date`);
  return true;
}
