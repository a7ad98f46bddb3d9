/**
 * Security group rules: Authorize/RevokeSecurityGroupIngress/Egress (IpPermissions, the old flat
 * parameters, or rule ids), DescribeSecurityGroupRules, ModifySecurityGroupRules and
 * UpdateSecurityGroupRuleDescriptions*. Each rule has one peer and an `sgr-` id.
 */
import type {
  AuthorizeSecurityGroupEgressRequest, AuthorizeSecurityGroupIngressRequest, AuthorizeSecurityGroupIngressResult,
  DescribeSecurityGroupRulesRequest, DescribeSecurityGroupRulesResult, IpPermission, ModifySecurityGroupRulesRequest,
  ModifySecurityGroupRulesResult, RevokeSecurityGroupIngressRequest, RevokeSecurityGroupIngressResult, SecurityGroupRule,
  UpdateSecurityGroupRuleDescriptionsIngressRequest,
} from '@aws-sdk/client-ec2';
import { ApiError, invalidParameterCombination } from '../../../protocol/errors.js';
import type { Tag } from '../../../store/store.js';
import type { Handler, RequestContext } from '../../context.js';
import { checkIds, notFound } from '../common/errors.js';
import { applyFilters, type FilterFields } from '../common/filters.js';
import { paginate } from '../common/pagination.js';
import { addTags, tagSets, tagsFromSpecifications } from '../common/tagging.js';
import { saveSecurityGroup } from './builders.js';
import { ensureDefaultVpc } from './default-vpc.js';
import { tagsOrUndefined } from './describe.js';
import { checkLimit } from './limits.js';
import { describeRule, ruleOfRequest, rulesOf, sameRule } from './permissions.js';
import { arn, KINDS, requireAll, type RuleIndexEntry, type SecurityGroupRecord, type StoredRule } from './records.js';
import { resolveGroup } from './security-groups.js';

type FlatRuleRequest = Pick<AuthorizeSecurityGroupIngressRequest,
  'CidrIp' | 'FromPort' | 'ToPort' | 'IpProtocol' | 'SourceSecurityGroupName' | 'SourceSecurityGroupOwnerId' | 'IpPermissions'>;

/** IpPermissions, or the one permission the old flat parameters describe (never both). */
function permissionsOf(input: FlatRuleRequest): IpPermission[] {
  const flat = input.CidrIp !== undefined || input.IpProtocol !== undefined || input.SourceSecurityGroupName !== undefined ||
    input.FromPort !== undefined || input.ToPort !== undefined;
  if (flat && input.IpPermissions?.length) {
    throw invalidParameterCombination('The parameter IpPermissions cannot be used with the parameters CidrIp, IpProtocol, FromPort, ToPort or SourceSecurityGroupName');
  }
  if (!flat) return input.IpPermissions ?? [];
  return [{
    // A source group alone grants every protocol (EC2's classic meaning of the flat form).
    IpProtocol: input.IpProtocol ?? (input.SourceSecurityGroupName !== undefined ? '-1' : undefined),
    FromPort: input.FromPort,
    ToPort: input.ToPort,
    IpRanges: input.CidrIp !== undefined ? [{ CidrIp: input.CidrIp }] : [],
    UserIdGroupPairs: input.SourceSecurityGroupName !== undefined
      ? [{ GroupName: input.SourceSecurityGroupName, UserId: input.SourceSecurityGroupOwnerId }]
      : [],
  }];
}

export function presentRule(ctx: RequestContext, group: SecurityGroupRecord, r: StoredRule, tags: readonly Tag[]): SecurityGroupRule {
  return {
    ...r,
    GroupId: group.GroupId,
    GroupOwnerId: group.OwnerId,
    SecurityGroupRuleArn: arn(ctx, 'security-group-rule', r.SecurityGroupRuleId),
    Tags: tagsOrUndefined(tags) ?? [],
  };
}

