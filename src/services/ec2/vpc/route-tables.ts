/**
 * Route tables: Create/Describe/DeleteRouteTable, Create/Replace/DeleteRoute and the subnet
 * associations (Associate, Disassociate, ReplaceRouteTableAssociation, which also moves "main").
 * Every table has a local route per VPC block that cannot be removed.
 */
import type {
  AssociateRouteTableRequest, AssociateRouteTableResult, CreateRouteRequest, CreateRouteResult, CreateRouteTableRequest,
  CreateRouteTableResult, DeleteRouteRequest, DeleteRouteTableRequest, DescribeRouteTablesRequest, DescribeRouteTablesResult,
  DisassociateRouteTableRequest, ReplaceRouteRequest, ReplaceRouteTableAssociationRequest, ReplaceRouteTableAssociationResult,
  Route, RouteTable, RouteTableAssociation,
} from '@aws-sdk/client-ec2';
import { ApiError, invalidParameterValue } from '../../../protocol/errors.js';
import type { Tag } from '../../../store/store.js';
import { newId } from '../../../util/ids.js';
import type { Handler, RequestContext } from '../../context.js';
import { checkIds, notFound } from '../common/errors.js';
import type { FilterFields } from '../common/filters.js';
import { addTags, tagsFromSpecifications } from '../common/tagging.js';
import { INSTANCE_KIND, type InstanceRecord } from '../instances/record.js';
import { routeTableRecord } from './builders.js';
import { cidrContains, formatCidr, parseCidr, type Cidr } from './cidr.js';
import { ensureDefaultVpc } from './default-vpc.js';
import { describe, tagsOrUndefined } from './describe.js';
import { checkLimit } from './limits.js';
import { inVpc, KINDS, requireOne, type InternetGatewayRecord, type RouteTableRecord, type SubnetRecord, type VpcRecord } from './records.js';
import { removeWithTags } from './vpcs.js';

const present = (rec: RouteTableRecord, tags: readonly Tag[]): RouteTable => ({ ...rec, Tags: tagsOrUndefined(tags) });

async function createRouteTable(input: CreateRouteTableRequest, ctx: RequestContext): Promise<CreateRouteTableResult> {
  const tags = tagsFromSpecifications(input.TagSpecifications, ['route-table'], 'route-table');
  await ensureDefaultVpc(ctx);
  const vpc = await requireOne<VpcRecord>(ctx, 'vpc', input.VpcId!);
  checkLimit(ctx, 'routeTablesPerVpc', (await inVpc(ctx, KINDS.routeTable, vpc.VpcId)).length);
  const table = routeTableRecord(ctx, vpc, newId('rtb'), false);
  await ctx.store.put(KINDS.routeTable, ctx.scope, table.RouteTableId, table);
  await addTags(ctx, table.RouteTableId, 'route-table', tags);
  return { RouteTable: present(table, tags) };
}

const fields: FilterFields<RouteTableRecord> = {
  'association.gateway-id': (t) => t.Associations?.map((a) => a.GatewayId),
  'association.route-table-association-id': (t) => t.Associations?.map((a) => a.RouteTableAssociationId),
  'association.route-table-id': (t) => t.Associations?.map((a) => a.RouteTableId),
  'association.subnet-id': (t) => t.Associations?.map((a) => a.SubnetId),
  'association.main': (t) => (t.Associations?.some((a) => a.Main) ? 'true' : 'false'),
  'owner-id': (t) => t.OwnerId,
  'route-table-id': (t) => t.RouteTableId,
  'route.destination-cidr-block': (t) => t.Routes?.map((r) => r.DestinationCidrBlock),
  'route.destination-ipv6-cidr-block': (t) => t.Routes?.map((r) => r.DestinationIpv6CidrBlock),
  'route.destination-prefix-list-id': (t) => t.Routes?.map((r) => r.DestinationPrefixListId),
  'route.gateway-id': (t) => t.Routes?.map((r) => r.GatewayId),
  'route.instance-id': (t) => t.Routes?.map((r) => r.InstanceId),
  'route.nat-gateway-id': (t) => t.Routes?.map((r) => r.NatGatewayId),
  'route.transit-gateway-id': (t) => t.Routes?.map((r) => r.TransitGatewayId),
  'route.origin': (t) => t.Routes?.map((r) => r.Origin),
  'route.state': (t) => t.Routes?.map((r) => r.State),
  'route.vpc-peering-connection-id': (t) => t.Routes?.map((r) => r.VpcPeeringConnectionId),
  'vpc-id': (t) => t.VpcId,
};

