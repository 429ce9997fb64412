#!/usr/bin/env node
// Builds native/build/Release/vipkeeper_native.node with the node-gyp that
// ships with npm, offline against the local Node headers when they match.
//
//   node native/build.mjs            # node-gyp rebuild
//   node native/build.mjs build      # incremental
//   node native/build.mjs rebuild --debug
//
// Needs g++, make and python3.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

function findNodeGyp() {
  const execDir = path.dirname(process.execPath);
  const candidates = [
    process.env.npm_config_node_gyp, // set by npm for lifecycle scripts
    process.env.npm_execpath &&
      path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(execDir, '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(execDir, 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((c) => c && c.endsWith('.js') && existsSync(c)) ?? null;
}

// Local headers (e.g. /usr/include/node from the distro/nodesource package)
// so node-gyp never tries to download them.
function findNodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const versionH = path.join(prefix, 'include', 'node', 'node_version.h');
  if (!existsSync(versionH) || !existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) return null;
  const text = readFileSync(versionH, 'utf8');
  const part = (name) => text.match(new RegExp(`#define NODE_${name}_VERSION (\\d+)`))?.[1];
  const version = `v${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
  return version === process.version ? prefix : null;
}

const args = process.argv.slice(2);
if (args.length === 0 || args[0].startsWith('-')) args.unshift('rebuild');
args.push(`--directory=${here}`);
const nodedir = findNodeDir();
if (nodedir && !args.some((a) => a.startsWith('--nodedir'))) args.push(`--nodedir=${nodedir}`);

const gyp = findNodeGyp();
const [cmd, cmdArgs] = gyp ? [process.execPath, [gyp, ...args]] : ['node-gyp', args];
console.error(`vipkeeper native: ${[cmd, ...cmdArgs].join(' ')}`);
const r = spawnSync(cmd, cmdArgs, { stdio: 'inherit' });
if (r.error || r.status !== 0) {
  console.error(
    `vipkeeper native: build failed (${r.error ? r.error.message : `exit ${r.status ?? r.signal}`}); ` +
      'it needs g++, make, python3 and the Node headers (or network access for node-gyp to fetch them)',
  );
  process.exit(r.status || 1);
}
