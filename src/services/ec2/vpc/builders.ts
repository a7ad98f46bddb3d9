/**
 * New VPC resources as EC2 makes them, shared by CreateVpc, CreateSubnet and the default VPC: a VPC
 * always comes with its main route table, default network ACL and default security group.
 */
import type { NetworkAclEntry, Route } from '@aws-sdk/client-ec2';
import { newId } from '../../../util/ids.js';
import type { RequestContext } from '../../context.js';
import {
  arn, KINDS, type NetworkAclRecord, type RouteTableRecord, type RuleIndexEntry, type SecurityGroupRecord, type StoredRule,
  type SubnetRecord, type VpcRecord,
} from './records.js';

export interface VpcIds {
  VpcId: string;
  RouteTableId: string;
  NetworkAclId: string;
  SecurityGroupId: string;
}

export function vpcRecord(ctx: RequestContext, opts: {
  VpcId: string; CidrBlock: string; IsDefault: boolean; DhcpOptionsId: string; InstanceTenancy?: string; Ipv6CidrBlock?: string;
}): VpcRecord {
  return {
    VpcId: opts.VpcId,
    CidrBlock: opts.CidrBlock,
    DhcpOptionsId: opts.DhcpOptionsId,
    State: 'available',
    OwnerId: ctx.accountId,
    InstanceTenancy: (opts.InstanceTenancy ?? 'default') as VpcRecord['InstanceTenancy'],
    IsDefault: opts.IsDefault,
    CidrBlockAssociationSet: [{ AssociationId: newId('vpc-cidr-assoc'), CidrBlock: opts.CidrBlock, CidrBlockState: { State: 'associated' } }],
    Ipv6CidrBlockAssociationSet: opts.Ipv6CidrBlock ? [ipv6Association(ctx, opts.Ipv6CidrBlock)] : undefined,
    EnableDnsSupport: true,
    EnableDnsHostnames: opts.IsDefault,
    EnableNetworkAddressUsageMetrics: false,
  };
}

export function ipv6Association(ctx: RequestContext, block: string): NonNullable<VpcRecord['Ipv6CidrBlockAssociationSet']>[number] {
  return {
    AssociationId: newId('vpc-cidr-assoc'),
    Ipv6CidrBlock: block,
    Ipv6CidrBlockState: { State: 'associated' },
    NetworkBorderGroup: ctx.region,
    Ipv6Pool: 'Amazon',
  };
}

/** The routes to a VPC's own blocks, which every table of the VPC has and no one can remove. */
export function localRoutes(vpc: VpcRecord): Route[] {
  const v4: Route[] = (vpc.CidrBlockAssociationSet ?? []).map((a) => ({
    DestinationCidrBlock: a.CidrBlock, GatewayId: 'local', Origin: 'CreateRouteTable', State: 'active',
  }));
  const v6: Route[] = (vpc.Ipv6CidrBlockAssociationSet ?? []).map((a) => ({
    DestinationIpv6CidrBlock: a.Ipv6CidrBlock, GatewayId: 'local', Origin: 'CreateRouteTable', State: 'active',
  }));
  return [...v4, ...v6];
}

export function routeTableRecord(ctx: RequestContext, vpc: VpcRecord, id: string, main: boolean): RouteTableRecord {
  return {
    RouteTableId: id,
    VpcId: vpc.VpcId,
    OwnerId: ctx.accountId,
    Routes: localRoutes(vpc),
    Associations: main
      ? [{ Main: true, RouteTableAssociationId: newId('rtbassoc'), RouteTableId: id, AssociationState: { State: 'associated' } }]
      : [],
    PropagatingVgws: [],
  };
}

/** The entries every ACL ends with: rule 32767 (shown as `*`) denies what no other rule matched. */
export function catchAllEntries(ipv6: boolean, action: 'allow' | 'deny', ruleNumber: number): NetworkAclEntry[] {
  const out: NetworkAclEntry[] = [];
  for (const Egress of [true, false]) {
    out.push({ RuleNumber: ruleNumber, Protocol: '-1', RuleAction: action, Egress, CidrBlock: '0.0.0.0/0' });
    if (ipv6) out.push({ RuleNumber: ruleNumber + 1, Protocol: '-1', RuleAction: action, Egress, Ipv6CidrBlock: '::/0' });
  }
  return out;
}

/** The default ACL allows everything (rule 100) in both directions; a new custom ACL denies everything. */
export function networkAclRecord(ctx: RequestContext, vpc: VpcRecord, id: string, isDefault: boolean): NetworkAclRecord {
  const ipv6 = (vpc.Ipv6CidrBlockAssociationSet ?? []).length > 0;
  return {
    NetworkAclId: id,
    VpcId: vpc.VpcId,
    OwnerId: ctx.accountId,
    IsDefault: isDefault,
    Entries: sortEntries([...(isDefault ? catchAllEntries(ipv6, 'allow', 100) : []), ...catchAllEntries(ipv6, 'deny', 32767)]),
    Associations: [],
  };
}

/** EC2 lists egress entries first, each direction by rule number. */
export function sortEntries(entries: NetworkAclEntry[]): NetworkAclEntry[] {
  return entries.sort((a, b) => Number(b.Egress) - Number(a.Egress) || a.RuleNumber! - b.RuleNumber!);
}