async function describeRouteTables(input: DescribeRouteTablesRequest, ctx: RequestContext): Promise<DescribeRouteTablesResult> {
  const { items, nextToken } = await describe<RouteTableRecord>(ctx, 'route-table', (t) => t.RouteTableId, fields, {
    ...input, ids: input.RouteTableIds,
  }, { min: 5, max: 100 });
  return { RouteTables: items.map(({ record, tags }) => present(record, tags)), NextToken: nextToken };
}

async function deleteRouteTable(input: DeleteRouteTableRequest, ctx: RequestContext): Promise<object> {
  await ensureDefaultVpc(ctx);
  const table = await requireOne<RouteTableRecord>(ctx, 'route-table', input.RouteTableId!);
  if ((table.Associations ?? []).length > 0) {
    throw new ApiError('DependencyViolation', `The routeTable '${table.RouteTableId}' has dependencies and cannot be deleted.`);
  }
  await removeWithTags(ctx, KINDS.routeTable, table.RouteTableId);
  return {};
}

/** Where a route goes: the destination, as given, and its parsed block (or prefix list). */
interface Destination {
  key: 'DestinationCidrBlock' | 'DestinationIpv6CidrBlock' | 'DestinationPrefixListId';
  value: string;
  block?: Cidr;
}

function destinationOf(input: { DestinationCidrBlock?: string; DestinationIpv6CidrBlock?: string; DestinationPrefixListId?: string }): Destination {
  const given = (['DestinationCidrBlock', 'DestinationIpv6CidrBlock', 'DestinationPrefixListId'] as const).filter((k) => input[k] !== undefined);
  if (given.length !== 1) {
    throw new ApiError('InvalidParameterCombination', 'Exactly one of destinationCidrBlock, destinationIpv6CidrBlock or destinationPrefixListId must be specified.');
  }
  const key = given[0]!;
  const value = input[key]!;
  if (key === 'DestinationPrefixListId') {
    if (!/^pl-[0-9a-f]{8,17}$/.test(value)) throw new ApiError('InvalidPrefixListId.Malformed', `Invalid id: "${value}"`);
    return { key, value };
  }
  const family = key === 'DestinationCidrBlock' ? 4 : 6;
  const block = parseCidr(value, family);
  if (!block) {
    const param = family === 4 ? 'destinationCidrBlock' : 'destinationIpv6CidrBlock';
    throw invalidParameterValue(`Value (${value}) for parameter ${param} is invalid. This is not a valid CIDR block.`);
  }
  return { key, value: formatCidr(block), block };
}

const sameDestination = (r: Route, d: Destination) => {
  const v = r[d.key];
  if (v === undefined) return false;
  if (!d.block) return v === d.value;
  const b = parseCidr(v, d.key === 'DestinationCidrBlock' ? 4 : 6);
  return b !== undefined && b.base === d.block.base && b.bits === d.block.bits;
};

type RouteTargetInput = Pick<CreateRouteRequest,
  'GatewayId' | 'InstanceId' | 'NetworkInterfaceId' | 'NatGatewayId' | 'VpcPeeringConnectionId' | 'TransitGatewayId' |
  'EgressOnlyInternetGatewayId' | 'LocalGatewayId' | 'CarrierGatewayId' | 'VpcEndpointId' | 'CoreNetworkArn'>;

/** Targets of resources this endpoint does not model yet: none can exist, so each id is unknown. */
const UNMODELLED_TARGETS: Record<string, { code: string; noun: string }> = {
  NatGatewayId: { code: 'InvalidNatGatewayID.NotFound', noun: 'natGateway ID' },
  VpcPeeringConnectionId: { code: 'InvalidVpcPeeringConnectionID.NotFound', noun: 'vpcPeeringConnection ID' },
  TransitGatewayId: { code: 'InvalidTransitGatewayID.NotFound', noun: 'transitGateway ID' },
  EgressOnlyInternetGatewayId: { code: 'InvalidGatewayID.NotFound', noun: 'egressOnlyInternetGateway ID' },
  LocalGatewayId: { code: 'InvalidLocalGatewayID.NotFound', noun: 'localGateway ID' },
  CarrierGatewayId: { code: 'InvalidCarrierGatewayID.NotFound', noun: 'carrierGateway ID' },
  VpcEndpointId: { code: 'InvalidVpcEndpointId.NotFound', noun: 'vpcEndpoint ID' },
  CoreNetworkArn: { code: 'InvalidParameterValue', noun: 'core network' },
};

