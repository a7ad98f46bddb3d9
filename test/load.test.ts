/**
 * Load: 50 concurrent SDK v3 clients run a mixed workload (run, describe, tag, stop, start,
 * terminate) against one server for 15 s — the CI cut of bench/load.ts, which runs the same
 * workload and assertions for 60 s. No 5xx and no dropped call, no unexpected error, no instance
 * lost or duplicated or unknown to the clients, every tag and state as the clients left them, and
 * the server's memory flat after warm-up.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type NimbusProcess } from './support/server.js';
import { checkAgainstLedger, LOAD_SERVER_ARGS, memoryIsFlat, memoryTrend, OPERATIONS, runLoad, type LoadResult } from './support/load.js';

describe('mixed load from 50 concurrent clients', () => {
  let nimbus: NimbusProcess;
  let result: LoadResult;

  before(async () => {
    nimbus = await startServer({ args: LOAD_SERVER_ARGS });
    result = await runLoad(nimbus, { clients: 50, seconds: 15, sampleEveryMs: 1000 });
  });
  after(() => nimbus.dispose());

  it('answers every call, none with a 5xx, none with an unexpected error', (t) => {
    const total = OPERATIONS.reduce((s, op) => s + result.operations[op].calls, 0);
    t.diagnostic(`${total} calls in ${result.elapsedMs} ms: ${OPERATIONS.map((op) => `${op} ${result.operations[op].calls}`).join(', ')}`);
    assert.deepEqual(result.failures.slice(0, 5), []);
    assert.deepEqual(result.unexpected.slice(0, 5), []);
    for (const op of OPERATIONS) assert.ok(result.operations[op].calls > 0, `no ${op} call was made`);
  });

  it('loses, duplicates and invents no instance; tags and states are as the clients left them', async () => {
    const d = await checkAgainstLedger(nimbus, result.ledger);
    assert.ok(result.ledger.size > 0);
    for (const [what, list] of Object.entries(d)) assert.deepEqual(list.slice(0, 5), [], what);
  });

  it('keeps the server memory flat after warm-up', (t) => {
    const trend = memoryTrend(result.rss, result.elapsedMs);
    t.diagnostic(`VmRSS median ${trend.firstKiB} KiB then ${trend.secondKiB} KiB; samples ${result.rss.map((s) => s.kib).join(' ')}`);
    assert.ok(memoryIsFlat(trend), `VmRSS grew from ${trend.firstKiB} KiB to ${trend.secondKiB} KiB`);
  });
});
