/**
 * CreateSecurityGroup, DescribeSecurityGroups, DeleteSecurityGroup, and how RunInstances and the
 * rule operations find groups: by id in any VPC, by name in the default VPC.
 */
import type {
  CreateSecurityGroupRequest, CreateSecurityGroupResult, DeleteSecurityGroupRequest, DeleteSecurityGroupResult,
  DescribeSecurityGroupsRequest, DescribeSecurityGroupsResult, SecurityGroup,
} from '@aws-sdk/client-ec2';
import { ApiError, invalidParameterValue } from '../../../protocol/errors.js';
import type { Tag } from '../../../store/store.js';
import { newId } from '../../../util/ids.js';
import type { Handler, RequestContext } from '../../context.js';
import { checkIds, notFound } from '../common/errors.js';
import type { FilterFields } from '../common/filters.js';
import { addTags, tagsFromSpecifications } from '../common/tagging.js';
import { ENI_KIND, type NetworkInterfaceRecord } from '../network-interfaces/record.js';
import { saveSecurityGroup } from './builders.js';
import { ensureDefaultVpc, findDefaultVpc } from './default-vpc.js';
import { describe, tagsOrUndefined } from './describe.js';
import { checkLimit } from './limits.js';
import { ipPermissionsOf } from './permissions.js';
import { arn, inVpc, KINDS, requireAll, type SecurityGroupRecord, type StoredRule, type VpcRecord } from './records.js';
import { removeWithTags } from './vpcs.js';

const MAX_NAME = 255;

export function presentGroup(ctx: RequestContext, g: SecurityGroupRecord, tags: readonly Tag[]): SecurityGroup {
  return {
    GroupId: g.GroupId,
    GroupName: g.GroupName,
    Description: g.Description,
    OwnerId: g.OwnerId,
    VpcId: g.VpcId,
    IpPermissions: ipPermissionsOf(g.rules.filter((r) => !r.IsEgress)),
    IpPermissionsEgress: ipPermissionsOf(g.rules.filter((r) => r.IsEgress)),
    SecurityGroupArn: arn(ctx, 'security-group', g.GroupId),
    Tags: tagsOrUndefined(tags),
  };
}

/** The caller's default VPC, or EC2's error for operations that need one. */
export async function defaultVpcRecord(ctx: RequestContext): Promise<VpcRecord> {
  const vpc = await findDefaultVpc(ctx);
  if (!vpc) throw new ApiError('VPCIdNotSpecified', 'No default VPC for this user');
  return vpc;
}

