/**
 * Network ACLs: numbered stateless rules per direction (1–32766; 32767 is the catch-all deny),
 * Create/Describe/DeleteNetworkAcl, Create/Replace/DeleteNetworkAclEntry and
 * ReplaceNetworkAclAssociation. Every subnet is associated with exactly one ACL of its VPC.
 */
import type {
  CreateNetworkAclEntryRequest, CreateNetworkAclRequest, CreateNetworkAclResult, DeleteNetworkAclEntryRequest,
  DeleteNetworkAclRequest, DescribeNetworkAclsRequest, DescribeNetworkAclsResult, NetworkAcl, NetworkAclEntry,
  ReplaceNetworkAclAssociationRequest, ReplaceNetworkAclAssociationResult, ReplaceNetworkAclEntryRequest,
} from '@aws-sdk/client-ec2';
import { ApiError, invalidParameterValue, missingParameter } from '../../../protocol/errors.js';
import type { Tag } from '../../../store/store.js';
import { newId } from '../../../util/ids.js';
import type { Handler, RequestContext } from '../../context.js';
import { checkIds, notFound } from '../common/errors.js';
import type { FilterFields } from '../common/filters.js';
import { addTags, tagsFromSpecifications } from '../common/tagging.js';
import { networkAclRecord, sortEntries } from './builders.js';
import { formatCidr, parseCidr } from './cidr.js';
import { ensureDefaultVpc } from './default-vpc.js';
import { describe, tagsOrUndefined } from './describe.js';
import { checkLimit } from './limits.js';
import { inVpc, KINDS, requireOne, type NetworkAclRecord, type VpcRecord } from './records.js';
import { removeWithTags } from './vpcs.js';

const MAX_RULE_NUMBER = 32766;
const present = (rec: NetworkAclRecord, tags: readonly Tag[]): NetworkAcl => ({ ...rec, Tags: tagsOrUndefined(tags) });

async function createNetworkAcl(input: CreateNetworkAclRequest, ctx: RequestContext): Promise<CreateNetworkAclResult> {
  const tags = tagsFromSpecifications(input.TagSpecifications, ['network-acl'], 'network-acl');
  await ensureDefaultVpc(ctx);
  const vpc = await requireOne<VpcRecord>(ctx, 'vpc', input.VpcId!);
  checkLimit(ctx, 'networkAclsPerVpc', (await inVpc(ctx, KINDS.networkAcl, vpc.VpcId)).length);
  const acl = networkAclRecord(ctx, vpc, newId('acl'), false);
  await ctx.store.put(KINDS.networkAcl, ctx.scope, acl.NetworkAclId, acl);
  await addTags(ctx, acl.NetworkAclId, 'network-acl', tags);
  return { NetworkAcl: present(acl, tags) };
}

const entries = (a: NetworkAclRecord) => a.Entries ?? [];
const fields: FilterFields<NetworkAclRecord> = {
  'association.association-id': (a) => a.Associations?.map((x) => x.NetworkAclAssociationId),
  'association.network-acl-id': (a) => a.Associations?.map((x) => x.NetworkAclId),
  'association.subnet-id': (a) => a.Associations?.map((x) => x.SubnetId),
  default: (a) => String(a.IsDefault),
  'entry.cidr': (a) => entries(a).map((e) => e.CidrBlock),
  'entry.icmp.code': (a) => entries(a).map((e) => e.IcmpTypeCode?.Code),
  'entry.icmp.type': (a) => entries(a).map((e) => e.IcmpTypeCode?.Type),
  'entry.ipv6-cidr': (a) => entries(a).map((e) => e.Ipv6CidrBlock),
  'entry.port-range.from': (a) => entries(a).map((e) => e.PortRange?.From),
  'entry.port-range.to': (a) => entries(a).map((e) => e.PortRange?.To),
  'entry.protocol': (a) => entries(a).map((e) => e.Protocol),
  'entry.rule-action': (a) => entries(a).map((e) => e.RuleAction),
  'entry.rule-number': (a) => entries(a).map((e) => e.RuleNumber),
  'entry.egress': (a) => entries(a).map((e) => String(e.Egress)),
  'network-acl-id': (a) => a.NetworkAclId,
  'owner-id': (a) => a.OwnerId,
  'vpc-id': (a) => a.VpcId,
};

