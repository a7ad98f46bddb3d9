/**
 * State survives the server: accounts, key pairs, instances in each of their states, tags and
 * idempotency tokens come back identical after a clean restart (SIGTERM) and after a crash
 * (SIGKILL), and instances caught mid-transition by a crash finish their transition afterwards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateKeyPairCommand,
  CreateTagsCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeTagsCommand,
  RunInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2';
import { createAccount, startServer, type Credentials, type NimbusProcess } from './support/server.js';
import { x86Image } from './support/fixtures.js';

describe('persistence across restarts and crashes', () => {
  let nimbus: NimbusProcess;
  let account: Credentials & { accountId: string };
  let ami: string;
  const ids: Record<'running' | 'stopped' | 'terminated', string> = { running: '', stopped: '', terminated: '' };
  const clients = () => ({ root: nimbus.ec2(), account: nimbus.ec2({ credentials: account }), west: nimbus.ec2({ region: 'us-west-2' }) });

  const instances = async (client: EC2Client): Promise<Instance[]> =>
    ((await client.send(new DescribeInstancesCommand({}))).Reservations ?? []).flatMap((r) => r.Instances ?? []);

  async function waitForState(client: EC2Client, instanceId: string, state: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const out = await client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
      const now = out.Reservations![0]!.Instances![0]!.State!.Name;
      if (now === state) return;
      if (Date.now() > deadline) assert.fail(`${instanceId} is ${now}, not ${state}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  const launch = async (client: EC2Client, extra: { ClientToken?: string; name?: string } = {}) =>
    (await client.send(new RunInstancesCommand({
      ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, ClientToken: extra.ClientToken,
      TagSpecifications: extra.name ? [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: extra.name }] }] : undefined,
    }))).Instances![0]!.InstanceId!;

  /** Everything a client can see, in a stable form. */
  async function everything(): Promise<unknown> {
    const out: Record<string, unknown> = {};
    for (const [who, client] of Object.entries(clients())) {
      const { $metadata: _k, ...keyPairs } = await client.send(new DescribeKeyPairsCommand({}));
      const { $metadata: _t, ...tags } = await client.send(new DescribeTagsCommand({}));
      out[who] = { keyPairs, tags, instances: await instances(client) };
    }
    return out;
  }

  before(async () => {
    nimbus = await startServer({ args: ['--sim-delay-ms', '50'] });
    account = createAccount(nimbus.dataDir, 'persistent');
    const { root, account: acct, west } = clients();
    ami = await x86Image(root);
    for (const client of [root, acct]) {
      const kp = await client.send(new CreateKeyPairCommand({ KeyName: 'deploy', TagSpecifications: [{ ResourceType: 'key-pair', Tags: [{ Key: 'team', Value: 'ops & <infra>' }] }] }));
      await client.send(new CreateKeyPairCommand({ KeyName: 'edge', KeyType: 'ed25519' }));
      await client.send(new CreateTagsCommand({ Resources: [kp.KeyPairId!], Tags: [{ Key: 'rotated', Value: 'never' }] }));
    }
    await west.send(new CreateKeyPairCommand({ KeyName: 'deploy' }));
    for (const state of ['running', 'stopped', 'terminated'] as const) ids[state] = await launch(root, { name: `db-${state}` });
    await launch(acct, { name: 'account-web' });
    for (const id of Object.values(ids)) await waitForState(root, id, 'running');
    await root.send(new StopInstancesCommand({ InstanceIds: [ids.stopped] }));
    await root.send(new TerminateInstancesCommand({ InstanceIds: [ids.terminated] }));
    await waitForState(root, ids.stopped, 'stopped');
    await waitForState(root, ids.terminated, 'terminated');
    await root.send(new CreateTagsCommand({ Resources: Object.values(ids), Tags: [{ Key: 'batch', Value: 'ünï' }] }));
  });
  after(() => nimbus.dispose());

  it('keeps accounts, key pairs, instances and tags across a clean restart', async () => {
    const before = await everything();
    const states = (await instances(clients().root)).map((i) => i.State!.Name).sort();
    assert.deepEqual(states, ['running', 'stopped', 'terminated']);
    await nimbus.restart();
    assert.deepEqual(await everything(), before);
  });

  it('keeps them across a crash (SIGKILL)', async () => {
    const before = await everything();
    await nimbus.kill9();
    await nimbus.start();
    assert.deepEqual(await everything(), before);
  });

  it('finishes transitions that a crash interrupted', async () => {
    const { root } = clients();
    const pending = await launch(root);
    const stopping = ids.running;
    await root.send(new StopInstancesCommand({ InstanceIds: [stopping] }));
    await nimbus.kill9();
    await nimbus.start();
    const after = clients().root;
    await waitForState(after, pending, 'running');
    await waitForState(after, stopping, 'stopped');
  });

  it('honours a ClientToken given before a restart', async () => {
    const token = `persist-${process.pid}`;
    const first = await launch(clients().root, { ClientToken: token });
    await nimbus.restart();
    assert.equal(await launch(clients().root, { ClientToken: token }), first);
    await nimbus.kill9();
    await nimbus.start();
    assert.equal(await launch(clients().root, { ClientToken: token }), first);
  });
});
