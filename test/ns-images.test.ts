/**
 * The AMI lifecycle with real instances (ns driver, AWS CLI): an image made from a customised
 * instance boots with the customisation (files added, changed and deleted, owners kept); a copy in
 * another region boots there, and the source id is unknown there; an image shared with another
 * account launches for it only while shared; an instance-store instance cannot be stopped; and
 * once images and snapshots are gone their root filesystems leave the host. Needs root.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NsDriver } from '../src/compute/ns/driver.js';
import { NsApi, nsSkipReason, sleep } from './support/ns-api.js';
import { cliErrorCode, createAccount, type Credentials } from './support/server.js';

const skip = nsSkipReason();

describe('AMIs made from real instances', { skip, timeout: 300_000 }, () => {
  const api = new NsApi();
  let driver: NsDriver;
  const token = randomBytes(8).toString('hex');
  let source = '';
  let image = '';
  let copy = '';
  let bob: Credentials & { accountId: string };
  const instances: { id: string; region?: string; credentials?: Credentials }[] = [];

  before(async () => {
    await api.start();
    driver = api.driver();
    bob = createAccount(api.nimbus.dataDir, 'bob');
  });
  after(async () => {
    await driver?.close();
    await api.dispose();
  });

  const cli = (args: string[], opts: { region?: string; credentials?: Credentials } = {}) => {
    const r = api.nimbus.aws(args, opts);
    assert.equal(r.status, 0, `aws ${args.join(' ')}: ${r.stderr}`);
    return r.json as Record<string, any>;
  };
  const sh = async (id: string, script: string) => {
    const r = await driver.exec(id, ['sh', '-c', script]);
    assert.equal(r.code, 0, `${id}: ${script}: ${r.stdout}${r.stderr}`);
    return r.stdout.trim();
  };
  const until = async (what: string, done: () => boolean, timeoutMs = 60_000) => {
    const end = Date.now() + timeoutMs;
    while (!done()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(250);
    }
  };
  const launch = async (ami: string, opts: { region?: string; credentials?: Credentials } = {}) => {
    const id = cli(['ec2', 'run-instances', '--image-id', ami, '--instance-type', 't3.micro'], opts).Instances[0].InstanceId as string;
    instances.push({ id, ...opts });
    await until(`${id} running`, () => cli(['ec2', 'describe-instances', '--instance-ids', id], opts).Reservations[0].Instances[0].State.Name === 'running');
    return id;
  };
  const imageState = (ami: string, region?: string) => cli(['ec2', 'describe-images', '--image-ids', ami], { region }).Images[0]?.State as string;

  it('makes an image of a customised instance that boots with what was changed', async () => {
    source = await launch(api.amiId);
    await sh(source, [
      `echo ${token} > /opt/custom`, 'rm /etc/shells', `echo '# changed ${token}' >> /etc/profile`,
      'echo "app:x:1000:1000::/home/app:/bin/sh" >> /etc/passwd', 'mkdir -p /home/app', 'echo mine > /home/app/file',
      'chown -R 1000:1000 /home/app', 'sync',
    ].join(' && '));
    image = cli(['ec2', 'create-image', '--instance-id', source, '--name', `custom-${token}`, '--no-reboot']).ImageId;
    await until(`${image} available`, () => imageState(image) === 'available');
    const described = cli(['ec2', 'describe-images', '--image-ids', image]).Images[0];
    assert.equal(described.SourceInstanceId, source);
    const rootSnapshot = described.BlockDeviceMappings.find((m: any) => m.DeviceName === described.RootDeviceName).Ebs.SnapshotId;
    assert.ok(existsSync(join(api.dataDir, 'images', rootSnapshot, 'rootfs', 'opt', 'custom')), 'the root snapshot holds the root filesystem');

    const booted = await launch(image);
    assert.equal(await sh(booted, 'cat /opt/custom'), token);
    assert.equal(await sh(booted, 'test -e /etc/shells && echo present || echo gone'), 'gone', 'a file deleted in the source is gone');
    assert.equal(await sh(booted, 'tail -n 1 /etc/profile'), `# changed ${token}`, 'a file of the image changed in the source');
    assert.equal(await sh(booted, 'stat -c %u:%g /home/app/file; stat -c %u:%g /bin/busybox'), '1000:1000\n0:0', 'owners as they were inside');
    assert.deepEqual(readdirSync(join(api.dataDir, 'images', rootSnapshot, 'rootfs', 'etc', 'dropbear')), [], 'no host keys in the image');
  });

  it('gives the root snapshot the root filesystem as blocks, and keeps a root volume with DeleteOnTermination false', async () => {
    const described = cli(['ec2', 'describe-images', '--image-ids', image]).Images[0];
    const rootSnapshot = described.BlockDeviceMappings.find((m: any) => m.DeviceName === described.RootDeviceName).Ebs.SnapshotId;
    const zone = cli(['ec2', 'describe-instances', '--instance-ids', source]).Reservations[0].Instances[0].Placement.AvailabilityZone;
    const fromRoot = cli(['ec2', 'create-volume', '--snapshot-id', rootSnapshot, '--availability-zone', zone]).VolumeId;
    await until(`${fromRoot} available`, () => cli(['ec2', 'describe-volumes', '--volume-ids', fromRoot]).Volumes[0].State === 'available');
    cli(['ec2', 'attach-volume', '--volume-id', fromRoot, '--instance-id', source, '--device', '/dev/sdf']);
    const mounted = async () => (await driver.exec(source, ['cat', '/mnt/sdf/opt/custom'])).stdout.trim() === token;
    for (let i = 0; i < 100 && !(await mounted()); i++) await sleep(200);
    assert.equal(await sh(source, 'cat /mnt/sdf/opt/custom'), token, 'a volume from the root snapshot holds the root\'s files');
    assert.equal(await sh(source, 'stat -c %u:%g /mnt/sdf/home/app/file'), '1000:1000');

    const kept = cli(['ec2', 'run-instances', '--image-id', api.amiId, '--instance-type', 't3.micro',
      '--block-device-mappings', 'DeviceName=/dev/xvda,Ebs={DeleteOnTermination=false}']).Instances[0].InstanceId as string;
    await until(`${kept} running`, () => cli(['ec2', 'describe-instances', '--instance-ids', kept]).Reservations[0].Instances[0].State.Name === 'running');
    await sh(kept, `echo ${token}-root > /root/left && sync`);
    const rootVolume = cli(['ec2', 'describe-instances', '--instance-ids', kept]).Reservations[0].Instances[0].BlockDeviceMappings[0].Ebs.VolumeId;
    cli(['ec2', 'terminate-instances', '--instance-ids', kept]);
    await until(`${rootVolume} available`, () => cli(['ec2', 'describe-volumes', '--volume-ids', rootVolume]).Volumes[0].State === 'available');
    await until(`${kept} terminated`, () => cli(['ec2', 'describe-instances', '--instance-ids', kept]).Reservations[0].Instances[0].State.Name === 'terminated');
    cli(['ec2', 'attach-volume', '--volume-id', rootVolume, '--instance-id', source, '--device', '/dev/sdg']);
    const readable = async () => (await driver.exec(source, ['cat', '/mnt/sdg/root/left'])).stdout.trim() === `${token}-root`;
    for (let i = 0; i < 100 && !(await readable()); i++) await sleep(200);
    assert.equal(await sh(source, 'cat /mnt/sdg/root/left'), `${token}-root`, 'the old root volume holds what its instance wrote');
  });

  it('registers an image from a snapshot of a volume holding a root filesystem, which boots with its files', async () => {
    // The volume made from the root snapshot in the test before, at /mnt/sdf in the source instance.
    await sh(source, `echo ${token}-registered > /mnt/sdf/opt/registered && sync`);
    const fromRoot = cli(['ec2', 'describe-volumes', '--filters', `Name=attachment.instance-id,Values=${source}`, 'Name=attachment.device,Values=/dev/sdf'])
      .Volumes[0].VolumeId as string;
    const snap = cli(['ec2', 'create-snapshot', '--volume-id', fromRoot]).SnapshotId as string;
    await until(`${snap} completed`, () => cli(['ec2', 'describe-snapshots', '--snapshot-ids', snap]).Snapshots[0].State === 'completed');
    const registered = cli(['ec2', 'register-image', '--name', `registered-${token}`, '--root-device-name', '/dev/xvda', '--architecture', 'x86_64',
      '--virtualization-type', 'hvm', '--block-device-mappings', `DeviceName=/dev/xvda,Ebs={SnapshotId=${snap}}`]).ImageId as string;
    await until(`${registered} available`, () => imageState(registered) === 'available');
    const booted = await launch(registered);
    assert.equal(await sh(booted, 'cat /opt/registered'), `${token}-registered`, 'what was written to the volume');
    assert.equal(await sh(booted, 'cat /opt/custom'), token, 'and the root filesystem it was made from');
    cli(['ec2', 'terminate-instances', '--instance-ids', booted]);
    cli(['ec2', 'deregister-image', '--image-id', registered]);
    cli(['ec2', 'delete-snapshot', '--snapshot-id', snap]);
  });

  it('reboots the instance when NoReboot is not given, and images it as it was written', async () => {
    await sh(source, `echo ${token}-before-reboot > /root/written && sync`);
    const pid = api.initPid(source);
    const rebooted = cli(['ec2', 'create-image', '--instance-id', source, '--name', `rebooted-${token}`]).ImageId as string;
    await until(`${rebooted} available`, () => imageState(rebooted) === 'available', 90_000);
    await until(`${source} rebooted`, () => { const p = api.initPid(source); return p !== undefined && p !== pid; });
    const image = cli(['ec2', 'describe-images', '--image-ids', rebooted]).Images[0];
    const root = image.BlockDeviceMappings.find((m: any) => m.DeviceName === '/dev/xvda').Ebs.SnapshotId as string;
    assert.equal(readFileSync(join(api.dataDir, 'images', root, 'rootfs', 'root', 'written'), 'utf8').trim(), `${token}-before-reboot`);
    cli(['ec2', 'deregister-image', '--image-id', rebooted]);
    for (const m of image.BlockDeviceMappings) if (m.Ebs) cli(['ec2', 'delete-snapshot', '--snapshot-id', m.Ebs.SnapshotId]);
  });

  it('copies the image to another region, where the copy boots and the source id is unknown', async () => {
    copy = cli(['ec2', 'copy-image', '--source-image-id', image, '--source-region', 'us-east-1', '--name', `copy-${token}`], { region: 'us-west-2' }).ImageId;
    await until(`${copy} available`, () => imageState(copy, 'us-west-2') === 'available');
    const there = await launch(copy, { region: 'us-west-2' });
    assert.equal(await sh(there, 'cat /opt/custom'), token);
    const r = api.nimbus.aws(['ec2', 'run-instances', '--image-id', image, '--instance-type', 't3.micro'], { region: 'us-west-2' });
    assert.equal(cliErrorCode(r), 'InvalidAMIID.NotFound');
    assert.equal(cliErrorCode(api.nimbus.aws(['ec2', 'describe-images', '--image-ids', copy], { region: 'us-east-1' })), 'InvalidAMIID.NotFound');
  });

  it('lets another account launch the image only while it is shared', async () => {
    const asBob = { credentials: bob };
    assert.equal(cliErrorCode(api.nimbus.aws(['ec2', 'run-instances', '--image-id', image, '--instance-type', 't3.micro'], asBob)), 'InvalidAMIID.NotFound');
    cli(['ec2', 'modify-image-attribute', '--image-id', image, '--launch-permission', `Add=[{UserId=${bob.accountId}}]`]);
    const bobs = await launch(image, asBob);
    assert.equal(await sh(bobs, 'cat /opt/custom'), token, 'bob\'s instance has the image\'s files');
    cli(['ec2', 'modify-image-attribute', '--image-id', image, '--launch-permission', `Remove=[{UserId=${bob.accountId}}]`]);
    assert.equal(cliErrorCode(api.nimbus.aws(['ec2', 'run-instances', '--image-id', image, '--instance-type', 't3.micro'], asBob)), 'InvalidAMIID.NotFound');
    assert.equal(cli(['ec2', 'describe-instances', '--instance-ids', bobs], asBob).Reservations[0].Instances[0].State.Name, 'running', 'what bob launched runs on');
  });

  it('refuses to stop an instance-store instance, which reboots and terminates', async () => {
    const ami = cli(['ec2', 'describe-images', '--owners', 'amazon', '--filters', 'Name=name,Values=nimbus-instance-store-minimal-*']).Images[0];
    assert.equal(ami.RootDeviceType, 'instance-store');
    const id = await launch(ami.ImageId);
    await sh(id, 'echo kept > /root/file && sync');
    const r = api.nimbus.aws(['ec2', 'stop-instances', '--instance-ids', id]);
    assert.equal(cliErrorCode(r), 'UnsupportedOperation');
    assert.match(r.stderr, /does not have an 'ebs' root device type and cannot be stopped/);
    const pid = api.initPid(id);
    cli(['ec2', 'reboot-instances', '--instance-ids', id]);
    await until(`${id} rebooted`, () => { const p = api.initPid(id); return p !== undefined && p !== pid; });
    assert.equal(await sh(id, 'cat /root/file'), 'kept', 'the instance store keeps its data across a reboot');
  });

  it('removes the root filesystems of deleted snapshots once no instance runs from them', async () => {
    for (const { id, region, credentials } of instances) cli(['ec2', 'terminate-instances', '--instance-ids', id], { region, credentials });
    for (const { id, region, credentials } of instances) {
      await until(`${id} terminated`, () => cli(['ec2', 'describe-instances', '--instance-ids', id], { region, credentials }).Reservations[0].Instances[0].State.Name === 'terminated');
    }
    const snapshotsOf = (ami: string, region: string) => cli(['ec2', 'describe-images', '--image-ids', ami], { region }).Images[0]
      .BlockDeviceMappings.filter((m: any) => m.Ebs).map((m: any) => m.Ebs.SnapshotId as string);
    for (const [ami, region] of [[image, 'us-east-1'], [copy, 'us-west-2']] as const) {
      const snaps = snapshotsOf(ami, region);
      cli(['ec2', 'deregister-image', '--image-id', ami], { region });
      for (const s of snaps) cli(['ec2', 'delete-snapshot', '--snapshot-id', s], { region });
    }
    const leftover = () => readdirSync(join(api.dataDir, 'images')).filter((n) => n.startsWith('snap-'));
    await until('root filesystems removed', () => leftover().length === 0, 20_000);
  });
});
