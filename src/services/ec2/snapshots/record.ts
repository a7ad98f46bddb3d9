/**
 * The stored form of an EBS snapshot. A snapshot is `pending` for a moment after StartTime, its
 * Progress climbing on the plane's clock, then `completed`; computed when read, like volumes.
 * Snapshots are regional and owned by one account, which may let others create volumes from it
 * (createVolumePermission), so lookups look across accounts of the caller's region.
 */
import type { Image, SnapshotState } from '@aws-sdk/client-ec2';
import type { Scope } from '../../../store/store.js';
import type { RequestContext } from '../../context.js';
import { checkIds, notFound } from '../common/errors.js';

export const SNAPSHOT_KIND = 'snapshot';
/** How long a simulated snapshot takes, in ms. */
export const COMPLETING_MS = 1000;

export interface SnapshotRecord {
  SnapshotId: string;
  OwnerId: string;
  VolumeId: string;
  VolumeSize: number;
  Description: string;
  StartTime: string;
  Encrypted: boolean;
  KmsKeyId?: string;
  /** CopySnapshot: the snapshot (and its region) this one copies. */
  SourceSnapshotId?: string;
  SourceRegion?: string;
  createVolumePermission: { userIds: string[]; public: boolean };
  /** Set until the storage data plane has taken the snapshot's data (src/storage/controller.ts): pending till then. */
  dataPending?: boolean;
}

export function snapshotProgress(s: SnapshotRecord, now: Date): { State: SnapshotState; Progress: string } {
  const elapsed = now.getTime() - Date.parse(s.StartTime);
  if (elapsed >= COMPLETING_MS && !s.dataPending) return { State: 'completed', Progress: '100%' };
  if (s.dataPending) return { State: 'pending', Progress: `${Math.min(99, Math.floor((Math.max(0, elapsed) / COMPLETING_MS) * 100))}%` };
  return { State: 'pending', Progress: `${Math.floor((Math.max(0, elapsed) / COMPLETING_MS) * 100)}%` };
}

/** Whether `account` may create volumes from the snapshot (and so see it). */
export function restorableBy(s: SnapshotRecord, account: string): boolean {
  return s.OwnerId === account || s.createVolumePermission.public || s.createVolumePermission.userIds.includes(account);
}

export interface LocatedSnapshot {
  scope: Scope;
  snap: SnapshotRecord;
}

/** Every snapshot of the caller's region that the caller may see: its own, shared with it, or public. */
export async function visibleSnapshots(ctx: RequestContext, region = ctx.region): Promise<LocatedSnapshot[]> {
  const all = await ctx.store.listAll<SnapshotRecord>(SNAPSHOT_KIND);
  return all
    .filter((e) => e.scope.region === region && restorableBy(e.doc, ctx.accountId))
    .map((e) => ({ scope: e.scope, snap: e.doc }))
    .sort((a, b) => (a.snap.SnapshotId < b.snap.SnapshotId ? -1 : 1));
}

/** A snapshot the caller may use, in `region` (default its own); InvalidSnapshot.NotFound otherwise. */
export async function findSnapshot(ctx: RequestContext, id: string, region = ctx.region): Promise<LocatedSnapshot> {
  checkIds('snapshot', [id]);
  const own = await ctx.store.get<SnapshotRecord>(SNAPSHOT_KIND, { account: ctx.accountId, region }, id);
  if (own) return { scope: { account: ctx.accountId, region }, snap: own };
  const shared = (await visibleSnapshots(ctx, region)).find((e) => e.snap.SnapshotId === id);
  if (!shared) throw notFound('snapshot', [id]);
  return shared;
}

/** The caller's own snapshots with these ids; any other id is InvalidSnapshot.NotFound. */
export async function loadOwnSnapshots(ctx: RequestContext, ids: readonly string[]): Promise<SnapshotRecord[]> {
  checkIds('snapshot', ids);
  const unique = [...new Set(ids)];
  const found = new Map((await ctx.store.getMany<SnapshotRecord>(SNAPSHOT_KIND, ctx.scope, unique)).map((s) => [s.SnapshotId, s]));
  const missing = unique.filter((id) => !found.has(id));
  if (missing.length) throw notFound('snapshot', missing);
  return unique.map((id) => found.get(id)!);
}

/** The caller's registered images whose block devices use the snapshot (DeleteSnapshot refuses then). */
export async function imagesUsing(ctx: RequestContext, snapshotId: string): Promise<string[]> {
  const images = await ctx.store.list<Image>('image', ctx.scope);
  return images.filter((i) => (i.BlockDeviceMappings ?? []).some((m) => m.Ebs?.SnapshotId === snapshotId)).map((i) => i.ImageId!);
}
