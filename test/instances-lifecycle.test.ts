import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  DescribeInstanceAttributeCommand, ModifyInstanceMetadataOptionsCommand, DescribeInstancesCommand, DescribeInstanceStatusCommand, GetConsoleOutputCommand,
  ModifyInstanceAttributeCommand, RebootInstancesCommand, RunInstancesCommand, StartInstancesCommand, StopInstancesCommand,
  TerminateInstancesCommand, waitUntilInstanceRunning, waitUntilInstanceStopped, waitUntilInstanceTerminated,
  type EC2Client, type Instance,
} from '@aws-sdk/client-ec2';
import { errorCode, startServer, type NimbusProcess } from './support/server.js';

const AMI = 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';
const waitOpts = (client: EC2Client) => ({ client, maxWaitTime: 30, minDelay: 0.2, maxDelay: 0.4 });

async function launch(ec2: EC2Client, extra: Partial<ConstructorParameters<typeof RunInstancesCommand>[0]> = {}): Promise<Instance> {
  const r = await ec2.send(new RunInstancesCommand({ ImageId: AMI, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, ...extra }));
  return r.Instances![0]!;
}

async function describeOne(ec2: EC2Client, id: string): Promise<Instance> {
  const r = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
  return r.Reservations![0]!.Instances![0]!;
}

async function running(ec2: EC2Client, id: string): Promise<void> {
  await waitUntilInstanceRunning(waitOpts(ec2), { InstanceIds: [id] });
}

async function stopped(ec2: EC2Client, id: string): Promise<void> {
  await waitUntilInstanceStopped(waitOpts(ec2), { InstanceIds: [id] });
}

