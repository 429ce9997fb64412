#!/usr/bin/env node
// Prints the top-level node_modules/ directories that a production install needs (`npm ci
// --omit=dev`), from package-lock.json: scripts/install.sh copies these from the built checkout, so
// installing and building the .deb need no network. Nested node_modules travel with their parent.
import { existsSync, readFileSync } from 'node:fs';

const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8'));
for (const [path, entry] of Object.entries(lock.packages ?? {})) {
  if (!/^node_modules\/(@[^/]+\/)?[^/@][^/]*$/.test(path)) continue;
  if (entry.dev || entry.link) continue;
  if (!existsSync(new URL(`../${path}`, import.meta.url))) {
    if (entry.optional) continue; // another platform's optional package
    throw new Error(`${path} is missing: run npm ci`);
  }
  console.log(path);
}
