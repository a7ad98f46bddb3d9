/**
 * CreateVpc, DescribeVpcs, DeleteVpc, Modify/DescribeVpcAttribute, Associate/DisassociateVpcCidrBlock,
 * CreateDefaultVpc.
 */
import type {
  AssociateVpcCidrBlockRequest, AssociateVpcCidrBlockResult, CreateDefaultVpcRequest, CreateDefaultVpcResult, CreateVpcRequest,
  CreateVpcResult, DeleteVpcRequest, DescribeVpcAttributeRequest, DescribeVpcAttributeResult, DescribeVpcsRequest,
  DescribeVpcsResult, DisassociateVpcCidrBlockRequest, DisassociateVpcCidrBlockResult, ModifyVpcAttributeRequest, Vpc,
} from '@aws-sdk/client-ec2';
import { ApiError, invalidParameterCombination, invalidParameterValue, missingParameter } from '../../../protocol/errors.js';
import type { Tag } from '../../../store/store.js';
import { newId } from '../../../util/ids.js';
import type { Handler, RequestContext } from '../../context.js';
import { checkIds, notFound } from '../common/errors.js';
import type { FilterFields } from '../common/filters.js';
import { addTags, tagsFromSpecifications } from '../common/tagging.js';
import { defaultVpc } from '../default-vpc.js';
import { ipv6Association, localRoutes, saveNewVpc, vpcRecord } from './builders.js';
import { cidrContains, cidrsOverlap, newIpv6VpcBlock, parseCidr } from './cidr.js';
import { ensureDefaultVpc, provisionDefaultVpc, regionDhcpOptionsId } from './default-vpc.js';
import { describe, tagsOrUndefined } from './describe.js';
import { checkLimit } from './limits.js';
import {
  inVpc, KINDS, requireOne, type InternetGatewayRecord, type NetworkAclRecord, type RouteTableRecord, type SecurityGroupRecord,
  type SubnetRecord, type VpcRecord,
} from './records.js';

const MAX_IPV4_BLOCKS = 5;

export function presentVpc(rec: VpcRecord, tags: readonly Tag[]): Vpc {
  const { EnableDnsSupport: _s, EnableDnsHostnames: _h, EnableNetworkAddressUsageMetrics: _m, ...vpc } = rec;
  return { ...vpc, Tags: tagsOrUndefined(tags) };
}

/** Parses a VPC IPv4 block: a valid CIDR of /16 to /28 (InvalidVpc.Range otherwise). */
export function vpcBlock(cidr: string): ReturnType<typeof parseCidr> & object {
  const block = parseCidr(cidr);
  if (!block) throw invalidParameterValue(`Value (${cidr}) for parameter cidrBlock is invalid. This is not a valid CIDR block.`);
  if (block.bits < 16 || block.bits > 28) throw new ApiError('InvalidVpc.Range', `The CIDR '${cidr}' is invalid.`);
  return block;
}

async function createVpc(input: CreateVpcRequest, ctx: RequestContext): Promise<CreateVpcResult> {
  if (input.CidrBlock === undefined) {
    if (input.Ipv4IpamPoolId !== undefined) throw invalidParameterValue('IPAM pools are not supported; specify CidrBlock.');
    throw missingParameter('CidrBlock');
  }
  vpcBlock(input.CidrBlock);
  const tenancy = input.InstanceTenancy ?? 'default';
  if (!['default', 'dedicated'].includes(tenancy)) {
    throw invalidParameterValue(`Value (${tenancy}) for parameter instanceTenancy is invalid. Valid values: default, dedicated.`);
  }
  if (input.Ipv6CidrBlock !== undefined || input.Ipv6Pool !== undefined || input.Ipv6IpamPoolId !== undefined) {
    throw invalidParameterValue('Only Amazon-provided IPv6 blocks are supported; use AmazonProvidedIpv6CidrBlock.');
  }
  const tags = tagsFromSpecifications(input.TagSpecifications, ['vpc'], 'vpc');
  await ensureDefaultVpc(ctx);
  checkLimit(ctx, 'vpcsPerRegion', await ctx.store.count(KINDS.vpc, ctx.scope));
  const vpc = vpcRecord(ctx, {
    VpcId: newId('vpc'),
    CidrBlock: input.CidrBlock,
    IsDefault: false,
    DhcpOptionsId: await regionDhcpOptionsId(ctx),
    InstanceTenancy: tenancy,
    Ipv6CidrBlock: input.AmazonProvidedIpv6CidrBlock ? newIpv6VpcBlock() : undefined,
  });
  await saveNewVpc(ctx, vpc, { RouteTableId: newId('rtb'), NetworkAclId: newId('acl'), SecurityGroupId: newId('sg') });
  await addTags(ctx, vpc.VpcId, 'vpc', tags);
  // EC2 answers while the VPC is still being set up.
  return { Vpc: { ...presentVpc(vpc, tags), State: 'pending' } };
}

