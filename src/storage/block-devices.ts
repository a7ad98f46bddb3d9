/**
 * Volumes as block devices in running instances. A volume's image is a loop device on the host
 * while some instance has it mounted; the instance's root may not mount (it holds no capability
 * over the host's block devices), so the host mounts the filesystem into the instance's own mount
 * namespace at `/mnt/<device>` (`/dev/sdf` → `/mnt/sdf`), idmapped to the instance's ids: the
 * volume's files are owned by ids 0… on disk, whichever instance it moves to. The mount lives only
 * in that namespace, so it goes when the instance stops; only the loop device outlives it, and the
 * controller detaches those no attachment needs.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { FSCRYPT_HELPER, IDMAP_HELPER } from '../compute/ns/crun.js';
import { IDS_PER_INSTANCE } from '../compute/ns/id-ranges.js';
import { inPrivateMounts, tool } from './commands.js';


/** Where the host mounts a volume in a private mount namespace before handing a clone to the instance. */
const STAGING = '/run/nimbus/volume';

export interface LoopDevice {
  device: string;
  backingFile: string;
  /** major:minor, as mountinfo names it. */
  devno: string;
}

/** A running instance, as the mounts need it. */
export interface InstanceMountNamespace {
  pid: number;
  idBase: number;
  /** When the driver last started it (a reboot keeps it): the boot its instance store belongs to. */
  startedAt?: string;
}

/** `/dev/sdf` → `/mnt/sdf`; `xvdf` → `/mnt/xvdf`. */
export function mountPointFor(device: string): string {
  return `/mnt/${basename(device)}`;
}

export async function loopDevices(): Promise<LoopDevice[]> {
  const stdout = await tool('losetup', ['--json', '--list', '--output', 'NAME,BACK-FILE,MAJ:MIN']);
  if (!stdout.trim()) return [];
  const parsed = JSON.parse(stdout) as { loopdevices?: { name: string; 'back-file'?: string; 'maj:min': string }[] };
  return (parsed.loopdevices ?? []).map((l) => ({ device: l.name, backingFile: (l['back-file'] ?? '').replace(/ \(deleted\)$/, ''), devno: l['maj:min'].trim() }));
}

/** A loop device for the image (the one it has, if any). */
export async function attachLoop(image: string): Promise<LoopDevice> {
  const existing = (await loopDevices()).find((l) => l.backingFile === image);
  if (existing) return existing;
  await tool('losetup', ['--find', '--nooverlap', image]);
  const made = (await loopDevices()).find((l) => l.backingFile === image);
  if (!made) throw new Error(`losetup made no loop device for ${image}`);
  return made;
}

export async function detachLoop(device: string): Promise<void> {
  await thaw(device);
  await tool('losetup', ['--detach', device]).catch((err: Error) => {
    if (!/No such device|not a block device|failed to use device/i.test(err.message)) throw err;
  });
}

/**
 * Lifts a freeze left on the loop device's filesystem, if its filesystem is alive (a frozen
 * filesystem outlives its last mount, and its loop device with it). Whether any is ever left is
 * not known: this makes sure none outlives its volume's attachments or a restart of the server.
 * Whether it was frozen is returned.
 */
export async function thaw(device: string): Promise<boolean> {
  if (!existsSync(`/proc/fs/ext4/${basename(device)}`)) return false;
  mkdirSync(STAGING, { recursive: true, mode: 0o700 });
  const script = 'mount -t ext4 -o nosuid,nodev "$1" "$2" && fsfreeze --unfreeze "$2"';
  return inPrivateMounts('nimbus-thaw', script, [device, STAGING], { timeoutMs: 10_000 }).then(() => true, () => false);
}

/** What is mounted in the instance's namespace, from the devices given (devno → mount point). */
export function mountsOf(pid: number, devnos: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length > 4 && devnos.has(f[2]!)) out.set(f[2]!, f[4]!.replace(/\\040/g, ' '));
  }
  return out;
}

