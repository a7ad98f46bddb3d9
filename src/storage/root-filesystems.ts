/**
 * Root filesystems of images, kept as local images named by their root snapshot's id: the image
 * an instance of any AMI with that root snapshot boots from (its copies and shares included).
 *   - capture: an instance's root now (CreateImage, CreateSnapshot of a root volume), and its
 *     blocks (an ext4 image of it) as the snapshot's chunks, so volumes made from it hold its files;
 *   - copy: CopySnapshot's copy shares the files (hard links: images are never written);
 *   - fromBlocks: RegisterImage of a snapshot of a volume the user filled, copied out of its blocks;
 *   - keep: a root volume that outlives its instance (DeleteOnTermination false) as a volume image.
 */
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { InstanceRootVolume } from '../compute/driver.js';
import type { ImageManifest, ImageStore } from '../images/store.js';
import type { StoredBlockDevice } from '../services/ec2/instances/record.js';
import type { VolumeRecord } from '../services/ec2/volumes/record.js';
import { tool } from './commands.js';
import { ext4Info } from './ext4.js';
import { captureRoot, copyFilesOutOf, filesystemImageOf } from './image-capture.js';
import type { SnapshotData, SnapshotManifest } from './snapshot-data.js';
import type { VolumeImages } from './volume-images.js';

type BootSettings = Omit<ImageManifest, 'name' | 'createdAt' | 'sizeBytes'>;

/** What an image made from another keeps of it: how it boots. */
function bootSettings(from: ImageManifest, description: string): BootSettings {
  return {
    description, architecture: from.architecture, init: from.init, stopSignal: from.stopSignal, rebootSignal: from.rebootSignal, packages: from.packages,
  };
}

export class RootFilesystems {
  constructor(
    private readonly images: ImageStore,
    private readonly snapshots: SnapshotData,
    private readonly volumes: VolumeImages,
    private readonly log: (line: string) => void,
  ) {}

  has(snapshotId: string): boolean {
    return this.images.get(snapshotId) !== undefined;
  }

  /** The instance's root as the snapshot's root filesystem, and its blocks as the snapshot's data. */
  async capture(snapshotId: string, root: InstanceRootVolume, vol: VolumeRecord, sizeGiB: number): Promise<SnapshotManifest> {
    const from = this.images.get(root.image);
    if (!from) throw new Error(`the image ${root.image} an instance runs is not on this host`);
    const t0 = Date.now();
    const m = await this.images.install(snapshotId, async (rootfs) => {
      await captureRoot({ upper: root.upper, lower: this.images.rootfs(root.image), idBase: root.idBase, dest: rootfs });
      return bootSettings(from, `made from an instance of ${from.name}`);
    });
    this.log(`nimbus: storage: ${snapshotId}: root filesystem of an instance of ${from.name} (${m.sizeBytes} bytes, ${Date.now() - t0} ms)`);
    const blocks = join(this.images.dir, `.${snapshotId}.img`);
    try {
      const wrappedKey = vol.Encrypted ? this.volumes.wrappedKey({ volumeId: vol.VolumeId, sizeGiB: vol.Size, encrypted: true }) : undefined;
      await filesystemImageOf(this.images.rootfs(snapshotId), sizeGiB, blocks, wrappedKey ? this.snapshots.keys.unwrap(wrappedKey) : undefined);
      return await this.snapshots.capture(snapshotId, { image: blocks, sizeGiB, wrappedKey });
    } finally {
      rmSync(blocks, { force: true });
    }
  }

  async copy(from: string, to: string): Promise<void> {
    const source = this.images.get(from)!;
    await this.images.install(to, async (rootfs) => {
      await tool('cp', ['-al', `${this.images.rootfs(from)}/.`, rootfs]);
      return bootSettings(source, source.description);
    });
  }

  /** The root filesystem of a snapshot with data, copied out of its blocks (unlocked if encrypted). */
  async fromBlocks(snapshotId: string, forImage: string): Promise<void> {
    const manifest = this.snapshots.read(snapshotId);
    if (!manifest?.chunks.length) return; // a blank snapshot boots nothing
    const blocks = join(this.images.dir, `.${snapshotId}.blocks.img`);
    try {
      mkdirSync(this.images.dir, { recursive: true });
      await this.snapshots.restore(snapshotId, blocks, manifest.volumeSizeGiB);
      const encrypted = manifest.wrappedKey !== undefined && (await ext4Info(blocks)).features.includes('encrypt');
      const m = await this.images.install(snapshotId, async (rootfs) => {
        await copyFilesOutOf(blocks, rootfs, encrypted ? this.snapshots.keys.unwrap(manifest.wrappedKey!) : undefined);
        return this.bootSettingsFor(rootfs);
      });
      this.log(`nimbus: storage: ${snapshotId}: root filesystem of ${forImage} from its blocks (${m.sizeBytes} bytes)`);
    } finally {
      rmSync(blocks, { force: true });
    }
  }

  /** How a root filesystem of unknown make boots: as the local image whose init it has, else as a busybox-style /sbin/init. */
  private bootSettingsFor(rootfs: string): BootSettings {
    const like = this.images.list().find((m) => !m.name.startsWith('snap-') && existsSync(join(rootfs, m.init[0]!)));
    if (like) return bootSettings(like, `registered from a snapshot; boots as ${like.name}`);
    return { description: 'registered from a snapshot', architecture: 'x86_64', init: ['/sbin/init'], stopSignal: 'SIGUSR2', rebootSignal: 'SIGTERM', packages: {} };
  }

  /** The instance's root files as the image of its root volume `device`, which outlives it (encrypted under its key if it is). */
  async keep(instanceId: string, device: StoredBlockDevice, root: InstanceRootVolume): Promise<void> {
    if (this.volumes.has(device.VolumeId)) return;
    const files = mkdtempSync(join(this.images.dir, '.root-'));
    const image = this.volumes.path(device.VolumeId);
    try {
      await captureRoot({ upper: root.upper, lower: this.images.rootfs(root.image), idBase: root.idBase, dest: files });
      mkdirSync(dirname(image), { recursive: true, mode: 0o700 });
      await filesystemImageOf(files, device.VolumeSize ?? 8, `${image}.tmp`, device.Encrypted ? this.snapshots.keys.dataKeyOf(device.VolumeId) : undefined);
      renameSync(`${image}.tmp`, image);
      this.log(`nimbus: storage: ${device.VolumeId} keeps the root filesystem of ${instanceId}`);
    } finally {
      rmSync(files, { recursive: true, force: true });
      rmSync(`${image}.tmp`, { force: true });
    }
  }

  /** Root filesystems of snapshots that are gone, unless an instance still runs from one. */
  sweep(snapshotIds: ReadonlySet<string>, inUse: ReadonlySet<string>): void {
    for (const m of this.images.list()) {
      if (m.name.startsWith('snap-') && !snapshotIds.has(m.name) && !inUse.has(m.name)) this.images.remove(m.name);
    }
  }
}
