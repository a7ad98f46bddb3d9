/** CreateSubnet, DescribeSubnets, DeleteSubnet, ModifySubnetAttribute, and the subnet lookup RunInstances uses. */
import type {
  CreateSubnetRequest, CreateSubnetResult, DeleteSubnetRequest, DescribeSubnetsRequest, DescribeSubnetsResult,
  ModifySubnetAttributeRequest, Subnet,
} from '@aws-sdk/client-ec2';
import { regionInfo } from '../../../catalog/regions.js';
import { ApiError, invalidParameterCombination, invalidParameterValue } from '../../../protocol/errors.js';
import type { Tag } from '../../../store/store.js';
import { newId } from '../../../util/ids.js';
import type { Handler, RequestContext } from '../../context.js';
import type { FilterFields } from '../common/filters.js';
import { addTags, tagsFromSpecifications } from '../common/tagging.js';
import { privateIpsInUse } from '../network-interfaces/addresses.js';
import { saveNewSubnet, subnetRecord } from './builders.js';
import { cidrContains, cidrSize, cidrsOverlap, parseCidr, RESERVED_SUBNET_ADDRESSES } from './cidr.js';
import { ensureDefaultVpc } from './default-vpc.js';
import { describe, tagsOrUndefined } from './describe.js';
import { checkLimit } from './limits.js';
import { removeWithTags } from './vpcs.js';
import { inVpc, KINDS, requireOne, type NetworkAclRecord, type RouteTableRecord, type SubnetRecord, type VpcRecord } from './records.js';

function presentSubnet(rec: SubnetRecord, tags: readonly Tag[], used: number): Subnet {
  const size = Number(cidrSize(parseCidr(rec.CidrBlock)!));
  return { ...rec, AvailableIpAddressCount: Math.max(0, size - RESERVED_SUBNET_ADDRESSES - used), Tags: tagsOrUndefined(tags) };
}

/**
 * How many private addresses are held in each subnet of the region: the store's count of each
 * subnet's address rows, not every interface read (which took a describe from 1 to 49 ms at 5,000
 * instances).
 */
async function addressesInUse(ctx: RequestContext): Promise<Map<string, number>> {
  const used = new Map<string, number>();
  for (const { SubnetId } of await ctx.store.list<SubnetRecord>(KINDS.subnet, ctx.scope)) {
    used.set(SubnetId, await privateIpsInUse(ctx.store, ctx.scope, SubnetId));
  }
  return used;
}

function zoneOf(ctx: RequestContext, name: string | undefined, zoneId: string | undefined): { name: string; id: string } {
  const zones = regionInfo(ctx.region)?.zones ?? [];
  if (name !== undefined && zoneId !== undefined) {
    throw invalidParameterCombination('The parameters AvailabilityZone and AvailabilityZoneId cannot be used together.');
  }
  const zone = name !== undefined ? zones.find((z) => z.name === name) : zoneId !== undefined ? zones.find((z) => z.id === zoneId) : zones[0];
  if (!zone) {
    const param = name !== undefined ? 'availabilityZone' : 'availabilityZoneId';
    throw invalidParameterValue(
      `Value (${name ?? zoneId}) for parameter ${param} is invalid. Subnets can currently only be created in the following availability zones: ` +
        `${zones.map((z) => (name !== undefined ? z.name : z.id)).join(', ')}.`,
    );
  }
  return zone;
}

async function createSubnet(input: CreateSubnetRequest, ctx: RequestContext): Promise<CreateSubnetResult> {
  const tags = tagsFromSpecifications(input.TagSpecifications, ['subnet'], 'subnet');
  await ensureDefaultVpc(ctx);
  const vpc = await requireOne<VpcRecord>(ctx, 'vpc', input.VpcId!);
  const cidr = input.CidrBlock;
  if (cidr === undefined) throw new ApiError('MissingParameter', 'The request must contain the parameter cidrBlock');
  const block = parseCidr(cidr);
  if (!block) throw invalidParameterValue(`Value (${cidr}) for parameter cidrBlock is invalid. This is not a valid CIDR block.`);
  const inVpcBlock = (vpc.CidrBlockAssociationSet ?? []).some((a) => cidrContains(parseCidr(a.CidrBlock!)!, block));
  if (block.bits < 16 || block.bits > 28 || !inVpcBlock) throw new ApiError('InvalidSubnet.Range', `The CIDR '${cidr}' is invalid.`);
  const siblings = await inVpc<SubnetRecord>(ctx, KINDS.subnet, vpc.VpcId);
  if (siblings.some((s) => cidrsOverlap(parseCidr(s.CidrBlock)!, block))) {
    throw new ApiError('InvalidSubnet.Conflict', `The CIDR '${cidr}' conflicts with another subnet`);
  }
  const ipv6 = input.Ipv6CidrBlock === undefined ? undefined : checkSubnetIpv6(vpc, siblings, input.Ipv6CidrBlock);
  const zone = zoneOf(ctx, input.AvailabilityZone, input.AvailabilityZoneId);
  checkLimit(ctx, 'subnetsPerVpc', siblings.length);
  const subnet = subnetRecord(ctx, {
    SubnetId: newId('subnet'), VpcId: vpc.VpcId, CidrBlock: cidr, AvailabilityZone: zone.name, AvailabilityZoneId: zone.id,
    DefaultForAz: false, Ipv6CidrBlock: ipv6,
  });
  await saveNewSubnet(ctx, subnet);
  await addTags(ctx, subnet.SubnetId, 'subnet', tags);
  return { Subnet: presentSubnet(subnet, tags, 0) };
}

