/**
 * A volume's data on the host: a sparse image file, `<dataDir>/volumes/<vol-id>.img`, of the
 * volume's size. It is made when the volume is first needed (attached to a running instance):
 * restored from the snapshot the volume was created from, and given an ext4 filesystem if it has
 * none (EC2's volumes come blank, and a blank device is no use to an instance that may not mount).
 * An encrypted volume's filesystem has ext4's `encrypt` feature: what the instance sees of it is
 * its `data` directory, encrypted under the volume's data key (keys.ts, block-devices.ts).
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tool } from './commands.js';
import { ext4Info, filesystemType, GIB, mkfsExt4, newFilesystemImage, sparseFile } from './ext4.js';
import type { SnapshotData } from './snapshot-data.js';

const VOLUME_ID = /^vol-[0-9a-f]{8,17}$/;

export interface VolumeSource {
  volumeId: string;
  sizeGiB: number;
  snapshotId?: string;
  encrypted: boolean;
}

export interface VolumeImage {
  image: string;
  /** The data key the filesystem's data directory is encrypted under; none for a filesystem without encryption. */
  dataKey?: Buffer;
}

export class VolumeImages {
  private readonly dir: string;

  constructor(dataDir: string, private readonly snapshots: SnapshotData) {
    this.dir = join(dataDir, 'volumes');
  }

  path(volumeId: string): string {
    if (!VOLUME_ID.test(volumeId)) throw new Error(`not a volume id: ${volumeId}`);
    return join(this.dir, `${volumeId}.img`);
  }

  has(volumeId: string): boolean {
    return existsSync(this.path(volumeId));
  }

  /** The volume's wrapped data key: its own, else its snapshot's (the same data), else a new one. */
  wrappedKey(v: VolumeSource): string | undefined {
    if (!v.encrypted) return undefined;
    const keys = this.snapshots.keys;
    let wrapped = keys.volumeKey(v.volumeId);
    if (!wrapped) {
      wrapped = (v.snapshotId ? this.snapshots.read(v.snapshotId)?.wrappedKey : undefined) ?? keys.newDataKey();
      keys.setVolumeKey(v.volumeId, wrapped);
    }
    return wrapped;
  }

  /**
   * The volume's image, made now if it has none; grown if the volume was made larger since. With
   * `inUse` (mounted by an instance already: multi-attach) it is only looked at, never changed.
   */
  async ensure(v: VolumeSource, opts: { inUse?: boolean } = {}): Promise<VolumeImage> {
    const file = this.path(v.volumeId);
    const wrapped = this.wrappedKey(v);
    if (!existsSync(file)) {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      if (v.snapshotId && this.snapshots.has(v.snapshotId)) await this.snapshots.restore(v.snapshotId, file, v.sizeGiB);
      else await newFilesystemImage(file, v.sizeGiB, { encrypt: wrapped !== undefined });
    }
    const fs = opts.inUse ? await ext4Info(file) : await this.ready(file, v.sizeGiB, wrapped !== undefined);
    // A volume restored from an unencrypted snapshot keeps that snapshot's filesystem, without encryption.
    const dataKey = wrapped && fs.features.includes('encrypt') ? this.snapshots.keys.unwrap(wrapped) : undefined;
    return { image: file, dataKey };
  }

  /** The image grown to its volume's size, with a filesystem that fills it; what its superblock says then. */
  private async ready(file: string, sizeGiB: number, encrypt: boolean): Promise<Awaited<ReturnType<typeof ext4Info>>> {
    await growImage(file, sizeGiB);
    if (!(await filesystemType(file))) await mkfsExt4(file, { encrypt }); // restored from a snapshot of a blank volume
    const fs = await ext4Info(file);
    if (fs.bytes >= sizeGiB * GIB) return fs;
    // ModifyVolume made it larger since it was last mounted (or while it was, where the host may
    // not resize online): its filesystem grows now, offline.
    await tool('e2fsck', ['-f', '-p', file]).catch(() => {}); // resize2fs wants a freshly checked filesystem
    await tool('resize2fs', [file]);
    return ext4Info(file);
  }

  /** The wrapped data key of an encrypted volume (for its snapshots). */
  keyOf(volumeId: string): string | undefined {
    return this.snapshots.keys.volumeKey(volumeId);
  }

  remove(volumeId: string): void {
    rmSync(this.path(volumeId), { force: true });
    this.snapshots.keys.removeVolumeKey(volumeId);
  }

  /** Ids of the volumes with an image. */
  list(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir).filter((n) => n.endsWith('.img')).map((n) => n.slice(0, -'.img'.length)).filter((id) => VOLUME_ID.test(id));
  }
}

/** Makes the image `sizeGiB` long if it is shorter (ModifyVolume); whether it grew. */
export async function growImage(file: string, sizeGiB: number): Promise<boolean> {
  if ((await stat(file)).size >= sizeGiB * GIB) return false;
  await sparseFile(file, sizeGiB);
  return true;
}
