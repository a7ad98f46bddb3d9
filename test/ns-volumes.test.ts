/**
 * EBS volumes and snapshots as real data with the ns driver, through the AWS CLI: a volume is a
 * sparse image on a loop device whose ext4 filesystem appears, hot-attached, inside the running
 * instance at /mnt/<device>; what one instance writes there another reads after detach and attach;
 * snapshots store only the chunks earlier snapshots lack; a volume restored from a snapshot holds
 * its data; instance store comes with the instance type, survives a reboot, not a stop; an encrypted volume and its snapshots hold no plaintext on the host's disk; and nothing
 * is left on the host. Needs root (CI runs as root).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NsDriver } from '../src/compute/ns/driver.js';
import type { SnapshotManifest } from '../src/storage/snapshot-data.js';
import { NsApi, nsSkipReason, sleep } from './support/ns-api.js';

const skip = nsSkipReason();

/** Whether `text` occurs in the file, or any file under the directory, as raw bytes. */
function hostFind(path: string, text: string): boolean {
  const r = spawnSync('grep', ['-r', '-a', '-q', '-F', text, path]);
  if (r.status === 2) throw new Error(`grep ${path}: ${r.stderr}`);
  return r.status === 0;
}

describe('EBS volumes and snapshots with the ns driver', { skip, timeout: 300_000 }, () => {
  const api = new NsApi();
  let driver: NsDriver;
  const token = randomBytes(8).toString('hex');
  let a = '';
  let b = '';
  let zone = '';
  let volume = '';

  before(async () => {
    await api.start();
    driver = api.driver();
    const run = () => api.aws(['ec2', 'run-instances', '--image-id', api.amiId, '--instance-type', 't3.micro']).Instances[0];
    const first = run();
    a = first.InstanceId;
    zone = first.Placement.AvailabilityZone;
    b = run().InstanceId;
    await api.waitFor('running', a, b);
  });
  after(async () => {
    if (process.env.NIMBUS_TEST_LOG) console.log(api.nimbus.output);
    await driver?.close();
    await api.dispose();
  });

  /** Runs a shell command inside the instance as its root. */
  const sh = async (id: string, script: string) => {
    const r = await driver.exec(id, ['sh', '-c', script]);
    assert.equal(r.code, 0, `${id}: ${script}: ${r.stderr}`);
    return r.stdout.trim();
  };
  /** The line of /proc/mounts inside the instance for `dir`, once there is (or is no longer) one. */
  const mountInside = async (id: string, dir: string, present = true) => {
    const end = Date.now() + 20_000;
    for (;;) {
      const line = (await sh(id, 'cat /proc/mounts')).split('\n').find((l) => l.split(' ')[1] === dir);
      if (!!line === present) return line ?? '';
      if (Date.now() > end) throw new Error(`${dir} in ${id} never ${present ? 'mounted' : 'unmounted'}`);
      await sleep(100);
    }
  };
  const volumeState = (id: string) => api.aws(['ec2', 'describe-volumes', '--volume-ids', id]).Volumes[0].State as string;
  const untilVolume = async (id: string, state: string) => {
    const end = Date.now() + 20_000;
    while (volumeState(id) !== state) {
      if (Date.now() > end) throw new Error(`${id} never ${state}`);
      await sleep(200);
    }
  };
  const snapshot = async (vol: string) => {
    const id = api.aws(['ec2', 'create-snapshot', '--volume-id', vol, '--description', 'test']).SnapshotId as string;
    const end = Date.now() + 30_000;
    while (api.aws(['ec2', 'describe-snapshots', '--snapshot-ids', id]).Snapshots[0].State !== 'completed') {
      if (Date.now() > end) throw new Error(`${id} never completed`);
      await sleep(200);
    }
    return { id, manifest: JSON.parse(readFileSync(join(api.dataDir, 'snapshots', `${id}.json`), 'utf8')) as SnapshotManifest };
  };

  it('attaches a new volume to a running instance as a fresh ext4 filesystem its root owns', async () => {
    volume = api.aws(['ec2', 'create-volume', '--size', '1', '--availability-zone', zone, '--volume-type', 'gp3']).VolumeId;
    await untilVolume(volume, 'available');
    api.aws(['ec2', 'attach-volume', '--volume-id', volume, '--instance-id', a, '--device', '/dev/sdf']);
    assert.match(await mountInside(a, '/mnt/sdf'), / ext4 /);
    assert.equal(await sh(a, `echo ${token} > /mnt/sdf/hello && sync && stat -c %u:%g /mnt/sdf/hello && df -k /mnt/sdf | tail -1 | awk '{print $2}'`).then((o) => o.split('\n')[0]), '0:0');
    const sizeKiB = Number((await sh(a, "df -k /mnt/sdf | tail -1 | awk '{print $2}'")));
    assert.ok(sizeKiB > 900_000 && sizeKiB <= 1024 * 1024, `a 1 GiB filesystem: ${sizeKiB} KiB`);
    await untilVolume(volume, 'in-use');
  });

  it('grows the volume with ModifyVolume; its filesystem follows (online where the host allows, else at the next attach)', async () => {
    api.aws(['ec2', 'modify-volume', '--volume-id', volume, '--size', '2']);
    assert.equal(api.aws(['ec2', 'describe-volumes', '--volume-ids', volume]).Volumes[0].Size, 2);
    assert.equal(await sh(a, 'cat /mnt/sdf/hello'), token, 'its files are still there');
  });

  it('reads back in another instance what the first wrote, after detach and attach', async () => {
    api.aws(['ec2', 'detach-volume', '--volume-id', volume]);
    await mountInside(a, '/mnt/sdf', false);
    await untilVolume(volume, 'available');
    api.aws(['ec2', 'attach-volume', '--volume-id', volume, '--instance-id', b, '--device', '/dev/sdg']);
    await mountInside(b, '/mnt/sdg');
    assert.equal(await sh(b, 'cat /mnt/sdg/hello'), token);
    const kib = Number(await sh(b, "df -k /mnt/sdg | tail -1 | awk '{print $2}'"));
    assert.ok(kib > 1.9 * 1024 ** 2 && kib <= 2 * 1024 ** 2, `the grown 2 GiB filesystem: ${kib} KiB`);
    // Its root owns the file, though another range of host ids is B's.
    assert.equal(await sh(b, 'stat -c %u:%g /mnt/sdg/hello'), '0:0');
  });

  it('keeps the attachment through a kill -9 of the server, and a later snapshot and detach find it as it is', async () => {
    const loopsBefore = api.loopDevices();
    await api.nimbus.kill9();
    assert.equal(await sh(b, 'cat /mnt/sdg/hello'), token, 'the instance keeps its volume while the server is down');
    await api.startServer();
    await sleep(500); // a pass of the restarted controller
    assert.deepEqual(api.loopDevices(), loopsBefore, 'no loop device made again or lost');
    const mounts = (await sh(b, 'cat /proc/mounts')).split('\n').filter((l) => l.split(' ')[1] === '/mnt/sdg');
    assert.equal(mounts.length, 1, 'mounted once, not again on top');
  });

  it('stores only changed chunks in a later snapshot, and restores a volume from it with the same data', async () => {
    await sh(b, 'dd if=/dev/urandom of=/mnt/sdg/data bs=1M count=4 2>/dev/null && sync');
    const first = await snapshot(volume);
    assert.ok(first.manifest.addedChunks >= 8, `4 MiB of new data is at least 8 chunks: ${first.manifest.addedChunks}`);

    await sh(b, 'dd if=/dev/urandom of=/mnt/sdg/data bs=1M count=1 seek=1 conv=notrunc 2>/dev/null && sync');
    const second = await snapshot(volume);
    const before = new Set(first.manifest.chunks.map(([, h]) => h));
    const fresh = second.manifest.chunks.filter(([, h]) => !before.has(h));
    assert.equal(second.manifest.addedChunks, new Set(fresh.map(([, h]) => h)).size, 'what it added is exactly what the first lacked');
    assert.ok(second.manifest.addedChunks >= 2, `the rewritten MiB is 2 new chunks at least: ${second.manifest.addedChunks}`);
    assert.ok(second.manifest.addedChunks < first.manifest.addedChunks / 2,
      `only the change is stored again: ${second.manifest.addedChunks} new of ${second.manifest.chunks.length}`);

    const sum = await sh(b, 'sha256sum /mnt/sdg/data | cut -d" " -f1');
    const restored = api.aws(['ec2', 'create-volume', '--snapshot-id', second.id, '--availability-zone', zone]).VolumeId as string;
    assert.equal(api.aws(['ec2', 'describe-volumes', '--volume-ids', restored]).Volumes[0].Size, 2, 'the snapshot\'s size');
    await untilVolume(restored, 'available');
    api.aws(['ec2', 'attach-volume', '--volume-id', restored, '--instance-id', a, '--device', '/dev/sdh']);
    await mountInside(a, '/mnt/sdh');
    assert.equal(await sh(a, 'sha256sum /mnt/sdh/data | cut -d" " -f1'), sum);
    assert.equal(await sh(a, 'cat /mnt/sdh/hello'), token);
  });

  it('keeps an encrypted volume and its snapshots unreadable on the host, and readable where it is attached', async () => {
    // The control: the unencrypted volume's image on the host shows what A wrote.
    assert.ok(hostFind(join(api.dataDir, 'volumes', `${volume}.img`), token), 'plaintext is found where it is stored in the clear');

    const marker = `NIMBUS-PLAINTEXT-${token}`;
    const enc = api.aws(['ec2', 'create-volume', '--size', '1', '--availability-zone', zone, '--encrypted']).VolumeId as string;
    assert.equal(api.aws(['ec2', 'describe-volumes', '--volume-ids', enc]).Volumes[0].Encrypted, true);
    await untilVolume(enc, 'available');
    api.aws(['ec2', 'attach-volume', '--volume-id', enc, '--instance-id', a, '--device', '/dev/sdi']);
    await mountInside(a, '/mnt/sdi');
    await sh(a, `mkdir /mnt/sdi/${marker}-dir && for i in $(seq 2000); do echo ${marker}; done > /mnt/sdi/${marker}-dir/file && sync`);
    const sum = await sh(a, `sha256sum /mnt/sdi/${marker}-dir/file | cut -d" " -f1`);
    const snap = await snapshot(enc);
    assert.ok(snap.manifest.wrappedKey && snap.manifest.chunks.length > 0, 'an encrypted snapshot with data');

    // Nothing of it in the clear on the host: not the volume's image, not the chunks, not the manifest.
    const places = [join(api.dataDir, 'volumes', `${enc}.img`), join(api.dataDir, 'chunks'), join(api.dataDir, 'snapshots')];
    for (const place of places) assert.equal(hostFind(place, marker), false, `plaintext in ${place}`);

    // A volume restored from the encrypted snapshot is encrypted and holds the data.
    const restored = api.aws(['ec2', 'create-volume', '--snapshot-id', snap.id, '--availability-zone', zone]).VolumeId as string;
    assert.equal(api.aws(['ec2', 'describe-volumes', '--volume-ids', restored]).Volumes[0].Encrypted, true, 'from an encrypted snapshot');
    await untilVolume(restored, 'available');
    api.aws(['ec2', 'attach-volume', '--volume-id', restored, '--instance-id', b, '--device', '/dev/sdj']);
    await mountInside(b, '/mnt/sdj');
    assert.equal(await sh(b, `sha256sum /mnt/sdj/${marker}-dir/file | cut -d" " -f1`), sum);
    assert.equal(hostFind(join(api.dataDir, 'volumes', `${restored}.img`), marker), false);
  });

  it('encrypts the root volume of an instance launched with encryption by default, at rest on the host', async () => {
    api.aws(['ec2', 'enable-ebs-encryption-by-default']);
    const marker = `NIMBUS-ROOT-PLAINTEXT-${token}`;
    let d = '';
    try {
      d = api.aws(['ec2', 'run-instances', '--image-id', api.amiId, '--instance-type', 't3.micro']).Instances[0].InstanceId;
    } finally {
      api.aws(['ec2', 'disable-ebs-encryption-by-default']);
    }
    await api.waitFor('running', d);
    const root = (await api.describe(d)).BlockDeviceMappings![0]!.Ebs!.VolumeId!;
    assert.equal(api.aws(['ec2', 'describe-volumes', '--volume-ids', root]).Volumes[0].Encrypted, true);
    await sh(d, `for i in $(seq 500); do echo ${marker}; done > /root/${marker} && sync`);
    assert.equal(hostFind(join(api.dataDir, 'instances', d, 'root.img'), marker), false, 'no plaintext in the root volume\'s image');
    api.aws(['ec2', 'stop-instances', '--instance-ids', d]);
    await api.waitFor('stopped', d);
    api.aws(['ec2', 'start-instances', '--instance-ids', d]);
    await api.waitFor('running', d);
    assert.equal(await sh(d, `head -n 1 /root/${marker}`), marker, 'the root volume keeps its files across stop and start');
    await api.terminate(d);
  });

  it('mounts a multi-attach io2 volume in two instances at once, as one filesystem', async () => {
    const shared = api.aws(['ec2', 'create-volume', '--size', '4', '--volume-type', 'io2', '--iops', '100', '--multi-attach-enabled',
      '--availability-zone', zone]).VolumeId as string;
    await untilVolume(shared, 'available');
    api.aws(['ec2', 'attach-volume', '--volume-id', shared, '--instance-id', a, '--device', '/dev/sdk']);
    api.aws(['ec2', 'attach-volume', '--volume-id', shared, '--instance-id', b, '--device', '/dev/sdk']);
    await mountInside(a, '/mnt/sdk');
    await mountInside(b, '/mnt/sdk');
    await sh(a, `echo from-a-${token} > /mnt/sdk/note`);
    assert.equal(await sh(b, 'cat /mnt/sdk/note'), `from-a-${token}`, 'what A writes B reads at once');
    api.aws(['ec2', 'detach-volume', '--volume-id', shared, '--instance-id', a]);
    await mountInside(a, '/mnt/sdk', false);
    assert.equal(await sh(b, 'cat /mnt/sdk/note'), `from-a-${token}`, 'B keeps it when A lets go');
  });

  it('gives an instance type with instance storage its disks, kept across a reboot and fresh after a stop', async () => {
    const c = api.aws(['ec2', 'run-instances', '--image-id', api.amiId, '--instance-type', 'm5d.large']).Instances[0].InstanceId as string;
    await api.waitFor('running', c);
    assert.match(await mountInside(c, '/mnt/ephemeral0'), / ext4 /);
    const sizeGiB = Number(await sh(c, "df -k /mnt/ephemeral0 | tail -1 | awk '{print $2}'")) / 1024 ** 2;
    assert.ok(sizeGiB > 70 && sizeGiB <= 75, `m5d.large's 75 GB disk: ${sizeGiB} GiB`);
    await sh(c, 'echo scratch > /mnt/ephemeral0/file && sync');
    const pid = api.initPid(c);
    api.aws(['ec2', 'reboot-instances', '--instance-ids', c]);
    const end = Date.now() + 30_000;
    while ((api.initPid(c) ?? pid) === pid && Date.now() < end) await sleep(100);
    await mountInside(c, '/mnt/ephemeral0');
    assert.equal(await sh(c, 'cat /mnt/ephemeral0/file'), 'scratch', 'a reboot keeps the instance store');
    api.aws(['ec2', 'stop-instances', '--instance-ids', c]);
    await api.waitFor('stopped', c);
    api.aws(['ec2', 'start-instances', '--instance-ids', c]);
    await api.waitFor('running', c);
    await mountInside(c, '/mnt/ephemeral0');
    assert.equal(await sh(c, 'test -e /mnt/ephemeral0/file && echo kept || echo gone'), 'gone', 'a stop and start gives a fresh disk');
    await api.terminate(c);
    const gone = Date.now() + 20_000;
    while (existsSync(join(api.dataDir, 'ephemeral', c)) && Date.now() < gone) await sleep(200);
    assert.equal(existsSync(join(api.dataDir, 'ephemeral', c)), false, 'its disks are deleted');
  });

  it('leaves no loop device behind once its instances and volumes are gone', async () => {
    assert.ok(api.loopDevices().length >= 2, 'two attached volumes have loop devices');
    await api.terminate(a, b);
    const end = Date.now() + 20_000;
    while (api.loopDevices().length > 0 && Date.now() < end) await sleep(200);
    assert.deepEqual(api.loopDevices(), []);
  });
});