function checkGroupText(param: string, value: string): void {
  if (value.length === 0 || value.length > MAX_NAME) {
    throw invalidParameterValue(`Value (${value}) for parameter ${param} is invalid. It must be 1 to ${MAX_NAME} characters long.`);
  }
  if (!/^[a-zA-Z0-9 ._\-:/()#,@[\]+=&;{}!$*]+$/.test(value)) {
    throw invalidParameterValue(`Value (${value}) for parameter ${param} is invalid. Character sets beyond a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$* are not allowed.`);
  }
}

async function createSecurityGroup(input: CreateSecurityGroupRequest, ctx: RequestContext): Promise<CreateSecurityGroupResult> {
  const name = input.GroupName!;
  checkGroupText('GroupName', name);
  checkGroupText('GroupDescription', input.Description!);
  if (name.toLowerCase().startsWith('sg-')) throw invalidParameterValue('Group names may not be in the format sg-*.');
  if (name === 'default') throw new ApiError('InvalidGroup.Reserved', "The security group 'default' is reserved");
  const tags = tagsFromSpecifications(input.TagSpecifications, ['security-group'], 'security-group');
  await ensureDefaultVpc(ctx);
  const vpc = input.VpcId !== undefined ? (await requireAll<VpcRecord>(ctx, 'vpc', [input.VpcId]))[0]! : await defaultVpcRecord(ctx);
  const siblings = await inVpc<SecurityGroupRecord>(ctx, KINDS.securityGroup, vpc.VpcId);
  if (siblings.some((g) => g.GroupName === name)) {
    throw new ApiError('InvalidGroup.Duplicate', `The security group '${name}' already exists for VPC '${vpc.VpcId}'`);
  }
  checkLimit(ctx, 'securityGroupsPerVpc', siblings.length);
  const all = { IpProtocol: '-1', FromPort: -1, ToPort: -1, IsEgress: true };
  const rules: StoredRule[] = [{ SecurityGroupRuleId: newId('sgr'), ...all, CidrIpv4: '0.0.0.0/0' }];
  if ((vpc.Ipv6CidrBlockAssociationSet ?? []).length > 0) rules.push({ SecurityGroupRuleId: newId('sgr'), ...all, CidrIpv6: '::/0' });
  const group: SecurityGroupRecord = {
    GroupId: newId('sg'), GroupName: name, Description: input.Description!, VpcId: vpc.VpcId, OwnerId: ctx.accountId, rules,
  };
  await saveSecurityGroup(ctx, group);
  await addTags(ctx, group.GroupId, 'security-group', tags);
  return { GroupId: group.GroupId, Tags: tagsOrUndefined(tags), SecurityGroupArn: arn(ctx, 'security-group', group.GroupId) };
}

/** Filters on one direction's permissions (`ip-permission.*` or `egress.ip-permission.*`). */
function permissionFields(prefix: string, egress: boolean, names: ReadonlyMap<string, string>): FilterFields<SecurityGroupRecord> {
  const rules = (g: SecurityGroupRecord) => g.rules.filter((r) => r.IsEgress === egress);
  return {
    [`${prefix}.cidr`]: (g) => rules(g).map((r) => r.CidrIpv4),
    [`${prefix}.from-port`]: (g) => rules(g).map((r) => r.FromPort),
    [`${prefix}.to-port`]: (g) => rules(g).map((r) => r.ToPort),
    [`${prefix}.group-id`]: (g) => rules(g).map((r) => r.ReferencedGroupInfo?.GroupId),
    [`${prefix}.group-name`]: (g) => rules(g).map((r) => names.get(r.ReferencedGroupInfo?.GroupId ?? '')),
    [`${prefix}.ipv6-cidr`]: (g) => rules(g).map((r) => r.CidrIpv6),
    [`${prefix}.prefix-list-id`]: (g) => rules(g).map((r) => r.PrefixListId),
    [`${prefix}.protocol`]: (g) => rules(g).map((r) => r.IpProtocol),
    [`${prefix}.user-id`]: (g) => rules(g).map((r) => r.ReferencedGroupInfo?.UserId),
  };
}

function groupFields(names: ReadonlyMap<string, string>): FilterFields<SecurityGroupRecord> {
  return {
    description: (g) => g.Description,
    'group-id': (g) => g.GroupId,
    'group-name': (g) => g.GroupName,
    'owner-id': (g) => g.OwnerId,
    'vpc-id': (g) => g.VpcId,
    ...permissionFields('ip-permission', false, names),
    ...permissionFields('egress.ip-permission', true, names),
  };
}

/** Groups named in the default VPC; an unknown name is EC2's InvalidGroup.NotFound. */
async function groupsByName(ctx: RequestContext, names: readonly string[]): Promise<SecurityGroupRecord[]> {
  const vpc = await defaultVpcRecord(ctx);
  const groups = await inVpc<SecurityGroupRecord>(ctx, KINDS.securityGroup, vpc.VpcId);
  return names.map((name) => {
    const g = groups.find((x) => x.GroupName === name);
    if (!g) throw new ApiError('InvalidGroup.NotFound', `The security group '${name}' does not exist in default VPC '${vpc.VpcId}'`);
    return g;
  });
}

async function describeSecurityGroups(input: DescribeSecurityGroupsRequest, ctx: RequestContext): Promise<DescribeSecurityGroupsResult> {
  await ensureDefaultVpc(ctx);
  const names = new Map((await ctx.store.list<SecurityGroupRecord>(KINDS.securityGroup, ctx.scope)).map((g) => [g.GroupId, g.GroupName]));
  const fields = groupFields(names);
  const ids = [...(input.GroupIds ?? [])];
  if (input.GroupNames?.length) ids.push(...(await groupsByName(ctx, input.GroupNames)).map((g) => g.GroupId));
  const { items, nextToken } = await describe<SecurityGroupRecord>(ctx, 'security-group', (g) => g.GroupId, fields, {
    ...input, ids,
  });
  return { SecurityGroups: items.map(({ record, tags }) => presentGroup(ctx, record, tags)), NextToken: nextToken };
}

/** The group a request names by GroupId, or by GroupName in the default VPC. */
export async function resolveGroup(ctx: RequestContext, groupId: string | undefined, groupName: string | undefined): Promise<SecurityGroupRecord> {
  await ensureDefaultVpc(ctx);
  if (groupId !== undefined) return (await requireAll<SecurityGroupRecord>(ctx, 'security-group', [groupId]))[0]!;
  if (groupName !== undefined) return (await groupsByName(ctx, [groupName]))[0]!;
  throw new ApiError('MissingParameter', 'The request must contain the parameter groupName or groupId');
}

const dependent = (id: string) => new ApiError('DependencyViolation', `resource ${id} has a dependent object`);

async function deleteSecurityGroup(input: DeleteSecurityGroupRequest, ctx: RequestContext): Promise<DeleteSecurityGroupResult> {
  const group = await resolveGroup(ctx, input.GroupId, input.GroupName);
  const id = group.GroupId;
  if (group.GroupName === 'default') {
    throw new ApiError('CannotDelete', `the specified group: "${id}" name: "default" cannot be deleted by a user`);
  }
  const others = (await ctx.store.list<SecurityGroupRecord>(KINDS.securityGroup, ctx.scope)).filter((g) => g.GroupId !== id);
  if (others.some((g) => g.rules.some((r) => r.ReferencedGroupInfo?.GroupId === id))) throw dependent(id);
  const members = await ctx.store.listHolding<NetworkInterfaceRecord>(ENI_KIND, ctx.scope, id);
  if (members.some((e) => e.Groups.some((g) => g.GroupId === id))) throw dependent(id);
  for (const r of group.rules) await removeWithTags(ctx, KINDS.securityGroupRule, r.SecurityGroupRuleId);
  await removeWithTags(ctx, KINDS.securityGroup, id);
  return { Return: true, GroupId: id };
}

/**
 * The groups an instance's interface gets: ids of groups in the subnet's VPC, names of groups in the
 * default VPC, the VPC's default group when none is given; more than the per-interface limit is an error.
 */
export async function launchGroups(
  ctx: RequestContext, vpcId: string, ids: readonly string[] | undefined, names: readonly string[] | undefined,
): Promise<GroupRef[]> {
  checkIds('security-group', ids);
  const chosen: SecurityGroupRecord[] = [];
  if (ids?.length) {
    for (const g of await requireAll<SecurityGroupRecord>(ctx, 'security-group', ids)) {
      if (g.VpcId !== vpcId) {
        throw invalidParameterValue(`Security group ${g.GroupId} and subnet belong to different networks.`);
      }
      chosen.push(g);
    }
  }
  if (names?.length) {
    const defaultVpc = await defaultVpcRecord(ctx);
    if (defaultVpc.VpcId !== vpcId) {
      throw invalidParameterValue('Security groups in a nondefault VPC must be given by id (SecurityGroupIds), not by name.');
    }
    chosen.push(...(await groupsByName(ctx, names)));
  }
  const unique = uniqueRefs(chosen);
  checkLimit(ctx, 'securityGroupsPerInterface', unique.length, 0);
  if (unique.length > 0) return unique;
  const fallback = (await ctx.store.listShared<SecurityGroupRecord>(KINDS.securityGroup, ctx.scope))
    .find((g) => g.VpcId === vpcId && g.GroupName === 'default');
  if (!fallback) throw notFound('security-group', ['default']);
  return uniqueRefs([fallback]);
}

/**
 * The groups an existing interface in `vpcId` is given instead of its own (ModifyInstanceAttribute's
 * groupSet): by id only, each a group of that VPC, no more than the per-interface limit.
 */
export async function replacementGroups(ctx: RequestContext, vpcId: string, ids: readonly string[]): Promise<GroupRef[]> {
  const groups = await requireAll<SecurityGroupRecord>(ctx, 'security-group', ids);
  const foreign = groups.find((g) => g.VpcId !== vpcId);
  if (foreign) throw new ApiError('InvalidGroup.NotFound', `The security group '${foreign.GroupId}' does not exist in VPC '${vpcId}'`);
  const unique = uniqueRefs(groups);
  checkLimit(ctx, 'securityGroupsPerInterface', unique.length, 0);
  return unique;
}

/** A group as an instance's interface records it. */
export interface GroupRef {
  GroupId: string;
  GroupName: string;
}

function uniqueRefs(groups: readonly SecurityGroupRecord[]): GroupRef[] {
  const byId = new Map(groups.map((g) => [g.GroupId, { GroupId: g.GroupId, GroupName: g.GroupName }]));
  return [...byId.values()];
}

export const handlers: Record<string, Handler> = {
  CreateSecurityGroup: createSecurityGroup,
  DescribeSecurityGroups: describeSecurityGroups,
  DeleteSecurityGroup: deleteSecurityGroup,
};
