/** CreateVolume, DescribeVolumes, DescribeVolumeStatus, DeleteVolume. */
import type {
  CreateVolumeRequest, DeleteVolumeRequest, DescribeVolumesRequest, DescribeVolumesResult, DescribeVolumeStatusRequest,
  DescribeVolumeStatusResult, Volume, VolumeStatusItem,
} from '@aws-sdk/client-ec2';
import { regionInfo } from '../../../catalog/regions.js';
import { ApiError, invalidParameterValue } from '../../../protocol/errors.js';
import type { Tag } from '../../../store/store.js';
import { newId } from '../../../util/ids.js';
import type { RequestContext } from '../../context.js';
import { applyFilters, applyRecordFilters, checkFilterNames, type FilterFields } from '../common/filters.js';
import { amongCandidates, tagCandidates } from '../common/tag-candidates.js';
import { paginate, presentedPage, sortByKey } from '../common/pagination.js';
import { addTags, tagSets, tagsFromSpecifications } from '../common/tagging.js';
import { INSTANCE_KIND, type InstanceRecord } from '../instances/record.js';
import { findSnapshot, snapshotProgress } from '../snapshots/record.js';
import {
  attachmentsOf, CREATING_MS, loadVolume, loadVolumes, saveVolume, settled, statesFrom, VOLUME_KIND, volumeState, type VolumeRecord,
} from './record.js';
import { resolveSpec } from './types.js';
import { defaultKey, ebsDefaults } from './encryption-defaults.js';
import { storedTime } from '../../../util/stored-time.js';

const DEFAULT_TYPE = 'gp2';

function checkZone(ctx: RequestContext, zone: string | undefined): string {
  const zones = regionInfo(ctx.region)?.zones ?? [];
  if (!zone || !zones.some((z) => z.name === zone)) {
    throw invalidParameterValue(`Invalid availability zone: [${zone ?? ''}]`);
  }
  return zone;
}

export async function createVolume(input: CreateVolumeRequest, ctx: RequestContext): Promise<Volume> {
  const zone = checkZone(ctx, input.AvailabilityZone);
  const tags = tagsFromSpecifications(input.TagSpecifications, ['volume'], 'volume');
  const snap = input.SnapshotId ? await findSnapshot(ctx, input.SnapshotId) : undefined;
  if (snap && snapshotProgress(snap.snap, ctx.now()).State !== 'completed') {
    throw new ApiError('IncorrectState', `Snapshot is in invalid state - ${snapshotProgress(snap.snap, ctx.now()).State}`);
  }
  if (input.Size === undefined && !snap) throw new ApiError('MissingParameter', 'The request must contain the parameter size/snapshot');
  const size = input.Size ?? snap!.snap.VolumeSize;
  if (snap && size < snap.snap.VolumeSize) {
    throw invalidParameterValue(
      `Volume of size ${size}GiB is smaller than snapshot '${snap.snap.SnapshotId}', expect size >= ${snap.snap.VolumeSize}GiB`,
    );
  }
  const spec = resolveSpec({
    VolumeType: input.VolumeType ?? DEFAULT_TYPE, Size: size, Iops: input.Iops, Throughput: input.Throughput,
    MultiAttachEnabled: input.MultiAttachEnabled,
  });
  const now = ctx.now();
  const byDefault = (await ebsDefaults(ctx.store, ctx.scope)).encryptionByDefault;
  const encrypted = byDefault || (input.Encrypted ?? false) || (snap?.snap.Encrypted ?? false) || input.KmsKeyId !== undefined;
  const vol: VolumeRecord = {
    VolumeId: newId('vol'),
    OwnerId: ctx.accountId,
    AvailabilityZone: zone,
    CreateTime: now.toISOString(),
    availableAt: new Date(now.getTime() + CREATING_MS).toISOString(),
    ...spec,
    SnapshotId: snap?.snap.SnapshotId,
    Encrypted: encrypted,
    KmsKeyId: encrypted ? (input.KmsKeyId ?? snap?.snap.KmsKeyId ?? (await defaultKey(ctx))) : undefined,
    Attachments: [],
  };
  await saveVolume(ctx.store, ctx.scope, vol);
  await addTags(ctx, vol.VolumeId, 'volume', tags);
  return presentVolume(ctx, vol, tags, new Map());
}

/** The ARN of the account's AWS-managed EBS key (aws/ebs), which EC2 uses when none is named. */
export { managedKey as defaultKmsKey } from './encryption-defaults.js';

