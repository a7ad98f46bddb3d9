/**
 * The AMI lifecycle on the sim driver through SDK v3, boto3 and the AWS CLI: CreateImage from an
 * instance (pending → available, snapshots of its volumes, launchable), RegisterImage from a
 * snapshot, CopyImage into another region, sharing with a second account and taking it back,
 * DeregisterImage and the snapshots it leaves, and instance-store roots that cannot be stopped.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CopyImageCommand, CreateImageCommand, CreateSnapshotCommand, CreateVolumeCommand, DeleteSnapshotCommand,
  DeregisterImageCommand, DescribeImageAttributeCommand, DescribeImagesCommand, DescribeInstancesCommand, DescribeSnapshotsCommand,
  DescribeVolumesCommand, ModifyImageAttributeCommand, RebootInstancesCommand, RegisterImageCommand, ResetImageAttributeCommand,
  RunInstancesCommand, StartInstancesCommand, StopInstancesCommand, TerminateInstancesCommand, type EC2Client, type Image, type Instance,
} from '@aws-sdk/client-ec2';
import { cliErrorCode, createAccount, errorCode, startServer, type Credentials, type NimbusProcess } from './support/server.js';
import { x86Image } from './support/fixtures.js';

async function until<T>(read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const v = await read();
    if (done(v)) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition never held');
}

describe('AMI lifecycle (sim driver)', () => {
  let nimbus: NimbusProcess;
  let ec2: EC2Client;
  let west: EC2Client;
  let bob: Credentials & { accountId: string };
  let ec2B: EC2Client;
  let baseAmi: string;
  let sourceInstance: string;
  let createdImage: string;

  const imageOf = async (id: string, client = ec2): Promise<Image> =>
    (await client.send(new DescribeImagesCommand({ ImageIds: [id] }))).Images![0]!;
  const available = (id: string, client = ec2) => until(() => imageOf(id, client), (i) => i.State === 'available');
  const instanceOf = async (id: string, client = ec2): Promise<Instance> =>
    (await client.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;
  const launch = async (imageId: string, client = ec2) =>
    (await client.send(new RunInstancesCommand({ ImageId: imageId, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }))).Instances![0]!;
  const running = async (imageId: string, client = ec2) => {
    const id = (await launch(imageId, client)).InstanceId!;
    return until(() => instanceOf(id, client), (i) => i.State?.Name === 'running');
  };

  before(async () => {
    nimbus = await startServer({ args: ['--sim-delay-ms', '50'] });
    ec2 = nimbus.ec2();
    west = nimbus.ec2({ region: 'us-west-2' });
    bob = createAccount(nimbus.dataDir, 'bob');
    ec2B = nimbus.ec2({ credentials: bob });
    baseAmi = await x86Image(ec2);
    sourceInstance = (await running(baseAmi)).InstanceId!;
  });
  after(() => nimbus.dispose());

  it('creates an image of a running instance: pending, then available, with a snapshot of each volume', async () => {
    const created = await ec2.send(new CreateImageCommand({
      InstanceId: sourceInstance, Name: 'web (v1) [base] 2026.01', Description: 'web server',
      TagSpecifications: [{ ResourceType: 'image', Tags: [{ Key: 'role', Value: 'web' }] }, { ResourceType: 'snapshot', Tags: [{ Key: 'of', Value: 'web' }] }],
    }));
    createdImage = created.ImageId!;
    assert.match(createdImage, /^ami-[0-9a-f]{17}$/);
    const pending = await imageOf(createdImage);
    assert.equal(pending.State, 'pending');
    const image = await available(createdImage);
    const base = await imageOf(baseAmi);
    assert.equal(image.OwnerId, '000000000000');
    assert.equal(image.Public, false);
    assert.equal(image.Name, 'web (v1) [base] 2026.01');
    assert.equal(image.Description, 'web server');
    assert.equal(image.RootDeviceType, 'ebs');
    for (const field of ['Architecture', 'VirtualizationType', 'EnaSupport', 'PlatformDetails', 'RootDeviceName'] as const) {
      assert.equal(image[field], base[field], field);
    }
    assert.deepEqual(image.Tags, [{ Key: 'role', Value: 'web' }]);
    // EC2 names the instance it was made from; the other fields stay inside.
    assert.equal(image.SourceInstanceId, sourceInstance);
    const raw = image as Record<string, unknown>;
    for (const hidden of ['LaunchPermissions', 'availableAt']) assert.equal(raw[hidden], undefined, hidden);

    const root = image.BlockDeviceMappings!.find((m) => m.DeviceName === image.RootDeviceName)!;
    const vol = (await instanceOf(sourceInstance)).BlockDeviceMappings![0]!.Ebs!.VolumeId!;
    const snap = (await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [root.Ebs!.SnapshotId!] }))).Snapshots![0]!;
    assert.equal(snap.Description, `Created by CreateImage(${sourceInstance}) for ${createdImage} from ${vol}`);
    assert.equal(snap.VolumeId, vol);
    assert.deepEqual(snap.Tags, [{ Key: 'of', Value: 'web' }]);
    assert.equal(root.Ebs!.VolumeSize, snap.VolumeSize);

    // Owners=self finds it; the source-instance-id filter matches on what is kept inside.
    const mine = await ec2.send(new DescribeImagesCommand({ Owners: ['self'] }));
    assert.deepEqual(mine.Images!.map((i) => i.ImageId), [createdImage]);
    const bySource = await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'source-instance-id', Values: [sourceInstance] }] }));
    assert.equal(bySource.Images!.length, 1);
  });

  it('launches the created image: the root volume comes from its snapshot', async () => {
    const inst = await running(createdImage);
    assert.equal(inst.ImageId, createdImage);
    const image = await imageOf(createdImage);
    const volId = inst.BlockDeviceMappings![0]!.Ebs!.VolumeId!;
    const vol = (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [volId] }))).Volumes![0]!;
    assert.equal(vol.SnapshotId, image.BlockDeviceMappings![0]!.Ebs!.SnapshotId);
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId!] }));
  });

  it("refuses CreateImage with EC2's codes: malformed or taken names, unknown or terminated instances", async () => {
    const create = (InstanceId: string, Name: string) => ec2.send(new CreateImageCommand({ InstanceId, Name }));
    assert.equal(await errorCode(create(sourceInstance, 'ab')), 'InvalidAMIName.Malformed');
    assert.equal(await errorCode(create(sourceInstance, 'bad,name!')), 'InvalidAMIName.Malformed');
    assert.equal(await errorCode(create(sourceInstance, 'web (v1) [base] 2026.01')), 'InvalidAMIName.Duplicate');
    assert.equal(await errorCode(create('i-0123456789abcdef0', 'fine-name')), 'InvalidInstanceID.NotFound');
    assert.equal(await errorCode(create('i-zz', 'fine-name')), 'InvalidInstanceID.Malformed');
    const doomed = (await running(baseAmi)).InstanceId!;
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [doomed] }));
    await until(() => instanceOf(doomed), (i) => i.State?.Name === 'terminated');
    assert.equal(await errorCode(create(doomed, 'from-terminated')), 'IncorrectInstanceState');
  });

  it('registers an image from a snapshot through boto3, pending until the snapshot completes', async () => {
    const vol = (await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 4 }))).VolumeId!;
    await until(async () => (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [vol] }))).Volumes![0]!.State, (s) => s === 'available');
    const snap = (await ec2.send(new CreateSnapshotCommand({ VolumeId: vol }))).SnapshotId!;
    const result = nimbus.boto3(`
r = ec2.register_image(Name="registered-root", RootDeviceName="/dev/xvda", Architecture="x86_64", VirtualizationType="hvm",
    EnaSupport=True, BootMode="uefi", ImdsSupport="v2.0",
    BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "${snap}", "VolumeType": "gp3"}},
                         {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"}])
image = ec2.describe_images(ImageIds=[r["ImageId"]])["Images"][0]
result = {"id": r["ImageId"], "state": image["State"], "root": image["BlockDeviceMappings"][0], "boot": image["BootMode"], "imds": image["ImdsSupport"]}
`) as { id: string; state: string; root: { Ebs: { SnapshotId: string; VolumeSize: number; VolumeType: string } }; boot: string; imds: string };
    assert.equal(result.state, 'pending');
    assert.equal(result.root.Ebs.SnapshotId, snap);
    assert.equal(result.root.Ebs.VolumeSize, 4);
    assert.equal(result.root.Ebs.VolumeType, 'gp3');
    assert.equal(result.boot, 'uefi');
    assert.equal(result.imds, 'v2.0');
    await available(result.id);
    const inst = await running(result.id);
    assert.equal(inst.MetadataOptions!.HttpTokens, 'required');
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId!] }));

    const register = (extra: Record<string, unknown>) => ec2.send(new RegisterImageCommand({
      Name: `reg-${Math.random().toString(16).slice(2, 8)}`, RootDeviceName: '/dev/xvda',
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snap } }], ...extra,
    }));
    assert.equal(await errorCode(register({ ImageLocation: 'my-bucket/image.manifest.xml' })), 'InvalidManifest');
    assert.equal(await errorCode(register({ BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: 'snap-0123456789abcdef0' } }] })), 'InvalidSnapshot.NotFound');
    assert.equal(await errorCode(register({ RootDeviceName: '/dev/sda1' })), 'InvalidBlockDeviceMapping');
    assert.equal(await errorCode(register({ BlockDeviceMappings: [] })), 'MissingParameter');
    assert.equal(await errorCode(register({ Architecture: 'sparc' })), 'InvalidParameterValue');
    assert.equal(await errorCode(register({ Name: 'registered-root' })), 'InvalidAMIName.Duplicate');
    assert.equal(await errorCode(register({ BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snap, VolumeSize: 2 } }] })), 'InvalidParameterValue');
    // Another account's snapshot that was not shared is not found.
    assert.equal(await errorCode(ec2B.send(new RegisterImageCommand({
      Name: 'bobs', RootDeviceName: '/dev/xvda', BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snap } }],
    }))), 'InvalidSnapshot.NotFound');
  });

  it('copies an image into another region through the CLI: snapshots copied, launchable there, the source id unknown there', async () => {
    const r = nimbus.aws(['ec2', 'copy-image', '--source-image-id', createdImage, '--source-region', 'us-east-1', '--name', 'web-copy',
      '--description', 'copied web'], { region: 'us-west-2' });
    assert.equal(r.status, 0, r.stderr);
    const copyId = (r.json as { ImageId: string }).ImageId;
    const copy = await available(copyId, west);
    assert.equal(copy.Description, 'copied web');
    assert.equal((copy as Record<string, unknown>).SourceImageId, undefined);
    const copiedSnap = copy.BlockDeviceMappings![0]!.Ebs!.SnapshotId!;
    const sourceSnap = (await imageOf(createdImage)).BlockDeviceMappings![0]!.Ebs!.SnapshotId!;
    assert.notEqual(copiedSnap, sourceSnap);
    const snap = (await west.send(new DescribeSnapshotsCommand({ SnapshotIds: [copiedSnap] }))).Snapshots![0]!;
    assert.match(snap.Description!, new RegExp(`for SourceSnapshot ${sourceSnap}`));
    const bySource = await west.send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'source-image-id', Values: [createdImage] }] }));
    assert.deepEqual(bySource.Images!.map((i) => i.ImageId), [copyId]);

    const inst = await running(copyId, west);
    assert.equal(inst.Placement!.AvailabilityZone!.startsWith('us-west-2'), true);
    await west.send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId!] }));
    // AMIs are regional.
    assert.equal(await errorCode(west.send(new DescribeImagesCommand({ ImageIds: [createdImage] }))), 'InvalidAMIID.NotFound');
    assert.equal(await errorCode(launch(createdImage, west)), 'InvalidAMIID.NotFound');
    assert.equal(await errorCode(launch(copyId, ec2)), 'InvalidAMIID.NotFound');

    // A catalogue image copies too: its public snapshot is copied like any other.
    const fromCatalogue = await west.send(new CopyImageCommand({ SourceImageId: baseAmi, SourceRegion: 'us-east-1', Name: 'catalogue-copy', Encrypted: true }));
    const encrypted = await available(fromCatalogue.ImageId!, west);
    assert.equal(encrypted.BlockDeviceMappings![0]!.Ebs!.Encrypted, true);

    const copyBad = (SourceImageId: string, SourceRegion: string, Name = 'another-copy') =>
      west.send(new CopyImageCommand({ SourceImageId, SourceRegion, Name }));
    assert.equal(await errorCode(copyBad('ami-0123456789abcdef0', 'us-east-1')), 'InvalidAMIID.NotFound');
    assert.equal(await errorCode(copyBad(createdImage, 'us-west-2')), 'InvalidAMIID.NotFound');
    assert.equal(await errorCode(copyBad(createdImage, 'mars-1')), 'InvalidParameterValue');
    assert.equal(await errorCode(copyBad(createdImage, 'us-east-1', 'web-copy')), 'InvalidAMIName.Duplicate');
    assert.equal(await errorCode(copyBad('ami-nope', 'us-east-1')), 'InvalidAMIID.Malformed');
  });

  it('shares an image with another account, which sees and launches it until the permission is removed', async () => {
    assert.equal(await errorCode(ec2B.send(new DescribeImagesCommand({ ImageIds: [createdImage] }))), 'InvalidAMIID.NotFound');
    assert.equal(await errorCode(launch(createdImage, ec2B)), 'InvalidAMIID.NotFound');

    await ec2.send(new ModifyImageAttributeCommand({ ImageId: createdImage, LaunchPermission: { Add: [{ UserId: bob.accountId }] } }));
    const attr = await ec2.send(new DescribeImageAttributeCommand({ ImageId: createdImage, Attribute: 'launchPermission' }));
    assert.deepEqual(attr.LaunchPermissions, [{ UserId: bob.accountId }]);

    const executable = await ec2B.send(new DescribeImagesCommand({ ExecutableUsers: ['self'] }));
    assert.deepEqual(executable.Images!.map((i) => i.ImageId), [createdImage]);
    const byOwner = await ec2B.send(new DescribeImagesCommand({ Owners: ['000000000000'] }));
    assert.deepEqual(byOwner.Images!.map((i) => i.ImageId), [createdImage]);
    assert.equal(byOwner.Images![0]!.Public, false);
    assert.deepEqual((await ec2B.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images, []);
    const launched = await running(createdImage, ec2B);
    assert.equal(launched.ImageId, createdImage);
    const reservation = (await ec2B.send(new DescribeInstancesCommand({ InstanceIds: [launched.InstanceId!] }))).Reservations![0]!;
    assert.equal(reservation.OwnerId, bob.accountId);
    // Bob's instance is his: the image's owner does not see it.
    assert.equal(await errorCode(ec2.send(new DescribeInstancesCommand({ InstanceIds: [launched.InstanceId!] }))), 'InvalidInstanceID.NotFound');

    // Only the owner may read or change the permissions.
    assert.equal(await errorCode(ec2B.send(new DescribeImageAttributeCommand({ ImageId: createdImage, Attribute: 'launchPermission' }))), 'AuthFailure');
    assert.equal(await errorCode(ec2B.send(new ModifyImageAttributeCommand({ ImageId: createdImage, Description: { Value: 'mine now' } }))), 'AuthFailure');
    assert.equal(await errorCode(ec2B.send(new DeregisterImageCommand({ ImageId: createdImage }))), 'AuthFailure');

    // The CLI's flat form takes the permission back.
    const r = nimbus.aws(['ec2', 'modify-image-attribute', '--image-id', createdImage, '--attribute', 'launchPermission',
      '--operation-type', 'remove', '--user-ids', bob.accountId]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(await errorCode(launch(createdImage, ec2B)), 'InvalidAMIID.NotFound');
    assert.equal(await errorCode(ec2B.send(new DescribeImagesCommand({ ImageIds: [createdImage] }))), 'InvalidAMIID.NotFound');
    assert.deepEqual((await ec2B.send(new DescribeImagesCommand({ ExecutableUsers: ['self'] }))).Images, []);
    await ec2B.send(new TerminateInstancesCommand({ InstanceIds: [launched.InstanceId!] }));
  });

  it('makes an image public with the group all (Public follows), resets it private, and checks permission items', async () => {
    const r = nimbus.aws(['ec2', 'modify-image-attribute', '--image-id', createdImage, '--launch-permission', 'Add=[{Group=all}]']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal((await imageOf(createdImage)).Public, true);
    const publicForBob = await ec2B.send(new DescribeImagesCommand({ ExecutableUsers: ['all'], Filters: [{ Name: 'image-id', Values: [createdImage] }] }));
    assert.equal(publicForBob.Images!.length, 1);
    assert.equal((await ec2B.send(new DescribeImagesCommand({ Filters: [{ Name: 'is-public', Values: ['true'] }, { Name: 'owner-id', Values: ['000000000000'] }] }))).Images!.length, 1);

    await ec2.send(new ResetImageAttributeCommand({ ImageId: createdImage, Attribute: 'launchPermission' }));
    assert.equal((await imageOf(createdImage)).Public, false);
    assert.equal(await errorCode(ec2B.send(new DescribeImagesCommand({ ImageIds: [createdImage] }))), 'InvalidAMIID.NotFound');

    await ec2.send(new ModifyImageAttributeCommand({ ImageId: createdImage, Attribute: 'description', Value: 'web server v2' }));
    assert.equal((await ec2.send(new DescribeImageAttributeCommand({ ImageId: createdImage, Attribute: 'description' }))).Description!.Value, 'web server v2');

    const modify = (LaunchPermission: object) => ec2.send(new ModifyImageAttributeCommand({ ImageId: createdImage, LaunchPermission }));
    assert.equal(await errorCode(modify({ Add: [{ UserId: '12345' }] })), 'InvalidAMIAttributeItemValue');
    assert.equal(await errorCode(modify({ Add: [{ Group: 'everyone' }] })), 'InvalidAMIAttributeItemValue');
    assert.equal(await errorCode(ec2.send(new ModifyImageAttributeCommand({ ImageId: baseAmi, LaunchPermission: { Add: [{ UserId: bob.accountId }] } }))), 'AuthFailure');
    assert.equal(await errorCode(ec2.send(new ModifyImageAttributeCommand({ ImageId: 'ami-0123456789abcdef0', Description: { Value: 'x' } }))), 'InvalidAMIID.NotFound');
    assert.equal(await errorCode(ec2.send(new ResetImageAttributeCommand({ ImageId: createdImage, Attribute: 'description' as never }))), 'InvalidParameterValue');
  });

  it('deregisters an image: its snapshots stay and can be deleted only then; catalogue images cannot be deregistered', async () => {
    const snapId = (await imageOf(createdImage)).BlockDeviceMappings![0]!.Ebs!.SnapshotId!;
    assert.equal(await errorCode(ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapId }))), 'InvalidSnapshot.InUse');
    const r = nimbus.aws(['ec2', 'deregister-image', '--image-id', createdImage]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(await errorCode(ec2.send(new DescribeImagesCommand({ ImageIds: [createdImage] }))), 'InvalidAMIID.NotFound');
    assert.equal(await errorCode(ec2.send(new DeregisterImageCommand({ ImageId: createdImage }))), 'InvalidAMIID.Unavailable');
    assert.equal(await errorCode(launch(createdImage)), 'InvalidAMIID.NotFound');
    assert.equal((await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapId] }))).Snapshots!.length, 1);
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapId }));
    // Its name is free again.
    const again = await ec2.send(new CreateImageCommand({ InstanceId: sourceInstance, Name: 'web (v1) [base] 2026.01', NoReboot: true }));
    assert.match(again.ImageId!, /^ami-/);

    assert.equal(await errorCode(ec2.send(new DeregisterImageCommand({ ImageId: baseAmi }))), 'AuthFailure');
    assert.equal(await errorCode(ec2.send(new DeregisterImageCommand({ ImageId: 'ami-0123456789abcdef0' }))), 'InvalidAMIID.NotFound');
  });

  it('refuses to stop (or hibernate) an instance with an instance-store root; start, reboot and terminate still work', async () => {
    const found = await ec2.send(new DescribeImagesCommand({
      Owners: ['amazon'], IncludeDeprecated: true, Filters: [{ Name: 'root-device-type', Values: ['instance-store'] }],
    }));
    const image = found.Images![0]!;
    assert.match(image.Name!, /^amzn-ami-hvm-.*-x86_64-s3$/);
    assert.equal(image.BlockDeviceMappings![0]!.VirtualName, 'ephemeral0');
    const inst = await running(image.ImageId!);
    assert.equal(inst.RootDeviceType, 'instance-store');
    assert.deepEqual(inst.BlockDeviceMappings, []);
    const id = inst.InstanceId!;
    assert.equal(await errorCode(ec2.send(new StopInstancesCommand({ InstanceIds: [id] }))), 'UnsupportedOperation');
    assert.equal(await errorCode(ec2.send(new StopInstancesCommand({ InstanceIds: [id], Hibernate: true }))), 'UnsupportedOperation');
    const cli = nimbus.aws(['ec2', 'stop-instances', '--instance-ids', id]);
    assert.equal(cliErrorCode(cli), 'UnsupportedOperation');
    assert.match(cli.stderr, new RegExp(`The instance '${id}' does not have an 'ebs' root device type and cannot be stopped`));
    await ec2.send(new StartInstancesCommand({ InstanceIds: [id] }));
    await ec2.send(new RebootInstancesCommand({ InstanceIds: [id] }));
    assert.equal(await errorCode(ec2.send(new CreateImageCommand({ InstanceId: id, Name: 'from-instance-store' }))), 'UnsupportedOperation');
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await until(() => instanceOf(id), (i) => i.State?.Name === 'terminated');
  });
});