async function authorize(
  input: AuthorizeSecurityGroupIngressRequest & { GroupName?: string }, ctx: RequestContext, isEgress: boolean,
): Promise<AuthorizeSecurityGroupIngressResult> {
  const tags = tagsFromSpecifications(input.TagSpecifications, ['security-group-rule'], 'security-group-rule');
  const group = await resolveGroup(ctx, input.GroupId, isEgress ? undefined : input.GroupName);
  const added = await rulesOf(ctx, group, permissionsOf(input), isEgress);
  for (const [i, r] of added.entries()) {
    if (group.rules.some((x) => sameRule(x, r)) || added.slice(0, i).some((x) => sameRule(x, r))) {
      throw new ApiError('InvalidPermission.Duplicate', `the specified rule "${describeRule(r)}" already exists`);
    }
  }
  checkLimit(ctx, 'rulesPerSecurityGroup', group.rules.filter((r) => r.IsEgress === isEgress).length, added.length);
  const before = { ...group, rules: [...group.rules] };
  group.rules.push(...added);
  await saveSecurityGroup(ctx, group, before);
  for (const r of added) await addTags(ctx, r.SecurityGroupRuleId, 'security-group-rule', tags);
  return { Return: true, SecurityGroupRules: added.map((r) => presentRule(ctx, group, r, tags)) };
}

async function revoke(
  input: RevokeSecurityGroupIngressRequest & { GroupName?: string }, ctx: RequestContext, isEgress: boolean,
): Promise<RevokeSecurityGroupIngressResult> {
  const group = await resolveGroup(ctx, input.GroupId, isEgress ? undefined : input.GroupName);
  const doomed = new Set<string>();
  const ruleIds = input.SecurityGroupRuleIds ?? [];
  checkIds('security-group-rule', ruleIds);
  if (ruleIds.length > 0 && (input.IpPermissions?.length || input.CidrIp !== undefined || input.IpProtocol !== undefined)) {
    throw invalidParameterCombination('SecurityGroupRuleIds cannot be combined with IpPermissions or the flat rule parameters');
  }
  for (const id of ruleIds) {
    const rule = group.rules.find((r) => r.SecurityGroupRuleId === id && r.IsEgress === isEgress);
    if (!rule) throw notFound('security-group-rule', [id]);
    doomed.add(id);
  }
  if (ruleIds.length === 0) {
    for (const wanted of await rulesOf(ctx, group, permissionsOf(input), isEgress)) {
      const rule = group.rules.find((r) => sameRule(r, wanted));
      if (!rule) throw new ApiError('InvalidPermission.NotFound', 'The specified rule does not exist in this security group.');
      doomed.add(rule.SecurityGroupRuleId);
    }
  }
  const before = { ...group, rules: [...group.rules] };
  group.rules = group.rules.filter((r) => !doomed.has(r.SecurityGroupRuleId));
  await saveSecurityGroup(ctx, group, before);
  return { Return: true };
}

/** Rules by id, each with its group (via the rule index); unknown ids are InvalidSecurityGroupRuleId.NotFound. */
async function rulesById(ctx: RequestContext, ids: readonly string[]): Promise<{ group: SecurityGroupRecord; rule: StoredRule }[]> {
  checkIds('security-group-rule', ids);
  const out: { group: SecurityGroupRecord; rule: StoredRule }[] = [];
  const missing: string[] = [];
  for (const id of new Set(ids)) {
    const entry = await ctx.store.get<RuleIndexEntry>(KINDS.securityGroupRule, ctx.scope, id);
    const group = entry && (await ctx.store.get<SecurityGroupRecord>(KINDS.securityGroup, ctx.scope, entry.GroupId));
    const rule = group?.rules.find((r) => r.SecurityGroupRuleId === id);
    if (group && rule) out.push({ group, rule });
    else missing.push(id);
  }
  if (missing.length > 0) throw notFound('security-group-rule', missing);
  return out;
}

const ruleFields: FilterFields<{ group: SecurityGroupRecord; rule: StoredRule }> = {
  'group-id': (x) => x.group.GroupId,
  'security-group-rule-id': (x) => x.rule.SecurityGroupRuleId,
};

async function describeSecurityGroupRules(
  input: DescribeSecurityGroupRulesRequest, ctx: RequestContext,
): Promise<DescribeSecurityGroupRulesResult> {
  await ensureDefaultVpc(ctx);
  const entries = input.SecurityGroupRuleIds?.length
    ? await rulesById(ctx, input.SecurityGroupRuleIds)
    : (await ctx.store.list<SecurityGroupRecord>(KINDS.securityGroup, ctx.scope)).flatMap((group) => group.rules.map((rule) => ({ group, rule })));
  entries.sort((a, b) => (a.rule.SecurityGroupRuleId < b.rule.SecurityGroupRuleId ? -1 : 1));
  const tags = await tagSets(ctx, entries.map((e) => e.rule.SecurityGroupRuleId));
  const matched = applyFilters(entries, input.Filters, ruleFields, (e) => tags.get(e.rule.SecurityGroupRuleId));
  const page = paginate(matched, {
    maxResults: input.MaxResults, nextToken: input.NextToken, min: 5, max: 1000, key: (e) => e.rule.SecurityGroupRuleId,
  });
  return {
    SecurityGroupRules: page.items.map((e) => presentRule(ctx, e.group, e.rule, tags.get(e.rule.SecurityGroupRuleId) ?? [])),
    NextToken: page.nextToken,
  };
}

