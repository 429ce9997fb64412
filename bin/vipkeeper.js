#!/usr/bin/env -S node --max-semi-space-size=8
// Thin launcher: the CLI is compiled to dist/ by `npm ci` (prepare script).
// --max-semi-space-size=8 (MB; V8's default is 16): a nursery half the size is 16 MB less RSS for
// `vipkeeper run`. With the default nursery the heap governor (src/daemon/heap-governor.ts) cost
// 60-90 % more CPU per check at 10,000 real servers; with this one 10-35 % (bench/checks,
// BENCHMARKS.md). bench/checks and /usr/bin/vipkeeper (packaging/vipkeeper.sh) read the flags from
// this line.
import '../dist/cli/bin.js';
