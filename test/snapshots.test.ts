/**
 * EBS snapshots on the sim driver through the AWS CLI, boto3 and SDK v3: pending → completed with
 * progress, DescribeSnapshots' owner and restorable-by views, volumes from snapshots, CopySnapshot
 * across regions, and sharing with a second account through createVolumePermission.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CopySnapshotCommand, CreateSnapshotCommand, CreateVolumeCommand, DeleteSnapshotCommand, DescribeSnapshotAttributeCommand,
  DescribeSnapshotsCommand, DescribeVolumesCommand, ModifySnapshotAttributeCommand, ResetSnapshotAttributeCommand,
  type EC2Client, type Snapshot,
} from '@aws-sdk/client-ec2';
import { cliErrorCode, createAccount, errorCode, startServer, type Credentials, type NimbusProcess } from './support/server.js';

const ZONE = 'us-east-1a';

async function until<T>(read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = await read();
    if (done(v)) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('condition never held');
}

describe('EBS snapshots (sim driver)', () => {
  let nimbus: NimbusProcess;
  let ec2: EC2Client;
  let other: Credentials & { accountId: string };
  let ec2B: EC2Client;

  const snapshotOf = async (client: EC2Client, id: string): Promise<Snapshot> =>
    (await client.send(new DescribeSnapshotsCommand({ SnapshotIds: [id] }))).Snapshots![0]!;
  const completed = (id: string, client = ec2) => until(() => snapshotOf(client, id), (s) => s.State === 'completed');
  const availableVolume = async (size = 10, client = ec2) => {
    const id = (await client.send(new CreateVolumeCommand({ AvailabilityZone: ZONE, Size: size }))).VolumeId!;
    await until(async () => (await client.send(new DescribeVolumesCommand({ VolumeIds: [id] }))).Volumes![0]!.State, (s) => s === 'available');
    return id;
  };
  const snapshot = async (size = 10) => {
    const id = (await ec2.send(new CreateSnapshotCommand({ VolumeId: await availableVolume(size) }))).SnapshotId!;
    await completed(id);
    return id;
  };

  before(async () => {
    nimbus = await startServer();
    ec2 = nimbus.ec2();
    other = createAccount(nimbus.dataDir, 'second');
    ec2B = nimbus.ec2({ credentials: other });
  });
  after(() => nimbus.dispose());

  it('creates a snapshot through the CLI: pending with progress, then completed at 100%', async () => {
    const vol = await availableVolume(15);
    const r = nimbus.aws(['ec2', 'create-snapshot', '--volume-id', vol, '--description', 'nightly',
      '--tag-specifications', 'ResourceType=snapshot,Tags=[{Key=Name,Value=n1}]']);
    assert.equal(r.status, 0, r.stderr);
    const s = r.json as { SnapshotId: string; State: string; Progress: string; VolumeId: string; VolumeSize: number; Description: string; Tags: unknown[]; OwnerId: string };
    assert.match(s.SnapshotId, /^snap-[0-9a-f]{17}$/);
    assert.equal(s.State, 'pending');
    assert.match(s.Progress, /^\d{1,2}%$/);
    assert.deepEqual([s.VolumeId, s.VolumeSize, s.Description], [vol, 15, 'nightly']);
    assert.deepEqual(s.Tags, [{ Key: 'Name', Value: 'n1' }]);
    const done = await completed(s.SnapshotId);
    assert.equal(done.Progress, '100%');
    assert.equal(done.OwnerId, s.OwnerId);
  });

  it("refuses snapshots of unknown volumes and bad ids with EC2's codes", async () => {
    assert.equal(await errorCode(ec2.send(new CreateSnapshotCommand({ VolumeId: 'vol-0123456789abcdef0' }))), 'InvalidVolume.NotFound');
    assert.equal(await errorCode(ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: ['snap-x'] }))), 'InvalidSnapshotID.Malformed');
    assert.equal(await errorCode(ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: ['snap-0123456789abcdef0'] }))), 'InvalidSnapshot.NotFound');
    assert.equal(await errorCode(ec2.send(new DeleteSnapshotCommand({ SnapshotId: 'snap-0123456789abcdef0' }))), 'InvalidSnapshot.NotFound');
    assert.equal(await errorCode(ec2.send(new DescribeSnapshotsCommand({ MaxResults: 3 }))), 'InvalidParameterValue');
    assert.equal(await errorCode(ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: 'bogus', Values: ['1'] }] }))), 'InvalidParameterValue');
    const vol = (await ec2.send(new CreateVolumeCommand({ AvailabilityZone: ZONE, Size: 1 }))).VolumeId!;
    assert.equal(await errorCode(ec2.send(new CreateSnapshotCommand({ VolumeId: vol }))), 'IncorrectState');
  });

  it('describes by owner, filter and page, and deletes', async () => {
    const ids = await Promise.all([snapshot(), snapshot(), snapshot()]);
    const own = (await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots!.map((s) => s.SnapshotId);
    for (const id of ids) assert.ok(own.includes(id));
    assert.deepEqual((await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['amazon'] }))).Snapshots, []);
    const byStatus = await ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: 'snapshot-id', Values: [ids[0]!] }, { Name: 'status', Values: ['completed'] }] }));
    assert.deepEqual(byStatus.Snapshots!.map((s) => s.SnapshotId), [ids[0]]);
    const paged = nimbus.boto3(`
ids = []
for page in ec2.get_paginator('describe_snapshots').paginate(OwnerIds=['self'], PaginationConfig={'PageSize': 5}):
    assert len(page['Snapshots']) <= 5
    ids += [s['SnapshotId'] for s in page['Snapshots']]
result = ids
`) as string[];
    assert.deepEqual(paged, own);
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: ids[0]! }));
    assert.equal(await errorCode(ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [ids[0]!] }))), 'InvalidSnapshot.NotFound');
  });

  it("creates a volume from a snapshot, sized by default as the snapshot, never smaller", async () => {
    const snap = await snapshot(12);
    const v = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: ZONE, SnapshotId: snap }));
    assert.deepEqual([v.Size, v.SnapshotId], [12, snap]);
    const bigger = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: ZONE, SnapshotId: snap, Size: 20, VolumeType: 'gp3' }));
    assert.equal(bigger.Size, 20);
    assert.equal(await errorCode(ec2.send(new CreateVolumeCommand({ AvailabilityZone: ZONE, SnapshotId: snap, Size: 5 }))), 'InvalidParameterValue');
    assert.equal(await errorCode(ec2.send(new CreateVolumeCommand({ AvailabilityZone: ZONE, SnapshotId: 'snap-0123456789abcdef0' }))), 'InvalidSnapshot.NotFound');
    const filtered = await ec2.send(new DescribeVolumesCommand({ Filters: [{ Name: 'snapshot-id', Values: [snap] }] }));
    assert.equal(filtered.Volumes!.length, 2);
  });

  it('copies a snapshot into another region, from the source region the caller names', async () => {
    const snap = await snapshot(9);
    const west = nimbus.ec2({ region: 'us-west-2' });
    const copy = await west.send(new CopySnapshotCommand({ SourceRegion: 'us-east-1', SourceSnapshotId: snap, Description: 'dr copy' }));
    const copied = await completed(copy.SnapshotId!, west);
    assert.deepEqual([copied.VolumeSize, copied.Description], [9, 'dr copy']);
    assert.equal(await errorCode(ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [copy.SnapshotId!] }))), 'InvalidSnapshot.NotFound');
    assert.equal(await errorCode(west.send(new CopySnapshotCommand({ SourceRegion: 'eu-west-1', SourceSnapshotId: snap }))), 'InvalidSnapshot.NotFound');
    assert.equal(await errorCode(west.send(new CopySnapshotCommand({ SourceRegion: 'mars-1', SourceSnapshotId: snap }))), 'InvalidParameterValue');
    const encrypted = nimbus.aws(['ec2', 'copy-snapshot', '--source-region', 'us-east-1', '--source-snapshot-id', snap, '--encrypted'], { region: 'eu-west-1' });
    assert.equal(encrypted.status, 0, encrypted.stderr);
    const e = await completed((encrypted.json as { SnapshotId: string }).SnapshotId, nimbus.ec2({ region: 'eu-west-1' }));
    assert.equal(e.Encrypted, true);
  });

  it('shares a snapshot with another account, which may restore it only while shared', async () => {
    const snap = await snapshot(10);
    assert.equal(await errorCode(ec2B.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap] }))), 'InvalidSnapshot.NotFound');
    assert.equal(await errorCode(ec2B.send(new CreateVolumeCommand({ AvailabilityZone: ZONE, SnapshotId: snap }))), 'InvalidSnapshot.NotFound');

    const add = nimbus.aws(['ec2', 'modify-snapshot-attribute', '--snapshot-id', snap, '--attribute', 'createVolumePermission',
      '--operation-type', 'add', '--user-ids', other.accountId]);
    assert.equal(add.status, 0, add.stderr);
    const attr = await ec2.send(new DescribeSnapshotAttributeCommand({ SnapshotId: snap, Attribute: 'createVolumePermission' }));
    assert.deepEqual(attr.CreateVolumePermissions, [{ UserId: other.accountId }]);

    const restorable = (await ec2B.send(new DescribeSnapshotsCommand({ RestorableByUserIds: ['self'] }))).Snapshots!.map((s) => s.SnapshotId);
    assert.deepEqual(restorable, [snap]);
    assert.deepEqual((await ec2B.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots, []);
    const owner = (await snapshotOf(ec2B, snap)).OwnerId!;
    assert.deepEqual((await ec2B.send(new DescribeSnapshotsCommand({ OwnerIds: [owner] }))).Snapshots!.map((s) => s.SnapshotId), [snap]);
    const restored = await ec2B.send(new CreateVolumeCommand({ AvailabilityZone: ZONE, SnapshotId: snap }));
    assert.deepEqual([restored.SnapshotId, restored.Size], [snap, 10]);
    // Only the owner changes or reads the permission, or deletes the snapshot.
    assert.equal(await errorCode(ec2B.send(new DescribeSnapshotAttributeCommand({ SnapshotId: snap, Attribute: 'createVolumePermission' }))), 'InvalidSnapshot.NotFound');
    assert.equal(await errorCode(ec2B.send(new DeleteSnapshotCommand({ SnapshotId: snap }))), 'InvalidSnapshot.NotFound');

    await ec2.send(new ModifySnapshotAttributeCommand({ SnapshotId: snap, CreateVolumePermission: { Remove: [{ UserId: other.accountId }] } }));
    assert.equal(await errorCode(ec2B.send(new CreateVolumeCommand({ AvailabilityZone: ZONE, SnapshotId: snap }))), 'InvalidSnapshot.NotFound');

    // Public (group all), then reset to private.
    await ec2.send(new ModifySnapshotAttributeCommand({ SnapshotId: snap, Attribute: 'createVolumePermission', OperationType: 'add', GroupNames: ['all'] }));
    assert.deepEqual((await ec2.send(new DescribeSnapshotAttributeCommand({ SnapshotId: snap, Attribute: 'createVolumePermission' }))).CreateVolumePermissions, [{ Group: 'all' }]);
    assert.equal((await snapshotOf(ec2B, snap)).SnapshotId, snap);
    await ec2.send(new ResetSnapshotAttributeCommand({ SnapshotId: snap, Attribute: 'createVolumePermission' }));
    assert.deepEqual((await ec2.send(new DescribeSnapshotAttributeCommand({ SnapshotId: snap, Attribute: 'createVolumePermission' }))).CreateVolumePermissions, []);
    assert.equal(await errorCode(ec2B.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap] }))), 'InvalidSnapshot.NotFound');
  });

  it("validates snapshot attributes with EC2's codes", async () => {
    const snap = await snapshot(1);
    assert.equal(cliErrorCode(nimbus.aws(['ec2', 'describe-snapshot-attribute', '--snapshot-id', snap, '--attribute', 'colour'])), 'InvalidParameterValue');
    assert.equal(await errorCode(ec2.send(new ModifySnapshotAttributeCommand({ SnapshotId: snap, OperationType: 'add', UserIds: ['12'] }))), 'InvalidParameterValue');
    assert.equal(await errorCode(ec2.send(new ModifySnapshotAttributeCommand({ SnapshotId: snap, OperationType: 'add', GroupNames: ['everyone'] }))), 'InvalidParameterValue');
    assert.equal(await errorCode(ec2.send(new ModifySnapshotAttributeCommand({ SnapshotId: snap }))), 'MissingParameter');
    const codes = await ec2.send(new DescribeSnapshotAttributeCommand({ SnapshotId: snap, Attribute: 'productCodes' }));
    assert.deepEqual(codes.ProductCodes, []);
  });
});
