/** CreateSnapshot, DescribeSnapshots, DeleteSnapshot, CopySnapshot. */
import type {
  CopySnapshotRequest, CopySnapshotResult, CreateSnapshotRequest, DeleteSnapshotRequest, DescribeSnapshotsRequest,
  DescribeSnapshotsResult, Snapshot,
} from '@aws-sdk/client-ec2';
import { REGION_NAMES } from '../../../catalog/regions.js';
import { ApiError, invalidParameterValue } from '../../../protocol/errors.js';
import type { Tag } from '../../../store/store.js';
import { newId } from '../../../util/ids.js';
import type { RequestContext } from '../../context.js';
import { checkIds, notFound } from '../common/errors.js';
import { applyFilters, type FilterFields } from '../common/filters.js';
import { paginate } from '../common/pagination.js';
import { addTags, tagSets, tagsFromSpecifications } from '../common/tagging.js';
import { loadVolume, volumeState, type VolumeRecord } from '../volumes/record.js';
import { defaultKmsKey } from '../volumes/volumes.js';
import {
  findSnapshot, imagesUsing, loadOwnSnapshots, restorableBy, SNAPSHOT_KIND, snapshotProgress, visibleSnapshots, type SnapshotRecord,
} from './record.js';
import { storedTime } from '../../../util/stored-time.js';

export async function createSnapshot(input: CreateSnapshotRequest, ctx: RequestContext): Promise<Snapshot> {
  const tags = tagsFromSpecifications(input.TagSpecifications, ['snapshot'], 'snapshot');
  const vol = await loadVolume(ctx, input.VolumeId!);
  const state = volumeState(vol, ctx.now());
  if (state !== 'available' && state !== 'in-use') {
    throw new ApiError('IncorrectState', `The volume '${vol.VolumeId}' is not in a state from which a snapshot can be created: ${state}.`);
  }
  const snap = await snapshotVolume(ctx, vol, input.Description ?? '');
  await addTags(ctx, snap.SnapshotId, 'snapshot', tags);
  return presentSnapshot(ctx, snap, tags);
}

/** Records a new snapshot of one of the caller's volumes (CreateSnapshot, CreateImage). */
export async function snapshotVolume(ctx: RequestContext, vol: VolumeRecord, description: string): Promise<SnapshotRecord> {
  const snap: SnapshotRecord = {
    SnapshotId: newId('snap'),
    OwnerId: ctx.accountId,
    VolumeId: vol.VolumeId,
    VolumeSize: vol.Size,
    Description: description,
    StartTime: ctx.now().toISOString(),
    Encrypted: vol.Encrypted,
    KmsKeyId: vol.KmsKeyId,
    createVolumePermission: { userIds: [], public: false },
    dataPending: true, // until the storage data plane has taken its data
  };
  await saveSnapshot(ctx, snap);
  return snap;
}

const saveSnapshot = (ctx: RequestContext, snap: SnapshotRecord) => ctx.store.put(SNAPSHOT_KIND, ctx.scope, snap.SnapshotId, snap);

export function presentSnapshot(ctx: RequestContext, s: SnapshotRecord, tags: readonly Tag[] | undefined): Snapshot {
  return {
    SnapshotId: s.SnapshotId,
    VolumeId: s.VolumeId,
    ...snapshotProgress(s, ctx.now()),
    StartTime: storedTime(s.StartTime),
    OwnerId: s.OwnerId,
    Description: s.Description,
    VolumeSize: s.VolumeSize,
    Encrypted: s.Encrypted,
    KmsKeyId: s.KmsKeyId,
    StorageTier: 'standard',
    Tags: tags && tags.length ? [...tags] : undefined,
  };
}

const snapshotFields: FilterFields<Snapshot> = {
  'snapshot-id': (s) => s.SnapshotId,
  'volume-id': (s) => s.VolumeId,
  'volume-size': (s) => s.VolumeSize,
  status: (s) => s.State,
  progress: (s) => s.Progress,
  'owner-id': (s) => s.OwnerId,
  'owner-alias': () => undefined,
  description: (s) => s.Description,
  encrypted: (s) => s.Encrypted,
  'start-time': (s) => s.StartTime?.toISOString(),
  'storage-tier': (s) => s.StorageTier,
};

const viewFields: FilterFields<{ view: Snapshot }> = Object.fromEntries(
  Object.entries(snapshotFields).map(([name, read]) => [name, (v: { view: Snapshot }) => read(v.view)]),
);

/**
 * Which snapshots the caller asked about. OwnerIds narrows by owner (`self`, an account id,
 * `amazon`: no snapshot here is Amazon's), RestorableByUserIds to those the accounts may create
 * volumes from; without either, every snapshot the caller can use.
 */
function ownerMatches(s: SnapshotRecord, ctx: RequestContext, owners: readonly string[] | undefined): boolean {
  if (!owners?.length) return true;
  return owners.some((o) => (o === 'self' ? s.OwnerId === ctx.accountId : o === s.OwnerId));
}

function restorableMatches(s: SnapshotRecord, ctx: RequestContext, users: readonly string[] | undefined): boolean {
  if (!users?.length) return true;
  return users.some((u) => {
    const account = u === 'self' ? ctx.accountId : u;
    // A permission, not ownership: snapshots whose createVolumePermission names the account or is public.
    return s.createVolumePermission.public || s.createVolumePermission.userIds.includes(account);
  });
}