const vpcFields: FilterFields<VpcRecord> = {
  cidr: (v) => v.CidrBlock,
  'cidr-block-association.cidr-block': (v) => v.CidrBlockAssociationSet?.map((a) => a.CidrBlock),
  'cidr-block-association.association-id': (v) => v.CidrBlockAssociationSet?.map((a) => a.AssociationId),
  'cidr-block-association.state': (v) => v.CidrBlockAssociationSet?.map((a) => a.CidrBlockState?.State),
  'dhcp-options-id': (v) => v.DhcpOptionsId,
  'ipv6-cidr-block-association.ipv6-cidr-block': (v) => v.Ipv6CidrBlockAssociationSet?.map((a) => a.Ipv6CidrBlock),
  'ipv6-cidr-block-association.ipv6-pool': (v) => v.Ipv6CidrBlockAssociationSet?.map((a) => a.Ipv6Pool),
  'ipv6-cidr-block-association.association-id': (v) => v.Ipv6CidrBlockAssociationSet?.map((a) => a.AssociationId),
  'ipv6-cidr-block-association.state': (v) => v.Ipv6CidrBlockAssociationSet?.map((a) => a.Ipv6CidrBlockState?.State),
  'is-default': (v) => String(v.IsDefault),
  'owner-id': (v) => v.OwnerId,
  state: (v) => v.State,
  'vpc-id': (v) => v.VpcId,
};

async function describeVpcs(input: DescribeVpcsRequest, ctx: RequestContext): Promise<DescribeVpcsResult> {
  const { items, nextToken } = await describe<VpcRecord>(ctx, 'vpc', (v) => v.VpcId, vpcFields, { ...input, ids: input.VpcIds });
  return { Vpcs: items.map(({ record, tags }) => presentVpc(record, tags)), NextToken: nextToken };
}

const hasDependencies = (id: string) => new ApiError('DependencyViolation', `The vpc '${id}' has dependencies and cannot be deleted.`);

async function deleteVpc(input: DeleteVpcRequest, ctx: RequestContext): Promise<object> {
  await ensureDefaultVpc(ctx);
  const vpc = await requireOne<VpcRecord>(ctx, 'vpc', input.VpcId!);
  const id = vpc.VpcId;
  const groups = await inVpc<SecurityGroupRecord>(ctx, KINDS.securityGroup, id);
  const tables = await inVpc<RouteTableRecord>(ctx, KINDS.routeTable, id);
  const acls = await inVpc<NetworkAclRecord>(ctx, KINDS.networkAcl, id);
  const gateways = (await ctx.store.list<InternetGatewayRecord>(KINDS.internetGateway, ctx.scope))
    .filter((g) => g.Attachments?.some((a) => a.VpcId === id));
  // Instances and interfaces live in subnets, and a subnet that holds one cannot be deleted: the
  // subnets stand for them, without reading the region's fleet.
  const dependents = [
    (await inVpc<SubnetRecord>(ctx, KINDS.subnet, id)).length,
    gateways.length,
    groups.filter((g) => g.GroupName !== 'default').length,
    tables.filter((t) => !t.Associations?.some((a) => a.Main)).length,
    acls.filter((a) => !a.IsDefault).length,
  ];
  if (dependents.some((n) => n > 0)) throw hasDependencies(id);
  for (const g of groups) {
    for (const r of g.rules) await ctx.store.remove(KINDS.securityGroupRule, ctx.scope, r.SecurityGroupRuleId);
    await removeWithTags(ctx, KINDS.securityGroup, g.GroupId);
  }
  for (const t of tables) await removeWithTags(ctx, KINDS.routeTable, t.RouteTableId);
  for (const a of acls) await removeWithTags(ctx, KINDS.networkAcl, a.NetworkAclId);
  await removeWithTags(ctx, KINDS.vpc, id);
  return {};
}

export async function removeWithTags(ctx: RequestContext, kind: string, id: string): Promise<void> {
  await ctx.store.remove(kind, ctx.scope, id);
  await ctx.store.deleteAllTags(ctx.scope, id);
}