/** The default group: all egress, and all ingress from members of the group itself. */
export function defaultSecurityGroup(ctx: RequestContext, vpc: VpcRecord, id: string): SecurityGroupRecord {
  const all = { IpProtocol: '-1', FromPort: -1, ToPort: -1 };
  const rules: StoredRule[] = [
    { SecurityGroupRuleId: newId('sgr'), IsEgress: false, ...all, ReferencedGroupInfo: { GroupId: id, UserId: ctx.accountId } },
    { SecurityGroupRuleId: newId('sgr'), IsEgress: true, ...all, CidrIpv4: '0.0.0.0/0' },
  ];
  if ((vpc.Ipv6CidrBlockAssociationSet ?? []).length > 0) {
    rules.push({ SecurityGroupRuleId: newId('sgr'), IsEgress: true, ...all, CidrIpv6: '::/0' });
  }
  return {
    GroupId: id, GroupName: 'default', Description: `default VPC security group`, VpcId: vpc.VpcId, OwnerId: ctx.accountId, rules,
  };
}

/** Stores a group and the index entries of its rules. */
export async function saveSecurityGroup(ctx: RequestContext, group: SecurityGroupRecord, previous?: SecurityGroupRecord): Promise<void> {
  const now = new Set(group.rules.map((r) => r.SecurityGroupRuleId));
  for (const r of previous?.rules ?? []) {
    if (!now.has(r.SecurityGroupRuleId)) {
      await ctx.store.remove(KINDS.securityGroupRule, ctx.scope, r.SecurityGroupRuleId);
      await ctx.store.deleteAllTags(ctx.scope, r.SecurityGroupRuleId);
    }
  }
  const before = new Set((previous?.rules ?? []).map((r) => r.SecurityGroupRuleId));
  for (const r of group.rules) {
    if (!before.has(r.SecurityGroupRuleId)) {
      await ctx.store.put<RuleIndexEntry>(KINDS.securityGroupRule, ctx.scope, r.SecurityGroupRuleId, { GroupId: group.GroupId });
    }
  }
  await ctx.store.put(KINDS.securityGroup, ctx.scope, group.GroupId, group);
}

/** Stores a VPC with its main route table, default ACL and default security group. */
export async function saveNewVpc(ctx: RequestContext, vpc: VpcRecord, ids: Omit<VpcIds, 'VpcId'>): Promise<void> {
  await ctx.store.put(KINDS.vpc, ctx.scope, vpc.VpcId, vpc);
  await ctx.store.put(KINDS.routeTable, ctx.scope, ids.RouteTableId, routeTableRecord(ctx, vpc, ids.RouteTableId, true));
  await ctx.store.put(KINDS.networkAcl, ctx.scope, ids.NetworkAclId, networkAclRecord(ctx, vpc, ids.NetworkAclId, true));
  await saveSecurityGroup(ctx, defaultSecurityGroup(ctx, vpc, ids.SecurityGroupId));
}

export function subnetRecord(ctx: RequestContext, opts: {
  SubnetId: string; VpcId: string; CidrBlock: string; AvailabilityZone: string; AvailabilityZoneId: string; DefaultForAz: boolean;
  Ipv6CidrBlock?: string;
}): SubnetRecord {
  return {
    SubnetId: opts.SubnetId,
    VpcId: opts.VpcId,
    CidrBlock: opts.CidrBlock,
    AvailabilityZone: opts.AvailabilityZone,
    AvailabilityZoneId: opts.AvailabilityZoneId,
    State: 'available',
    DefaultForAz: opts.DefaultForAz,
    MapPublicIpOnLaunch: opts.DefaultForAz,
    MapCustomerOwnedIpOnLaunch: false,
    AssignIpv6AddressOnCreation: false,
    Ipv6CidrBlockAssociationSet: opts.Ipv6CidrBlock
      ? [{ AssociationId: newId('subnet-cidr-assoc'), Ipv6CidrBlock: opts.Ipv6CidrBlock, Ipv6CidrBlockState: { State: 'associated' } }]
      : [],
    OwnerId: ctx.accountId,
    SubnetArn: arn(ctx, 'subnet', opts.SubnetId),
    EnableDns64: false,
    Ipv6Native: false,
    PrivateDnsNameOptionsOnLaunch: { HostnameType: 'ip-name', EnableResourceNameDnsARecord: false, EnableResourceNameDnsAAAARecord: false },
  };
}

/** Stores a new subnet, associated (as EC2 does) with its VPC's default network ACL. */
export async function saveNewSubnet(ctx: RequestContext, subnet: SubnetRecord): Promise<void> {
  await ctx.store.put(KINDS.subnet, ctx.scope, subnet.SubnetId, subnet);
  const acls = (await ctx.store.list<NetworkAclRecord>(KINDS.networkAcl, ctx.scope)).filter((a) => a.VpcId === subnet.VpcId);
  const acl = acls.find((a) => a.IsDefault);
  if (!acl) return;
  acl.Associations = [...(acl.Associations ?? []), {
    NetworkAclAssociationId: newId('aclassoc'), NetworkAclId: acl.NetworkAclId, SubnetId: subnet.SubnetId,
  }];
  await ctx.store.put(KINDS.networkAcl, ctx.scope, acl.NetworkAclId, acl);
}
