// Writes docs/keepalived-ledger.md from the keyword ledger (src/config/ledger). With --check,
// fails when the committed file is stale.
import { fileURLToPath } from 'node:url';
import { renderLedger } from '../src/config/ledger/render.js';
import { writeOrCheck } from './generated.js';

const target = fileURLToPath(new URL('../docs/keepalived-ledger.md', import.meta.url));
const text = renderLedger();

if (!writeOrCheck(target, text, 'npm run ledger')) process.exit(1);
