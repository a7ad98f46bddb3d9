/**
 * The stored form of an EBS volume and its state machines. On the plane's clock a volume is
 * `creating` for a moment after CreateTime, an attachment `attaching` after it was made and
 * `detaching` before it goes; these are computed from timestamps when a volume is read, so no
 * handler needs a timer and no reconciler step is needed.
 */
import type { AttachmentStatus, VolumeModificationState, VolumeState } from '@aws-sdk/client-ec2';
import type { Scope, Store } from '../../../store/store.js';
import type { RequestContext } from '../../context.js';
import { checkIds, notFound } from '../common/errors.js';
import type { InstanceRecord } from '../instances/record.js';
import { defaultKeyOf } from './encryption-defaults.js';
import { launchSpec } from './types.js';

export const VOLUME_KIND = 'volume';

/** How long the simulated steps take, in ms. */
export const CREATING_MS = 800;
export const ATTACHING_MS = 300;
export const DETACHING_MS = 300;
export const MODIFYING_MS = 500;
export const OPTIMIZING_MS = 700;

/** Size of a launch volume whose image and request give none, in GiB. */
const DEFAULT_ROOT_SIZE = 8;

export interface StoredAttachment {
  InstanceId: string;
  Device: string;
  AttachTime: string;
  /** `attaching` until then. */
  attachedAt: string;
  /** Set by DetachVolume: `detaching` until then, gone after. */
  detachedAt?: string;
}

export interface StoredModification {
  ModificationState?: VolumeModificationState;
  StartTime: string;
  OriginalSize: number;
  OriginalVolumeType: string;
  OriginalIops?: number;
  OriginalThroughput?: number;
  OriginalMultiAttachEnabled: boolean;
  TargetSize: number;
  TargetVolumeType: string;
  TargetIops?: number;
  TargetThroughput?: number;
  TargetMultiAttachEnabled: boolean;
}

export interface VolumeRecord {
  VolumeId: string;
  OwnerId: string;
  AvailabilityZone: string;
  CreateTime: string;
  /** `creating` until then. */
  availableAt: string;
  Size: number;
  VolumeType: string;
  Iops?: number;
  Throughput?: number;
  SnapshotId?: string;
  Encrypted: boolean;
  KmsKeyId?: string;
  MultiAttachEnabled: boolean;
  Attachments: StoredAttachment[];
  modification?: StoredModification;
}

const at = (iso: string) => Date.parse(iso);

/** The attachments still in place (a finished detach is gone), each with its state now. */
export function attachmentsOf(vol: VolumeRecord, now: Date): (StoredAttachment & { State: AttachmentStatus })[] {
  const t = now.getTime();
  const out: (StoredAttachment & { State: AttachmentStatus })[] = [];
  for (const a of vol.Attachments) {
    if (a.detachedAt !== undefined) {
      if (t < at(a.detachedAt)) out.push({ ...a, State: 'detaching' });
    } else out.push({ ...a, State: t < at(a.attachedAt) ? 'attaching' : 'attached' });
  }
  return out;
}

export function volumeState(vol: VolumeRecord, now: Date): VolumeState {
  if (now.getTime() < at(vol.availableAt)) return 'creating';
  return attachmentsOf(vol, now).length > 0 ? 'in-use' : 'available';
}

/**
 * Every state the volume can show from `now` on, as time passes during an answer: a volume being
 * created may come up available or in use, and one whose detach is under way may come free.
 */
export function statesFrom(vol: VolumeRecord, now: Date): VolumeState[] {
  if (now.getTime() < at(vol.availableAt)) return ['creating', 'available', 'in-use'];
  const state = volumeState(vol, now);
  return state === 'in-use' && vol.Attachments.some((a) => a.detachedAt !== undefined) ? ['in-use', 'available'] : [state];
}

/** Drops attachments whose detach has finished, so that the record says what is true now. */
export function settle(vol: VolumeRecord, now: Date): VolumeRecord {
  vol.Attachments = settled(vol, now).Attachments;
  return vol;
}

