/**
 * Online backup and restore (`nimbus admin backup|restore`): a backup taken while a client
 * launches instances in a loop is one consistent snapshot; restored into a fresh data directory
 * and served again, it has every instance launched before the backup began, each described with
 * its tags and its reservation, an account created before it, and honours their ClientTokens.
 * Restoring is refused while a server has the data directory open, over an existing store without
 * --force, and from a file that is not a Nimbus backup.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { DescribeInstancesCommand, RunInstancesCommand, type RunInstancesCommandInput } from '@aws-sdk/client-ec2';
import { createAccount, ROOT, startServer, type Credentials, type NimbusProcess } from './support/server.js';
import { x86Image } from './support/fixtures.js';
import { allInstances, duplicates } from './support/inventory.js';

const run = promisify(execFile);
const BIN = join(ROOT, 'bin/nimbus');

/** Runs `nimbus admin …` without blocking this process (the writer goes on meanwhile). */
async function admin(args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const r = await run(BIN, ['admin', ...args], { encoding: 'utf8' });
    return { code: 0, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stderr?: string };
    return { code: e.code ?? -1, stderr: e.stderr ?? '' };
  }
}

describe('online backup and restore', () => {
  const work = mkdtempSync(join(tmpdir(), 'nimbus-backup-'));
  const backupFile = join(work, 'nimbus-backup.db');
  const restoredDir = join(work, 'restored');
  let source: NimbusProcess;
  let restored: NimbusProcess | undefined;
  let account: Credentials & { accountId: string };
  /** The writer's launches in order: their inputs and the instance each returned. */
  const launches: { input: RunInstancesCommandInput; instanceId: string; reservationId: string }[] = [];
  let launchedBeforeBackup = 0;

  before(async () => {
    source = await startServer({ args: ['--sim-delay-ms', '20', '--instance-limit', '10000'] });
    account = createAccount(source.dataDir, 'backed-up');
    const ec2 = source.ec2();
    const ami = await x86Image(ec2);
    let writing = true;
    const writer = (async () => {
      for (let n = 0; writing; n++) {
        const input: RunInstancesCommandInput = {
          ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, ClientToken: `backup-${n}`,
          TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: `web-${n}` }, { Key: 'seq', Value: String(n) }, { Key: 'team', Value: 'a & <b>' }] }],
        };
        const out = await ec2.send(new RunInstancesCommand(input));
        launches.push({ input, instanceId: out.Instances![0]!.InstanceId!, reservationId: out.ReservationId! });
      }
    })();
    while (launches.length < 30) await new Promise((r) => setTimeout(r, 10));
    launchedBeforeBackup = launches.length;
    const backedUp = await admin(['backup', backupFile, '--data-dir', source.dataDir]);
    const launchedDuringBackup = launches.length - launchedBeforeBackup;
    writing = false;
    await writer;
    assert.equal(backedUp.code, 0, backedUp.stderr);
    assert.ok(launchedDuringBackup > 0, 'the writer went on writing while the backup was taken');
  });
  after(async () => {
    await source.dispose();
    await restored?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('refuses to restore while a server has the data directory open', async () => {
    const r = await admin(['restore', backupFile, '--data-dir', source.dataDir, '--force']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is in use \(is a server running on .*\?\): stop it before restoring/);
  });

  it('refuses a file that is not a Nimbus backup', async () => {
    const junk = join(work, 'junk.db');
    writeFileSync(junk, 'not a database at all, just some bytes long enough to look like a header'.repeat(20));
    const r = await admin(['restore', junk, '--data-dir', join(work, 'never')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is not a Nimbus backup/);
  });

  it('restores into a fresh data directory, and refuses to overwrite it without --force', async () => {
    await source.stop();
    const r = await admin(['restore', backupFile, '--data-dir', restoredDir]);
    assert.equal(r.code, 0, r.stderr);
    const again = await admin(['restore', backupFile, '--data-dir', restoredDir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists: restoring would replace its state \(use --force/);
    restored = await startServer({ dataDir: restoredDir, args: ['--sim-delay-ms', '20', '--instance-limit', '10000'] });
  });

  it('has a consistent snapshot: every launch before the backup, and only a prefix of the later ones', async () => {
    const instances = await allInstances(restored!.ec2());
    assert.deepEqual(duplicates(instances.map((i) => i.InstanceId!)), []);
    const got = new Set(instances.map((i) => i.InstanceId!));
    // The writer launches one at a time, so a snapshot holds exactly its first m launches.
    const m = instances.length;
    assert.ok(m >= launchedBeforeBackup, `${m} instances restored, ${launchedBeforeBackup} were launched before the backup`);
    assert.deepEqual(got, new Set(launches.slice(0, m).map((l) => l.instanceId)));
  });

  it('describes every restored instance with its reservation and tags intact', async () => {
    const ec2 = restored!.ec2();
    const byId = new Map((await allInstances(ec2)).map((i) => [i.InstanceId!, i]));
    for (const l of launches.filter((x) => byId.has(x.instanceId))) {
      const i = byId.get(l.instanceId)!;
      assert.equal(i.ReservationId, l.reservationId);
      const tags = Object.fromEntries((i.Tags ?? []).map((t) => [t.Key!, t.Value!]));
      assert.deepEqual(tags, Object.fromEntries(l.input.TagSpecifications![0]!.Tags!.map((t) => [t.Key!, t.Value!])));
    }
    const one = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:seq', Values: ['7'] }] }));
    assert.deepEqual(one.Reservations!.flatMap((r) => r.Instances!.map((i) => i.InstanceId)), [launches[7]!.instanceId]);
  });

  it('keeps accounts and idempotency tokens', async () => {
    const ec2 = restored!.ec2();
    const before = (await allInstances(ec2)).length;
    const again = await ec2.send(new RunInstancesCommand(launches[0]!.input));
    assert.equal(again.Instances![0]!.InstanceId, launches[0]!.instanceId);
    assert.equal((await allInstances(ec2)).length, before);
    const theirs = await restored!.ec2({ credentials: account }).send(new DescribeInstancesCommand({}));
    assert.deepEqual(theirs.Reservations, []);
  });
});
