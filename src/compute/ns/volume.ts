/**
 * An instance's files on the host, under `<dataDir>/instances/<id>/`:
 *
 *   volume/upper, volume/work   the root volume: overlayfs upper and work dirs, kept across stop/start
 *   bundle/config.json          the OCI bundle crun runs (its root: ROOTFS_MOUNTPOINT)
 *   lower                       where the image's rootfs is mounted idmapped while the overlay is made
 *   root.img, root-fs           an encrypted root volume: an ext4 image with ext4 encryption, mounted
 *                               on the host at root-fs; `volume` is then a link to its encrypted
 *                               (and, while mounted, unlocked) `data` directory
 *   meta/hostname, meta/user-data  bind-mounted read-only at /var/lib/nimbus/ in the instance
 *   console.log                 the instance's console (stdout and stderr of its init)
 *   crun.log                    crun's own messages
 *   instance.json               what the driver needs to reboot or stop it after a restart
 *   init.pid                    the host pid of the instance's init (written by crun)
 *
 * The instance's init leaves /var/lib/nimbus/shutdown-intent (`reboot` or `poweroff`) on the root
 * volume when it exits, read from the upper dir here.
 *
 * The overlay (lower: the image's rootfs) is mounted by the crun wrapper inside the instance's
 * own mount namespace only, never on the host. The image's files are owned by host root; the
 * overlay sees them through an idmapped mount, as the instance's own root's. The upper dir holds
 * what the instance wrote, owned by its host ids (record's idBase) as written.
 *
 * crun reaches the root as the instance's root, an unprivileged host user, who may not walk the
 * data directory; so the wrapper mounts the overlay at ROOTFS_MOUNTPOINT, a path anyone may walk
 * and which every instance's private mount namespace uses for its own root at once.
 */
import {
  chmodSync, chownSync, existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { tool } from '../../storage/commands.js';
import { newFilesystemImage } from '../../storage/ext4.js';
import { FSCRYPT_HELPER } from './crun.js';
import { IDS_PER_INSTANCE } from './id-ranges.js';


export interface InstanceFiles {
  dir: string;
  upper: string;
  work: string;
  bundle: string;
  lowerMount: string;
  rootImage: string;
  rootMount: string;
  config: string;
  meta: string;
  consoleLog: string;
  crunLog: string;
  record: string;
  pidFile: string;
  /** What the instance's init asked for when it last exited (in the root volume's upper dir). */
  shutdownIntent: string;
}

/** What instance.json keeps. */
export interface InstanceRecordFile {
  instanceId: string;
  image: string;
  stopSignal: string;
  rebootSignal?: string;
  lastStartedAt?: string;
  /** The first host id of the instance's user namespace (id-ranges.ts). */
  idBase?: number;
}

/** Where each instance's root is mounted, in its own mount namespace only (on the host, an empty directory). */
export const ROOTFS_MOUNTPOINT = '/run/nimbus/rootfs';

const INSTANCE_ID = /^i-[0-9a-f]{8,32}$/;

export function validInstanceId(id: string): boolean {
  return INSTANCE_ID.test(id);
}

export function instanceFiles(dataDir: string, instanceId: string): InstanceFiles {
  if (!validInstanceId(instanceId)) throw new Error(`invalid instance id ${JSON.stringify(instanceId)}`);
  const dir = join(dataDir, 'instances', instanceId);
  const bundle = join(dir, 'bundle');
  return {
    dir,
    upper: join(dir, 'volume', 'upper'),
    work: join(dir, 'volume', 'work'),
    bundle,
    lowerMount: join(dir, 'lower'),
    rootImage: join(dir, 'root.img'),
    rootMount: join(dir, 'root-fs'),
    config: join(bundle, 'config.json'),
    meta: join(dir, 'meta'),
    consoleLog: join(dir, 'console.log'),
    crunLog: join(dir, 'crun.log'),
    record: join(dir, 'instance.json'),
    pidFile: join(dir, 'init.pid'),
    shutdownIntent: join(dir, 'volume', 'upper', 'var', 'lib', 'nimbus', 'shutdown-intent'),
  };
}

/**
 * Creates whatever of the layout is missing (the root volume is created empty on first start),
 * its upper dir owned by the instance's root.
 */
export function prepareInstanceDirs(f: InstanceFiles, idBase: number): void {
  for (const d of [f.work, f.bundle, f.meta, f.lowerMount]) mkdirSync(d, { recursive: true, mode: 0o700 });
  mkdirSync(ROOTFS_MOUNTPOINT, { recursive: true, mode: 0o755 });
  // overlayfs gives the instance's / the upper dir's mode and owner: 0755 so that users inside may
  // walk it; the instance directory above it stays 0700, so the host is still closed.
  mkdirSync(f.upper, { recursive: true, mode: 0o700 });
  chmodSync(f.upper, 0o755);
  if (statSync(f.upper).uid !== idBase) chownSync(f.upper, idBase, idBase);
}

/**
 * Gives a root volume written before instances had user namespaces (ids below `IDS_PER_INSTANCE`,
 * as host root's) to the instance's host ids.
 */
export function shiftOwnership(dir: string, idBase: number): void {
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.uid < IDS_PER_INSTANCE && st.gid < IDS_PER_INSTANCE) lchownSync(p, st.uid + idBase, st.gid + idBase);
    if (st.isDirectory()) for (const name of readdirSync(p)) walk(join(p, name));
  };
  if (existsSync(dir)) walk(dir);
}

