import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  DescribeInstancesCommand, RunInstancesCommand, StartInstancesCommand, StopInstancesCommand, TerminateInstancesCommand, waitUntilInstanceStopped,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { errorCode, startServer, type NimbusProcess } from './support/server.js';

const AMI = 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';

describe('MinCount, MaxCount and the On-Demand instance limit', () => {
  let nimbus: NimbusProcess;
  let ec2: EC2Client;
  before(async () => {
    nimbus = await startServer({ args: ['--instance-limit', '3', '--sim-delay-ms', '50'] });
    ec2 = nimbus.ec2();
  });
  after(() => nimbus.dispose());

  const run = (min: number, max: number) =>
    ec2.send(new RunInstancesCommand({ ImageId: AMI, InstanceType: 't3.micro', MinCount: min, MaxCount: max }));

  it('rejects counts EC2 rejects', async () => {
    assert.equal(await errorCode(run(0, 1)), 'InvalidParameterValue');
    assert.equal(await errorCode(run(3, 2)), 'InvalidParameterValue');
    assert.equal(await errorCode(run(4, 4)), 'InstanceLimitExceeded');
  });

  it('launches as many as fit up to MaxCount, then refuses', async () => {
    const r = await run(1, 5);
    assert.equal(r.Instances!.length, 3);
    assert.deepEqual(r.Instances!.map((i) => i.AmiLaunchIndex), [0, 1, 2]);
    const err = await run(1, 1).catch((e: Error & { message: string }) => e);
    assert.equal((err as Error).name, 'InstanceLimitExceeded');
    assert.match((err as Error).message, /instance limit of 3/);

    // A stopped instance frees its place, and may not start again while the place is taken.
    const id = r.Instances![0]!.InstanceId!;
    await new Promise((res) => setTimeout(res, 300));
    await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    await waitUntilInstanceStopped({ client: ec2, maxWaitTime: 20, minDelay: 0.2, maxDelay: 0.4 }, { InstanceIds: [id] });
    const one = await run(1, 2);
    assert.equal(one.Instances!.length, 1);
    assert.equal(await errorCode(ec2.send(new StartInstancesCommand({ InstanceIds: [id] }))), 'InstanceLimitExceeded');
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [one.Instances![0]!.InstanceId!] }));
    const started = await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    assert.equal(started.StartingInstances![0]!.CurrentState!.Name, 'pending');
  });
});

describe('the instance limit over a store made before its counts were kept', () => {
  let nimbus: NimbusProcess;
  before(async () => {
    nimbus = await startServer({ args: ['--instance-limit', '4', '--sim-delay-ms', '20'] });
  });
  after(() => nimbus.dispose());

  it('counts the instances already there, after a restart and after an upgrade', async () => {
    const run = (n: number) =>
      nimbus.ec2().send(new RunInstancesCommand({ ImageId: AMI, InstanceType: 't3.micro', MinCount: n, MaxCount: n }));
    await run(3);
    await nimbus.restart();
    assert.equal(await errorCode(run(2)), 'InstanceLimitExceeded');

    // An older store: `resources` WITHOUT ROWID, no counts table or triggers, and the state index it had then.
    await nimbus.stop();
    const file = join(nimbus.dataDir, 'nimbus.db');
    let db = new Database(file);
    const instances = (db.prepare(`SELECT id FROM resources WHERE kind='instance'`).all() as { id: string }[]).map((r) => r.id);
    db.exec(`DROP TRIGGER resources_counted_insert; DROP TRIGGER resources_counted_delete;
             DROP TRIGGER resources_counted_update; DROP TABLE resource_counts;
             ALTER TABLE resources RENAME TO resources_now;
             CREATE TABLE resources (
               kind TEXT NOT NULL, account TEXT NOT NULL, region TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL, state TEXT,
               PRIMARY KEY (kind, account, region, id)
             ) WITHOUT ROWID;
             INSERT INTO resources SELECT kind, account, region, id, doc, state FROM resources_now;
             DROP TABLE resources_now;
             CREATE INDEX resources_by_state ON resources (kind, account, region, state)`);
    db.close();
    await nimbus.start();
    const described = await nimbus.ec2().send(new DescribeInstancesCommand({}));
    assert.deepEqual(described.Reservations!.flatMap((r) => r.Instances!.map((i) => i.InstanceId)).sort(), instances.sort());
    assert.equal(await errorCode(run(2)), 'InstanceLimitExceeded');
    const fourth = (await run(1)).Instances![0]!.InstanceId!;
    assert.equal(await errorCode(run(1)), 'InstanceLimitExceeded');
    // Terminating frees a place: the counts follow state changes, not only inserts.
    await nimbus.ec2().send(new TerminateInstancesCommand({ InstanceIds: [fourth] }));
    assert.equal((await run(1)).Instances!.length, 1);

    // The table has its rowid layout now, and the counts agree with it.
    await nimbus.stop();
    db = new Database(file, { readonly: true });
    const { sql } = db.prepare(`SELECT sql FROM sqlite_master WHERE type='table' AND name='resources'`).get() as { sql: string };
    const counts = db.prepare(`SELECT state, n FROM resource_counts WHERE kind='instance' AND n > 0 ORDER BY state`).all();
    const actual = db.prepare(`SELECT state, count(*) AS n FROM resources WHERE kind='instance' GROUP BY state ORDER BY state`).all();
    db.close();
    assert.doesNotMatch(sql, /WITHOUT ROWID/i);
    assert.deepEqual(counts, actual);
  });
});