async function describeNetworkAcls(input: DescribeNetworkAclsRequest, ctx: RequestContext): Promise<DescribeNetworkAclsResult> {
  const { items, nextToken } = await describe<NetworkAclRecord>(ctx, 'network-acl', (a) => a.NetworkAclId, fields, {
    ...input, ids: input.NetworkAclIds,
  }, { min: 5, max: 100 });
  return { NetworkAcls: items.map(({ record, tags }) => present(record, tags)), NextToken: nextToken };
}

async function deleteNetworkAcl(input: DeleteNetworkAclRequest, ctx: RequestContext): Promise<object> {
  await ensureDefaultVpc(ctx);
  const acl = await requireOne<NetworkAclRecord>(ctx, 'network-acl', input.NetworkAclId!);
  if (acl.IsDefault) throw new ApiError('InvalidParameterValue', `cannot delete default network ACL ${acl.NetworkAclId}`);
  if ((acl.Associations ?? []).length > 0) {
    throw new ApiError('DependencyViolation', `The networkAcl '${acl.NetworkAclId}' has dependencies and cannot be deleted.`);
  }
  await removeWithTags(ctx, KINDS.networkAcl, acl.NetworkAclId);
  return {};
}

/** Protocol names EC2 accepts for ACL entries, and the numbers it stores them as. */
const PROTOCOL_NUMBERS: Record<string, string> = { all: '-1', tcp: '6', udp: '17', icmp: '1', icmpv6: '58' };

/** An ACL entry from a Create/Replace request, validated as EC2 does. */
function entryOf(input: CreateNetworkAclEntryRequest): NetworkAclEntry {
  const n = input.RuleNumber!;
  if (!Number.isInteger(n) || n < 1 || n > MAX_RULE_NUMBER) {
    throw invalidParameterValue(`Value (${n}) for parameter ruleNumber is invalid. Valid values: 1 to ${MAX_RULE_NUMBER}.`);
  }
  const raw = input.Protocol!.toLowerCase();
  const protocol = PROTOCOL_NUMBERS[raw] ?? raw;
  const num = Number(protocol);
  if (protocol !== '-1' && (!/^\d+$/.test(protocol) || num > 255)) {
    throw invalidParameterValue(`Invalid value '${input.Protocol}' for protocol. Valid values: -1, or a protocol number 0 to 255.`);
  }
  const action = input.RuleAction!;
  if (action !== 'allow' && action !== 'deny') throw invalidParameterValue(`Value (${action}) for parameter ruleAction is invalid. Valid values: allow, deny.`);
  if ((input.CidrBlock === undefined) === (input.Ipv6CidrBlock === undefined)) {
    throw new ApiError('InvalidParameterCombination', 'Exactly one of cidrBlock or ipv6CidrBlock must be specified.');
  }
  const entry: NetworkAclEntry = { RuleNumber: n, Protocol: protocol, RuleAction: action, Egress: input.Egress! };
  if (input.CidrBlock !== undefined) {
    const b = parseCidr(input.CidrBlock);
    if (!b) throw invalidParameterValue(`Value (${input.CidrBlock}) for parameter cidrBlock is invalid. This is not a valid CIDR block.`);
    entry.CidrBlock = formatCidr(b);
  } else {
    const b = parseCidr(input.Ipv6CidrBlock!, 6);
    if (!b) throw invalidParameterValue(`Value (${input.Ipv6CidrBlock}) for parameter ipv6CidrBlock is invalid. This is not a valid CIDR block.`);
    entry.Ipv6CidrBlock = formatCidr(b);
  }
  if (protocol === '6' || protocol === '17') {
    const r = input.PortRange;
    if (r?.From === undefined || r.To === undefined) throw missingParameter('portRange');
    if (r.From < 0 || r.To > 65535 || r.From > r.To) {
      throw invalidParameterValue(`Invalid port range ${r.From}-${r.To}: ports are 0 to 65535, from no greater than to.`);
    }
    entry.PortRange = { From: r.From, To: r.To };
  }
  if (protocol === '1' || protocol === '58') {
    const t = input.IcmpTypeCode;
    if (t?.Type === undefined || t.Code === undefined) throw missingParameter('icmpTypeCode');
    entry.IcmpTypeCode = { Type: t.Type, Code: t.Code };
  }
  return entry;
}

const sameSlot = (a: NetworkAclEntry, b: NetworkAclEntry) => a.RuleNumber === b.RuleNumber && a.Egress === b.Egress;

