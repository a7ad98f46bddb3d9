/**
 * ModifySnapshotAttribute, DescribeSnapshotAttribute, ResetSnapshotAttribute: who may create
 * volumes from a snapshot (createVolumePermission: account ids, and the group `all` for public).
 */
import type {
  CreateVolumePermission, DescribeSnapshotAttributeRequest, DescribeSnapshotAttributeResult, ModifySnapshotAttributeRequest,
  ResetSnapshotAttributeRequest,
} from '@aws-sdk/client-ec2';
import { ApiError, invalidParameterCombination, invalidParameterValue } from '../../../protocol/errors.js';
import type { RequestContext } from '../../context.js';
import { loadOwnSnapshots, SNAPSHOT_KIND, type SnapshotRecord } from './record.js';

const ATTRIBUTES = ['createVolumePermission', 'productCodes'];

function checkAttribute(name: string | undefined): string {
  if (!name || !ATTRIBUTES.includes(name)) {
    throw invalidParameterValue(`Value (${name ?? ''}) for parameter attribute is invalid. Valid values: ${ATTRIBUTES.join(', ')}.`);
  }
  return name;
}

const permissionsOf = (s: SnapshotRecord): CreateVolumePermission[] => [
  ...(s.createVolumePermission.public ? [{ Group: 'all' as const }] : []),
  ...s.createVolumePermission.userIds.map((UserId) => ({ UserId })),
];

function checkPermission(p: CreateVolumePermission): void {
  if (p.Group !== undefined && p.Group !== 'all') throw invalidParameterValue(`Value (${p.Group}) for parameter group is invalid.`);
  if (p.UserId !== undefined && !/^\d{12}$/.test(p.UserId)) throw invalidParameterValue(`Invalid value '${p.UserId}' for userId`);
}

export async function modifySnapshotAttribute(input: ModifySnapshotAttributeRequest, ctx: RequestContext): Promise<object> {
  const [snap] = await loadOwnSnapshots(ctx, [input.SnapshotId!]);
  const attribute = checkAttribute(input.Attribute ?? 'createVolumePermission');
  if (attribute !== 'createVolumePermission') {
    throw new ApiError('InvalidParameterValue', 'Only the createVolumePermission attribute of a snapshot can be modified.');
  }
  const add: CreateVolumePermission[] = [...(input.CreateVolumePermission?.Add ?? [])];
  const remove: CreateVolumePermission[] = [...(input.CreateVolumePermission?.Remove ?? [])];
  // The flat form: OperationType with UserIds and GroupNames.
  const flat = [...(input.UserIds ?? []).map((UserId) => ({ UserId })), ...(input.GroupNames ?? []).map((g) => ({ Group: g as 'all' }))];
  if (flat.length) {
    if (input.OperationType === 'add') add.push(...flat);
    else if (input.OperationType === 'remove') remove.push(...flat);
    else throw new ApiError('MissingParameter', 'The request must contain the parameter operationType');
  }
  if (add.length === 0 && remove.length === 0) {
    throw new ApiError('MissingParameter', 'The request must contain the parameter createVolumePermission');
  }
  for (const p of [...add, ...remove]) checkPermission(p);
  const perm = snap!.createVolumePermission;
  if (snap!.Encrypted && add.some((p) => p.Group === 'all')) {
    throw invalidParameterCombination(`Encrypted snapshots with EBS default key cannot be shared`);
  }
  const users = new Set(perm.userIds);
  for (const p of add) {
    if (p.Group === 'all') perm.public = true;
    if (p.UserId && p.UserId !== snap!.OwnerId) users.add(p.UserId);
  }
  for (const p of remove) {
    if (p.Group === 'all') perm.public = false;
    if (p.UserId) users.delete(p.UserId);
  }
  perm.userIds = [...users].sort();
  await ctx.store.put(SNAPSHOT_KIND, ctx.scope, snap!.SnapshotId, snap);
  return {};
}

export async function describeSnapshotAttribute(
  input: DescribeSnapshotAttributeRequest,
  ctx: RequestContext,
): Promise<DescribeSnapshotAttributeResult> {
  const attribute = checkAttribute(input.Attribute);
  const [snap] = await loadOwnSnapshots(ctx, [input.SnapshotId!]);
  if (attribute === 'productCodes') return { SnapshotId: snap!.SnapshotId, ProductCodes: [] };
  return { SnapshotId: snap!.SnapshotId, CreateVolumePermissions: permissionsOf(snap!) };
}

export async function resetSnapshotAttribute(input: ResetSnapshotAttributeRequest, ctx: RequestContext): Promise<object> {
  const attribute = checkAttribute(input.Attribute);
  const [snap] = await loadOwnSnapshots(ctx, [input.SnapshotId!]);
  if (attribute === 'createVolumePermission') {
    snap!.createVolumePermission = { userIds: [], public: false };
    await ctx.store.put(SNAPSHOT_KIND, ctx.scope, snap!.SnapshotId, snap);
  }
  return {};
}
