// Process entry point for the `vipkeeper` command (bin/vipkeeper.js loads the compiled copy).
import v8 from 'node:v8';

import { EXIT } from './exit-codes.js';
import { main } from './main.js';

// Extra V8 flags for the process, set before the heap grows (NODE_OPTIONS accepts only a few V8
// flags). E.g. VIPKEEPER_V8_FLAGS="--heap-growing-percent=25" keeps the health checker's heap
// (so the RSS) much smaller at 10,000 real servers for ~25 % more CPU per check (bench/checks).
const v8Flags = process.env.VIPKEEPER_V8_FLAGS?.trim();
if (v8Flags) v8.setFlagsFromString(v8Flags);

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`vipkeeper: internal error: ${String(e)}\n`);
    process.exitCode = EXIT.runtime;
  },
);