async function createNetworkAclEntry(input: CreateNetworkAclEntryRequest, ctx: RequestContext): Promise<object> {
  await ensureDefaultVpc(ctx);
  const acl = await requireOne<NetworkAclRecord>(ctx, 'network-acl', input.NetworkAclId!);
  const entry = entryOf(input);
  if (entries(acl).some((e) => sameSlot(e, entry))) {
    throw new ApiError('NetworkAclEntryAlreadyExists', `The network acl entry identified by ${entry.RuleNumber} already exists.`);
  }
  const sameDirection = entries(acl).filter((e) => e.Egress === entry.Egress && e.RuleNumber! <= MAX_RULE_NUMBER);
  checkLimit(ctx, 'rulesPerNetworkAcl', sameDirection.length);
  acl.Entries = sortEntries([...entries(acl), entry]);
  await ctx.store.put(KINDS.networkAcl, ctx.scope, acl.NetworkAclId, acl);
  return {};
}

function entryNotFound(n: number | undefined): ApiError {
  return new ApiError('InvalidNetworkAclEntry.NotFound', `The network acl entry identified by ${n} does not exist.`);
}

async function replaceNetworkAclEntry(input: ReplaceNetworkAclEntryRequest, ctx: RequestContext): Promise<object> {
  await ensureDefaultVpc(ctx);
  const acl = await requireOne<NetworkAclRecord>(ctx, 'network-acl', input.NetworkAclId!);
  const entry = entryOf(input);
  if (!entries(acl).some((e) => sameSlot(e, entry))) throw entryNotFound(entry.RuleNumber);
  acl.Entries = sortEntries(entries(acl).map((e) => (sameSlot(e, entry) ? entry : e)));
  await ctx.store.put(KINDS.networkAcl, ctx.scope, acl.NetworkAclId, acl);
  return {};
}

async function deleteNetworkAclEntry(input: DeleteNetworkAclEntryRequest, ctx: RequestContext): Promise<object> {
  await ensureDefaultVpc(ctx);
  const acl = await requireOne<NetworkAclRecord>(ctx, 'network-acl', input.NetworkAclId!);
  const slot = { RuleNumber: input.RuleNumber, Egress: input.Egress };
  if (input.RuleNumber! > MAX_RULE_NUMBER || !entries(acl).some((e) => sameSlot(e, slot))) throw entryNotFound(input.RuleNumber);
  acl.Entries = entries(acl).filter((e) => !sameSlot(e, slot));
  await ctx.store.put(KINDS.networkAcl, ctx.scope, acl.NetworkAclId, acl);
  return {};
}

async function replaceNetworkAclAssociation(
  input: ReplaceNetworkAclAssociationRequest, ctx: RequestContext,
): Promise<ReplaceNetworkAclAssociationResult> {
  await ensureDefaultVpc(ctx);
  const id = input.AssociationId!;
  checkIds('network-acl-association', [id]);
  const to = await requireOne<NetworkAclRecord>(ctx, 'network-acl', input.NetworkAclId!);
  const acls = await ctx.store.list<NetworkAclRecord>(KINDS.networkAcl, ctx.scope);
  const from = acls.find((a) => a.Associations?.some((x) => x.NetworkAclAssociationId === id));
  if (!from) throw notFound('network-acl-association', [id]);
  const association = from.Associations!.find((x) => x.NetworkAclAssociationId === id)!;
  if (from.VpcId !== to.VpcId) {
    throw invalidParameterValue(`Network ACL ${to.NetworkAclId} and association ${id} belong to different networks`);
  }
  const moved = { NetworkAclAssociationId: newId('aclassoc'), NetworkAclId: to.NetworkAclId, SubnetId: association.SubnetId };
  from.Associations = from.Associations!.filter((x) => x !== association);
  if (from.NetworkAclId !== to.NetworkAclId) await ctx.store.put(KINDS.networkAcl, ctx.scope, from.NetworkAclId, from);
  else to.Associations = from.Associations;
  to.Associations = [...(to.Associations ?? []), moved];
  await ctx.store.put(KINDS.networkAcl, ctx.scope, to.NetworkAclId, to);
  return { NewAssociationId: moved.NetworkAclAssociationId };
}

export const handlers: Record<string, Handler> = {
  CreateNetworkAcl: createNetworkAcl,
  DescribeNetworkAcls: describeNetworkAcls,
  DeleteNetworkAcl: deleteNetworkAcl,
  CreateNetworkAclEntry: createNetworkAclEntry,
  ReplaceNetworkAclEntry: replaceNetworkAclEntry,
  DeleteNetworkAclEntry: deleteNetworkAclEntry,
  ReplaceNetworkAclAssociation: replaceNetworkAclAssociation,
};
