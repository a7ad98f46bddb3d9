/**
 * Runs crun. Every container lives under a dedicated `--root` state directory (in the data
 * directory), so the driver sees only its own containers and they survive a restart of the server.
 *
 * `run` goes through a small shell wrapper in a private mount namespace (`unshare -m`): it mounts
 * the instance's overlay root there (so the mount exists only inside the instance's namespaces
 * and goes away with it: a crash of the server can never leak one on the host), its lower layer
 * the image seen through an idmapped mount as the instance's root's; it mounts sysfs for a
 * joined network namespace (the instance's user namespace cannot); on hybrid cgroup hosts it
 * unmounts the cgroup2 hierarchy crun would refuse; then it execs `crun run --detach`, which
 * returns as soon as the container's init runs. The container's stdout and stderr are the console
 * log file itself, so nothing of the server stays in its path.
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, existsSync } from 'node:fs';
import { projectPath } from '../../util/project-root.js';
import type { CgroupInfo } from './cgroups.js';

export type CrunStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped';

export interface CrunState {
  id: string;
  pid: number;
  status: CrunStatus;
  bundle: string;
  created?: string;
}

export interface RunOptions {
  id: string;
  bundle: string;
  /** Where the overlay root is mounted (the bundle's root.path). */
  rootfs: string;
  /** overlayfs mount options (lowerdir=…,upperdir=…,workdir=…), lowerdir being `lowerMount`. */
  overlayOptions: string;
  /** The image's rootfs, mounted idmapped at `lowerMount` for the overlay. */
  lower: string;
  lowerMount: string;
  /** The host id of the instance's root, and how many ids follow it. */
  idBase: number;
  idCount: number;
  /** A network namespace the container joins: sysfs is mounted from it at rootfs/sys. */
  networkNamespace?: string;
  /** The console: the container's stdout and stderr are appended to it. */
  consoleLog: string;
  /** crun's own error messages. */
  crunLog: string;
  /** Where crun writes the host pid of the container's init. */
  pidFile: string;
}

const WRAPPER = [
  'fail() { echo "nimbus: $1" >&2; exit 125; }',
  'if [ -n "$NIMBUS_CGROUP2" ]; then umount "$NIMBUS_CGROUP2" 2>/dev/null || umount -l "$NIMBUS_CGROUP2" 2>/dev/null; fi',
  'if [ -n "$NIMBUS_OVERLAY" ]; then',
  '  "$NIMBUS_IDMAP" "$NIMBUS_LOWER" "$NIMBUS_LOWER_MOUNT" "$NIMBUS_ID_BASE" "$NIMBUS_ID_COUNT" || fail "cannot map the image to the instance\'s ids"',
  '  mount -t overlay overlay -o "$NIMBUS_OVERLAY" "$NIMBUS_ROOTFS" || fail "cannot mount the root volume"',
  '  umount -l "$NIMBUS_LOWER_MOUNT"', // the overlay holds its own reference to the layer
  'fi',
  'if [ -n "$NIMBUS_NETNS" ]; then',
  '  nsenter --net="$NIMBUS_NETNS" mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$NIMBUS_ROOTFS/sys" || fail "cannot mount /sys"',
  'fi',
  'exec "$@"',
].join('\n');

/** A helper of native/*.c, built into dist/native by `npm run build`. */
export function nativeHelper(name: string): string {
  return projectPath('dist/native', name);
}

export const IDMAP_HELPER = nativeHelper('nimbus-idmapped-mount');
export const FSCRYPT_HELPER = nativeHelper('nimbus-fscrypt-key');

export class CrunError extends Error {}

export class Crun {
  constructor(
    readonly root: string,
    private readonly cgroups: CgroupInfo,
    private readonly binary = 'crun',
  ) {}

  private base(): string[] {
    return ['--root', this.root];
  }

