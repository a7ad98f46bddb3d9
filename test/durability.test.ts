/**
 * Durability against power loss: no answer to a call that wrote goes out before its commit is on
 * disk. The server runs with test/support/wal-sync-gate.ts, which holds the store's fdatasync of
 * its WAL while the gate is shut, as a disk that has not flushed yet. Reads and relaxed commits
 * (the reconciler's) ask for no sync.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { DescribeInstancesCommand, RunInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { ROOT, startServer, type NimbusProcess } from './support/server.js';
import { x86Image } from './support/fixtures.js';

/** How long an answer must stay held to count as waiting for the disk. */
const HELD_MS = 500;

describe('durability: answers to writes wait for the disk', () => {
  let nimbus: NimbusProcess;
  let ec2: EC2Client;
  let ami: string;
  const gate = mkdtempSync(join(tmpdir(), 'nimbus-sync-gate-'));
  const open = () => writeFileSync(join(gate, 'open'), '');
  const shut = () => rmSync(join(gate, 'open'), { force: true });
  const asked = () => (existsSync(join(gate, 'asked')) ? readFileSync(join(gate, 'asked'), 'utf8').split('\n').length - 1 : 0);
  const settled = (p: Promise<unknown>) => {
    let done = false;
    p.then(() => (done = true), () => (done = true));
    return () => done;
  };
  const until = async (cond: () => Promise<boolean> | boolean, what: string) => {
    for (const end = Date.now() + 10_000; !(await cond()); await sleep(10)) {
      if (Date.now() > end) assert.fail(`timed out waiting until ${what}`);
    }
  };
  const launch = () => ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
  const stateOf = async (id: string) =>
    (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations?.[0]?.Instances?.[0]?.State?.Name;

  before(async () => {
    open();
    nimbus = await startServer({
      // Slow enough that the instance is still pending when the test shuts the gate after its launch.
      args: ['--sim-delay-ms', '1500'],
      env: {
        NIMBUS_NODE_FLAGS: `--import ${pathToFileURL(join(ROOT, 'dist/test/support/wal-sync-gate.js')).href}`,
        NIMBUS_SYNC_GATE: gate,
      },
    });
    ec2 = nimbus.ec2();
    ami = await x86Image(ec2);
  });

  after(async () => {
    open();
    await nimbus?.dispose();
    rmSync(gate, { recursive: true, force: true });
  });

  it('holds a RunInstances answer until the WAL is synced', async () => {
    shut();
    const before = asked();
    const run = launch();
    const runDone = settled(run);
    await until(() => asked() > before, 'the launch asks for a sync');
    await sleep(HELD_MS);
    assert.equal(runDone(), false, 'RunInstances answered before its commit was on disk');

    open();
    const id = (await run).Instances![0]!.InstanceId!;
    assert.equal(await stateOf(id), 'pending');
  });

  it('answers reads at once, and moves instances on, while only relaxed commits are unsynced', async () => {
    const launched = await launch();
    const id = launched.Instances![0]!.InstanceId!;
    shut();
    const before = asked();
    // The reconciler's pending → running is a relaxed commit: it needs no sync, and reads that
    // show it need none either.
    assert.equal(await stateOf(id), 'pending');
    await until(async () => (await stateOf(id)) === 'running', 'the instance is running');
    assert.equal(asked(), before, 'a read or a relaxed commit asked for a sync');
    open();
  });
});