export async function describeSnapshots(input: DescribeSnapshotsRequest, ctx: RequestContext): Promise<DescribeSnapshotsResult> {
  checkIds('snapshot', input.SnapshotIds);
  for (const o of input.OwnerIds ?? []) {
    if (o !== 'self' && o !== 'amazon' && !/^\d{12}$/.test(o)) throw invalidParameterValue(`Invalid value '${o}' for ownerId`);
  }
  let located = await visibleSnapshots(ctx);
  if (input.SnapshotIds?.length) {
    const wanted = new Set(input.SnapshotIds);
    located = located.filter((e) => wanted.has(e.snap.SnapshotId));
    const missing = [...wanted].filter((id) => !located.some((e) => e.snap.SnapshotId === id));
    if (missing.length) throw notFound('snapshot', missing);
  }
  located = located.filter((e) => ownerMatches(e.snap, ctx, input.OwnerIds) && restorableMatches(e.snap, ctx, input.RestorableByUserIds));
  // Tags are the caller's own, even on another account's snapshot.
  const tags = await tagSets(ctx, located.map((e) => e.snap.SnapshotId));
  const views = located.map((e) => ({ view: presentSnapshot(ctx, e.snap, tags.get(e.snap.SnapshotId)), tags: tags.get(e.snap.SnapshotId) }));
  const matched = applyFilters(views, input.Filters, viewFields, (v) => v.tags);
  const page = paginate(matched, { maxResults: input.MaxResults, nextToken: input.NextToken, min: 5, max: 1000, key: (v) => v.view.SnapshotId! });
  return { Snapshots: page.items.map((v) => v.view), NextToken: page.nextToken };
}

export async function deleteSnapshot(input: DeleteSnapshotRequest, ctx: RequestContext): Promise<object> {
  const [snap] = await loadOwnSnapshots(ctx, [input.SnapshotId!]);
  const images = await imagesUsing(ctx, snap!.SnapshotId);
  if (images.length) {
    throw new ApiError('InvalidSnapshot.InUse', `The snapshot ${snap!.SnapshotId} is currently in use by ${images[0]}`);
  }
  await ctx.store.remove(SNAPSHOT_KIND, ctx.scope, snap!.SnapshotId);
  await ctx.store.deleteAllTags(ctx.scope, snap!.SnapshotId);
  return {};
}

/** A copy into the caller's region of a completed snapshot the caller can use in SourceRegion. */
export async function copySnapshot(input: CopySnapshotRequest, ctx: RequestContext): Promise<CopySnapshotResult> {
  const region = input.SourceRegion!;
  if (!REGION_NAMES.has(region)) throw invalidParameterValue(`Value (${region}) for parameter sourceRegion is invalid.`);
  const tags = tagsFromSpecifications(input.TagSpecifications, ['snapshot'], 'snapshot');
  const source = await findSnapshot(ctx, input.SourceSnapshotId!, region);
  if (!restorableBy(source.snap, ctx.accountId)) throw notFound('snapshot', [source.snap.SnapshotId]);
  const progress = snapshotProgress(source.snap, ctx.now());
  if (progress.State !== 'completed') {
    throw new ApiError('IncorrectState', `Snapshot ${source.snap.SnapshotId} is in invalid state - ${progress.State}`);
  }
  const snap = await copySnapshotRecord(ctx, source.snap, region, input);
  await addTags(ctx, snap.SnapshotId, 'snapshot', tags);
  return { SnapshotId: snap.SnapshotId, Tags: tags.length ? tags : undefined };
}

export interface CopyOptions {
  Description?: string;
  Encrypted?: boolean;
  KmsKeyId?: string;
}

/**
 * Records a copy in the caller's region of a snapshot of `sourceRegion` (CopySnapshot, CopyImage):
 * encrypted when the source is or when asked, with the caller's key (or the source's own, when the
 * caller owns it; else the region's default key).
 */
export async function copySnapshotRecord(
  ctx: RequestContext, source: SnapshotRecord, sourceRegion: string, opts: CopyOptions,
): Promise<SnapshotRecord> {
  const encrypted = source.Encrypted || (opts.Encrypted ?? false) || opts.KmsKeyId !== undefined;
  const snap: SnapshotRecord = {
    SnapshotId: newId('snap'),
    OwnerId: ctx.accountId,
    // EC2 gives copies an arbitrary volume id: the volume is not in this region.
    VolumeId: 'vol-ffffffff',
    VolumeSize: source.VolumeSize,
    Description: opts.Description ?? `[Copied ${source.SnapshotId} from ${sourceRegion}] ${source.Description}`.trim(),
    StartTime: ctx.now().toISOString(),
    Encrypted: encrypted,
    KmsKeyId: encrypted ? (opts.KmsKeyId ?? (source.OwnerId === ctx.accountId ? source.KmsKeyId : undefined) ?? defaultKmsKey(ctx)) : undefined,
    SourceSnapshotId: source.SnapshotId,
    SourceRegion: sourceRegion,
    createVolumePermission: { userIds: [], public: false },
    dataPending: true, // until the storage data plane has taken its data
  };
  await saveSnapshot(ctx, snap);
  return snap;
}