/**
 * An encrypted root volume, ready: its image made (sparse, `sizeGiB`, ext4 with encryption) on
 * first use, mounted at `f.rootMount` (on the host, from the first start to destroy), its data
 * directory unlocked with `key` and linked as the instance's `volume` directory, so the root
 * volume's upper and work dirs are on it, encrypted at rest.
 */
export async function ensureEncryptedRoot(f: InstanceFiles, sizeGiB: number, key: Buffer): Promise<void> {
  mkdirSync(f.dir, { recursive: true, mode: 0o700 });
  if (!existsSync(f.rootImage)) await newFilesystemImage(f.rootImage, sizeGiB, { encrypt: true });
  if (!mountsUnder(f.rootMount).includes(f.rootMount)) {
    mkdirSync(f.rootMount, { recursive: true, mode: 0o700 });
    await tool('mount', ['-t', 'ext4', '-o', 'loop,nosuid,nodev', f.rootImage, f.rootMount]); // the loop device goes with the mount
  }
  const data = join(f.rootMount, 'data');
  mkdirSync(data, { recursive: true, mode: 0o700 });
  await tool(FSCRYPT_HELPER, [data], key);
  const volume = join(f.dir, 'volume');
  if (!existsSync(volume)) symlinkSync(data, volume);
}

/** overlayfs options (the image's rootfs seen through `f.lowerMount`); the characters overlayfs would misread in a path are refused. */
export function overlayOptions(f: InstanceFiles): string {
  for (const p of [f.lowerMount, f.upper, f.work]) {
    if (/[,:\\\s]/.test(p)) throw new Error(`path not usable in overlayfs options: ${p}`);
  }
  return `lowerdir=${f.lowerMount},upperdir=${f.upper},workdir=${f.work},index=off`;
}

export function readRecord(f: InstanceFiles): InstanceRecordFile | undefined {
  try {
    return JSON.parse(readFileSync(f.record, 'utf8')) as InstanceRecordFile;
  } catch {
    return undefined;
  }
}

export function writeRecord(f: InstanceFiles, rec: InstanceRecordFile): void {
  writeFileSync(f.record, `${JSON.stringify(rec, null, 2)}\n`);
}

export type ShutdownIntent = 'reboot' | 'poweroff';

/** Reads and removes what the instance's init asked for as it exited (undefined: it did not say, e.g. it was killed). */
export function takeShutdownIntent(f: InstanceFiles): ShutdownIntent | undefined {
  let text: string;
  try {
    text = readFileSync(f.shutdownIntent, 'utf8').trim();
  } catch {
    return undefined;
  }
  rmSync(f.shutdownIntent, { force: true });
  return text === 'reboot' || text === 'poweroff' ? text : undefined;
}

/** Whether anything of the instance is on disk. */
export function instanceExists(f: InstanceFiles): boolean {
  return existsSync(f.dir);
}

export function removeInstanceDir(f: InstanceFiles): void {
  rmSync(f.dir, { recursive: true, force: true });
}

/** Mount points at or under `dir`, as the host sees them. */
export function mountsUnder(dir: string, mounts = readFileSync('/proc/self/mounts', 'utf8')): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return mounts.split('\n')
    .map((l) => l.split(' ')[1])
    .filter((m): m is string => !!m)
    .map((m) => m.replace(/\\([0-7]{3})/g, (_x, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((m) => m === dir || m.startsWith(prefix));
}
