/**
 * The default VPC as stored resources: provisioned, under the ids ../default-vpc.ts derives, the
 * first time an account uses VPCs in a region. Provisioning runs inside the request's transaction,
 * so a DryRun (or any failed request) rolls it back whole and the next request provisions again.
 */
import type { DhcpConfiguration } from '@aws-sdk/client-ec2';
import { regionInfo } from '../../../catalog/regions.js';
import type { RequestContext } from '../../context.js';
import { defaultVpc } from '../default-vpc.js';
import { saveNewSubnet, saveNewVpc, subnetRecord, vpcRecord } from './builders.js';
import {
  GATEWAY_ATTACHED, KINDS, type DhcpOptionsRecord, type InternetGatewayRecord, type RouteTableRecord, type VpcRecord,
} from './records.js';

/** Marks a scope whose default VPC was provisioned (and maybe deleted since: it stays deleted). */
const PROVISIONED_KIND = 'default-vpc-provisioned';
const MARKER_ID = 'default';

export async function ensureDefaultVpc(ctx: RequestContext): Promise<void> {
  // The shared read: the marker is read by most operations and written once.
  if ((await ctx.store.getManyShared(PROVISIONED_KIND, ctx.scope, [MARKER_ID])).length > 0) return;
  await ctx.store.put(PROVISIONED_KIND, ctx.scope, MARKER_ID, { at: ctx.now().toISOString() });
  const ids = defaultVpc(ctx.scope);
  await ctx.store.put<DhcpOptionsRecord>(KINDS.dhcpOptions, ctx.scope, ids.DhcpOptionsId, regionDhcpOptions(ctx, ids.DhcpOptionsId));
  await provisionDefaultVpc(ctx, ids.DhcpOptionsId);
}

/** The caller's stored default VPC (provisioned first if never was), or undefined after it was deleted. */
export async function findDefaultVpc(ctx: RequestContext): Promise<VpcRecord | undefined> {
  await ensureDefaultVpc(ctx);
  return (await ctx.store.list<VpcRecord>(KINDS.vpc, ctx.scope)).find((v) => v.IsDefault);
}

/** The region's default DHCP options, which new VPCs get, if they still exist. */
export async function regionDhcpOptionsId(ctx: RequestContext): Promise<string> {
  const id = defaultVpc(ctx.scope).DhcpOptionsId;
  return (await ctx.store.get(KINDS.dhcpOptions, ctx.scope, id)) ? id : 'default';
}

function regionDhcpOptions(ctx: RequestContext, id: string): DhcpOptionsRecord {
  const domain = ctx.region === 'us-east-1' ? 'ec2.internal' : `${ctx.region}.compute.internal`;
  const config: DhcpConfiguration[] = [
    { Key: 'domain-name', Values: [{ Value: domain }] },
    { Key: 'domain-name-servers', Values: [{ Value: 'AmazonProvidedDNS' }] },
  ];
  return { DhcpOptionsId: id, OwnerId: ctx.accountId, DhcpConfigurations: config };
}

/** Stores the default VPC, its subnets, gateway and default route (also CreateDefaultVpc's work). */
export async function provisionDefaultVpc(ctx: RequestContext, dhcpOptionsId: string): Promise<void> {
  const ids = defaultVpc(ctx.scope);
  const vpc = vpcRecord(ctx, { VpcId: ids.VpcId, CidrBlock: ids.CidrBlock, IsDefault: true, DhcpOptionsId: dhcpOptionsId });
  await saveNewVpc(ctx, vpc, { RouteTableId: ids.RouteTableId, NetworkAclId: ids.NetworkAclId, SecurityGroupId: ids.SecurityGroupId });
  const zones = new Map((regionInfo(ctx.region)?.zones ?? []).map((z) => [z.name, z.id]));
  for (const s of ids.subnets) {
    await saveNewSubnet(ctx, subnetRecord(ctx, {
      SubnetId: s.SubnetId, VpcId: ids.VpcId, CidrBlock: s.CidrBlock, AvailabilityZone: s.AvailabilityZone,
      AvailabilityZoneId: zones.get(s.AvailabilityZone) ?? s.AvailabilityZoneId, DefaultForAz: true,
    }));
  }
  const igw: InternetGatewayRecord = {
    InternetGatewayId: ids.InternetGatewayId, OwnerId: ctx.accountId, Attachments: [{ VpcId: ids.VpcId, State: GATEWAY_ATTACHED }],
  };
  await ctx.store.put(KINDS.internetGateway, ctx.scope, igw.InternetGatewayId, igw);
  const main = (await ctx.store.get<RouteTableRecord>(KINDS.routeTable, ctx.scope, ids.RouteTableId))!;
  main.Routes!.push({ DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw.InternetGatewayId, Origin: 'CreateRoute', State: 'active' });
  await ctx.store.put(KINDS.routeTable, ctx.scope, main.RouteTableId, main);
}
