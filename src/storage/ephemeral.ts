/**
 * Instance store: the ephemeral disks an instance type comes with (m5d.large: one of 75 GB), each
 * a sparse image `<dataDir>/ephemeral/<instance-id>/<boot>-<n>.img` formatted ext4 and mounted
 * in the running instance at /mnt/ephemeral<n>. `<boot>` names the start the disk belongs to: a
 * reboot keeps it, a stop and start gets fresh, empty disks, as on EC2, and a stopped or gone
 * instance's disks are deleted.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { newFilesystemImage } from './ext4.js';

const INSTANCE_ID = /^i-[0-9a-f]{8,32}$/;

export const ephemeralMountPoint = (index: number) => `/mnt/ephemeral${index}`;

export class EphemeralDisks {
  readonly root: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'ephemeral');
  }

  private instanceDir(instanceId: string): string {
    if (!INSTANCE_ID.test(instanceId)) throw new Error(`not an instance id: ${instanceId}`);
    return join(this.root, instanceId);
  }

  /** The image of disk `index` for the boot `startedAt`, made (blank, formatted) if missing; other boots' disks go. */
  async ensure(instanceId: string, startedAt: string, index: number, sizeGiB: number): Promise<string> {
    const dir = this.instanceDir(instanceId);
    const boot = createHash('sha256').update(startedAt).digest('hex').slice(0, 12);
    const file = join(dir, `${boot}-${index}.img`);
    if (existsSync(file)) return file;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const old of readdirSync(dir)) if (!old.startsWith(`${boot}-`)) rmSync(join(dir, old), { force: true });
    await newFilesystemImage(file, sizeGiB);
    return file;
  }

  /** Every disk image, by instance. */
  list(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    if (!existsSync(this.root)) return out;
    for (const id of readdirSync(this.root)) {
      if (!INSTANCE_ID.test(id)) continue;
      out.set(id, readdirSync(join(this.root, id)).filter((n) => n.endsWith('.img')).map((n) => join(this.root, id, n)));
    }
    return out;
  }

  remove(instanceId: string): void {
    rmSync(this.instanceDir(instanceId), { recursive: true, force: true });
  }
}
