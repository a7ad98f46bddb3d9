/**
 * Accounts made by `nimbus accounts create` have their own keys, and their resources (key pairs,
 * instances, tags) are invisible to every other account and outside their region: EC2's NotFound
 * codes, as if the resource did not exist.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateKeyPairCommand,
  CreateTagsCommand,
  DeleteKeyPairCommand,
  DeleteTagsCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeTagsCommand,
  RebootInstancesCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
} from '@aws-sdk/client-ec2';
import { cliErrorCode, createAccount, errorCode, ROOT, startServer, type Credentials, type NimbusProcess } from './support/server.js';
import { x86Image } from './support/fixtures.js';

describe('accounts and isolation', () => {
  let nimbus: NimbusProcess;
  let alice: Credentials & { accountId: string };
  let bob: Credentials & { accountId: string };
  let a: EC2Client;
  let b: EC2Client;
  let instanceId: string;
  let keyPairId: string;
  const keyName = 'shared-name';

  before(async () => {
    nimbus = await startServer({ args: ['--sim-delay-ms', '50'] });
    alice = createAccount(nimbus.dataDir, 'alice');
    bob = createAccount(nimbus.dataDir, 'bob');
    a = nimbus.ec2({ credentials: alice });
    b = nimbus.ec2({ credentials: bob });
    keyPairId = (await a.send(new CreateKeyPairCommand({ KeyName: keyName, TagSpecifications: [{ ResourceType: 'key-pair', Tags: [{ Key: 'owner', Value: 'alice' }] }] }))).KeyPairId!;
    const ami = await x86Image(a);
    const run = await a.send(new RunInstancesCommand({
      ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, KeyName: keyName,
      TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'alice-web' }] }],
    }));
    instanceId = run.Instances![0]!.InstanceId!;
  });
  after(() => nimbus.dispose());

  it('creates accounts with their own ids and keys, listed by `nimbus accounts list`', () => {
    assert.match(alice.accountId, /^\d{12}$/);
    assert.notEqual(alice.accountId, bob.accountId);
    assert.notEqual(alice.accessKeyId, bob.accessKeyId);
    assert.match(alice.accessKeyId, /^AKIA[A-Z2-7]{16}$/);
    const list = spawnSync(join(ROOT, 'bin/nimbus'), ['accounts', 'list', '--data-dir', nimbus.dataDir], { encoding: 'utf8' });
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`${alice.accountId}\\s+alice`));
    assert.match(list.stdout, new RegExp(`${bob.accountId}\\s+bob`));
    // Each account's key signs as that account: the owner of what it launches.
    const who = nimbus.boto3('result = ec2.describe_instances()["Reservations"][0]["OwnerId"]', { credentials: alice });
    assert.equal(who, alice.accountId);
  });

  it("hides one account's key pairs from another", async () => {
    assert.equal(await errorCode(b.send(new DescribeKeyPairsCommand({ KeyPairIds: [keyPairId] }))), 'InvalidKeyPair.NotFound');
    assert.equal(await errorCode(b.send(new DescribeKeyPairsCommand({ KeyNames: [keyName] }))), 'InvalidKeyPair.NotFound');
    assert.deepEqual((await b.send(new DescribeKeyPairsCommand({}))).KeyPairs, []);
    // Names are per account: bob may use the same one, and deleting his leaves alice's alone.
    await b.send(new CreateKeyPairCommand({ KeyName: keyName }));
    await b.send(new DeleteKeyPairCommand({ KeyName: keyName }));
    const mine = await a.send(new DescribeKeyPairsCommand({ KeyNames: [keyName] }));
    assert.equal(mine.KeyPairs![0]!.KeyPairId, keyPairId);
  });

  it("hides one account's instances from another: describe, stop, start, reboot and terminate are NotFound", async () => {
    const ids = { InstanceIds: [instanceId] };
    assert.equal(await errorCode(b.send(new DescribeInstancesCommand(ids))), 'InvalidInstanceID.NotFound');
    assert.deepEqual((await b.send(new DescribeInstancesCommand({}))).Reservations, []);
    assert.equal(await errorCode(b.send(new StopInstancesCommand(ids))), 'InvalidInstanceID.NotFound');
    assert.equal(await errorCode(b.send(new StartInstancesCommand(ids))), 'InvalidInstanceID.NotFound');
    assert.equal(await errorCode(b.send(new RebootInstancesCommand(ids))), 'InvalidInstanceID.NotFound');
    assert.equal(await errorCode(b.send(new TerminateInstancesCommand(ids))), 'InvalidInstanceID.NotFound');
    const cli = nimbus.aws(['ec2', 'terminate-instances', '--instance-ids', instanceId], { credentials: bob });
    assert.equal(cliErrorCode(cli), 'InvalidInstanceID.NotFound');
    // Filters do not reach across accounts either.
    const byTag = await b.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Name', Values: ['alice-web'] }] }));
    assert.deepEqual(byTag.Reservations, []);
    const still = await a.send(new DescribeInstancesCommand(ids));
    assert.notEqual(still.Reservations![0]!.Instances![0]!.State!.Name, 'terminated');
  });

  it("hides one account's tags from another, and refuses to let it tag or untag the resources", async () => {
    assert.deepEqual((await b.send(new DescribeTagsCommand({}))).Tags, []);
    const tag = { Tags: [{ Key: 'owner', Value: 'bob' }] };
    assert.equal(await errorCode(b.send(new CreateTagsCommand({ Resources: [instanceId], ...tag }))), 'InvalidInstanceID.NotFound');
    assert.equal(await errorCode(b.send(new CreateTagsCommand({ Resources: [keyPairId], ...tag }))), 'InvalidKeyPair.NotFound');
    assert.equal(await errorCode(b.send(new DeleteTagsCommand({ Resources: [instanceId] }))), 'InvalidInstanceID.NotFound');
    const aliceTags = (await a.send(new DescribeTagsCommand({}))).Tags!.map((t) => `${t.ResourceId}:${t.Key}=${t.Value}`).sort();
    assert.deepEqual(aliceTags, [`${instanceId}:Name=alice-web`, `${keyPairId}:owner=alice`].sort());
  });

  it('keeps the default test account apart from created accounts', async () => {
    const anon = nimbus.ec2();
    assert.equal(await errorCode(anon.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))), 'InvalidInstanceID.NotFound');
    assert.equal(await errorCode(anon.send(new DescribeKeyPairsCommand({ KeyPairIds: [keyPairId] }))), 'InvalidKeyPair.NotFound');
    assert.deepEqual((await anon.send(new DescribeTagsCommand({}))).Tags, []);
  });

  it("keeps an account's resources to their region", async () => {
    const ireland = nimbus.ec2({ region: 'eu-west-1', credentials: alice });
    assert.equal(await errorCode(ireland.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))), 'InvalidInstanceID.NotFound');
    assert.deepEqual((await ireland.send(new DescribeInstancesCommand({}))).Reservations, []);
    assert.equal(await errorCode(ireland.send(new StopInstancesCommand({ InstanceIds: [instanceId] }))), 'InvalidInstanceID.NotFound');
    assert.equal(await errorCode(ireland.send(new DescribeKeyPairsCommand({ KeyNames: [keyName] }))), 'InvalidKeyPair.NotFound');
    assert.deepEqual((await ireland.send(new DescribeTagsCommand({}))).Tags, []);
    // The same key name is free in another region.
    const there = await ireland.send(new CreateKeyPairCommand({ KeyName: keyName }));
    assert.notEqual(there.KeyPairId, keyPairId);
    const cli = nimbus.aws(['ec2', 'describe-key-pairs', '--key-names', keyName], { credentials: alice, region: 'eu-west-1' });
    assert.deepEqual((cli.json as { KeyPairs: { KeyPairId: string }[] }).KeyPairs.map((k) => k.KeyPairId), [there.KeyPairId]);
  });
});
