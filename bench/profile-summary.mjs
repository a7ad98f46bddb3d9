#!/usr/bin/env node
// Summarises V8 .cpuprofile files (from `node --cpu-prof`): self time and inclusive time by
// function, top N. Usage: node bench/profile-summary.mjs FILE.cpuprofile [N] [LAST_SECONDS]
// (LAST_SECONDS: only the samples of the profile's last seconds, e.g. a load test's window).
import { readFileSync } from 'node:fs';

const [file, topArg, lastArg] = process.argv.slice(2);
const top = Number(topArg ?? 30);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
if (lastArg) {
  // Keep the samples whose timestamp falls within the last LAST_SECONDS of the profile.
  const times = [];
  let t = prof.startTime;
  for (const d of prof.timeDeltas) times.push((t += d));
  const from = prof.endTime - Number(lastArg) * 1e6;
  const keep = times.map((x) => x >= from);
  const durationUs = prof.endTime - Math.max(prof.startTime, from);
  prof.samples = prof.samples.filter((_, i) => keep[i]);
  prof.startTime = prof.endTime - durationUs;
}
const selfSamples = new Map();
for (const id of prof.samples) selfSamples.set(id, (selfSamples.get(id) ?? 0) + 1);
const total = prof.samples.length;
const msPerSample = (prof.endTime - prof.startTime) / 1000 / total;
const label = (n) => {
  const f = n.callFrame;
  const where = f.url ? `${f.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'} ${where}`;
};
const self = new Map();
const incl = new Map();
for (const [id, count] of selfSamples) {
  const n = byId.get(id);
  self.set(label(n), (self.get(label(n)) ?? 0) + count);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur));
    if (seen.has(l)) continue;
    seen.add(l);
    incl.set(l, (incl.get(l) ?? 0) + count);
  }
}
const print = (title, m) => {
  console.log(`\n${title} (of ${(total * msPerSample).toFixed(0)} ms sampled)`);
  for (const [l, c] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${(c * msPerSample).toFixed(0).padStart(7)} ms ${((100 * c) / total).toFixed(1).padStart(5)}%  ${l}`);
  }
};
print('self time', self);
print('inclusive time', incl);