/** The route's target, checked to exist and to belong to the table's VPC. */
async function targetOf(ctx: RequestContext, table: RouteTableRecord, input: RouteTargetInput): Promise<Route> {
  const given = (Object.keys(input) as (keyof RouteTargetInput)[]).filter((k) => input[k] !== undefined && input[k] !== '');
  const TARGETS = ['GatewayId', 'InstanceId', 'NetworkInterfaceId', ...Object.keys(UNMODELLED_TARGETS)];
  const targets = given.filter((k) => TARGETS.includes(k));
  if (targets.length !== 1) {
    throw new ApiError('InvalidParameterCombination', 'The request must contain exactly one of gatewayId, natGatewayId, networkInterfaceId, vpcPeeringConnectionId, transitGatewayId or instanceId');
  }
  const key = targets[0]!;
  const id = input[key]!;
  const differentNetworks = () => invalidParameterValue(`route table ${table.RouteTableId} and network gateway ${id} belong to different networks`);
  if (key === 'GatewayId') {
    if (!id.startsWith('igw-')) throw new ApiError('InvalidGatewayID.NotFound', `The gateway ID '${id}' does not exist`);
    checkIds('internet-gateway', [id]);
    const igw = await ctx.store.get<InternetGatewayRecord>(KINDS.internetGateway, ctx.scope, id);
    if (!igw) throw new ApiError('InvalidGatewayID.NotFound', `The gateway ID '${id}' does not exist`);
    if (!igw.Attachments?.some((a) => a.VpcId === table.VpcId)) throw differentNetworks();
    return { GatewayId: id };
  }
  if (key === 'InstanceId' || key === 'NetworkInterfaceId') {
    checkIds(key === 'InstanceId' ? 'instance' : 'network-interface', [id]);
    const instances = await inVpc<InstanceRecord>(ctx, INSTANCE_KIND, table.VpcId);
    const all = key === 'InstanceId' ? await ctx.store.get<InstanceRecord>(INSTANCE_KIND, ctx.scope, id) : undefined;
    const inst = key === 'InstanceId'
      ? instances.find((i) => i.InstanceId === id)
      : instances.find((i) => i.NetworkInterfaceId === id);
    if (!inst || inst.state === 'terminated') {
      if (all) throw invalidParameterValue(`route table ${table.RouteTableId} and instance ${id} belong to different networks`);
      throw notFound(key === 'InstanceId' ? 'instance' : 'network-interface', [id]);
    }
    return { InstanceId: inst.InstanceId, InstanceOwnerId: ctx.accountId, NetworkInterfaceId: inst.NetworkInterfaceId };
  }
  const t = UNMODELLED_TARGETS[key]!;
  throw new ApiError(t.code, `The ${t.noun} '${id}' does not exist`);
}

/** A route to part of the VPC's own address space can only go to an interface or an instance. */
async function checkNotShadowingLocal(ctx: RequestContext, table: RouteTableRecord, dest: Destination, target: Route): Promise<void> {
  if (!dest.block || !target.GatewayId) return;
  const vpc = (await ctx.store.get<VpcRecord>(KINDS.vpc, ctx.scope, table.VpcId))!;
  const blocks = [
    ...(vpc.CidrBlockAssociationSet ?? []).map((a) => parseCidr(a.CidrBlock!)!),
    ...(vpc.Ipv6CidrBlockAssociationSet ?? []).map((a) => parseCidr(a.Ipv6CidrBlock!, 6)!),
  ];
  const hit = blocks.find((b) => cidrContains(b, dest.block!));
  if (hit) {
    throw invalidParameterValue(
      `The destination CIDR block ${dest.value} is equal to or more specific than one of this VPC's CIDR blocks. This route can target only an interface or an instance.`,
    );
  }
}

