/**
 * ModifyVolume and DescribeVolumesModifications. The new size, type, IOPS and throughput hold at
 * once (with CreateVolume's rules); the modification then goes modifying → optimizing → completed.
 */
import type {
  DescribeVolumesModificationsRequest, DescribeVolumesModificationsResult, ModifyVolumeRequest, ModifyVolumeResult, VolumeModification,
} from '@aws-sdk/client-ec2';
import { ApiError, invalidParameterValue } from '../../../protocol/errors.js';
import type { RequestContext } from '../../context.js';
import { applyFilters, type FilterFields } from '../common/filters.js';
import { paginate, sortByKey } from '../common/pagination.js';
import { loadVolume, loadVolumes, modificationProgress, saveVolume, VOLUME_KIND, volumeState, type VolumeRecord } from './record.js';
import { resolveSpec, typeRules } from './types.js';
import { storedTime } from '../../../util/stored-time.js';

export async function modifyVolume(input: ModifyVolumeRequest, ctx: RequestContext): Promise<ModifyVolumeResult> {
  const vol = await loadVolume(ctx, input.VolumeId!);
  const now = ctx.now();
  if (volumeState(vol, now) === 'creating') throw new ApiError('IncorrectState', `The volume '${vol.VolumeId}' is 'creating'.`);
  if (vol.modification && modificationProgress(vol.modification, now).state !== 'completed') {
    throw new ApiError('IncorrectModificationState', `Volume ${vol.VolumeId} is already being modified.`);
  }
  const type = input.VolumeType ?? vol.VolumeType;
  const size = input.Size ?? vol.Size;
  if (size < vol.Size) throw invalidParameterValue(`New size cannot be smaller than existing size`);
  const typeChanged = type !== vol.VolumeType;
  const rules = typeRules(type);
  // Carried-over IOPS and throughput stay only where the new type takes them; gp3 gets its defaults.
  const keepIops = !typeChanged || (rules.iops !== undefined && vol.VolumeType !== 'gp2');
  const spec = resolveSpec({
    VolumeType: type,
    Size: size,
    Iops: input.Iops ?? (keepIops && rules.iops ? vol.Iops : undefined),
    Throughput: input.Throughput ?? (!typeChanged && rules.throughput ? vol.Throughput : undefined),
    MultiAttachEnabled: input.MultiAttachEnabled ?? (rules.multiAttach ? vol.MultiAttachEnabled : false),
  });
  const unchanged = spec.Size === vol.Size && spec.VolumeType === vol.VolumeType && spec.Iops === vol.Iops &&
    spec.Throughput === vol.Throughput && spec.MultiAttachEnabled === vol.MultiAttachEnabled;
  if (unchanged) {
    throw invalidParameterValue(`New config must be different than the current config for volume ${vol.VolumeId}.`);
  }
  vol.modification = {
    StartTime: now.toISOString(),
    OriginalSize: vol.Size, OriginalVolumeType: vol.VolumeType, OriginalIops: vol.Iops, OriginalThroughput: vol.Throughput,
    OriginalMultiAttachEnabled: vol.MultiAttachEnabled,
    TargetSize: spec.Size, TargetVolumeType: spec.VolumeType, TargetIops: spec.Iops, TargetThroughput: spec.Throughput,
    TargetMultiAttachEnabled: spec.MultiAttachEnabled,
  };
  Object.assign(vol, spec);
  await saveVolume(ctx.store, ctx.scope, vol);
  return { VolumeModification: presentModification(vol, now) };
}

function presentModification(vol: VolumeRecord, now: Date): VolumeModification {
  const m = vol.modification!;
  const p = modificationProgress(m, now);
  return {
    VolumeId: vol.VolumeId,
    ModificationState: p.state,
    StartTime: storedTime(m.StartTime),
    EndTime: p.endTime,
    Progress: p.progress,
    OriginalSize: m.OriginalSize,
    OriginalVolumeType: m.OriginalVolumeType as VolumeModification['OriginalVolumeType'],
    OriginalIops: m.OriginalIops,
    OriginalThroughput: m.OriginalThroughput,
    OriginalMultiAttachEnabled: m.OriginalMultiAttachEnabled,
    TargetSize: m.TargetSize,
    TargetVolumeType: m.TargetVolumeType as VolumeModification['TargetVolumeType'],
    TargetIops: m.TargetIops,
    TargetThroughput: m.TargetThroughput,
    TargetMultiAttachEnabled: m.TargetMultiAttachEnabled,
  };
}

const modificationFields: FilterFields<VolumeModification> = {
  'volume-id': (m) => m.VolumeId,
  'modification-state': (m) => m.ModificationState,
  'original-size': (m) => m.OriginalSize,
  'original-volume-type': (m) => m.OriginalVolumeType,
  'original-iops': (m) => m.OriginalIops,
  'original-multi-attach-enabled': (m) => m.OriginalMultiAttachEnabled,
  'target-size': (m) => m.TargetSize,
  'target-volume-type': (m) => m.TargetVolumeType,
  'target-iops': (m) => m.TargetIops,
  'target-multi-attach-enabled': (m) => m.TargetMultiAttachEnabled,
  'start-time': (m) => m.StartTime?.toISOString(),
};

export async function describeVolumesModifications(
  input: DescribeVolumesModificationsRequest,
  ctx: RequestContext,
): Promise<DescribeVolumesModificationsResult> {
  // A modification is presented from the record's own: the region's volumes are only read.
  const vols: readonly VolumeRecord[] = input.VolumeIds?.length
    ? await loadVolumes(ctx, input.VolumeIds)
    : await ctx.store.listShared<VolumeRecord>(VOLUME_KIND, ctx.scope);
  if (input.VolumeIds?.length) {
    const unmodified = vols.filter((v) => !v.modification).map((v) => v.VolumeId);
    if (unmodified.length) {
      throw new ApiError('InvalidVolumeModification.NotFound', `Modification for volume '${unmodified[0]}' does not exist.`);
    }
  }
  const mods = sortByKey(vols.filter((v) => v.modification), (v) => v.VolumeId).map((v) => presentModification(v, ctx.now()));
  const matched = applyFilters(mods, input.Filters, modificationFields);
  const page = paginate(matched, { maxResults: input.MaxResults, nextToken: input.NextToken, min: 1, max: 500, key: (m) => m.VolumeId! });
  return { VolumesModifications: page.items, NextToken: page.nextToken };
}
