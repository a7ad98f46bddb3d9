/**
 * The ns driver: every instance is a real, isolated Linux system run by crun (see crun.ts for how
 * it is started, spec.ts for its namespaces and limits, volume.ts for its files on the host).
 *
 * Containers are started detached with their own crun state directory (`<dataDir>/crun`), so they
 * outlive the server: after a restart `list()` and `inspect()` find them as they are. Steps are
 * idempotent and quick: `stop()` sends the image's stop signal and returns; a watcher in the
 * server sends SIGKILL after the timeout and deletes the container once it has exited, and
 * `inspect()` says `stopping` meanwhile.
 *
 * The driver keeps the host pid of every running instance's init and looks at them every
 * `exitPollMs` (a read of /proc/<pid>/stat each, no process spawned), so `inspect()` of a running
 * instance is cheap and an instance whose init exited by itself is noticed at once: its container
 * is deleted, and what init said as it went (init-script.ts) decides what follows — `reboot`
 * boots it again in place, anything else leaves it stopped and tells the `onChange` listeners, so
 * the control plane can stop or terminate it as InstanceInitiatedShutdownBehavior says.
 */
import { chownSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, openSync, readSync, closeSync, fstatSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ImageStore } from '../../images/store.js';
import type { ActualState, ComputeDriver, InstanceNetwork, InstanceRootVolume, InstanceSpec } from '../driver.js';
import { cgroupDirs, detectCgroups, type CgroupInfo } from './cgroups.js';
import { Crun, crunVersion, IDMAP_HELPER, type CrunState } from './crun.js';
import { IdRanges, IDS_PER_INSTANCE, isIdBase } from './id-ranges.js';
import { ociSpec } from './spec.js';
import {
  ensureEncryptedRoot, instanceFiles, mountsUnder, overlayOptions, prepareInstanceDirs, readRecord, removeInstanceDir, shiftOwnership, takeShutdownIntent,
  ROOTFS_MOUNTPOINT, validInstanceId, writeRecord, type InstanceFiles, type InstanceRecordFile,
} from './volume.js';

export const CONTAINER_PREFIX = 'nimbus-';

export interface NsDriverOptions {
  dataDir: string;
  /** How long a graceful stop may take before SIGKILL. */
  stopTimeoutMs?: number;
  /** Most processes an instance may have. */
  pidsLimit?: number;
  /** The cgroup (relative to the hierarchy roots) instances' cgroups are made under. */
  cgroupParent?: string;
  /** The local image (name) an AMI id runs; default: the image registered under that id, or of that name. */
  resolveImage?: (imageId: string) => string | undefined;
  /** How much of the console log consoleOutput returns (its end; EC2 returns the last 64 KiB). */
  consoleMaxBytes?: number;
  crunBinary?: string;
  /** How often the inits of running instances are checked for having exited by themselves. */
  exitPollMs?: number;
  /** Detected when not given. */
  cgroups?: CgroupInfo;
  /** The VPC data plane; without it an instance has loopback only. */
  network?: InstanceNetwork;
  /** Files every instance finds under /var/lib/nimbus (name → content), read-only. */
  instanceFiles?: Record<string, string>;
  /** The data key of an encrypted volume (made on first use): an encrypted root volume is encrypted under it. */
  volumeKey?: (volumeId: string) => Buffer;
}

interface StopWatch {
  deadline: number;
  escalate: () => void;
  done: Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A running instance's init as the host sees it: its pid and start time (so a reused pid is not mistaken for it). */
interface InitProcess {
  pid: number;
  startTime: string;
}

/** The start time of a live (not zombie) process, from /proc/<pid>/stat; undefined if there is none. */
function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command (which may hold spaces and parentheses): state is the 3rd field, starttime the 22nd.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return fields[19];
}

/** The network namespace the instance's bundle joins, if any (read back for a reboot). */
function joinedNetwork(f: InstanceFiles): string | undefined {
  try {
    const spec = JSON.parse(readFileSync(f.config, 'utf8')) as { linux?: { namespaces?: { type: string; path?: string }[] } };
    return spec.linux?.namespaces?.find((n) => n.type === 'network')?.path;
  } catch {
    return undefined;
  }
}