async function createRoute(input: CreateRouteRequest, ctx: RequestContext): Promise<CreateRouteResult> {
  await ensureDefaultVpc(ctx);
  const table = await requireOne<RouteTableRecord>(ctx, 'route-table', input.RouteTableId!);
  const dest = destinationOf(input);
  const routes = table.Routes ?? [];
  if (routes.some((r) => sameDestination(r, dest))) {
    throw new ApiError('RouteAlreadyExists', `The route identified by ${dest.value} already exists.`);
  }
  const target = await targetOf(ctx, table, input);
  await checkNotShadowingLocal(ctx, table, dest, target);
  checkLimit(ctx, 'routesPerRouteTable', routes.filter((r) => r.GatewayId !== 'local').length);
  table.Routes = [...routes, { [dest.key]: dest.value, ...target, Origin: 'CreateRoute', State: 'active' }];
  await ctx.store.put(KINDS.routeTable, ctx.scope, table.RouteTableId, table);
  return { Return: true };
}

/** The route with this destination, or EC2's InvalidRoute.NotFound; local routes are not the user's to change. */
function existingRoute(table: RouteTableRecord, dest: Destination, action: 'replace' | 'remove'): Route {
  const route = (table.Routes ?? []).find((r) => sameDestination(r, dest));
  if (!route) {
    const what = dest.key === 'DestinationCidrBlock' ? 'destination-cidr-block' : dest.key === 'DestinationIpv6CidrBlock'
      ? 'destination-ipv6-cidr-block' : 'destination-prefix-list-id';
    throw new ApiError('InvalidRoute.NotFound', `no route with ${what} ${dest.value} in route table ${table.RouteTableId}`);
  }
  if (route.GatewayId === 'local') {
    throw invalidParameterValue(`cannot ${action} local route ${dest.value} in route table ${table.RouteTableId}`);
  }
  return route;
}

async function replaceRoute(input: ReplaceRouteRequest, ctx: RequestContext): Promise<object> {
  await ensureDefaultVpc(ctx);
  const table = await requireOne<RouteTableRecord>(ctx, 'route-table', input.RouteTableId!);
  const dest = destinationOf(input);
  const route = existingRoute(table, dest, 'replace');
  const target = await targetOf(ctx, table, input);
  await checkNotShadowingLocal(ctx, table, dest, target);
  table.Routes = table.Routes!.map((r) => (r === route ? { [dest.key]: dest.value, ...target, Origin: 'CreateRoute', State: 'active' } : r));
  await ctx.store.put(KINDS.routeTable, ctx.scope, table.RouteTableId, table);
  return {};
}

async function deleteRoute(input: DeleteRouteRequest, ctx: RequestContext): Promise<object> {
  await ensureDefaultVpc(ctx);
  const table = await requireOne<RouteTableRecord>(ctx, 'route-table', input.RouteTableId!);
  const route = existingRoute(table, destinationOf(input), 'remove');
  table.Routes = table.Routes!.filter((r) => r !== route);
  await ctx.store.put(KINDS.routeTable, ctx.scope, table.RouteTableId, table);
  return {};
}

