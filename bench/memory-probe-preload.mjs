// Loaded into the server by `bench/memory-probe.py --detail` (node --import): on SIGUSR2, appends
// one JSON line to $MEMORY_PROBE_FILE with where the process's memory is: V8's heap (by space),
// memory outside it (Buffers), and the resident size of the malloc heap and of anonymous mappings.
import { appendFileSync, readFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';

const MB = 1024 * 1024;
const round = (bytes) => Math.round((bytes / MB) * 10) / 10;

/** Resident KiB of /proc/self/smaps, summed by mapping: `[heap]` (malloc's main arena), anonymous, and files. */
function residentByMapping() {
  const sums = { mallocHeap: 0, anonymous: 0, files: 0 };
  let kind = 'anonymous';
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      const name = head[1];
      kind = name === '[heap]' ? 'mallocHeap' : name.startsWith('/') ? 'files' : 'anonymous';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) sums[kind] += Number(rss[1]);
  }
  return Object.fromEntries(Object.entries(sums).map(([k, kib]) => [k, round(kib * 1024)]));
}

process.on('SIGUSR2', () => {
  const m = process.memoryUsage();
  const spaces = Object.fromEntries(getHeapSpaceStatistics()
    .filter((s) => s.space_size > 0)
    .map((s) => [s.space_name.replace(/_space$/, ''), { size: round(s.space_size), used: round(s.space_used_size) }]));
  const line = {
    heapTotal: round(m.heapTotal), heapUsed: round(m.heapUsed), external: round(m.external), arrayBuffers: round(m.arrayBuffers),
    spaces, ...residentByMapping(),
  };
  appendFileSync(process.env.MEMORY_PROBE_FILE, `${JSON.stringify(line)}\n`);
});