  private exec(args: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      execFile(this.binary, [...this.base(), ...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err && typeof (err as NodeJS.ErrnoException).code === 'string') return reject(err);
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** Boots a container detached; resolves once its init runs. */
  async run(opts: RunOptions): Promise<void> {
    const consoleFd = openSync(opts.consoleLog, 'a');
    try {
      const args = ['-m', '--propagation', 'private', 'sh', '-c', WRAPPER, 'nimbus-run',
        this.binary, ...this.base(), '--log', `file:${opts.crunLog}`, 'run', '--detach', '--pid-file', opts.pidFile, '--bundle', opts.bundle, opts.id];
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn('unshare', args, {
          stdio: ['ignore', consoleFd, consoleFd],
          // Its own session: a signal to the server's process group never reaches an instance.
          detached: true,
          env: {
            PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
            NIMBUS_CGROUP2: this.cgroups.mode === 'hybrid' ? this.cgroups.unifiedMount ?? '' : '',
            NIMBUS_OVERLAY: opts.overlayOptions,
            NIMBUS_ROOTFS: opts.rootfs,
            NIMBUS_IDMAP: IDMAP_HELPER,
            NIMBUS_LOWER: opts.lower,
            NIMBUS_LOWER_MOUNT: opts.lowerMount,
            NIMBUS_ID_BASE: String(opts.idBase),
            NIMBUS_ID_COUNT: String(opts.idCount),
            NIMBUS_NETNS: opts.networkNamespace ?? '',
          },
        });
        child.on('error', reject);
        child.on('exit', (c, sig) => resolve(c ?? (sig ? 128 : 1)));
      });
      if (code !== 0) {
        const detail = existsSync(opts.crunLog) ? readFileSync(opts.crunLog, 'utf8').trim().split('\n').slice(-3).join('; ') : '';
        throw new CrunError(`crun run ${opts.id} failed (exit ${code})${detail ? `: ${detail}` : ''}`);
      }
    } finally {
      closeSync(consoleFd);
    }
  }

  /** The container's state, or undefined when crun has no such container. */
  async state(id: string): Promise<CrunState | undefined> {
    const r = await this.exec(['state', id]);
    if (r.code !== 0) {
      if (/does not exist|No such file/i.test(r.stderr)) return undefined;
      throw new CrunError(`crun state ${id}: ${r.stderr.trim()}`);
    }
    return JSON.parse(r.stdout) as CrunState;
  }

  /** Sends a signal to the container's init. False if it was not running. */
  async kill(id: string, signal: string): Promise<boolean> {
    const r = await this.exec(['kill', id, signal]);
    return r.code === 0;
  }

  async delete(id: string, force: boolean): Promise<void> {
    const r = await this.exec(['delete', ...(force ? ['--force'] : []), id]);
    if (r.code !== 0 && !/does not exist|No such file/i.test(r.stderr)) {
      throw new CrunError(`crun delete ${id}: ${r.stderr.trim()}`);
    }
  }

  /**
   * Runs a command inside a running container (as root, in all its namespaces and its cgroup) and
   * returns its exit code and output. Through the wrapper too: on hybrid hosts crun exec joins
   * cgroups and refuses the cgroup2 mount as crun run does.
   */
  execIn(id: string, command: string[], timeoutMs = 30_000): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const args = ['-m', '--propagation', 'private', 'sh', '-c', WRAPPER, 'nimbus-exec', this.binary, ...this.base(), 'exec', id, ...command];
      execFile('unshare', args, {
        timeout: timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
        env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', NIMBUS_CGROUP2: this.cgroups.mode === 'hybrid' ? this.cgroups.unifiedMount ?? '' : '' },
      }, (err, stdout, stderr) => {
        if (err && typeof (err as NodeJS.ErrnoException).code === 'string') return reject(err);
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      });
    });
  }

  async list(): Promise<CrunState[]> {
    const r = await this.exec(['list', '--format', 'json']);
    if (r.code !== 0) throw new CrunError(`crun list: ${r.stderr.trim()}`);
    const text = r.stdout.trim();
    if (!text) return [];
    return (JSON.parse(text) as CrunState[] | null) ?? [];
  }
}

/** Whether crun can be run here (installed and executable). */
export function crunVersion(binary = 'crun'): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(binary, ['--version'], { timeout: 5000 }, (err, stdout) => resolve(err ? undefined : stdout.split('\n')[0]?.trim()));
  });
}
