/**
 * Filesystem images: sparse files of a size, the ext4 made on them, and what their superblock
 * says. Every disk of the data plane (volumes, instance store, encrypted roots, images of root
 * filesystems) is one of these.
 */
import { open, rename } from 'node:fs/promises';

import { tool } from './commands.js';

export const GIB = 1024 ** 3;

/** Makes `file` `sizeGiB` long, sparse (truncating never shortens here: callers grow or create). */
export async function sparseFile(file: string, sizeGiB: number): Promise<void> {
  const fh = await open(file, 'a', 0o600);
  try {
    if ((await fh.stat()).size < sizeGiB * GIB) await fh.truncate(sizeGiB * GIB);
  } finally {
    await fh.close();
  }
}

export interface Mkfs {
  /** ext4's `encrypt` feature, for a data directory encrypted under a key. */
  encrypt?: boolean;
  /** Fill it with this directory's files (mkfs.ext4 -d keeps owners, modes, links and xattrs). */
  from?: string;
}

/** ext4 on the image: no reserved blocks, inode tables and journal written lazily (so a sparse image stays sparse). */
export async function mkfsExt4(image: string, opts: Mkfs = {}): Promise<void> {
  await tool('mkfs.ext4', ['-q', '-F', '-m', '0', '-E', 'lazy_itable_init=1,lazy_journal_init=1',
    ...(opts.encrypt ? ['-O', 'encrypt'] : []), ...(opts.from ? ['-d', opts.from] : []), image]);
}

/** A new image at `file`, made under a temporary name and renamed, so it is whole or absent. */
export async function newFilesystemImage(file: string, sizeGiB: number, opts: Mkfs = {}): Promise<void> {
  const tmp = `${file}.tmp`;
  await sparseFile(tmp, sizeGiB);
  await mkfsExt4(tmp, opts);
  await rename(tmp, file);
}

/** The ext4 filesystem's features and size, from its superblock. */
export async function ext4Info(image: string): Promise<{ features: string[]; bytes: number }> {
  const stdout = await tool('dumpe2fs', ['-h', image]).catch(() => '');
  const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(stdout)?.[1]?.trim() ?? '';
  return { features: field('Filesystem features').split(/\s+/), bytes: Number(field('Block count')) * Number(field('Block size')) };
}

/** The filesystem on an image or device (blkid's probe), or undefined when it has none. */
export async function filesystemType(path: string): Promise<string | undefined> {
  try {
    const stdout = await tool('blkid', ['-p', '-o', 'value', '-s', 'TYPE', path]);
    return stdout.trim() || undefined;
  } catch {
    return undefined; // blkid exits 2 when it finds nothing
  }
}