describe('instance lifecycle (sim driver)', () => {
  let nimbus: NimbusProcess;
  let ec2: EC2Client;
  before(async () => {
    nimbus = await startServer({ args: ['--sim-delay-ms', '150'] });
    ec2 = nimbus.ec2();
  });
  after(() => nimbus.dispose());

  it('runs, stops, starts and terminates an instance, as the SDK waiters see it', async () => {
    const launched = await launch(ec2);
    assert.equal(launched.State?.Name, 'pending');
    assert.equal(launched.State?.Code, 0);
    assert.match(launched.InstanceId!, /^i-[0-9a-f]{17}$/);
    const id = launched.InstanceId!;

    await running(ec2, id);
    const up = await describeOne(ec2, id);
    assert.equal(up.State?.Code, 16);
    assert.equal(up.StateTransitionReason, '');
    assert.equal(up.StateReason, undefined);
    assert.match(up.PublicIpAddress!, /^198\.1[89]\./);
    const firstIp = up.PublicIpAddress;

    const stop = await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    assert.deepEqual(stop.StoppingInstances![0]!.PreviousState, { Code: 16, Name: 'running' });
    assert.deepEqual(stop.StoppingInstances![0]!.CurrentState, { Code: 64, Name: 'stopping' });
    await stopped(ec2, id);
    const down = await describeOne(ec2, id);
    assert.equal(down.State?.Code, 80);
    assert.match(down.StateTransitionReason!, /^User initiated \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d GMT\)$/);
    assert.equal(down.StateReason?.Code, 'Client.UserInitiatedShutdown');
    assert.equal(down.PublicIpAddress, undefined, 'the public address is released on stop');
    assert.equal(down.PrivateIpAddress, up.PrivateIpAddress, 'the private address stays');

    const start = await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    assert.deepEqual(start.StartingInstances![0]!.CurrentState, { Code: 0, Name: 'pending' });
    await running(ec2, id);
    const again = await describeOne(ec2, id);
    assert.ok(again.PublicIpAddress && again.PublicIpAddress !== firstIp, 'a new public address on start');

    const term = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    assert.deepEqual(term.TerminatingInstances![0]!.CurrentState, { Code: 32, Name: 'shutting-down' });
    await waitUntilInstanceTerminated(waitOpts(ec2), { InstanceIds: [id] });
    const gone = await describeOne(ec2, id);
    assert.equal(gone.State?.Code, 48);
    assert.equal(gone.PrivateIpAddress, undefined);
    assert.equal(gone.PrivateDnsName, '');
  });

  it('refuses to terminate a protected instance until protection is lifted', async () => {
    const inst = await launch(ec2, { DisableApiTermination: true });
    const id = inst.InstanceId!;
    assert.equal(await errorCode(ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }))), 'OperationNotPermitted');
    const attr = await ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: id, Attribute: 'disableApiTermination' }));
    assert.equal(attr.DisableApiTermination?.Value, true);
    await ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, DisableApiTermination: { Value: false } }));
    const term = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    assert.equal(term.TerminatingInstances![0]!.CurrentState?.Name, 'shutting-down');
  });

  it('refuses to stop an instance with DisableApiStop', async () => {
    const inst = await launch(ec2, { DisableApiStop: true });
    await running(ec2, inst.InstanceId!);
    assert.equal(await errorCode(ec2.send(new StopInstancesCommand({ InstanceIds: [inst.InstanceId!] }))), 'OperationNotPermitted');
    await ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: inst.InstanceId!, DisableApiStop: { Value: false } }));
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId!] }));
  });

  it('changes the instance type only while stopped', async () => {
    const inst = await launch(ec2, { UserData: Buffer.from('#!/bin/sh\necho hi\n').toString('base64') });
    const id = inst.InstanceId!;
    await running(ec2, id);
    const change = new ModifyInstanceAttributeCommand({ InstanceId: id, InstanceType: { Value: 't3.large' } });
    assert.equal(await errorCode(ec2.send(change)), 'IncorrectInstanceState');
    await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    await stopped(ec2, id);
    await ec2.send(change);
    const attr = await ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: id, Attribute: 'instanceType' }));
    assert.equal(attr.InstanceType?.Value, 't3.large');
    assert.equal((await describeOne(ec2, id)).InstanceType, 't3.large');
    const userData = await ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: id, Attribute: 'userData' }));
    assert.equal(Buffer.from(userData.UserData!.Value!, 'base64').toString(), '#!/bin/sh\necho hi\n');
    assert.equal(
      await errorCode(ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: id, InstanceType: { Value: 'x9.nope' } }))),
      'InvalidParameterValue',
    );
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  });

  it('changes the metadata options of a running instance', async () => {
    const inst = await launch(ec2, { PrivateDnsNameOptions: { HostnameType: 'resource-name' } });
    const id = inst.InstanceId!;
    assert.equal(inst.PrivateDnsName, `${id}.ec2.internal`);
    assert.equal(inst.MetadataOptions?.HttpEndpoint, 'enabled');
    const out = await ec2.send(new ModifyInstanceMetadataOptionsCommand({ InstanceId: id, HttpTokens: 'required', HttpPutResponseHopLimit: 2 }));
    assert.equal(out.InstanceMetadataOptions?.HttpTokens, 'required');
    const now = await describeOne(ec2, id);
    assert.equal(now.MetadataOptions?.HttpTokens, 'required');
    assert.equal(now.MetadataOptions?.HttpPutResponseHopLimit, 2);
    const bad = new ModifyInstanceMetadataOptionsCommand({ InstanceId: id, HttpPutResponseHopLimit: 0 });
    assert.equal(await errorCode(ec2.send(bad)), 'InvalidParameterValue');
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  });

  it('answers IncorrectInstanceState for transitions EC2 does not allow', async () => {
    const inst = await launch(ec2);
    const id = inst.InstanceId!;
    await running(ec2, id);
    assert.equal(await errorCode(ec2.send(new StopInstancesCommand({ InstanceIds: [id], Hibernate: true }))), 'UnsupportedOperation');
    await ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));
    await stopped(ec2, id);
    assert.equal(await errorCode(ec2.send(new RebootInstancesCommand({ InstanceIds: [id] }))), 'IncorrectInstanceState');
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    assert.equal(await errorCode(ec2.send(new StartInstancesCommand({ InstanceIds: [id] }))), 'IncorrectInstanceState');
    assert.equal(await errorCode(ec2.send(new StopInstancesCommand({ InstanceIds: [id] }))), 'IncorrectInstanceState');
    // Terminating again is not an error: it reports the state as it is.
    const again = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    assert.ok(['shutting-down', 'terminated'].includes(again.TerminatingInstances![0]!.CurrentState!.Name!));
  });

  it('reports status checks: initializing, then ok; not-applicable when not running', async () => {
    const inst = await launch(ec2);
    const id = inst.InstanceId!;
    const pending = await ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id] }));
    assert.deepEqual(pending.InstanceStatuses, [], 'only running instances by default');
    const all = await ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id], IncludeAllInstances: true }));
    assert.equal(all.InstanceStatuses![0]!.InstanceStatus?.Status, 'not-applicable');
    await running(ec2, id);
    let status = '';
    for (let i = 0; i < 50 && status !== 'ok'; i++) {
      const s = await ec2.send(new DescribeInstanceStatusCommand({ InstanceIds: [id] }));
      status = s.InstanceStatuses![0]!.InstanceStatus!.Status!;
      assert.ok(['initializing', 'ok'].includes(status));
      if (status !== 'ok') await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(status, 'ok');
    const filtered = await ec2.send(new DescribeInstanceStatusCommand({ Filters: [{ Name: 'instance-status.status', Values: ['ok'] }] }));
    assert.ok(filtered.InstanceStatuses!.some((s) => s.InstanceId === id));
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  });

  it('reboots a running instance and shows its console output', async () => {
    const inst = await launch(ec2);
    const id = inst.InstanceId!;
    await running(ec2, id);
    await ec2.send(new RebootInstancesCommand({ InstanceIds: [id] }));
    let text = '';
    for (let i = 0; i < 50 && !text.includes('rebooting'); i++) {
      const out = await ec2.send(new GetConsoleOutputCommand({ InstanceId: id }));
      assert.ok(out.Timestamp instanceof Date);
      text = out.Output ? Buffer.from(out.Output, 'base64').toString() : '';
      if (!text.includes('rebooting')) await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(text, /booting/);
    assert.match(text, /rebooting/);
    assert.equal((await describeOne(ec2, id)).State?.Name, 'running');
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  });

  it('keeps every instance in its state across a restart of the server', async () => {
    const a = (await launch(ec2)).InstanceId!;
    const b = (await launch(ec2)).InstanceId!;
    const c = (await launch(ec2)).InstanceId!;
    await running(ec2, a);
    await running(ec2, b);
    await running(ec2, c);
    await ec2.send(new StopInstancesCommand({ InstanceIds: [b] }));
    await stopped(ec2, b);
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [c] }));
    await waitUntilInstanceTerminated(waitOpts(ec2), { InstanceIds: [c] });
    const before = await describeOne(ec2, a);

    await nimbus.restart();
    ec2 = nimbus.ec2();
    const states = async () => Object.fromEntries(
      await Promise.all([a, b, c].map(async (id) => [id, (await describeOne(ec2, id)).State?.Name])),
    );
    assert.deepEqual(await states(), { [a]: 'running', [b]: 'stopped', [c]: 'terminated' });
    await new Promise((r) => setTimeout(r, 400));
    assert.deepEqual(await states(), { [a]: 'running', [b]: 'stopped', [c]: 'terminated' });
    const after = await describeOne(ec2, a);
    assert.equal(after.PublicIpAddress, before.PublicIpAddress);
    assert.equal(after.PrivateIpAddress, before.PrivateIpAddress);
    // The driver lost its sim state; the reconciler booted the running instance again.
    const console = await ec2.send(new GetConsoleOutputCommand({ InstanceId: a }));
    assert.match(Buffer.from(console.Output ?? '', 'base64').toString(), /booting/);
    // And the instances still move through their states.
    await ec2.send(new StartInstancesCommand({ InstanceIds: [b] }));
    await running(ec2, b);
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [a, b] }));
    await waitUntilInstanceTerminated(waitOpts(ec2), { InstanceIds: [a, b] });
  });
});

describe('terminated instances', () => {
  let nimbus: NimbusProcess;
  before(async () => {
    nimbus = await startServer({ args: ['--sim-delay-ms', '50', '--terminated-retention-ms', '2500'] });
  });
  after(() => nimbus.dispose());

  it('disappear, with their tags, after the retention period', async () => {
    const ec2 = nimbus.ec2();
    const inst = await launch(ec2, { TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'Name', Value: 'short-lived' }] }] });
    const id = inst.InstanceId!;
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await waitUntilInstanceTerminated(waitOpts(ec2), { InstanceIds: [id] });
    assert.equal((await describeOne(ec2, id)).Tags?.[0]?.Value, 'short-lived');
    let code = '';
    for (let i = 0; i < 60 && code === ''; i++) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
      } catch (err) {
        code = (err as { name: string }).name;
      }
    }
    assert.equal(code, 'InvalidInstanceID.NotFound');
    const byTag = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Name', Values: ['short-lived'] }] }));
    assert.deepEqual(byTag.Reservations, []);
    const tags = nimbus.aws(['ec2', 'describe-tags', '--filters', `Name=resource-id,Values=${id}`]);
    if (tags.status === 0) assert.deepEqual((tags.json as { Tags: unknown[] }).Tags, []);
  });
});