async function modifySecurityGroupRules(input: ModifySecurityGroupRulesRequest, ctx: RequestContext): Promise<ModifySecurityGroupRulesResult> {
  const group = (await requireAll<SecurityGroupRecord>(ctx, 'security-group', [input.GroupId!]))[0]!;
  await ensureDefaultVpc(ctx);
  const before = { ...group, rules: [...group.rules] };
  for (const update of input.SecurityGroupRules ?? []) {
    const id = update.SecurityGroupRuleId!;
    checkIds('security-group-rule', [id]);
    const index = group.rules.findIndex((r) => r.SecurityGroupRuleId === id);
    if (index < 0) throw notFound('security-group-rule', [id]);
    if (!update.SecurityGroupRule) throw new ApiError('MissingParameter', 'The request must contain the parameter SecurityGroupRule');
    const rule = await ruleOfRequest(ctx, group, id, group.rules[index]!.IsEgress, update.SecurityGroupRule);
    if (group.rules.some((r, i) => i !== index && sameRule(r, rule))) {
      throw new ApiError('InvalidPermission.Duplicate', `the specified rule "${describeRule(rule)}" already exists`);
    }
    group.rules[index] = rule;
  }
  await saveSecurityGroup(ctx, group, before);
  return { Return: true };
}

/** Sets the descriptions of existing rules, matched by everything but their description. */
async function updateDescriptions(
  input: UpdateSecurityGroupRuleDescriptionsIngressRequest, ctx: RequestContext, isEgress: boolean,
): Promise<{ Return: boolean }> {
  const group = await resolveGroup(ctx, input.GroupId, isEgress ? undefined : input.GroupName);
  const before = { ...group, rules: [...group.rules] };
  if (input.SecurityGroupRuleDescriptions?.length) {
    for (const d of input.SecurityGroupRuleDescriptions) {
      const i = group.rules.findIndex((r) => r.SecurityGroupRuleId === d.SecurityGroupRuleId && r.IsEgress === isEgress);
      if (i < 0) throw notFound('security-group-rule', [d.SecurityGroupRuleId ?? '']);
      group.rules[i] = { ...group.rules[i]!, Description: d.Description };
    }
  } else {
    for (const wanted of await rulesOf(ctx, group, input.IpPermissions ?? [], isEgress)) {
      const i = group.rules.findIndex((r) => sameRule(r, wanted));
      if (i < 0) throw new ApiError('InvalidPermission.NotFound', 'The specified rule does not exist in this security group.');
      group.rules[i] = { ...group.rules[i]!, Description: wanted.Description };
    }
  }
  await saveSecurityGroup(ctx, group, before);
  return { Return: true };
}

export const handlers: Record<string, Handler> = {
  AuthorizeSecurityGroupIngress: (input: AuthorizeSecurityGroupIngressRequest, ctx) => authorize(input, ctx, false),
  AuthorizeSecurityGroupEgress: (input: AuthorizeSecurityGroupEgressRequest, ctx) => authorize(input, ctx, true),
  RevokeSecurityGroupIngress: (input: RevokeSecurityGroupIngressRequest, ctx) => revoke(input, ctx, false),
  RevokeSecurityGroupEgress: (input: RevokeSecurityGroupIngressRequest, ctx) => revoke(input, ctx, true),
  DescribeSecurityGroupRules: describeSecurityGroupRules,
  ModifySecurityGroupRules: modifySecurityGroupRules,
  UpdateSecurityGroupRuleDescriptionsIngress: (input: UpdateSecurityGroupRuleDescriptionsIngressRequest, ctx) => updateDescriptions(input, ctx, false),
  UpdateSecurityGroupRuleDescriptionsEgress: (input: UpdateSecurityGroupRuleDescriptionsIngressRequest, ctx) => updateDescriptions(input, ctx, true),
};