export function containerId(instanceId: string): string {
  return `${CONTAINER_PREFIX}${instanceId}`;
}

/** Whether this host can run the ns driver, and if not, why. */
export async function nsSupport(crunBinary = 'crun'): Promise<{ ok: true; crun: string; cgroups: CgroupInfo } | { ok: false; reason: string }> {
  if (process.platform !== 'linux') return { ok: false, reason: 'not Linux' };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not running as root' };
  const crun = await crunVersion(crunBinary);
  if (!crun) return { ok: false, reason: 'crun is not installed (scripts/setup-host.sh installs it)' };
  if (spawnSync('unshare', ['--version'], { stdio: 'ignore' }).status !== 0) return { ok: false, reason: 'unshare (util-linux) is missing' };
  if (!existsSync(IDMAP_HELPER)) return { ok: false, reason: `${IDMAP_HELPER} is missing (npm run build makes it, with a C compiler)` };
  try {
    return { ok: true, crun, cgroups: detectCgroups() };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

export class NsDriver implements ComputeDriver {
  readonly name = 'ns' as const;
  readonly images: ImageStore;
  readonly crun: Crun;
  readonly cgroups: CgroupInfo;
  private readonly dataDir: string;
  private readonly stopTimeoutMs: number;
  private readonly pidsLimit: number;
  private readonly cgroupParent: string;
  private readonly consoleMaxBytes: number;
  private readonly resolveImageName: (imageId: string) => string | undefined;
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly stopping = new Map<string, StopWatch>();
  private readonly starting = new Set<string>();
  private readonly destroying = new Set<string>();
  private readonly inits = new Map<string, InitProcess>();
  private readonly listeners: ((instanceId: string) => void)[] = [];
  private readonly destroyHooks: ((instanceId: string, root: InstanceRootVolume) => Promise<void>)[] = [];
  private readonly exitPollMs: number;
  private readonly network?: InstanceNetwork;
  private readonly instanceFiles: Record<string, string>;
  private readonly idRanges: IdRanges;
  private readonly volumeKey?: (volumeId: string) => Buffer;
  private exitTimer?: NodeJS.Timeout;
  private closed = false;

  constructor(opts: NsDriverOptions) {
    this.dataDir = opts.dataDir;
    this.stopTimeoutMs = opts.stopTimeoutMs ?? 10_000;
    this.pidsLimit = opts.pidsLimit ?? 4096;
    this.cgroupParent = (opts.cgroupParent ?? 'nimbus').replace(/^\/+|\/+$/g, '');
    this.consoleMaxBytes = opts.consoleMaxBytes ?? 64 * 1024;
    this.cgroups = opts.cgroups ?? detectCgroups();
    this.images = new ImageStore(opts.dataDir);
    this.resolveImageName = opts.resolveImage ?? ((id) => this.images.resolve(id)?.name);
    this.crun = new Crun(join(opts.dataDir, 'crun'), this.cgroups, opts.crunBinary);
    this.exitPollMs = opts.exitPollMs ?? 200;
    this.network = opts.network;
    this.instanceFiles = opts.instanceFiles ?? {};
    this.volumeKey = opts.volumeKey;
    this.idRanges = new IdRanges(() => this.recordedIdBases());
  }

  /** The id ranges instances on disk hold. */
  private *recordedIdBases(): Iterable<number> {
    const dir = join(this.dataDir, 'instances');
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir)) {
      if (!validInstanceId(name)) continue;
      const base = readRecord(this.files(name))?.idBase;
      if (base !== undefined) yield base;
    }
  }

  /** The instance's host id range: the one its record holds, or a new one (its root volume given to it if it has files from before). */
  private idBaseOf(f: InstanceFiles): number {
    const recorded = readRecord(f)?.idBase;
    if (isIdBase(recorded)) {
      this.idRanges.hold(recorded);
      return recorded;
    }
    const base = this.idRanges.allocate();
    shiftOwnership(f.upper, base);
    return base;
  }

  beforeDestroy(hook: (instanceId: string, root: InstanceRootVolume) => Promise<void>): void {
    this.destroyHooks.push(hook);
  }

  /** Tells `listener` about every instance that stopped by itself (poweroff or halt inside, or its init died). */
  onChange(listener: (instanceId: string) => void): void {
    this.listeners.push(listener);
  }

  private track(id: string, pid: number): void {
    const startTime = processStartTime(pid);
    if (startTime === undefined) return;
    this.inits.set(id, { pid, startTime });
    if (!this.exitTimer && !this.closed) {
      this.exitTimer = setInterval(() => this.checkExits(), this.exitPollMs);
      this.exitTimer.unref();
    }
  }

  /** A running instance's init and id range, for mounts made into its namespace (the storage data plane). */
  mountNamespace(id: string): { pid: number; idBase: number; startedAt?: string } | undefined {
    if (!this.initAlive(id) || this.stopping.has(id) || this.destroying.has(id)) return undefined;
    const rec = readRecord(this.files(id));
    return rec && isIdBase(rec.idBase) ? { pid: this.inits.get(id)!.pid, idBase: rec.idBase, startedAt: rec.lastStartedAt } : undefined;
  }

  rootVolume(id: string): InstanceRootVolume | undefined {
    if (!validInstanceId(id)) return undefined;
    const f = this.files(id);
    const rec = readRecord(f);
    return rec && isIdBase(rec.idBase) && existsSync(f.upper) ? { upper: f.upper, image: rec.image, idBase: rec.idBase } : undefined;
  }

  imagesInUse(): Set<string> {
    const dir = join(this.dataDir, 'instances');
    const used = new Set<string>();
    if (!existsSync(dir)) return used;
    for (const name of readdirSync(dir)) {
      const image = validInstanceId(name) ? readRecord(this.files(name))?.image : undefined;
      if (image) used.add(image);
    }
    return used;
  }

  /** The instances whose init this driver saw start and which still run. */
  runningIds(): string[] {
    return [...this.inits.keys()].filter((id) => this.initAlive(id));
  }

  /** Whether the init the driver saw start for this instance still runs. */
  private initAlive(id: string): boolean {
    const init = this.inits.get(id);
    return init !== undefined && processStartTime(init.pid) === init.startTime;
  }

  private checkExits(): void {
    for (const id of [...this.inits.keys()]) {
      if (this.initAlive(id)) continue;
      this.inits.delete(id);
      // Exits the driver brought about itself are handled where it did so.
      if (this.stopping.has(id) || this.starting.has(id) || this.destroying.has(id)) continue;
      this.settleExit(id)
        .then((state) => {
          if (state !== 'running') for (const l of this.listeners) l(id);
        })
        .catch((err: unknown) => console.error(`nimbus: ns driver: ${id} exited:`, err));
    }
    if (this.inits.size === 0 && this.exitTimer) {
      clearInterval(this.exitTimer);
      this.exitTimer = undefined;
    }
  }

  /**
   * An instance whose init is not running (it exited, or a crash left its container half-made):
   * the container goes, and if init asked for a reboot the instance boots again in place.
   */
  private settleExit(id: string): Promise<ActualState> {
    return this.withLock(id, async () => {
      if (this.destroying.has(id)) return 'destroying';
      if (this.stopping.has(id)) return 'stopping';
      const st = await this.state(id);
      if (st && (st.status === 'running' || st.status === 'paused')) {
        this.track(id, st.pid);
        return 'running';
      }
      if (st) await this.crun.delete(containerId(id), true);
      const f = this.files(id);
      if (!existsSync(f.dir)) return 'absent';
      const rec = readRecord(f);
      if (takeShutdownIntent(f) === 'reboot' && rec && existsSync(f.config)) {
        await this.boot(id, f, rec);
        return 'running';
      }
      return 'stopped';
    });
  }

  /** The cgroup of an instance, relative to the hierarchy roots. */
  cgroupPath(instanceId: string): string {
    return `/${this.cgroupParent}/${containerId(instanceId)}`;
  }

  files(instanceId: string): InstanceFiles {
    return instanceFiles(this.dataDir, instanceId);
  }

  /** Runs steps for one instance one at a time. */
  private withLock<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    const tail = next.catch(() => {});
    this.locks.set(id, tail);
    void tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return next;
  }

  private async state(id: string): Promise<CrunState | undefined> {
    return this.crun.state(containerId(id));
  }

  async start(spec: InstanceSpec): Promise<void> {
    const id = spec.instanceId;
    if (!validInstanceId(id)) throw new Error(`invalid instance id ${id}`);
    await this.stopping.get(id)?.done;
    await this.withLock(id, async () => {
      const cid = containerId(id);
      // crun keeps a state directory per container: without one there is nothing to ask it about.
      const st = existsSync(join(this.crun.root, cid)) ? await this.crun.state(cid) : undefined;
      if (st && (st.status === 'running' || st.status === 'paused')) {
        this.track(id, st.pid);
        return;
      }
      if (st) await this.crun.delete(cid, true);

      // An image made from an instance has its root filesystem under its root snapshot's id.
      const imageName = spec.rootSnapshotId && this.images.get(spec.rootSnapshotId) ? spec.rootSnapshotId : this.resolveImageName(spec.imageId);
      const manifest = imageName ? this.images.get(imageName) : undefined;
      if (!manifest) {
        const names = this.images.list().map((m) => (m.imageId ? `${m.name} (${m.imageId})` : m.name));
        throw new Error(`image ${spec.imageId} has no local root filesystem, so the ns driver cannot run it; images that can run: ${names.length ? names.join(', ') : 'none (build one with `nimbus images build minimal`)'}`);
      }
      const f = this.files(id);
      if (spec.rootVolume?.encrypted) {
        if (!this.volumeKey) throw new Error(`instance ${id} has an encrypted root volume, and this driver has no keys`);
        await ensureEncryptedRoot(f, spec.rootVolume.sizeGiB, this.volumeKey(spec.rootVolume.volumeId));
      }
      const idBase = this.idBaseOf(f);
      prepareInstanceDirs(f, idBase);
      const files: Record<string, string> = {};
      // Read-only inside, and the instance's root's, so that it may read them.
      const give = (name: string, content: string | Buffer | undefined) => {
        const file = join(f.meta, name);
        if (content === undefined || content.length === 0) return rmSync(file, { force: true });
        writeFileSync(file, content, { mode: 0o600 });
        chownSync(file, idBase, idBase);
        files[`/var/lib/nimbus/${name}`] = file;
      };
      for (const [name, content] of Object.entries({ ...this.instanceFiles, hostname: `${spec.hostname}\n`, region: `${spec.region}\n` })) {
        give(name, content);
      }
      give('user-data', spec.userData);
      give('authorized_keys', spec.publicKey ? `${spec.publicKey.trim()}\n` : undefined);
      const networkNamespace = await this.network?.prepareInstance({ account: spec.account, region: spec.region }, id);
      const config = ociSpec({
        hostname: spec.hostname,
        vcpus: spec.vcpus,
        memoryMiB: spec.memoryMiB,
        pidsLimit: this.pidsLimit,
        cgroupsPath: this.cgroupPath(id),
        init: manifest.init,
        files,
        networkNamespace,
        rootfs: ROOTFS_MOUNTPOINT,
        idBase,
        annotations: { 'org.nimbus.instance-id': id, 'org.nimbus.image': manifest.name, 'org.nimbus.instance-type': spec.instanceType },
      }, this.cgroups);
      writeFileSync(f.config, `${JSON.stringify(config, null, 2)}\n`);
      const rec: InstanceRecordFile = {
        instanceId: id, image: manifest.name, stopSignal: manifest.stopSignal, rebootSignal: manifest.rebootSignal,
        lastStartedAt: new Date().toISOString(), idBase,
      };
      writeRecord(f, rec);
      await this.boot(id, f, rec, networkNamespace);
    });
  }

  /** Runs the bundle as it is (start and reboot). */
  private async boot(id: string, f: InstanceFiles, rec: InstanceRecordFile, networkNamespace = joinedNetwork(f)): Promise<void> {
    const idBase = rec.idBase;
    if (!isIdBase(idBase)) throw new Error(`instance ${id} has no host id range in its record: start it again`);
    this.starting.add(id);
    try {
      rmSync(f.shutdownIntent, { force: true });
      rmSync(f.pidFile, { force: true });
      await this.crun.run({
        id: containerId(id),
        bundle: f.bundle,
        rootfs: ROOTFS_MOUNTPOINT,
        overlayOptions: overlayOptions(f),
        lower: this.images.rootfs(rec.image),
        lowerMount: f.lowerMount,
        idBase,
        idCount: IDS_PER_INSTANCE,
        networkNamespace,
        consoleLog: f.consoleLog,
        crunLog: f.crunLog,
        pidFile: f.pidFile,
      });
      const pid = Number(readFileSync(f.pidFile, 'utf8').trim());
      if (pid > 0) this.track(id, pid);
    } catch (err) {
      await this.crun.delete(containerId(id), true).catch(() => {});
      throw err;
    } finally {
      this.starting.delete(id);
    }
  }

  async stop(id: string, opts: { force: boolean }): Promise<void> {
    if (!validInstanceId(id)) return;
    const watch = this.stopping.get(id);
    if (watch) {
      if (opts.force) {
        watch.escalate();
        await watch.done;
      }
      return;
    }
    await this.withLock(id, async () => {
      const cid = containerId(id);
      const st = await this.crun.state(cid);
      if (!st) return;
      if (st.status !== 'running' && st.status !== 'paused') {
        await this.crun.delete(cid, true);
        return;
      }
      const signal = opts.force ? 'SIGKILL' : readRecord(this.files(id))?.stopSignal ?? 'SIGTERM';
      this.inits.delete(id);
      this.watchStop(id, opts.force ? 0 : this.stopTimeoutMs);
      await this.crun.kill(cid, signal);
    });
    if (opts.force) await this.stopping.get(id)?.done;
  }

  /** Waits in the background for the container to exit (SIGKILL at the deadline), then deletes it. */
  private watchStop(id: string, timeoutMs: number): void {
    const cid = containerId(id);
    let killed = timeoutMs === 0;
    const watch: StopWatch = {
      deadline: Date.now() + timeoutMs,
      escalate: () => { watch.deadline = 0; },
      done: Promise.resolve(),
    };
    watch.done = (async () => {
      try {
        for (;;) {
          if (this.closed) return;
          const st = await this.crun.state(cid);
          if (!st) return;
          if (st.status === 'stopped' || st.status === 'created') {
            await this.crun.delete(cid, true);
            return;
          }
          if (!killed && Date.now() >= watch.deadline) {
            killed = true;
            await this.crun.kill(cid, 'SIGKILL');
          }
          await sleep(killed ? 20 : 50);
        }
      } catch (err) {
        console.error(`nimbus: ns driver: stopping ${id}:`, err);
      } finally {
        this.stopping.delete(id);
      }
    })();
    this.stopping.set(id, watch);
  }

  /** Stops the container now (`signal`, then SIGKILL after `timeoutMs`) and waits until it is deleted. */
  private async stopNow(id: string, timeoutMs: number, signal?: string): Promise<void> {
    const existing = this.stopping.get(id);
    if (existing) {
      if (timeoutMs === 0) existing.escalate();
      await existing.done;
      return;
    }
    const cid = containerId(id);
    const st = await this.crun.state(cid);
    if (!st) return;
    this.inits.delete(id);
    if (st.status === 'running' || st.status === 'paused') {
      this.watchStop(id, timeoutMs);
      const done = this.stopping.get(id)?.done;
      await this.crun.kill(cid, timeoutMs === 0 ? 'SIGKILL' : signal ?? readRecord(this.files(id))?.stopSignal ?? 'SIGTERM');
      await done;
    } else {
      await this.crun.delete(cid, true);
    }
  }

  async reboot(id: string): Promise<void> {
    if (!validInstanceId(id)) return;
    await this.withLock(id, async () => {
      const st = await this.state(id);
      if (!st || st.status !== 'running') return;
      const rec = readRecord(this.files(id));
      if (!rec) throw new Error(`instance ${id} has no record: cannot reboot it`);
      this.starting.add(id);
      try {
        await this.stopNow(id, this.stopTimeoutMs, rec.rebootSignal ?? rec.stopSignal);
        await this.boot(id, this.files(id), rec);
      } finally {
        this.starting.delete(id);
      }
    });
  }

  async destroy(id: string): Promise<void> {
    if (!validInstanceId(id)) return;
    this.destroying.add(id);
    this.inits.delete(id);
    try {
      this.stopping.get(id)?.escalate();
      await this.withLock(id, async () => {
        await this.stopNow(id, 0);
        await this.crun.delete(containerId(id), true);
        // crun removes the cgroup on delete; what a crash may have left (empty) goes too.
        for (const dir of cgroupDirs(this.cgroups, this.cgroupPath(id))) {
          if (existsSync(dir)) {
            try { rmdirSync(dir); } catch (err) { console.error(`nimbus: ns driver: cannot remove cgroup ${dir}:`, err); }
          }
        }
        const f = this.files(id);
        const idBase = readRecord(f)?.idBase;
        const root = this.rootVolume(id);
        if (root) {
          for (const hook of this.destroyHooks) {
            await hook(id, root).catch((err: unknown) => console.error(`nimbus: ns driver: before destroying ${id}:`, err));
          }
        }
        for (const m of mountsUnder(f.dir).reverse()) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
        removeInstanceDir(f);
        this.idRanges.release(idBase);
        await this.network?.releaseInstance(id);
      });
    } finally {
      this.destroying.delete(id);
    }
  }

  async inspect(id: string): Promise<ActualState> {
    if (!validInstanceId(id)) return 'absent';
    if (this.destroying.has(id)) return 'destroying';
    if (this.starting.has(id)) return 'starting';
    if (this.stopping.has(id)) return 'stopping';
    if (this.initAlive(id)) return 'running';
    if (!existsSync(this.files(id).dir) && !existsSync(join(this.crun.root, containerId(id)))) return 'absent';
    // Not seen running by this driver (after a restart), exited by itself, or left half-made by a crash.
    return this.settleExit(id);
  }

  async list(): Promise<string[]> {
    const ids = new Set<string>();
    for (const c of await this.crun.list()) {
      if (c.id.startsWith(CONTAINER_PREFIX)) {
        const id = c.id.slice(CONTAINER_PREFIX.length);
        if (validInstanceId(id)) ids.add(id);
      }
    }
    const dir = join(this.dataDir, 'instances');
    if (existsSync(dir)) {
      for (const name of readdirSync(dir)) if (validInstanceId(name) && statSync(join(dir, name)).isDirectory()) ids.add(name);
    }
    return [...ids].sort();
  }

  async consoleOutput(id: string): Promise<string> {
    if (!validInstanceId(id)) return '';
    const file = this.files(id).consoleLog;
    if (!existsSync(file)) return '';
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      const len = Math.min(size, this.consoleMaxBytes);
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, size - len);
      return buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  }

  /** Runs a command as root inside a running instance (for tests, and later for SSM Run Command). */
  exec(id: string, command: string[], timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }> {
    if (!validInstanceId(id)) throw new Error(`invalid instance id ${id}`);
    return this.crun.execIn(containerId(id), command, timeoutMs);
  }

  /** Leaves every instance running (they outlive the server); stops the background watchers. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.exitTimer) clearInterval(this.exitTimer);
    this.exitTimer = undefined;
    await Promise.all([...this.stopping.values()].map((w) => w.done));
  }
}