type BooleanAttribute = 'EnableDnsSupport' | 'EnableDnsHostnames' | 'EnableNetworkAddressUsageMetrics';
const ATTRIBUTES: Record<string, BooleanAttribute> = {
  enableDnsSupport: 'EnableDnsSupport',
  enableDnsHostnames: 'EnableDnsHostnames',
  enableNetworkAddressUsageMetrics: 'EnableNetworkAddressUsageMetrics',
};

async function modifyVpcAttribute(input: ModifyVpcAttributeRequest, ctx: RequestContext): Promise<object> {
  await ensureDefaultVpc(ctx);
  const vpc = await requireOne<VpcRecord>(ctx, 'vpc', input.VpcId!);
  const given = Object.values(ATTRIBUTES).filter((a) => input[a] !== undefined);
  if (given.length === 0) throw missingParameter('EnableDnsSupport, EnableDnsHostnames or EnableNetworkAddressUsageMetrics');
  if (given.length > 1) throw invalidParameterCombination('Only one attribute can be modified at a time');
  const attr = given[0]!;
  const value = input[attr]!.Value;
  if (value === undefined) throw missingParameter(`${attr}.Value`);
  if (attr === 'EnableDnsHostnames' && value && !vpc.EnableDnsSupport) {
    throw invalidParameterValue('DNS hostnames cannot be enabled while DNS resolution (enableDnsSupport) is disabled.');
  }
  vpc[attr] = value;
  await ctx.store.put(KINDS.vpc, ctx.scope, vpc.VpcId, vpc);
  return {};
}

async function describeVpcAttribute(input: DescribeVpcAttributeRequest, ctx: RequestContext): Promise<DescribeVpcAttributeResult> {
  const attr = Object.hasOwn(ATTRIBUTES, input.Attribute!) ? ATTRIBUTES[input.Attribute!]! : undefined;
  if (!attr) throw invalidParameterValue(`Value (${input.Attribute}) for parameter attribute is invalid. Unknown attribute.`);
  await ensureDefaultVpc(ctx);
  const vpc = await requireOne<VpcRecord>(ctx, 'vpc', input.VpcId!);
  return { VpcId: vpc.VpcId, [attr]: { Value: vpc[attr] } };
}

/** Every route table of the VPC gets a local route for each block the VPC has. */
async function refreshLocalRoutes(ctx: RequestContext, vpc: VpcRecord): Promise<void> {
  const local = localRoutes(vpc);
  for (const t of await inVpc<RouteTableRecord>(ctx, KINDS.routeTable, vpc.VpcId)) {
    t.Routes = [...local, ...(t.Routes ?? []).filter((r) => r.GatewayId !== 'local')];
    await ctx.store.put(KINDS.routeTable, ctx.scope, t.RouteTableId, t);
  }
}

async function associateVpcCidrBlock(input: AssociateVpcCidrBlockRequest, ctx: RequestContext): Promise<AssociateVpcCidrBlockResult> {
  await ensureDefaultVpc(ctx);
  const vpc = await requireOne<VpcRecord>(ctx, 'vpc', input.VpcId!);
  if ((input.CidrBlock === undefined) === !input.AmazonProvidedIpv6CidrBlock) {
    throw invalidParameterCombination('Specify exactly one of CidrBlock and AmazonProvidedIpv6CidrBlock.');
  }
  const out: AssociateVpcCidrBlockResult = { VpcId: vpc.VpcId };
  if (input.CidrBlock !== undefined) {
    const block = vpcBlock(input.CidrBlock);
    const current = vpc.CidrBlockAssociationSet ?? [];
    if (current.length >= MAX_IPV4_BLOCKS) {
      throw new ApiError('CidrLimitExceeded', `This network '${vpc.VpcId}' has met its maximum number of allowed CIDRs: ${MAX_IPV4_BLOCKS}`);
    }
    for (const a of current) {
      const other = parseCidr(a.CidrBlock!)!;
      if (cidrsOverlap(block, other)) {
        throw invalidParameterValue(`The CIDR '${input.CidrBlock}' overlaps with the VPC's CIDR '${a.CidrBlock}'.`);
      }
    }
    const association = { AssociationId: newId('vpc-cidr-assoc'), CidrBlock: input.CidrBlock, CidrBlockState: { State: 'associated' as const } };
    vpc.CidrBlockAssociationSet = [...current, association];
    out.CidrBlockAssociation = { ...association, CidrBlockState: { State: 'associating' } };
  } else {
    if ((vpc.Ipv6CidrBlockAssociationSet ?? []).length > 0) {
      throw new ApiError('CidrLimitExceeded', `This network '${vpc.VpcId}' has met its maximum number of allowed CIDRs: 1`);
    }
    const association = ipv6Association(ctx, newIpv6VpcBlock());
    vpc.Ipv6CidrBlockAssociationSet = [association];
    out.Ipv6CidrBlockAssociation = { ...association, Ipv6CidrBlockState: { State: 'associating' } };
  }
  await ctx.store.put(KINDS.vpc, ctx.scope, vpc.VpcId, vpc);
  await refreshLocalRoutes(ctx, vpc);
  return out;
}