/** What settle makes of the record without changing it (a shared one): a copy only if an attachment ended. */
export function settled(vol: VolumeRecord, now: Date): VolumeRecord {
  if (!vol.Attachments.some((a) => a.detachedAt !== undefined)) return vol; // only a detach ends one
  const live = new Set(attachmentsOf(vol, now).map((a) => a.InstanceId));
  const kept = vol.Attachments.filter((a) => live.has(a.InstanceId));
  return kept.length === vol.Attachments.length ? vol : { ...vol, Attachments: kept };
}

/** The modification's state and progress now: modifying, then optimizing, then completed. */
export function modificationProgress(m: StoredModification, now: Date): { state: VolumeModificationState; progress: number; endTime?: Date } {
  const elapsed = now.getTime() - at(m.StartTime);
  const total = MODIFYING_MS + OPTIMIZING_MS;
  if (elapsed >= total) return { state: 'completed', progress: 100, endTime: new Date(at(m.StartTime) + total) };
  return { state: elapsed < MODIFYING_MS ? 'modifying' : 'optimizing', progress: Math.floor((Math.max(0, elapsed) / total) * 100) };
}

/** The caller's volumes with these ids (settled), in the order asked; any unknown id fails the call. */
export async function loadVolumes(ctx: RequestContext, ids: readonly string[]): Promise<VolumeRecord[]> {
  checkIds('volume', ids);
  const unique = [...new Set(ids)];
  const found = new Map((await ctx.store.getMany<VolumeRecord>(VOLUME_KIND, ctx.scope, unique)).map((v) => [v.VolumeId, v]));
  const missing = unique.filter((id) => !found.has(id));
  if (missing.length) throw notFound('volume', missing);
  return unique.map((id) => settle(found.get(id)!, ctx.now()));
}

export async function loadVolume(ctx: RequestContext, id: string): Promise<VolumeRecord> {
  return (await loadVolumes(ctx, [id]))[0]!;
}

export async function saveVolume(store: Pick<Store, 'put'>, scope: Scope, vol: VolumeRecord): Promise<void> {
  await store.put(VOLUME_KIND, scope, vol.VolumeId, vol);
}

/** RunInstances: each EBS block device of a new instance is a volume, attached and in use from the start. */
export async function saveLaunchVolumes(store: Pick<Store, 'put' | 'get'>, scope: Scope, rec: InstanceRecord): Promise<void> {
  const key = rec.BlockDeviceMappings.some((d) => d.Encrypted) ? await defaultKeyOf(store, scope) : undefined;
  for (const d of rec.BlockDeviceMappings) {
    const encrypted = d.Encrypted ?? false;
    const size = d.VolumeSize ?? DEFAULT_ROOT_SIZE;
    const spec = launchSpec(d.VolumeType ?? 'gp2', size);
    await saveVolume(store, scope, {
      VolumeId: d.VolumeId,
      OwnerId: rec.OwnerId,
      AvailabilityZone: rec.AvailabilityZone,
      CreateTime: d.AttachTime,
      availableAt: d.AttachTime,
      ...spec,
      SnapshotId: d.SnapshotId,
      Encrypted: encrypted,
      KmsKeyId: encrypted ? key : undefined,
      Attachments: [{ InstanceId: rec.InstanceId, Device: d.DeviceName, AttachTime: d.AttachTime, attachedAt: d.AttachTime }],
    });
  }
}

/**
 * At termination each volume of the instance is deleted (with its tags) when its mapping says
 * DeleteOnTermination, else detached and left available.
 */
export async function releaseInstanceVolumes(store: Store, scope: Scope, rec: InstanceRecord): Promise<void> {
  for (const d of rec.BlockDeviceMappings) {
    const vol = await store.get<VolumeRecord>(VOLUME_KIND, scope, d.VolumeId);
    if (!vol) continue;
    if (d.DeleteOnTermination) {
      await store.remove(VOLUME_KIND, scope, vol.VolumeId);
      await store.deleteAllTags(scope, vol.VolumeId);
    } else {
      vol.Attachments = vol.Attachments.filter((a) => a.InstanceId !== rec.InstanceId);
      await saveVolume(store, scope, vol);
    }
  }
}
