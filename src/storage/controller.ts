/**
 * The storage data plane's reconcile loop. From the store (desired) and the host (actual) it
 * converges, one pass at a time:
 *   1. snapshots whose data is pending: captured from their volume's image (frozen while it is a
 *      loop device), or from the snapshot the volume came from; copies take their source's
 *      chunks; a root volume's snapshot also keeps the root filesystem (root-filesystems.ts);
 *   2. volumes attached to running instances: image made, loop device, filesystem mounted inside;
 *      mounts of volumes no longer attached go, and loop devices nothing mounts;
 *   3. instance store: fresh disks for each start of an instance whose type has them, mounted
 *      inside; the disks of stopped and gone instances deleted;
 *   4. root filesystems for images registered from snapshots with data;
 *   5. data of deleted snapshots and volumes, chunks no snapshot names, and root filesystems of
 *      deleted snapshots no instance runs from.
 * Passes are kicked after commits that may concern storage and run one at a time; each step is
 * idempotent, so a crash mid-pass is made good by the next.
 */
import { existsSync } from 'node:fs';
import type { Image } from '@aws-sdk/client-ec2';
import { instanceType } from '../catalog/instance-types.js';
import type { InstanceRootVolume } from '../compute/driver.js';
import { ImageStore } from '../images/store.js';
import { IMAGE_KIND } from '../services/ec2/images/record.js';
import { INSTANCE_KIND, type InstanceRecord } from '../services/ec2/instances/record.js';
import { SNAPSHOT_KIND, type SnapshotRecord } from '../services/ec2/snapshots/record.js';
import { attachmentsOf, VOLUME_KIND, type VolumeRecord } from '../services/ec2/volumes/record.js';
import type { Scope, Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import {
  attachLoop, detachLoop, frozen, growMounted, loopDevices, mountInto, mountPointFor, mountsOf, thaw, unmountFrom, type InstanceMountNamespace, type LoopDevice,
} from './block-devices.js';
import { EphemeralDisks, ephemeralMountPoint } from './ephemeral.js';
import { RootFilesystems } from './root-filesystems.js';
import { SnapshotData } from './snapshot-data.js';
import { growImage, VolumeImages } from './volume-images.js';

/** What the controller needs of a compute driver with real instances (ns). */
export interface InstanceHost {
  mountNamespace(instanceId: string): InstanceMountNamespace | undefined;
  runningIds(): string[];
  rootVolume(instanceId: string): InstanceRootVolume | undefined;
  imagesInUse(): Set<string>;
  beforeDestroy(hook: (instanceId: string, root: InstanceRootVolume) => Promise<void>): void;
}

/** Operations after which a pass may have work. */
const CONCERNS_STORAGE = /Volume|Snapshot|Image|Instances$/;
const CONCERNS_SNAPSHOTS = /Snapshot|Image/;

interface Located<T> {
  scope: Scope;
  doc: T;
}

/** A volume's filesystem mounted in a running instance. */
interface VolumeMount {
  ns: InstanceMountNamespace;
  target: string;
  instanceId: string;
}

export class StorageController {
  readonly snapshots: SnapshotData;
  readonly volumes: VolumeImages;
  private readonly roots: RootFilesystems;
  private readonly ephemeral: EphemeralDisks;
  private running = false;
  private again = false;
  private idle: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private closed = false;
  private firstPass = true;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    dataDir: string,
    private readonly instances: InstanceHost | undefined,
    private readonly log: (line: string) => void,
    periodMs = 5000,
  ) {
    this.snapshots = new SnapshotData(dataDir);
    this.volumes = new VolumeImages(dataDir, this.snapshots);
    this.roots = new RootFilesystems(new ImageStore(dataDir), this.snapshots, this.volumes, log);
    this.ephemeral = new EphemeralDisks(dataDir);
    // The periodic pass catches instances that came up after the last kick (a start, a reboot).
    if (instances) {
      this.timer = setInterval(() => this.kick(), periodMs);
      this.timer.unref();
      instances.beforeDestroy((id, root) => this.keepRoot(id, root));
    }
    this.kick();
  }

  /** After a commit: a pass if the operation may have changed what storage needs (without real instances, only snapshots' data). */
  committed(operation?: string): void {
    if (operation === undefined || (this.instances ? CONCERNS_STORAGE : CONCERNS_SNAPSHOTS).test(operation)) this.kick();
  }

  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.idle = (async () => {
      try {
        do {
          this.again = false;
          await this.pass().catch((err: unknown) => this.log(`nimbus: storage: ${(err as Error).stack ?? String(err)}`));
        } while (this.again && !this.closed);
      } finally {
        this.running = false;
      }
    })();
  }

  /** Resolves once no pass is running (tests, shutdown). */
  settled(): Promise<void> {
    return this.idle;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.idle;
  }

  private async pass(): Promise<void> {
    if (this.firstPass && this.instances) {
      this.firstPass = false;
      for (const l of (await this.ourLoops()).values()) if (await thaw(l.device)) this.log(`nimbus: storage: ${l.device} was left frozen; thawed`);
    }
    const snapshots = await this.store.listAll<SnapshotRecord>(SNAPSHOT_KIND);
    // Every volume only where volumes have data here (attached to real instances): without, a
    // pass after each launch would read the whole fleet's root volumes for nothing.
    const volumes = this.instances || this.volumes.list().length ? await this.store.listAll<VolumeRecord>(VOLUME_KIND) : [];
    const loops = this.instances ? await this.ourLoops() : new Map<string, LoopDevice>();
    const mounted = this.instances ? this.mountedVolumes(loops) : new Map<string, VolumeMount[]>();

    const byId = new Map(volumes.map((v) => [v.doc.VolumeId, v.doc]));
    const volumeOf = async (scope: Scope, id: string) => byId.get(id) ?? (await this.store.get<VolumeRecord>(VOLUME_KIND, scope, id));
    await this.captureSnapshots(snapshots, volumeOf, loops);
    if (this.instances) {
      await this.attachVolumes(volumes, loops, mounted);
      await this.instanceStores(this.instances);
      await this.bootFilesystems();
    }
    this.collect(snapshots, volumes, loops);
    await this.collectKeys();
  }

  /** Loop devices of this installation's volume images, by volume id. */
  private async ourLoops(): Promise<Map<string, LoopDevice>> {
    const byImage = new Map(this.volumes.list().map((id) => [this.volumes.path(id), id]));
    const out = new Map<string, LoopDevice>();
    for (const l of await loopDevices()) {
      const id = byImage.get(l.backingFile);
      if (id) out.set(id, l);
    }
    return out;
  }

  /** Where each volume with a loop device is mounted now, in any running instance. */
  private mountedVolumes(loops: Map<string, LoopDevice>): Map<string, VolumeMount[]> {
    const out = new Map<string, VolumeMount[]>();
    if (!loops.size) return out;
    const byDevno = new Map([...loops].map(([id, l]) => [l.devno, id]));
    const devnos = new Set(byDevno.keys());
    for (const instanceId of this.instances!.runningIds()) {
      const ns = this.instances!.mountNamespace(instanceId);
      if (!ns) continue;
      for (const [devno, target] of mountsOf(ns.pid, devnos)) {
        const volumeId = byDevno.get(devno)!;
        out.set(volumeId, [...(out.get(volumeId) ?? []), { ns, target, instanceId }]);
      }
    }
    return out;
  }

  private async captureSnapshots(
    snapshots: Located<SnapshotRecord>[], volumeOf: (scope: Scope, id: string) => Promise<VolumeRecord | undefined>,
    loops: Map<string, LoopDevice>,
  ): Promise<void> {
    for (const { scope, doc: snap } of snapshots) {
      if (!snap.dataPending) continue;
      try {
        if (await this.captureOne(snap, scope, await volumeOf(scope, snap.VolumeId), loops)) await this.markCaptured(scope, snap.SnapshotId);
      } catch (err) {
        this.log(`nimbus: storage: cannot take ${snap.SnapshotId}: ${(err as Error).message}`); // tried again next pass
      }
    }
  }

  /** Takes one snapshot's data; false when it must wait (a copy whose source is not taken yet). */
  private async captureOne(snap: SnapshotRecord, scope: Scope, vol: VolumeRecord | undefined, loops: Map<string, LoopDevice>): Promise<boolean> {
    if (this.snapshots.has(snap.SnapshotId)) return true; // taken, not yet marked (a crash in between)
    if (snap.SourceSnapshotId) {
      if (!this.snapshots.has(snap.SourceSnapshotId)) return false;
      if (this.roots.has(snap.SourceSnapshotId)) await this.roots.copy(snap.SourceSnapshotId, snap.SnapshotId);
      await this.snapshots.copy(snap.SourceSnapshotId, snap.SnapshotId, snap.Encrypted);
      return true;
    }
    const of = vol ? await this.rootVolumeOf(scope, vol) : undefined;
    // CreateImage without NoReboot: the image is of the instance as it is after its reboot.
    if (of?.rebooting) return false;
    const root = of?.root;
    if (root) {
      const m = await this.roots.capture(snap.SnapshotId, root, vol!, snap.VolumeSize);
      this.log(`nimbus: storage: ${snap.SnapshotId} of root volume ${snap.VolumeId}: ${m.chunks.length} chunks, ${m.addedChunks} new`);
      return true;
    }
    const image = vol && this.volumes.has(vol.VolumeId) ? this.volumes.path(vol.VolumeId) : undefined;
    const fromSnapshot = vol?.SnapshotId && this.snapshots.has(vol.SnapshotId) ? vol.SnapshotId : undefined;
    const wrappedKey = vol?.Encrypted ? this.volumes.keyOf(vol.VolumeId) : undefined;
    const capture = () => this.snapshots.capture(snap.SnapshotId, { image, sizeGiB: snap.VolumeSize, fromSnapshot, wrappedKey });
    const loop = vol ? loops.get(vol.VolumeId) : undefined;
    const m = await (loop ? frozen(loop, capture) : capture());
    this.log(`nimbus: storage: ${snap.SnapshotId} of ${snap.VolumeId}: ${m.chunks.length} chunks, ${m.addedChunks} new (${m.addedBytes} bytes stored)`);
    return true;
  }

  /** The root volume on this host of the instance the volume is the root device of, if it is one, and whether a reboot of it is pending. */
  private async rootVolumeOf(scope: Scope, vol: VolumeRecord): Promise<{ root?: InstanceRootVolume; rebooting: boolean } | undefined> {
    if (!this.instances) return undefined;
    for (const a of vol.Attachments) {
      const inst = await this.store.get<InstanceRecord>(INSTANCE_KIND, scope, a.InstanceId);
      if (inst && inst.RootDeviceName === a.Device) return { root: this.instances.rootVolume(a.InstanceId), rebooting: inst.rebootRequested === true };
    }
    return undefined;
  }

  /** At termination, a root volume whose DeleteOnTermination is false outlives its instance, holding its files. */
  private async keepRoot(instanceId: string, root: InstanceRootVolume): Promise<void> {
    const inst = (await this.store.listAll<InstanceRecord>(INSTANCE_KIND)).find((e) => e.doc.InstanceId === instanceId)?.doc;
    const device = inst?.BlockDeviceMappings.find((d) => d.DeviceName === inst.RootDeviceName);
    if (device?.DeleteOnTermination === false) await this.roots.keep(instanceId, device, root);
  }

  /** Images whose root snapshot has data but no root filesystem here (RegisterImage of a snapshot of a volume the user filled). */
  private async bootFilesystems(): Promise<void> {
    for (const { doc } of await this.store.listAll<Image>(IMAGE_KIND)) {
      const snapshotId = doc.BlockDeviceMappings?.find((m) => m.DeviceName === doc.RootDeviceName)?.Ebs?.SnapshotId;
      if (!snapshotId || this.roots.has(snapshotId) || !this.snapshots.has(snapshotId)) continue;
      await this.roots.fromBlocks(snapshotId, doc.ImageId!)
        .catch((err: Error) => this.log(`nimbus: storage: cannot make a root filesystem of ${snapshotId} for ${doc.ImageId}: ${err.message}`));
    }
  }

  private async markCaptured(scope: Scope, snapshotId: string): Promise<void> {
    await this.store.transaction(async () => {
      const snap = await this.store.get<SnapshotRecord>(SNAPSHOT_KIND, scope, snapshotId);
      if (!snap?.dataPending) return;
      const { dataPending: _done, ...rest } = snap;
      await this.store.put(SNAPSHOT_KIND, scope, snapshotId, rest);
    });
  }

  private async attachVolumes(
    volumes: Located<VolumeRecord>[], loops: Map<string, LoopDevice>, mounted: Map<string, VolumeMount[]>,
  ): Promise<void> {
    const now = this.clock.now();
    // Every attachment to a running instance (more than one for a multi-attach volume).
    const wanted = new Map<string, { vol: VolumeRecord; at: { instanceId: string; target: string }[] }>();
    for (const { scope, doc: vol } of volumes) {
      for (const a of attachmentsOf(vol, now)) {
        if (a.State === 'detaching' || !this.instances!.mountNamespace(a.InstanceId)) continue;
        const inst = await this.store.get<InstanceRecord>(INSTANCE_KIND, scope, a.InstanceId);
        if (!inst || inst.RootDeviceName === a.Device) continue; // the root volume is the instance's own root filesystem
        const w = wanted.get(vol.VolumeId) ?? { vol, at: [] };
        w.at.push({ instanceId: a.InstanceId, target: mountPointFor(a.Device) });
        wanted.set(vol.VolumeId, w);
      }
    }
    // What is mounted but no longer wanted there goes first, so the volume is free for its next instance.
    for (const [volumeId, mounts] of mounted) {
      const at = wanted.get(volumeId)?.at ?? [];
      for (const m of [...mounts]) {
        if (at.some((x) => x.instanceId === m.instanceId && x.target === m.target)) continue;
        // Until none is left: a mount may have been stacked on another (made twice by a pass that did not see the first).
        const devno = new Set([loops.get(volumeId)!.devno]);
        for (let i = 0; i < 8 && [...mountsOf(m.ns.pid, devno).values()].includes(m.target); i++) {
          if (!(await unmountFrom(m.ns, m.target, false))) await unmountFrom(m.ns, m.target, true);
        }
        mounts.splice(mounts.indexOf(m), 1);
        this.log(`nimbus: storage: ${volumeId} unmounted from ${m.instanceId}`);
      }
      if (!mounts.length) mounted.delete(volumeId);
    }
    for (const [volumeId, loop] of loops) {
      if (wanted.has(volumeId)) continue;
      await detachLoop(loop.device);
      loops.delete(volumeId);
    }
    for (const [volumeId, w] of wanted) {
      const present = mounted.get(volumeId) ?? [];
      const missing = w.at.filter((x) => !present.some((m) => m.instanceId === x.instanceId && m.target === x.target));
      try {
        if (present.length) await this.grow(volumeId, w.vol, loops.get(volumeId));
        if (!missing.length) continue;
        // Made ready (restored, formatted, grown offline) only while no instance has it mounted.
        const { image, dataKey } = await this.volumes.ensure(
          { volumeId, sizeGiB: w.vol.Size, snapshotId: w.vol.SnapshotId, encrypted: w.vol.Encrypted }, { inUse: present.length > 0 },
        );
        const loop = loops.get(volumeId) ?? (await attachLoop(image));
        loops.set(volumeId, loop);
        for (const x of missing) {
          const ns = this.instances!.mountNamespace(x.instanceId);
          if (!ns) continue;
          // A second mount of the same loop device is the same filesystem: multi-attach shares one page cache.
          await mountInto(ns, loop, x.target, dataKey);
          this.log(`nimbus: storage: ${volumeId} mounted in ${x.instanceId} at ${x.target} (${loop.device})`);
        }
      } catch (err) {
        this.log(`nimbus: storage: cannot attach ${volumeId}: ${(err as Error).message}`);
      }
    }
  }

  /** ModifyVolume made a mounted volume larger: its image and loop device grow, and its filesystem online where the host allows. */
  private async grow(volumeId: string, vol: VolumeRecord, loop: LoopDevice | undefined): Promise<void> {
    if (!loop || !(await growImage(this.volumes.path(volumeId), vol.Size))) return;
    await growMounted(loop).then(
      () => this.log(`nimbus: storage: ${volumeId} grown to ${vol.Size} GiB`),
      () => this.log(`nimbus: storage: ${volumeId} is ${vol.Size} GiB; its filesystem grows when it is next attached (no online resize on this host)`),
    );
  }

  private async instanceStores(host: InstanceHost): Promise<void> {
    const running = host.runningIds();
    const disks = this.ephemeral.list();
    if (!running.length && !disks.size) return;
    const records = new Map((await this.store.listAll<InstanceRecord>(INSTANCE_KIND)).map((e) => [e.doc.InstanceId, e.doc]));
    const loops = new Map((await loopDevices()).map((l) => [l.backingFile, l]));
    for (const id of running) {
      const rec = records.get(id);
      const ns = host.mountNamespace(id);
      if (!rec || !ns?.startedAt) continue;
      const sizes = (instanceType(rec.InstanceType)?.InstanceStorageInfo?.Disks ?? []).flatMap((d) => Array<number>(d.Count ?? 0).fill(d.SizeInGB ?? 0));
      for (const [index, sizeGiB] of sizes.entries()) {
        try {
          const image = await this.ephemeral.ensure(id, ns.startedAt, index, sizeGiB);
          const loop = loops.get(image) ?? (await attachLoop(image));
          if (mountsOf(ns.pid, new Set([loop.devno])).size) continue;
          await mountInto(ns, loop, ephemeralMountPoint(index));
          this.log(`nimbus: storage: instance store ${index} of ${id} (${sizeGiB} GB) at ${ephemeralMountPoint(index)}`);
        } catch (err) {
          this.log(`nimbus: storage: cannot give ${id} its instance store ${index}: ${(err as Error).message}`);
        }
      }
    }
    // A stopped instance's instance store is gone, as is a terminated one's; disks of an earlier boot too.
    for (const [id, files] of this.ephemeral.list()) {
      const state = records.get(id)?.state;
      const keep = state !== undefined && !['stopping', 'stopped', 'shutting-down', 'terminated'].includes(state);
      for (const l of loops.values()) {
        if ((!keep && files.includes(l.backingFile)) || (l.backingFile.startsWith(`${this.ephemeral.root}/${id}/`) && !existsSync(l.backingFile))) {
          await detachLoop(l.device);
        }
      }
      if (!keep) this.ephemeral.remove(id);
    }
  }

  /**
   * Keys of volumes that had no image of their own here (encrypted root volumes) go with their
   * volume. The keys are listed before the volumes are read: a key is made only after its volume's
   * record committed, so every key listed has its volume in the read unless it was deleted.
   */
  private async collectKeys(): Promise<void> {
    const keys = this.snapshots.keys;
    const withKeys = keys.volumesWithKeys();
    if (!withKeys.length) return;
    const volIds = new Set((await this.store.listAll<VolumeRecord>(VOLUME_KIND)).map((v) => v.doc.VolumeId));
    for (const id of withKeys) if (!volIds.has(id) && !this.volumes.has(id)) keys.removeVolumeKey(id);
  }

  /** Data whose record is gone: deleted snapshots' manifests (then unnamed chunks) and deleted volumes' images. */
  private collect(snapshots: Located<SnapshotRecord>[], volumes: Located<VolumeRecord>[], loops: Map<string, LoopDevice>): void {
    const snapIds = new Set(snapshots.map((s) => s.doc.SnapshotId));
    let removed = 0;
    for (const id of this.snapshots.list()) {
      if (snapIds.has(id)) continue;
      this.snapshots.remove(id);
      removed++;
    }
    if (removed) this.snapshots.sweepChunks();
    const volIds = new Set(volumes.map((v) => v.doc.VolumeId));
    for (const id of this.volumes.list()) if (!volIds.has(id) && !loops.has(id)) this.volumes.remove(id);

    this.roots.sweep(snapIds, this.instances?.imagesInUse() ?? new Set());
  }
}