async function associateRouteTable(input: AssociateRouteTableRequest, ctx: RequestContext): Promise<AssociateRouteTableResult> {
  await ensureDefaultVpc(ctx);
  const table = await requireOne<RouteTableRecord>(ctx, 'route-table', input.RouteTableId!);
  if ((input.SubnetId === undefined) === (input.GatewayId === undefined)) {
    throw new ApiError('InvalidParameterCombination', 'Specify exactly one of SubnetId and GatewayId.');
  }
  const association: RouteTableAssociation = {
    Main: false, RouteTableAssociationId: newId('rtbassoc'), RouteTableId: table.RouteTableId, AssociationState: { State: 'associated' },
  };
  const tables = await inVpc<RouteTableRecord>(ctx, KINDS.routeTable, table.VpcId);
  if (input.SubnetId !== undefined) {
    const subnet = await requireOne<SubnetRecord>(ctx, 'subnet', input.SubnetId);
    if (subnet.VpcId !== table.VpcId) {
      throw invalidParameterValue(`Route table ${table.RouteTableId} and subnet ${subnet.SubnetId} belong to different networks`);
    }
    if (tables.some((t) => t.Associations?.some((a) => a.SubnetId === subnet.SubnetId))) {
      throw new ApiError('Resource.AlreadyAssociated', `the specified association for route table ${table.RouteTableId} conflicts with an existing association`);
    }
    association.SubnetId = subnet.SubnetId;
  } else {
    const igw = await requireOne<InternetGatewayRecord>(ctx, 'internet-gateway', input.GatewayId!);
    if (!igw.Attachments?.some((a) => a.VpcId === table.VpcId)) {
      throw invalidParameterValue(`Route table ${table.RouteTableId} and gateway ${igw.InternetGatewayId} belong to different networks`);
    }
    if (tables.some((t) => t.Associations?.some((a) => a.GatewayId === igw.InternetGatewayId))) {
      throw new ApiError('Resource.AlreadyAssociated', `the specified association for route table ${table.RouteTableId} conflicts with an existing association`);
    }
    association.GatewayId = igw.InternetGatewayId;
  }
  table.Associations = [...(table.Associations ?? []), association];
  await ctx.store.put(KINDS.routeTable, ctx.scope, table.RouteTableId, table);
  return { AssociationId: association.RouteTableAssociationId, AssociationState: association.AssociationState };
}

/** The table that holds an association id, with the association. */
async function findAssociation(ctx: RequestContext, id: string): Promise<{ table: RouteTableRecord; association: RouteTableAssociation }> {
  checkIds('route-table-association', [id]);
  for (const table of await ctx.store.list<RouteTableRecord>(KINDS.routeTable, ctx.scope)) {
    const association = table.Associations?.find((a) => a.RouteTableAssociationId === id);
    if (association) return { table, association };
  }
  throw notFound('route-table-association', [id]);
}

async function disassociateRouteTable(input: DisassociateRouteTableRequest, ctx: RequestContext): Promise<object> {
  await ensureDefaultVpc(ctx);
  const { table, association } = await findAssociation(ctx, input.AssociationId!);
  if (association.Main) {
    throw invalidParameterValue(`cannot disassociate the main route table association ${association.RouteTableAssociationId}`);
  }
  table.Associations = table.Associations!.filter((a) => a !== association);
  await ctx.store.put(KINDS.routeTable, ctx.scope, table.RouteTableId, table);
  return {};
}

async function replaceRouteTableAssociation(
  input: ReplaceRouteTableAssociationRequest, ctx: RequestContext,
): Promise<ReplaceRouteTableAssociationResult> {
  await ensureDefaultVpc(ctx);
  const { table: from, association } = await findAssociation(ctx, input.AssociationId!);
  const to = await requireOne<RouteTableRecord>(ctx, 'route-table', input.RouteTableId!);
  if (to.VpcId !== from.VpcId) {
    throw invalidParameterValue(`Route table ${to.RouteTableId} and association ${association.RouteTableAssociationId} belong to different networks`);
  }
  const moved: RouteTableAssociation = { ...association, RouteTableAssociationId: newId('rtbassoc'), RouteTableId: to.RouteTableId };
  if (from.RouteTableId === to.RouteTableId) {
    to.Associations = to.Associations!.map((a) => (a === association ? moved : a));
  } else {
    from.Associations = from.Associations!.filter((a) => a !== association);
    await ctx.store.put(KINDS.routeTable, ctx.scope, from.RouteTableId, from);
    to.Associations = [...(to.Associations ?? []), moved];
  }
  await ctx.store.put(KINDS.routeTable, ctx.scope, to.RouteTableId, to);
  return { NewAssociationId: moved.RouteTableAssociationId, AssociationState: moved.AssociationState };
}

export const handlers: Record<string, Handler> = {
  CreateRouteTable: createRouteTable,
  DescribeRouteTables: describeRouteTables,
  DeleteRouteTable: deleteRouteTable,
  CreateRoute: createRoute,
  ReplaceRoute: replaceRoute,
  DeleteRoute: deleteRoute,
  AssociateRouteTable: associateRouteTable,
  DisassociateRouteTable: disassociateRouteTable,
  ReplaceRouteTableAssociation: replaceRouteTableAssociation,
};
