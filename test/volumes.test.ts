/**
 * EBS volumes on the sim driver through the AWS CLI, boto3 and SDK v3: CreateVolume's type rules
 * with EC2's codes, the creating → available and attaching → attached → detaching machines, root
 * volumes of launched instances and their fate at termination, ModifyVolume and its progress.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AttachVolumeCommand, CreateTagsCommand, CreateVolumeCommand, DeleteVolumeCommand, DescribeInstancesCommand, DescribeTagsCommand,
  DescribeVolumesCommand, DescribeVolumesModificationsCommand, DescribeVolumeStatusCommand, DetachVolumeCommand, ModifyInstanceAttributeCommand, ModifyVolumeCommand,
  RunInstancesCommand, TerminateInstancesCommand, waitUntilInstanceRunning, waitUntilInstanceTerminated,
  type CreateVolumeCommandInput, type EC2Client, type Volume,
} from '@aws-sdk/client-ec2';
import { cliErrorCode, errorCode, startServer, type NimbusProcess } from './support/server.js';

const AMI = 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';
const ZONE = 'us-east-1a';

/** Polls `read` until `done` holds (or fails after a few seconds). */
async function until<T>(read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = await read();
    if (done(v)) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('condition never held');
}

describe('EBS volumes (sim driver)', () => {
  let nimbus: NimbusProcess;
  let ec2: EC2Client;
  const volume = async (id: string): Promise<Volume> =>
    (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [id] }))).Volumes![0]!;
  const available = (id: string) => until(() => volume(id), (v) => v.State === 'available');
  const create = async (input: Partial<CreateVolumeCommandInput> = {}) =>
    (await ec2.send(new CreateVolumeCommand({ AvailabilityZone: ZONE, Size: 10, ...input }))).VolumeId!;
  const launch = async (extra: Partial<ConstructorParameters<typeof RunInstancesCommand>[0]> = {}) => {
    const r = await ec2.send(new RunInstancesCommand({
      ImageId: AMI, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, Placement: { AvailabilityZone: ZONE }, ...extra,
    }));
    const id = r.Instances![0]!.InstanceId!;
    await waitUntilInstanceRunning({ client: ec2, maxWaitTime: 30, minDelay: 0.1, maxDelay: 0.2 }, { InstanceIds: [id] });
    return id;
  };
  const terminate = async (id: string) => {
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await waitUntilInstanceTerminated({ client: ec2, maxWaitTime: 30, minDelay: 0.1, maxDelay: 0.2 }, { InstanceIds: [id] });
  };

  before(async () => {
    nimbus = await startServer({ args: ['--sim-delay-ms', '50'] });
    ec2 = nimbus.ec2();
  });
  after(() => nimbus.dispose());

  it('creates a tagged gp3 volume through the CLI: creating, then available, with gp3 defaults', async () => {
    const r = nimbus.aws(['ec2', 'create-volume', '--availability-zone', ZONE, '--size', '20', '--volume-type', 'gp3',
      '--tag-specifications', 'ResourceType=volume,Tags=[{Key=Name,Value=data}]']);
    assert.equal(r.status, 0, r.stderr);
    const v = r.json as { VolumeId: string; State: string; Iops: number; Throughput: number; Size: number; Tags: unknown[]; Encrypted: boolean };
    assert.match(v.VolumeId, /^vol-[0-9a-f]{17}$/);
    assert.equal(v.State, 'creating');
    assert.equal(v.Size, 20);
    assert.equal(v.Iops, 3000);
    assert.equal(v.Throughput, 125);
    assert.equal(v.Encrypted, false);
    assert.deepEqual(v.Tags, [{ Key: 'Name', Value: 'data' }]);
    const ready = await available(v.VolumeId);
    assert.equal(ready.AvailabilityZone, ZONE);
    assert.deepEqual(ready.Attachments, []);
    const status = await ec2.send(new DescribeVolumeStatusCommand({ VolumeIds: [v.VolumeId] }));
    assert.equal(status.VolumeStatuses![0]!.VolumeStatus!.Status, 'ok');
    const ok = await ec2.send(new DescribeVolumeStatusCommand({ Filters: [{ Name: 'volume-status.status', Values: ['ok'] }] }));
    assert.ok(ok.VolumeStatuses!.some((s) => s.VolumeId === v.VolumeId));
  });

  it('honours DryRun and ClientToken', async () => {
    const before = (await ec2.send(new DescribeVolumesCommand({}))).Volumes!.length;
    assert.equal(await errorCode(ec2.send(new CreateVolumeCommand({ AvailabilityZone: ZONE, Size: 3, DryRun: true }))), 'DryRunOperation');
    assert.equal((await ec2.send(new DescribeVolumesCommand({}))).Volumes!.length, before);
    const token = `tok-${process.pid}`;
    const first = await create({ Size: 3, ClientToken: token });
    assert.equal(await create({ Size: 3, ClientToken: token }), first);
  });

  it('derives gp2 IOPS (3 per GiB, 100 to 16000) and records io2, encryption and multi-attach', async () => {
    assert.equal((await volume(await create({ Size: 10 }))).Iops, 100);
    assert.equal((await volume(await create({ Size: 1000 }))).Iops, 3000);
    assert.equal((await volume(await create({ Size: 16000 }))).Iops, 16000);
    const io2 = await volume(await create({ VolumeType: 'io2', Size: 10, Iops: 5000, MultiAttachEnabled: true, Encrypted: true }));
    assert.equal(io2.VolumeType, 'io2');
    assert.equal(io2.Iops, 5000);
    assert.equal(io2.MultiAttachEnabled, true);
    assert.equal(io2.Encrypted, true);
    assert.match(io2.KmsKeyId!, /^arn:aws:kms:us-east-1:\d{12}:/);
  });

  it("rejects bad sizes, IOPS, throughput, types and zones with EC2's codes", async () => {
    const cases: [Partial<CreateVolumeCommandInput>, string][] = [
      [{ AvailabilityZone: 'us-west-2a' }, 'InvalidParameterValue'],
      [{ AvailabilityZone: 'us-east-1z' }, 'InvalidParameterValue'],
      [{ Size: undefined }, 'MissingParameter'],
      [{ Size: 0 }, 'InvalidParameterValue'],
      [{ Size: 16385 }, 'InvalidParameterValue'],
      [{ VolumeType: 'standard', Size: 1025 }, 'InvalidParameterValue'],
      [{ VolumeType: 'st1', Size: 100 }, 'InvalidParameterValue'],
      [{ VolumeType: 'sc1', Size: 124 }, 'InvalidParameterValue'],
      [{ VolumeType: 'io1', Size: 3, Iops: 100 }, 'InvalidParameterValue'],
      [{ VolumeType: 'io1', Size: 10 }, 'MissingParameter'],
      [{ VolumeType: 'io1', Size: 10, Iops: 501 }, 'InvalidParameterValue'],
      [{ VolumeType: 'io1', Size: 10, Iops: 99 }, 'InvalidParameterValue'],
      [{ VolumeType: 'io2', Size: 100, Iops: 64001 }, 'InvalidParameterValue'],
      [{ VolumeType: 'gp2', Iops: 300 }, 'InvalidParameterCombination'],
      [{ VolumeType: 'st1', Size: 500, Iops: 300 }, 'InvalidParameterCombination'],
      [{ VolumeType: 'io1', Iops: 300, Throughput: 200 }, 'InvalidParameterCombination'],
      [{ VolumeType: 'gp3', Size: 10, Iops: 6000 }, 'InvalidParameterValue'],
      [{ VolumeType: 'gp3', Size: 100, Iops: 2999 }, 'InvalidParameterValue'],
      [{ VolumeType: 'gp3', Size: 100, Iops: 16001 }, 'InvalidParameterValue'],
      [{ VolumeType: 'gp3', Size: 100, Throughput: 1001 }, 'InvalidParameterValue'],
      [{ VolumeType: 'gp3', Size: 100, Throughput: 124 }, 'InvalidParameterValue'],
      [{ VolumeType: 'gp3', Size: 100, Iops: 3000, Throughput: 751 }, 'InvalidParameterValue'],
      [{ VolumeType: 'gp3', MultiAttachEnabled: true }, 'InvalidParameterCombination'],
      [{ VolumeType: 'magnetic' as never }, 'InvalidParameterValue'],
      [{ TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'a', Value: 'b' }] }] }, 'InvalidParameterValue'],
    ];
    for (const [input, code] of cases) {
      assert.equal(await errorCode(ec2.send(new CreateVolumeCommand({ AvailabilityZone: ZONE, Size: 10, ...input }))), code, JSON.stringify(input));
    }
  });

  it('describes volumes by id, filter and page, with Malformed and NotFound codes', async () => {
    const id = await create({ Size: 7, VolumeType: 'standard', TagSpecifications: [{ ResourceType: 'volume', Tags: [{ Key: 'team', Value: 'x' }] }] });
    assert.equal(await errorCode(ec2.send(new DescribeVolumesCommand({ VolumeIds: ['vol-nope'] }))), 'InvalidVolumeID.Malformed');
    assert.equal(await errorCode(ec2.send(new DescribeVolumesCommand({ VolumeIds: ['vol-0123456789abcdef0'] }))), 'InvalidVolume.NotFound');
    const byFilter = async (Name: string, Values: string[]) =>
      (await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name, Values }] }))).Volumes!.map((v) => v.VolumeId);
    assert.deepEqual(await byFilter('tag:team', ['x']), [id]);
    assert.ok((await byFilter('size', ['7'])).includes(id));
    assert.ok((await byFilter('volume-type', ['standard'])).includes(id));
    assert.ok(!(await byFilter('volume-type', ['gp2'])).includes(id));
    assert.ok((await byFilter('availability-zone', [ZONE])).includes(id));
    assert.ok((await byFilter('encrypted', ['false'])).includes(id));
    assert.equal(await errorCode(ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'colour', Values: ['x'] }] }))), 'InvalidParameterValue');
    assert.equal(await errorCode(ec2.send(new DescribeVolumesCommand({ MaxResults: 4 }))), 'InvalidParameterValue');
    const all = (await ec2.send(new DescribeVolumesCommand({}))).Volumes!.map((v) => v.VolumeId);
    const paged: string[] = [];
    let NextToken: string | undefined;
    do {
      const page = await ec2.send(new DescribeVolumesCommand({ MaxResults: 5, NextToken }));
      assert.ok(page.Volumes!.length <= 5);
      paged.push(...page.Volumes!.map((v) => v.VolumeId!));
      NextToken = page.NextToken;
    } while (NextToken);
    assert.deepEqual(paged, all);
  });

  it('lists an instance root volume as an attached in-use volume, taggable, deleted at termination', async () => {
    const inst = await launch({ TagSpecifications: [{ ResourceType: 'volume', Tags: [{ Key: 'root', Value: 'yes' }] }] });
    const vols = (await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [inst] }] }))).Volumes!;
    assert.equal(vols.length, 1);
    const root = vols[0]!;
    assert.equal(root.State, 'in-use');
    assert.equal(root.Attachments![0]!.State, 'attached');
    assert.equal(root.Attachments![0]!.Device, '/dev/xvda');
    assert.equal(root.Attachments![0]!.DeleteOnTermination, true);
    assert.ok(root.Size! >= 1);
    assert.deepEqual(root.Tags, [{ Key: 'root', Value: 'yes' }]);
    const described = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [inst] }))).Reservations![0]!.Instances![0]!;
    assert.equal(described.BlockDeviceMappings![0]!.Ebs!.VolumeId, root.VolumeId);
    await ec2.send(new CreateTagsCommand({ Resources: [root.VolumeId!], Tags: [{ Key: 'more', Value: '1' }] }));
    const tags = await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [root.VolumeId!] }] }));
    assert.deepEqual(tags.Tags!.map((t) => [t.Key, t.ResourceType]).sort(), [['more', 'volume'], ['root', 'volume']]);
    await terminate(inst);
    assert.equal(await errorCode(ec2.send(new DescribeVolumesCommand({ VolumeIds: [root.VolumeId!] }))), 'InvalidVolume.NotFound');
  });

  it('keeps a root volume launched with DeleteOnTermination=false: detached and available after termination', async () => {
    const inst = await launch({ BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { DeleteOnTermination: false, VolumeSize: 12, VolumeType: 'gp3' } }] });
    const root = (await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [inst] }] }))).Volumes![0]!;
    assert.equal(root.Size, 12);
    assert.equal(root.VolumeType, 'gp3');
    assert.equal(root.Attachments![0]!.DeleteOnTermination, false);
    await terminate(inst);
    const kept = await volume(root.VolumeId!);
    assert.equal(kept.State, 'available');
    assert.deepEqual(kept.Attachments, []);
    await ec2.send(new DeleteVolumeCommand({ VolumeId: root.VolumeId! }));
  });

  it('attaches, refuses what EC2 refuses, detaches and deletes (boto3 and SDK)', async () => {
    const inst = await launch();
    const vol = await create({ Size: 5 });
    assert.equal(await errorCode(ec2.send(new AttachVolumeCommand({ VolumeId: vol, InstanceId: inst, Device: '/dev/sdf' }))), 'IncorrectState');
    await available(vol);
    const other = await create({ Size: 5, AvailabilityZone: 'us-east-1b' });
    await available(other);
    const result = nimbus.boto3(`
out = {}
def code(f):
    try:
        f()
        return None
    except botocore.exceptions.ClientError as e:
        return e.response['Error']['Code']
out['badDevice'] = code(lambda: ec2.attach_volume(VolumeId='${vol}', InstanceId='${inst}', Device='/dev/foo'))
out['zone'] = code(lambda: ec2.attach_volume(VolumeId='${other}', InstanceId='${inst}', Device='/dev/sdg'))
out['rootDevice'] = code(lambda: ec2.attach_volume(VolumeId='${vol}', InstanceId='${inst}', Device='/dev/xvda'))
out['noInstance'] = code(lambda: ec2.attach_volume(VolumeId='${vol}', InstanceId='i-0123456789abcdef0', Device='/dev/sdf'))
a = ec2.attach_volume(VolumeId='${vol}', InstanceId='${inst}', Device='/dev/sdf')
out['answer'] = a['State']
ec2.get_waiter('volume_in_use').wait(VolumeIds=['${vol}'], WaiterConfig={'Delay': 1, 'MaxAttempts': 20})
import time
for _ in range(50):
    v = ec2.describe_volumes(VolumeIds=['${vol}'])['Volumes'][0]
    if v['Attachments'][0]['State'] == 'attached':
        break
    time.sleep(0.1)
out['state'] = v['State']
out['attachment'] = [v['Attachments'][0]['State'], v['Attachments'][0]['Device'], v['Attachments'][0]['InstanceId'], v['Attachments'][0]['DeleteOnTermination']]
out['again'] = code(lambda: ec2.attach_volume(VolumeId='${vol}', InstanceId='${inst}', Device='/dev/sdh'))
out['delete'] = code(lambda: ec2.delete_volume(VolumeId='${vol}'))
result = out
`) as Record<string, unknown>;
    assert.deepEqual(result, {
      badDevice: 'InvalidParameterValue', zone: 'InvalidVolume.ZoneMismatch', rootDevice: 'InvalidParameterValue',
      noInstance: 'InvalidInstanceID.NotFound', answer: 'attaching', state: 'in-use',
      attachment: ['attached', '/dev/sdf', inst, false], again: 'VolumeInUse', delete: 'VolumeInUse',
    });
    // The device is taken on that instance; the instance lists the new volume.
    assert.equal(await errorCode(ec2.send(new AttachVolumeCommand({ VolumeId: other, InstanceId: inst, Device: '/dev/sdf' }))), 'InvalidVolume.ZoneMismatch');
    const spare = await create({ Size: 5 });
    await available(spare);
    assert.equal(await errorCode(ec2.send(new AttachVolumeCommand({ VolumeId: spare, InstanceId: inst, Device: '/dev/sdf' }))), 'InvalidParameterValue');
    const described = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [inst] }))).Reservations![0]!.Instances![0]!;
    assert.deepEqual(described.BlockDeviceMappings!.map((b) => b.DeviceName), ['/dev/xvda', '/dev/sdf']);
    const filtered = await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.device', Values: ['/dev/sdf'] }, { Name: 'attachment.instance-id', Values: [inst] }] }));
    assert.deepEqual(filtered.Volumes!.map((v) => v.VolumeId), [vol]);

    // The root volume of a running instance stays.
    const rootId = described.BlockDeviceMappings![0]!.Ebs!.VolumeId!;
    assert.equal(await errorCode(ec2.send(new DetachVolumeCommand({ VolumeId: rootId }))), 'OperationNotPermitted');
    assert.equal(await errorCode(ec2.send(new DetachVolumeCommand({ VolumeId: vol, InstanceId: inst, Device: '/dev/sdz' }))), 'InvalidAttachment.NotFound');

    const detached = nimbus.aws(['ec2', 'detach-volume', '--volume-id', vol, '--force']);
    assert.equal(detached.status, 0, detached.stderr);
    assert.equal((detached.json as { State: string }).State, 'detaching');
    await available(vol);
    assert.equal(cliErrorCode(nimbus.aws(['ec2', 'detach-volume', '--volume-id', vol])), 'IncorrectState');
    const after = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [inst] }))).Reservations![0]!.Instances![0]!;
    assert.deepEqual(after.BlockDeviceMappings!.map((b) => b.DeviceName), ['/dev/xvda']);
    const deleted = nimbus.aws(['ec2', 'delete-volume', '--volume-id', vol]);
    assert.equal(deleted.status, 0, deleted.stderr);
    assert.equal(cliErrorCode(nimbus.aws(['ec2', 'delete-volume', '--volume-id', vol])), 'InvalidVolume.NotFound');

    // A volume attached later is detached, not deleted, at termination; a terminated instance takes no volume.
    await ec2.send(new AttachVolumeCommand({ VolumeId: spare, InstanceId: inst, Device: '/dev/sdg' }));
    await ec2.send(new ModifyInstanceAttributeCommand({
      InstanceId: inst, BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { DeleteOnTermination: false } }],
    }));
    assert.equal((await volume(rootId)).Attachments![0]!.DeleteOnTermination, false);
    await terminate(inst);
    assert.equal((await volume(rootId)).State, 'available');
    const survivor = await volume(spare);
    assert.equal(survivor.State, 'available');
    assert.equal(await errorCode(ec2.send(new AttachVolumeCommand({ VolumeId: spare, InstanceId: inst, Device: '/dev/sdf' }))), 'IncorrectInstanceState');
  });

  it('attaches a multi-attach io2 volume to two instances, and a plain one to only one', async () => {
    const [a, b] = [await launch(), await launch()];
    const shared = await create({ VolumeType: 'io2', Size: 10, Iops: 1000, MultiAttachEnabled: true });
    const plain = await create({ Size: 10 });
    await available(shared);
    await available(plain);
    await ec2.send(new AttachVolumeCommand({ VolumeId: shared, InstanceId: a, Device: '/dev/sdf' }));
    await ec2.send(new AttachVolumeCommand({ VolumeId: shared, InstanceId: b, Device: '/dev/sdf' }));
    const v = await until(() => volume(shared), (x) => x.Attachments!.every((t) => t.State === 'attached'));
    assert.deepEqual(v.Attachments!.map((t) => t.InstanceId).sort(), [a, b].sort());
    await ec2.send(new AttachVolumeCommand({ VolumeId: plain, InstanceId: a, Device: '/dev/sdg' }));
    assert.equal(await errorCode(ec2.send(new AttachVolumeCommand({ VolumeId: plain, InstanceId: b, Device: '/dev/sdg' }))), 'VolumeInUse');
    assert.equal(await errorCode(ec2.send(new DetachVolumeCommand({ VolumeId: shared }))), 'InvalidParameterCombination');
    await ec2.send(new DetachVolumeCommand({ VolumeId: shared, InstanceId: a }));
    const left = await until(() => volume(shared), (x) => x.Attachments!.length === 1);
    assert.equal(left.Attachments![0]!.InstanceId, b);
    await terminate(a);
    await terminate(b);
  });

  it('modifies a volume: grows it and changes its type, with modifying → optimizing → completed', async () => {
    const id = await create({ Size: 10 });
    assert.equal(await errorCode(ec2.send(new ModifyVolumeCommand({ VolumeId: id, Size: 20 }))), 'IncorrectState');
    await available(id);
    assert.equal(await errorCode(ec2.send(new ModifyVolumeCommand({ VolumeId: id, Size: 5 }))), 'InvalidParameterValue');
    assert.equal(await errorCode(ec2.send(new ModifyVolumeCommand({ VolumeId: id, Iops: 500 }))), 'InvalidParameterCombination');
    assert.equal(await errorCode(ec2.send(new DescribeVolumesModificationsCommand({ VolumeIds: [id] }))), 'InvalidVolumeModification.NotFound');
    const m = (await ec2.send(new ModifyVolumeCommand({ VolumeId: id, Size: 30, VolumeType: 'gp3', Iops: 4000 }))).VolumeModification!;
    assert.equal(m.ModificationState, 'modifying');
    assert.deepEqual([m.OriginalSize, m.OriginalVolumeType, m.TargetSize, m.TargetVolumeType, m.TargetIops, m.TargetThroughput], [10, 'gp2', 30, 'gp3', 4000, 125]);
    assert.equal(await errorCode(ec2.send(new ModifyVolumeCommand({ VolumeId: id, Size: 40 }))), 'IncorrectModificationState');
    const v = await volume(id);
    assert.deepEqual([v.Size, v.VolumeType, v.Iops, v.Throughput], [30, 'gp3', 4000, 125]);
    const seen = new Set<string>();
    const done = await until(async () => {
      const r = (await ec2.send(new DescribeVolumesModificationsCommand({ VolumeIds: [id] }))).VolumesModifications![0]!;
      seen.add(r.ModificationState!);
      return r;
    }, (r) => r.ModificationState === 'completed');
    assert.equal(done.Progress, 100);
    assert.ok(done.EndTime);
    assert.ok(seen.has('optimizing') || seen.has('modifying'));
    const filtered = await ec2.send(new DescribeVolumesModificationsCommand({ Filters: [{ Name: 'modification-state', Values: ['completed'] }] }));
    assert.ok(filtered.VolumesModifications!.some((x) => x.VolumeId === id));
    assert.equal(await errorCode(ec2.send(new ModifyVolumeCommand({ VolumeId: id, Size: 30 }))), 'InvalidParameterValue');
    const cli = nimbus.aws(['ec2', 'modify-volume', '--volume-id', id, '--size', '16385']);
    assert.equal(cliErrorCode(cli), 'InvalidParameterValue');
  });
});
