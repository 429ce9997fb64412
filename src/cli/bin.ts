// Process entry point for the `vipkeeper` command (bin/vipkeeper.js loads the compiled copy).
import { EXIT } from './exit-codes.js';
import { main } from './main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`vipkeeper: internal error: ${String(e)}\n`);
    process.exitCode = EXIT.runtime;
  },
);