/** A subnet's IPv6 block: a /64 of its VPC's /56, used by no other subnet. */
function checkSubnetIpv6(vpc: VpcRecord, siblings: readonly SubnetRecord[], cidr: string): string {
  const block = parseCidr(cidr, 6);
  if (!block) throw invalidParameterValue(`Value (${cidr}) for parameter ipv6CidrBlock is invalid. This is not a valid IPv6 CIDR block.`);
  const vpcBlocks = (vpc.Ipv6CidrBlockAssociationSet ?? []).map((a) => parseCidr(a.Ipv6CidrBlock!, 6)!);
  if (block.bits !== 64 || !vpcBlocks.some((b) => cidrContains(b, block))) {
    throw new ApiError('InvalidSubnet.Range', `The IPv6 CIDR '${cidr}' is invalid.`);
  }
  const taken = siblings.flatMap((s) => (s.Ipv6CidrBlockAssociationSet ?? []).map((a) => parseCidr(a.Ipv6CidrBlock!, 6)!));
  if (taken.some((t) => cidrsOverlap(t, block))) throw new ApiError('InvalidSubnet.Conflict', `The CIDR '${cidr}' conflicts with another subnet`);
  return cidr;
}

const subnetFields = (used: Map<string, number>): FilterFields<SubnetRecord> => {
  const cidr = (s: SubnetRecord) => s.CidrBlock;
  return {
    'availability-zone': (s) => s.AvailabilityZone,
    'availability-zone-id': (s) => s.AvailabilityZoneId,
    'available-ip-address-count': (s) => presentSubnet(s, [], used.get(s.SubnetId) ?? 0).AvailableIpAddressCount,
    'cidr-block': cidr,
    cidr,
    cidrBlock: cidr,
    'default-for-az': (s) => String(s.DefaultForAz),
    defaultForAz: (s) => String(s.DefaultForAz),
    'enable-dns64': (s) => String(s.EnableDns64),
    'ipv6-cidr-block-association.ipv6-cidr-block': (s) => s.Ipv6CidrBlockAssociationSet?.map((a) => a.Ipv6CidrBlock),
    'ipv6-cidr-block-association.association-id': (s) => s.Ipv6CidrBlockAssociationSet?.map((a) => a.AssociationId),
    'ipv6-cidr-block-association.state': (s) => s.Ipv6CidrBlockAssociationSet?.map((a) => a.Ipv6CidrBlockState?.State),
    'ipv6-native': (s) => String(s.Ipv6Native),
    'map-public-ip-on-launch': (s) => String(s.MapPublicIpOnLaunch),
    'owner-id': (s) => s.OwnerId,
    state: (s) => s.State,
    'subnet-arn': (s) => s.SubnetArn,
    'subnet-id': (s) => s.SubnetId,
    'vpc-id': (s) => s.VpcId,
  };
};

async function describeSubnets(input: DescribeSubnetsRequest, ctx: RequestContext): Promise<DescribeSubnetsResult> {
  const used = await addressesInUse(ctx);
  const { items, nextToken } = await describe<SubnetRecord>(ctx, 'subnet', (s) => s.SubnetId, subnetFields(used), {
    ...input, ids: input.SubnetIds,
  });
  return { Subnets: items.map(({ record, tags }) => presentSubnet(record, tags, used.get(record.SubnetId) ?? 0)), NextToken: nextToken };
}