export function presentVolume(ctx: RequestContext, vol: VolumeRecord, tags: readonly Tag[] | undefined, instances: Map<string, InstanceRecord>): Volume {
  const now = ctx.now();
  return {
    VolumeId: vol.VolumeId,
    Size: vol.Size,
    SnapshotId: vol.SnapshotId ?? '',
    AvailabilityZone: vol.AvailabilityZone,
    State: volumeState(vol, now),
    CreateTime: storedTime(vol.CreateTime),
    Attachments: attachmentsOf(vol, now).map((a) => ({
      AttachTime: storedTime(a.AttachTime),
      Device: a.Device,
      InstanceId: a.InstanceId,
      State: a.State,
      VolumeId: vol.VolumeId,
      DeleteOnTermination: deleteOnTermination(instances.get(a.InstanceId), vol.VolumeId),
    })),
    Encrypted: vol.Encrypted,
    KmsKeyId: vol.KmsKeyId,
    VolumeType: vol.VolumeType as Volume['VolumeType'],
    Iops: vol.Iops,
    Throughput: vol.Throughput,
    MultiAttachEnabled: vol.MultiAttachEnabled,
    Tags: tags && tags.length ? [...tags] : undefined,
  };
}

/** The instance's block device mapping is where DeleteOnTermination lives (ModifyInstanceAttribute changes it there). */
function deleteOnTermination(inst: InstanceRecord | undefined, volumeId: string): boolean {
  return inst?.BlockDeviceMappings.find((d) => d.VolumeId === volumeId)?.DeleteOnTermination ?? false;
}

/** The instances the volumes are attached to, by id. */
export async function attachedInstances(ctx: RequestContext, vols: readonly VolumeRecord[]): Promise<Map<string, InstanceRecord>> {
  const ids = [...new Set(vols.flatMap((v) => v.Attachments.map((a) => a.InstanceId)))];
  const recs = await ctx.store.getMany<InstanceRecord>(INSTANCE_KIND, ctx.scope, ids);
  return new Map(recs.map((r) => [r.InstanceId, r]));
}

interface Described {
  vol: VolumeRecord;
  view: Volume;
  tags: Tag[] | undefined;
}

const volumeFields: FilterFields<Described> = {
  'volume-id': (d) => d.view.VolumeId,
  'volume-type': (d) => d.view.VolumeType,
  size: (d) => d.view.Size,
  status: (d) => d.view.State,
  'availability-zone': (d) => d.view.AvailabilityZone,
  'create-time': (d) => d.vol.CreateTime,
  'attachment.instance-id': (d) => d.view.Attachments?.map((a) => a.InstanceId),
  'attachment.device': (d) => d.view.Attachments?.map((a) => a.Device),
  'attachment.status': (d) => d.view.Attachments?.map((a) => a.State),
  'attachment.attach-time': (d) => d.view.Attachments?.map((a) => a.AttachTime?.toISOString()),
  'attachment.delete-on-termination': (d) => d.view.Attachments?.map((a) => a.DeleteOnTermination),
  encrypted: (d) => d.view.Encrypted,
  'snapshot-id': (d) => d.view.SnapshotId,
  'multi-attach-enabled': (d) => d.view.MultiAttachEnabled,
  iops: (d) => d.view.Iops,
  throughput: (d) => d.view.Throughput,
};

/**
 * Filters the settled record answers before anything is presented (see applyRecordFilters and
 * presentVolume): it holds every attachment presented, and perhaps one whose detach ends as the
 * answer is made; the status is each one the volume may show by the time it is presented.
 */
const recordFields = (now: Date): FilterFields<VolumeRecord> => ({
  'attachment.device': (v) => v.Attachments.map((a) => a.Device),
  'attachment.instance-id': (v) => v.Attachments.map((a) => a.InstanceId),
  'availability-zone': (v) => v.AvailabilityZone,
  'create-time': (v) => v.CreateTime,
  encrypted: (v) => v.Encrypted,
  iops: (v) => v.Iops,
  'multi-attach-enabled': (v) => v.MultiAttachEnabled,
  size: (v) => v.Size,
  'snapshot-id': (v) => v.SnapshotId ?? '',
  status: (v) => statesFrom(v, now),
  throughput: (v) => v.Throughput,
  'volume-id': (v) => v.VolumeId,
  'volume-type': (v) => v.VolumeType,
});