/** The directory an encrypted volume's filesystem holds the instance's files in (ext4 cannot encrypt its root). */
const ENCRYPTED_DATA = 'data';

/**
 * Mounts the loop device's filesystem at `target` inside the instance; with a data key, its
 * encrypted data directory, unlocked (the key goes in on standard input, never in an argument).
 */
export async function mountInto(ns: InstanceMountNamespace, loop: LoopDevice, target: string, dataKey?: Buffer): Promise<void> {
  mkdirSync(STAGING, { recursive: true, mode: 0o700 });
  const unlock = dataKey ? `mkdir -p "$2/${ENCRYPTED_DATA}" && "$8" "$2/${ENCRYPTED_DATA}" && src="$2/${ENCRYPTED_DATA}" || exit 1; ` : '';
  const script = `mount -t ext4 -o nosuid,nodev "$1" "$2" || exit 1; src="$2"; ${unlock}exec "$3" "$src" "$4" "$5" "$6" "$7"`;
  await inPrivateMounts('nimbus-mount', script,
    [loop.device, STAGING, IDMAP_HELPER, target, String(ns.idBase), String(IDS_PER_INSTANCE), String(ns.pid), FSCRYPT_HELPER], { input: dataKey ?? Buffer.alloc(0) });
}

/** Unmounts `target` inside the instance; `force` detaches it even while files are open there. */
export async function unmountFrom(ns: InstanceMountNamespace, target: string, force: boolean): Promise<boolean> {
  try {
    await tool('nsenter', ['-t', String(ns.pid), '-m', 'umount', ...(force ? ['-l'] : []), target]);
    return true;
  } catch {
    return false;
  }
}

/**
 * Grows a mounted volume's filesystem to its loop device's new size (its image was made longer):
 * the loop device reads its size again, and resize2fs grows ext4 online through a second mount of
 * it in a private namespace (the instance's mount is of the same filesystem). That takes
 * CAP_SYS_RESOURCE, which some hosts withhold even from root: there it fails, and the filesystem
 * grows offline when the volume is next attached (VolumeImages.ensure).
 */
export async function growMounted(loop: LoopDevice): Promise<void> {
  await tool('losetup', ['--set-capacity', loop.device]);
  mkdirSync(STAGING, { recursive: true, mode: 0o700 });
  await inPrivateMounts('nimbus-grow', 'mount -t ext4 "$1" "$2" && resize2fs "$1"', [loop.device, STAGING]);
}

/**
 * Runs `fn` with the loop device's filesystem frozen (a consistent image to read). The freeze goes
 * through a mount of our own in a private namespace, never a path inside the instance, which the
 * instance owns: were it ever to put a link to a host filesystem there, that would be frozen. A
 * small process holds the freeze and lifts it when told, or when its standard input closes, so a
 * crash of the server cannot leave the filesystem frozen.
 */
export async function frozen<T>(loop: LoopDevice, fn: () => Promise<T>): Promise<T> {
  mkdirSync(STAGING, { recursive: true, mode: 0o700 });
  const script = 'mount -t ext4 -o nosuid,nodev "$1" "$2" && fsfreeze --freeze "$2" && echo frozen || exit 1; read _; fsfreeze --unfreeze "$2"';
  const holder = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'nimbus-freeze', loop.device, STAGING], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number>((resolve) => holder.on('exit', (code) => resolve(code ?? 1)));
  let stderr = '';
  holder.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
  const isFrozen = await new Promise<boolean>((resolve) => {
    holder.stdout.on('data', (c: Buffer) => { if (c.toString().includes('frozen')) resolve(true); });
    void exited.then(() => resolve(false));
  });
  if (!isFrozen) throw new Error(`cannot freeze ${loop.device}: ${stderr.trim()}`);
  try {
    return await fn();
  } finally {
    holder.stdin.end('\n');
    if ((await exited) !== 0) await thaw(loop.device); // its unfreeze failed: lift the freeze another way
  }
}