async function deleteSubnet(input: DeleteSubnetRequest, ctx: RequestContext): Promise<object> {
  await ensureDefaultVpc(ctx);
  const subnet = await requireOne<SubnetRecord>(ctx, 'subnet', input.SubnetId!);
  const id = subnet.SubnetId;
  // Every interface in the subnet is a dependency: its instance's (until terminated) and detached
  // ones alike. Each holds its primary private address, so the subnet's address rows count them.
  if ((await privateIpsInUse(ctx.store, ctx.scope, id)) > 0) {
    throw new ApiError('DependencyViolation', `The subnet '${id}' has dependencies and cannot be deleted.`);
  }
  // Its route table and network ACL associations go with it.
  for (const t of await inVpc<RouteTableRecord>(ctx, KINDS.routeTable, subnet.VpcId)) {
    if (!t.Associations?.some((a) => a.SubnetId === id)) continue;
    t.Associations = t.Associations.filter((a) => a.SubnetId !== id);
    await ctx.store.put(KINDS.routeTable, ctx.scope, t.RouteTableId, t);
  }
  for (const acl of await inVpc<NetworkAclRecord>(ctx, KINDS.networkAcl, subnet.VpcId)) {
    if (!acl.Associations?.some((a) => a.SubnetId === id)) continue;
    acl.Associations = acl.Associations.filter((a) => a.SubnetId !== id);
    await ctx.store.put(KINDS.networkAcl, ctx.scope, acl.NetworkAclId, acl);
  }
  await removeWithTags(ctx, KINDS.subnet, id);
  return {};
}

const SUBNET_ATTRIBUTES = ['MapPublicIpOnLaunch', 'AssignIpv6AddressOnCreation', 'EnableDns64', 'MapCustomerOwnedIpOnLaunch'] as const;

async function modifySubnetAttribute(input: ModifySubnetAttributeRequest, ctx: RequestContext): Promise<object> {
  await ensureDefaultVpc(ctx);
  const subnet = await requireOne<SubnetRecord>(ctx, 'subnet', input.SubnetId!);
  const given = SUBNET_ATTRIBUTES.filter((a) => input[a] !== undefined);
  if (given.length === 0) throw new ApiError('MissingParameter', 'The request must contain an attribute to modify');
  if (given.length > 1) throw invalidParameterCombination('Only one attribute can be modified at a time');
  const attr = given[0]!;
  const value = input[attr]!.Value ?? false;
  if (attr === 'AssignIpv6AddressOnCreation' && value && (subnet.Ipv6CidrBlockAssociationSet ?? []).length === 0) {
    throw invalidParameterValue(
      `Invalid value 'true' for assign-ipv6-address-on-creation. Cannot set assign-ipv6-address-on-creation to true unless the subnet (${subnet.SubnetId}) has an IPv6 CIDR block associated with it.`,
    );
  }
  if (attr === 'MapCustomerOwnedIpOnLaunch' && value) {
    throw invalidParameterValue('MapCustomerOwnedIpOnLaunch needs a customer-owned IPv4 pool, which only Outposts have.');
  }
  subnet[attr] = value;
  await ctx.store.put(KINDS.subnet, ctx.scope, subnet.SubnetId, subnet);
  return {};
}

/**
 * The subnet an instance launches into: the given one (of any of the caller's VPCs), else the
 * default subnet of the zone asked for, else a default subnet.
 */
export async function launchSubnet(ctx: RequestContext, subnetId: string | undefined, zone: string | undefined): Promise<SubnetRecord> {
  await ensureDefaultVpc(ctx);
  if (zone !== undefined && !regionInfo(ctx.region)?.zones.some((z) => z.name === zone)) {
    throw invalidParameterValue(`Invalid availability zone: [${zone}]`);
  }
  if (subnetId !== undefined) {
    const subnet = await requireOne<SubnetRecord>(ctx, 'subnet', subnetId);
    if (zone !== undefined && zone !== subnet.AvailabilityZone) {
      throw invalidParameterValue(
        `Value (${zone}) for parameter availabilityZone is invalid. Subnet '${subnetId}' is in the availability zone ${subnet.AvailabilityZone}`,
      );
    }
    return subnet;
  }
  // The shared records: a launch only reads its subnet, and the region's list is kept between launches.
  const defaults = (await ctx.store.listShared<SubnetRecord>(KINDS.subnet, ctx.scope))
    .filter((s) => s.DefaultForAz)
    .sort((a, b) => (a.AvailabilityZone < b.AvailabilityZone ? -1 : 1));
  const subnet = zone === undefined ? defaults[0] : defaults.find((s) => s.AvailabilityZone === zone);
  if (!subnet) throw new ApiError('VPCIdNotSpecified', 'No default VPC for this user');
  return subnet;
}

export const handlers: Record<string, Handler> = {
  CreateSubnet: createSubnet,
  DescribeSubnets: describeSubnets,
  DeleteSubnet: deleteSubnet,
  ModifySubnetAttribute: modifySubnetAttribute,
};
