#!/usr/bin/env node
// Runs every compiled test file with node's test runner, then the benchmark's quick mode, which
// fails the run when Nimbus falls below half of a performance target against moto. Arguments
// narrow the run to files whose path contains one of them (`npm test -- keypairs instances`),
// without the benchmark.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, 'dist/test');
const files = [];
const walk = (d) => {
  for (const name of readdirSync(d)) {
    const p = join(d, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js')) files.push(p);
  }
};
walk(dir);
const wanted = process.argv.slice(2);
const selected = wanted.length ? files.filter((f) => wanted.some((w) => f.includes(w))) : files;
if (selected.length === 0) {
  console.error('no test files selected');
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=600000', '--test-reporter=spec', ...selected.sort()], {
  stdio: 'inherit',
  cwd: root,
});
if (r.status !== 0 || wanted.length) process.exit(r.status ?? 1);
const bench = spawnSync('python3', [join(root, 'bench/bench.py'), '--quick'], { stdio: 'inherit', cwd: root });
process.exit(bench.status ?? 1);