async function disassociateVpcCidrBlock(
  input: DisassociateVpcCidrBlockRequest, ctx: RequestContext,
): Promise<DisassociateVpcCidrBlockResult> {
  const id = input.AssociationId!;
  checkIds('vpc-cidr-block-association', [id]);
  await ensureDefaultVpc(ctx);
  const vpcs = await ctx.store.list<VpcRecord>(KINDS.vpc, ctx.scope);
  const vpc = vpcs.find((v) => [...(v.CidrBlockAssociationSet ?? []), ...(v.Ipv6CidrBlockAssociationSet ?? [])].some((a) => a.AssociationId === id));
  if (!vpc) throw notFound('vpc-cidr-block-association', [id]);
  const subnets = await inVpc<SubnetRecord>(ctx, KINDS.subnet, vpc.VpcId);
  const v4 = vpc.CidrBlockAssociationSet!.find((a) => a.AssociationId === id);
  const out: DisassociateVpcCidrBlockResult = { VpcId: vpc.VpcId };
  if (v4) {
    if (v4.CidrBlock === vpc.CidrBlock) {
      throw new ApiError(
        'OperationNotPermitted',
        `The vpc CIDR block with association ID ${id} may not be disassociated. It is the primary IPv4 CIDR block of the VPC`,
      );
    }
    const block = parseCidr(v4.CidrBlock!)!;
    if (subnets.some((s) => cidrContains(block, parseCidr(s.CidrBlock)!))) throw hasDependencies(vpc.VpcId);
    vpc.CidrBlockAssociationSet = vpc.CidrBlockAssociationSet!.filter((a) => a !== v4);
    out.CidrBlockAssociation = { ...v4, CidrBlockState: { State: 'disassociating' } };
  } else {
    const v6 = vpc.Ipv6CidrBlockAssociationSet!.find((a) => a.AssociationId === id)!;
    if (subnets.some((s) => (s.Ipv6CidrBlockAssociationSet ?? []).length > 0)) throw hasDependencies(vpc.VpcId);
    vpc.Ipv6CidrBlockAssociationSet = vpc.Ipv6CidrBlockAssociationSet!.filter((a) => a !== v6);
    out.Ipv6CidrBlockAssociation = { ...v6, Ipv6CidrBlockState: { State: 'disassociating' } };
  }
  await ctx.store.put(KINDS.vpc, ctx.scope, vpc.VpcId, vpc);
  await refreshLocalRoutes(ctx, vpc);
  return out;
}

async function createDefaultVpc(_input: CreateDefaultVpcRequest, ctx: RequestContext): Promise<CreateDefaultVpcResult> {
  await ensureDefaultVpc(ctx);
  const vpcs = await ctx.store.list<VpcRecord>(KINDS.vpc, ctx.scope);
  if (vpcs.some((v) => v.IsDefault)) {
    throw new ApiError('DefaultVpcAlreadyExists', 'A Default VPC already exists for this account in this region.');
  }
  checkLimit(ctx, 'vpcsPerRegion', vpcs.length);
  await provisionDefaultVpc(ctx, await regionDhcpOptionsId(ctx));
  const vpc = (await ctx.store.get<VpcRecord>(KINDS.vpc, ctx.scope, defaultVpc(ctx.scope).VpcId))!;
  return { Vpc: presentVpc(vpc, []) };
}

export const handlers: Record<string, Handler> = {
  CreateVpc: createVpc,
  DescribeVpcs: describeVpcs,
  DeleteVpc: deleteVpc,
  ModifyVpcAttribute: modifyVpcAttribute,
  DescribeVpcAttribute: describeVpcAttribute,
  AssociateVpcCidrBlock: associateVpcCidrBlock,
  DisassociateVpcCidrBlock: disassociateVpcCidrBlock,
  CreateDefaultVpc: createDefaultVpc,
};
