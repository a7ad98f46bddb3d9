#!/usr/bin/env node
// Bundles the compiled CLI (dist/src/cli/main.js and what it imports) into dist/bundle/, which
// bin/nimbus runs. Node resolves, reads and links every ES module on its own, and for the 120-odd
// modules of a server that was a quarter of its start-up. Packages stay outside (node loads them
// from node_modules as before), and what the CLI imports only when needed (the ns driver, the
// image builders) becomes chunks loaded then. Tests import the compiled tree (dist/src) itself,
// and run the server through bin/nimbus.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist/bundle');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'dist/src/cli/main.js')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  chunkNames: 'chunks/[name]-[hash]',
  // Chained through tsc's own maps: a stack read with --enable-source-maps names src/*.ts.
  sourcemap: 'linked',
  logLevel: 'warning',
});
