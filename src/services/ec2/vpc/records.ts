/**
 * The stored forms of the VPC resources and how operations find them. Each is kept under the store
 * kind that common/resources.ts names for its id prefix (so CreateTags finds it); records are the
 * SDK's own shapes wherever EC2's answer is just the record.
 */
import type {
  DhcpOptions, InternetGateway, NetworkAcl, RouteTable, SecurityGroupRule, Subnet, Vpc,
} from '@aws-sdk/client-ec2';
import type { RequestContext } from '../../context.js';
import { checkIds, notFound, type ResourceKind } from '../common/errors.js';

export const KINDS = {
  vpc: 'vpc',
  subnet: 'subnet',
  internetGateway: 'internet-gateway',
  routeTable: 'route-table',
  networkAcl: 'network-acl',
  securityGroup: 'security-group',
  securityGroupRule: 'security-group-rule',
  dhcpOptions: 'dhcp-options',
} as const;

export interface VpcRecord extends Omit<Vpc, 'Tags'> {
  VpcId: string;
  CidrBlock: string;
  EnableDnsSupport: boolean;
  EnableDnsHostnames: boolean;
  EnableNetworkAddressUsageMetrics: boolean;
}

export interface SubnetRecord extends Omit<Subnet, 'Tags' | 'AvailableIpAddressCount'> {
  SubnetId: string;
  VpcId: string;
  CidrBlock: string;
  AvailabilityZone: string;
  AvailabilityZoneId: string;
}

export type InternetGatewayRecord = Omit<InternetGateway, 'Tags'> & { InternetGatewayId: string };
export type RouteTableRecord = Omit<RouteTable, 'Tags'> & { RouteTableId: string; VpcId: string };
export type NetworkAclRecord = Omit<NetworkAcl, 'Tags'> & { NetworkAclId: string; VpcId: string };
export type DhcpOptionsRecord = Omit<DhcpOptions, 'Tags'> & { DhcpOptionsId: string };

/** One rule of a security group: one peer (CIDR, IPv6 CIDR, prefix list or group), one protocol and port range. */
export type StoredRule = Omit<SecurityGroupRule, 'Tags' | 'GroupId' | 'GroupOwnerId' | 'SecurityGroupRuleArn'> & {
  SecurityGroupRuleId: string;
  IsEgress: boolean;
  IpProtocol: string;
  FromPort: number;
  ToPort: number;
};

export interface SecurityGroupRecord {
  GroupId: string;
  GroupName: string;
  Description: string;
  VpcId: string;
  OwnerId: string;
  rules: StoredRule[];
}

/** Secondary index: a rule id names its group (CreateTags and rule lookups by id). */
export interface RuleIndexEntry {
  GroupId: string;
}

/** Fetches resources by id, each checked for form; any unknown id is the kind's NotFound. */
export async function requireAll<T>(ctx: RequestContext, kind: ResourceKind, ids: readonly string[]): Promise<T[]> {
  checkIds(kind, ids);
  const unique = [...new Set(ids)];
  const found = await ctx.store.getMany<T & Record<string, unknown>>(kind, ctx.scope, unique);
  if (found.length < unique.length) {
    const idField = ID_FIELDS[kind]!;
    const have = new Set(found.map((f) => f[idField] as string));
    throw notFound(kind, unique.filter((id) => !have.has(id)));
  }
  return found;
}

export async function requireOne<T>(ctx: RequestContext, kind: ResourceKind, id: string): Promise<T> {
  return (await requireAll<T>(ctx, kind, [id]))[0]!;
}

const ID_FIELDS: Record<string, string> = {
  vpc: 'VpcId',
  subnet: 'SubnetId',
  'internet-gateway': 'InternetGatewayId',
  'route-table': 'RouteTableId',
  'network-acl': 'NetworkAclId',
  'security-group': 'GroupId',
  'dhcp-options': 'DhcpOptionsId',
};

/** Records of a kind that belong to one VPC. */
export async function inVpc<T extends { VpcId?: string }>(ctx: RequestContext, kind: string, vpcId: string): Promise<T[]> {
  return (await ctx.store.list<T>(kind, ctx.scope)).filter((r) => r.VpcId === vpcId);
}

/** EC2 shows an attached internet gateway's attachment as `available` (the SDK's enum lacks it). */
export const GATEWAY_ATTACHED = 'available' as NonNullable<InternetGatewayRecord['Attachments']>[number]['State'];

export const arn = (ctx: RequestContext, type: string, id: string) => `arn:aws:ec2:${ctx.region}:${ctx.accountId}:${type}/${id}`;
