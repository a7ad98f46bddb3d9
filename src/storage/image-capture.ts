/**
 * An image's root filesystem made from an instance's (CreateImage): the instance's root volume
 * (its overlay upper dir, owned by its host id range) laid over the image it was launched from,
 * read through a read-only overlay in a private mount namespace and copied out with the ids an
 * image has (its range's first id as 0 again). Host keys go, as EC2 advises for AMIs: each
 * instance of the new image makes its own at boot.
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FSCRYPT_HELPER, IDMAP_HELPER } from '../compute/ns/crun.js';
import { IDS_PER_INSTANCE } from '../compute/ns/id-ranges.js';
import { inPrivateMounts } from './commands.js';
import { mkfsExt4, sparseFile } from './ext4.js';

const UPPER_STAGING = '/run/nimbus/capture-upper';
const MERGED_STAGING = '/run/nimbus/capture';

/** Per-instance secrets an image must not carry (relative to the root; a trailing `*` is a prefix). */
const PER_INSTANCE = ['etc/ssh/ssh_host_*', 'etc/dropbear/dropbear_*', 'var/lib/nimbus/shutdown-intent'];

export interface RootCapture {
  /** The instance's root volume (overlay upper dir). */
  upper: string;
  /** The root filesystem of the image it runs. */
  lower: string;
  idBase: number;
  /** An empty directory to fill. */
  dest: string;
}

export async function captureRoot(c: RootCapture): Promise<void> {
  for (const p of [c.upper, c.lower]) if (/[,:\\\s]/.test(p)) throw new Error(`path not usable in overlayfs options: ${p}`);
  mkdirSync(UPPER_STAGING, { recursive: true, mode: 0o700 });
  mkdirSync(MERGED_STAGING, { recursive: true, mode: 0o700 });
  const script = [
    'set -e',
    '"$1" --reverse "$2" "$3" "$4" "$5"',
    'mount -t overlay overlay -o "ro,lowerdir=$3:$6" "$7"',
    'cp -a "$7/." "$8/"',
  ].join('\n');
  await inPrivateMounts('nimbus-capture', script,
    [IDMAP_HELPER, c.upper, UPPER_STAGING, String(c.idBase), String(IDS_PER_INSTANCE), c.lower, MERGED_STAGING, c.dest]);
  for (const pattern of PER_INSTANCE) removeMatching(c.dest, pattern);
}

/**
 * An ext4 image of `sizeGiB` holding the files of `rootfs`: a root filesystem as the block device
 * a root volume is. In the clear, mkfs.ext4 -d writes them (keeping owners, modes, links and
 * extended attributes); with a data key, the filesystem has ext4 encryption and they are copied
 * into its `data` directory encrypted under the key, the layout of every encrypted volume.
 */
export async function filesystemImageOf(rootfs: string, sizeGiB: number, dest: string, dataKey?: Buffer): Promise<void> {
  await sparseFile(dest, sizeGiB);
  if (!dataKey) return mkfsExt4(dest, { from: rootfs });
  await mkfsExt4(dest, { encrypt: true });
  mkdirSync(BUILD_STAGING, { recursive: true, mode: 0o700 });
  const script = 'mount -t ext4 -o loop "$1" "$2" && mkdir "$2/data" && "$3" "$2/data" && cp -a "$4/." "$2/data/"';
  await inPrivateMounts('nimbus-build', script, [dest, BUILD_STAGING, FSCRYPT_HELPER, rootfs], { input: dataKey });
}

/**
 * The files of a filesystem image (a root snapshot's blocks restored) copied into `dest`: the
 * whole filesystem, or with a data key the encrypted volume's `data` directory, unlocked.
 */
export async function copyFilesOutOf(image: string, dest: string, dataKey?: Buffer): Promise<void> {
  mkdirSync(BUILD_STAGING, { recursive: true, mode: 0o700 });
  const unlock = dataKey ? '"$3" "$2/data" && src="$2/data" || exit 1; ' : '';
  const script = `mount -t ext4 -o loop,ro,nosuid,nodev "$1" "$2" || exit 1; src="$2"; ${unlock}cp -a "$src/." "$4/" && rm -rf "$4/lost+found"`;
  await inPrivateMounts('nimbus-copy-out', script, [image, BUILD_STAGING, FSCRYPT_HELPER, dest], { input: dataKey ?? Buffer.alloc(0) });
}

const BUILD_STAGING = '/run/nimbus/build';

function removeMatching(root: string, pattern: string): void {
  const slash = pattern.lastIndexOf('/');
  const dir = join(root, pattern.slice(0, slash));
  const name = pattern.slice(slash + 1);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  const prefix = name.endsWith('*') ? name.slice(0, -1) : undefined;
  for (const e of entries) if (prefix !== undefined ? e.startsWith(prefix) : e === name) rmSync(join(dir, e), { force: true, recursive: true });
}