/**
 * The caller's volumes (those named, or all), settled, that the tags index and the record filters
 * keep, in id order.
 */
async function volumeRecords(ctx: RequestContext, ids: readonly string[] | undefined, filters: DescribeVolumesRequest['Filters']) {
  const now = ctx.now();
  const stored = ids && ids.length
    ? await loadVolumes(ctx, ids)
    : (await ctx.store.listShared<VolumeRecord>(VOLUME_KIND, ctx.scope)).map((v) => settled(v, now));
  const candidates = amongCandidates(stored, await tagCandidates(ctx.store, ctx.scope, filters), (v) => v.VolumeId);
  return sortByKey(applyRecordFilters(candidates, filters, recordFields(now)), (v) => v.VolumeId);
}

/** Volumes presented, and the filters applied to what is presented. */
async function presentedVolumes(ctx: RequestContext, vols: readonly VolumeRecord[], filters: DescribeVolumesRequest['Filters']) {
  const [tags, instances] = await Promise.all([tagSets(ctx, vols.map((v) => v.VolumeId)), attachedInstances(ctx, vols)]);
  const described = vols.map((vol): Described => {
    const t = tags.get(vol.VolumeId);
    return { vol, tags: t, view: presentVolume(ctx, vol, t, instances) };
  });
  return applyFilters(described, filters, volumeFields, (d) => d.tags);
}

export async function describeVolumes(input: DescribeVolumesRequest, ctx: RequestContext): Promise<DescribeVolumesResult> {
  // Before MaxResults, as when the whole answer was filtered before it was paged.
  checkFilterNames(input.Filters, volumeFields as FilterFields<never>);
  const page = await presentedPage(
    await volumeRecords(ctx, input.VolumeIds, input.Filters),
    { maxResults: input.MaxResults, nextToken: input.NextToken, min: 5, max: 500, key: (v) => v.VolumeId },
    (vols) => presentedVolumes(ctx, vols, input.Filters),
  );
  return { Volumes: page.items.map((d) => d.view), NextToken: page.nextToken };
}

const statusFields: FilterFields<VolumeStatusItem> = {
  'availability-zone': (s) => s.AvailabilityZone,
  'volume-status.status': (s) => s.VolumeStatus?.Status,
  'volume-status.details-name': (s) => s.VolumeStatus?.Details?.map((d) => d.Name),
  'volume-status.details-status': (s) => s.VolumeStatus?.Details?.map((d) => d.Status),
  'action.code': (s) => s.Actions?.map((a) => a.Code),
  'event.event-type': (s) => s.Events?.map((e) => e.EventType),
};

/** Simulated volumes never fail: I/O is enabled and every check passes. */
export async function describeVolumeStatus(input: DescribeVolumeStatusRequest, ctx: RequestContext): Promise<DescribeVolumeStatusResult> {
  const vols = await volumeRecords(ctx, input.VolumeIds, undefined);
  const items: VolumeStatusItem[] = vols.map((vol) => ({
    VolumeId: vol.VolumeId,
    AvailabilityZone: vol.AvailabilityZone,
    VolumeStatus: {
      Status: 'ok',
      Details: [
        { Name: 'io-enabled', Status: 'passed' },
        { Name: 'io-performance', Status: vol.VolumeType.startsWith('io') ? 'normal' : 'not-applicable' },
      ],
    },
    Actions: [],
    Events: [],
  }));
  const matched = applyFilters(items, input.Filters, statusFields);
  const page = paginate(matched, { maxResults: input.MaxResults, nextToken: input.NextToken, min: 5, max: 1000, key: (s) => s.VolumeId! });
  return { VolumeStatuses: page.items, NextToken: page.nextToken };
}

export async function deleteVolume(input: DeleteVolumeRequest, ctx: RequestContext): Promise<object> {
  const vol = await loadVolume(ctx, input.VolumeId!);
  const attached = attachmentsOf(vol, ctx.now());
  if (attached.length > 0) {
    throw new ApiError('VolumeInUse', `Volume ${vol.VolumeId} is currently attached to ${attached.map((a) => a.InstanceId).join(', ')}`);
  }
  if (volumeState(vol, ctx.now()) === 'creating') throw new ApiError('IncorrectState', `The volume '${vol.VolumeId}' is 'creating'.`);
  await ctx.store.remove(VOLUME_KIND, ctx.scope, vol.VolumeId);
  await ctx.store.deleteAllTags(ctx.scope, vol.VolumeId);
  return {};
}
