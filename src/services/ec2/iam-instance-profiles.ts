/**
 * IAM instance profiles on instances: AssociateIamInstanceProfile, ReplaceIamInstanceProfileAssociation,
 * DisassociateIamInstanceProfile, DescribeIamInstanceProfileAssociations, and the profile that
 * RunInstances names. One association per instance; the instance record's IamInstanceProfile
 * mirrors it (DescribeInstances, filters, the role credentials read it from there).
 */
import type {
  AssociateIamInstanceProfileRequest, AssociateIamInstanceProfileResult, DescribeIamInstanceProfileAssociationsRequest,
  DescribeIamInstanceProfileAssociationsResult, DisassociateIamInstanceProfileRequest, DisassociateIamInstanceProfileResult,
  IamInstanceProfileAssociation, IamInstanceProfileAssociationState, IamInstanceProfileSpecification,
  ReplaceIamInstanceProfileAssociationRequest, ReplaceIamInstanceProfileAssociationResult,
} from '@aws-sdk/client-ec2';
import { ApiError, invalidParameterValue, missingParameter } from '../../protocol/errors.js';
import { isWellFormedId, newId } from '../../util/ids.js';
import { storedTime } from '../../util/stored-time.js';
import type { Handler, RequestContext } from '../context.js';
import { getInstanceProfile, getInstanceProfileByArn } from '../iam/records.js';
import { applyFilters, type FilterFields } from './common/filters.js';
import { paginate } from './common/pagination.js';
import { isVisible, loadInstance } from './instances/lookup.js';
import { INSTANCE_KIND, saveInstance, type InstanceRecord } from './instances/record.js';

const ASSOCIATION_KIND = 'iam-instance-profile-association';
const ASSOCIATION_PREFIX = 'iip-assoc';

interface AssociationRecord {
  AssociationId: string;
  InstanceId: string;
  IamInstanceProfile: { Arn: string; Id: string };
  Timestamp: string;
}

const associationNotFound = (id: string) => new ApiError('InvalidAssociationID.NotFound', `The association ID '${id}' does not exist`);

/** The account's instance profile that a specification names (by ARN or name), as EC2 records it. */
export async function resolveInstanceProfile(ctx: RequestContext, spec: IamInstanceProfileSpecification): Promise<{ Arn: string; Id: string }> {
  if (!spec.Arn && !spec.Name) throw missingParameter('iamInstanceProfile.name');
  const profile = spec.Arn
    ? await getInstanceProfileByArn(ctx.store, ctx.accountId, spec.Arn)
    : await getInstanceProfile(ctx.store, ctx.accountId, spec.Name!);
  if (!profile && spec.Arn) throw invalidParameterValue(`Value (${spec.Arn}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN`);
  if (!profile || (spec.Name && spec.Name.toLowerCase() !== profile.InstanceProfileName.toLowerCase())) {
    throw invalidParameterValue(`Value (${spec.Name}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name`);
  }
  return { Arn: profile.Arn, Id: profile.InstanceProfileId };
}

/** Records the association that a launch with an instance profile makes (the instance is saved already). */
export async function recordLaunchAssociation(ctx: RequestContext, rec: InstanceRecord): Promise<void> {
  if (!rec.IamInstanceProfile) return;
  await putAssociation(ctx, { AssociationId: newId(ASSOCIATION_PREFIX), InstanceId: rec.InstanceId, IamInstanceProfile: rec.IamInstanceProfile,
    Timestamp: rec.LaunchTime });
}

async function putAssociation(ctx: RequestContext, a: AssociationRecord): Promise<void> {
  await ctx.store.put(ASSOCIATION_KIND, ctx.scope, a.AssociationId, a);
}

/** The instance's record with its profile set (or cleared), saved. */
async function setInstanceProfile(ctx: RequestContext, instanceId: string, profile: AssociationRecord['IamInstanceProfile'] | undefined) {
  const inst = await ctx.store.get<InstanceRecord>(INSTANCE_KIND, ctx.scope, instanceId);
  if (inst) await saveInstance(ctx.store, ctx.scope, { ...inst, IamInstanceProfile: profile });
  ctx.plane.kick();
}

async function loadAssociation(ctx: RequestContext, id: string): Promise<AssociationRecord> {
  if (!isWellFormedId(id, ASSOCIATION_PREFIX)) throw associationNotFound(id);
  const a = await ctx.store.get<AssociationRecord>(ASSOCIATION_KIND, ctx.scope, id);
  if (!a || !(await instanceHolds(ctx, a))) throw associationNotFound(id);
  return a;
}

/** An association lasts while its instance is there and not terminated. */
async function instanceHolds(ctx: RequestContext, a: AssociationRecord): Promise<boolean> {
  const inst = await ctx.store.get<InstanceRecord>(INSTANCE_KIND, ctx.scope, a.InstanceId);
  return inst !== undefined && isVisible(ctx, inst) && inst.state !== 'terminated';
}

const present = (a: AssociationRecord, State: IamInstanceProfileAssociationState): IamInstanceProfileAssociation => ({
  AssociationId: a.AssociationId,
  InstanceId: a.InstanceId,
  IamInstanceProfile: a.IamInstanceProfile,
  State,
  Timestamp: storedTime(a.Timestamp),
});

const associate: Handler = async (input: AssociateIamInstanceProfileRequest, ctx): Promise<AssociateIamInstanceProfileResult> => {
  const inst = await loadInstance(ctx, input.InstanceId!);
  if (inst.state === 'shutting-down' || inst.state === 'terminated') {
    throw new ApiError('IncorrectInstanceState', `The instance '${inst.InstanceId}' is not in a state from which it can be associated.`);
  }
  const profile = await resolveInstanceProfile(ctx, input.IamInstanceProfile!);
  if (inst.IamInstanceProfile) throw new ApiError('IncorrectState', `There is an existing association for instance ${inst.InstanceId}`);
  const a: AssociationRecord = { AssociationId: newId(ASSOCIATION_PREFIX), InstanceId: inst.InstanceId, IamInstanceProfile: profile,
    Timestamp: ctx.now().toISOString() };
  await putAssociation(ctx, a);
  await setInstanceProfile(ctx, inst.InstanceId, profile);
  return { IamInstanceProfileAssociation: present(a, 'associating') };
};

const replace: Handler = async (input: ReplaceIamInstanceProfileAssociationRequest, ctx): Promise<ReplaceIamInstanceProfileAssociationResult> => {
  const old = await loadAssociation(ctx, input.AssociationId!);
  const profile = await resolveInstanceProfile(ctx, input.IamInstanceProfile!);
  const a: AssociationRecord = { AssociationId: newId(ASSOCIATION_PREFIX), InstanceId: old.InstanceId, IamInstanceProfile: profile,
    Timestamp: ctx.now().toISOString() };
  await ctx.store.remove(ASSOCIATION_KIND, ctx.scope, old.AssociationId);
  await putAssociation(ctx, a);
  await setInstanceProfile(ctx, a.InstanceId, profile);
  return { IamInstanceProfileAssociation: present(a, 'associating') };
};

const disassociate: Handler = async (input: DisassociateIamInstanceProfileRequest, ctx): Promise<DisassociateIamInstanceProfileResult> => {
  const a = await loadAssociation(ctx, input.AssociationId!);
  await ctx.store.remove(ASSOCIATION_KIND, ctx.scope, a.AssociationId);
  await setInstanceProfile(ctx, a.InstanceId, undefined);
  return { IamInstanceProfileAssociation: present(a, 'disassociating') };
};

const fields: FilterFields<AssociationRecord> = {
  'instance-id': (a) => a.InstanceId,
  state: () => 'associated',
};

const describe: Handler = async (input: DescribeIamInstanceProfileAssociationsRequest, ctx): Promise<DescribeIamInstanceProfileAssociationsResult> => {
  if (input.AssociationIds?.length && input.MaxResults !== undefined) {
    throw new ApiError('InvalidParameterCombination', 'The parameter AssociationIds cannot be used with the parameter MaxResults');
  }
  let all: AssociationRecord[];
  if (input.AssociationIds?.length) {
    all = [];
    for (const id of new Set(input.AssociationIds)) all.push(await loadAssociation(ctx, id));
    all.sort((x, y) => (x.AssociationId < y.AssociationId ? -1 : 1));
  } else {
    all = [];
    for (const a of await ctx.store.list<AssociationRecord>(ASSOCIATION_KIND, ctx.scope)) if (await instanceHolds(ctx, a)) all.push(a);
  }
  const matched = applyFilters(all, input.Filters, fields);
  const page = paginate(matched, { maxResults: input.MaxResults, nextToken: input.NextToken, min: 5, max: 1000, key: (a) => a.AssociationId });
  return { IamInstanceProfileAssociations: page.items.map((a) => present(a, 'associated')), NextToken: page.nextToken };
};

export const handlers: Record<string, Handler> = {
  AssociateIamInstanceProfile: associate,
  ReplaceIamInstanceProfileAssociation: replace,
  DisassociateIamInstanceProfile: disassociate,
  DescribeIamInstanceProfileAssociations: describe,
};
