/**
 * The desired data plane of one VPC, read from the store: the subnets that have instances plugged
 * in, each plugged interface (addresses, MAC, groups, public mappings), the security groups those
 * interfaces use and the network ACLs of their subnets. Everything the kernel holds is derived from
 * this, so it can always be rebuilt.
 */
import type { NetworkAclEntry } from '@aws-sdk/client-ec2';
import type { Scope, Store } from '../store/store.js';
import { INSTANCE_KIND, type InstanceRecord } from '../services/ec2/instances/record.js';
import { ENI_KIND, type NetworkInterfaceRecord } from '../services/ec2/network-interfaces/record.js';
import { intToIp, ipToInt } from '../services/ec2/network-interfaces/addresses.js';
import {
  KINDS, type InternetGatewayRecord, type NetworkAclRecord, type RouteTableRecord, type SecurityGroupRecord, type StoredRule,
  type SubnetRecord,
} from '../services/ec2/vpc/records.js';
import { bridgePort } from './names.js';

export interface PortModel {
  eniId: string;
  instanceId: string;
  /** The interface's port on the VPC bridge. */
  port: string;
  deviceIndex: number;
  mac: string;
  subnetId: string;
  /** Private addresses, the primary first. */
  ips: string[];
  ipv6s: string[];
  sourceDestCheck: boolean;
  groupIds: string[];
  /** Public address → private address, for the subnets that route to an attached internet gateway. */
  nat: { publicIp: string; privateIp: string }[];
  /**
   * The instance's metadata options the kernel enforces: whether the IMDS answers it (at all, and
   * on its IPv6 address), and the TTL of the answers.
   */
  metadata: { enabled: boolean; ipv6: boolean; hopLimit: number };
}

export interface SubnetModel {
  subnetId: string;
  cidr: string;
  prefix: number;
  /** The VPC router's address in the subnet (its base + 1, as in EC2). */
  gateway: string;
  /** The subnet's IPv6 /64, if it has one. */
  ipv6Cidr?: string;
  networkAclId?: string;
}

export interface VpcModel {
  scope: Scope;
  vpcId: string;
  subnets: SubnetModel[];
  ports: PortModel[];
  groups: Map<string, { ingress: StoredRule[]; egress: StoredRule[] }>;
  networkAcls: Map<string, NetworkAclEntry[]>;
}

export function subnetGateway(cidr: string): { gateway: string; prefix: number } {
  const [base, bits] = cidr.split('/');
  return { gateway: intToIp(ipToInt(base!) + 1), prefix: Number(bits) };
}

function metadataOf(rec: InstanceRecord | undefined): PortModel['metadata'] {
  const o = rec?.MetadataOptions;
  return { enabled: o?.HttpEndpoint !== 'disabled', ipv6: o?.HttpProtocolIpv6 === 'enabled', hopLimit: o?.HttpPutResponseHopLimit ?? 1 };
}

/** Which of the VPC's subnets send 0.0.0.0/0 to an internet gateway attached to the VPC. */
function publicSubnets(vpcId: string, subnets: readonly SubnetRecord[], tables: readonly RouteTableRecord[], igws: readonly InternetGatewayRecord[]) {
  const attached = new Set(igws.filter((g) => g.Attachments?.some((a) => a.VpcId === vpcId)).map((g) => g.InternetGatewayId));
  const routesOut = (t: RouteTableRecord | undefined) =>
    t?.Routes?.some((r) => r.DestinationCidrBlock === '0.0.0.0/0' && r.GatewayId && attached.has(r.GatewayId) && r.State !== 'blackhole') ?? false;
  const main = tables.find((t) => t.Associations?.some((a) => a.Main));
  const out = new Set<string>();
  for (const s of subnets) {
    const table = tables.find((t) => t.Associations?.some((a) => a.SubnetId === s.SubnetId)) ?? main;
    if (routesOut(table)) out.add(s.SubnetId);
  }
  return out;
}

/**
 * The VPC as the kernel should have it, counting only interfaces attached to instances for which
 * `plugged` is true (those whose namespace exists).
 */
export async function loadVpcModel(store: Store, scope: Scope, vpcId: string, plugged: (instanceId: string) => boolean): Promise<VpcModel> {
  const inVpc = async <T extends { VpcId?: string }>(kind: string) => (await store.list<T>(kind, scope)).filter((r) => r.VpcId === vpcId);
  const [enis, subnets, tables, acls, groups] = await Promise.all([
    inVpc<NetworkInterfaceRecord>(ENI_KIND),
    inVpc<SubnetRecord>(KINDS.subnet),
    inVpc<RouteTableRecord>(KINDS.routeTable),
    inVpc<NetworkAclRecord>(KINDS.networkAcl),
    inVpc<SecurityGroupRecord>(KINDS.securityGroup),
  ]);
  const igws = await store.list<InternetGatewayRecord>(KINDS.internetGateway, scope);
  const instanceIds = [...new Set(enis.flatMap((e) => (e.Attachment && plugged(e.Attachment.InstanceId) ? [e.Attachment.InstanceId] : [])))];
  const instances = new Map((await store.getMany<InstanceRecord>(INSTANCE_KIND, scope, instanceIds)).map((r) => [r.InstanceId, r]));
  const routed = publicSubnets(vpcId, subnets, tables, igws);

  const ports: PortModel[] = enis
    .filter((e) => e.Attachment && plugged(e.Attachment.InstanceId))
    .map((e) => ({
      eniId: e.NetworkInterfaceId,
      instanceId: e.Attachment!.InstanceId,
      port: bridgePort(e.NetworkInterfaceId),
      deviceIndex: e.Attachment!.DeviceIndex,
      mac: e.MacAddress,
      subnetId: e.SubnetId,
      ips: [...e.PrivateIpAddresses].sort((a, b) => Number(b.Primary) - Number(a.Primary)).map((a) => a.PrivateIpAddress),
      ipv6s: [...e.Ipv6Addresses],
      sourceDestCheck: e.SourceDestCheck,
      groupIds: e.Groups.map((g) => g.GroupId),
      metadata: metadataOf(instances.get(e.Attachment!.InstanceId)),
      nat: routed.has(e.SubnetId)
        ? e.PrivateIpAddresses.flatMap((a) => (a.association ? [{ publicIp: a.association.PublicIp, privateIp: a.PrivateIpAddress }] : []))
        : [],
    }))
    .sort((a, b) => (a.eniId < b.eniId ? -1 : 1));

  const usedSubnets = new Set(ports.map((p) => p.subnetId));
  const usedGroups = new Set(ports.flatMap((p) => p.groupIds));
  const subnetModels: SubnetModel[] = subnets
    .filter((s) => usedSubnets.has(s.SubnetId))
    .map((s) => ({
      subnetId: s.SubnetId,
      cidr: s.CidrBlock,
      ...subnetGateway(s.CidrBlock),
      ipv6Cidr: s.Ipv6CidrBlockAssociationSet?.find((a) => a.Ipv6CidrBlockState?.State !== 'disassociated')?.Ipv6CidrBlock,
      networkAclId: acls.find((a) => a.Associations?.some((x) => x.SubnetId === s.SubnetId))?.NetworkAclId,
    }))
    .sort((a, b) => (a.subnetId < b.subnetId ? -1 : 1));
  const usedAcls = new Set(subnetModels.flatMap((s) => (s.networkAclId ? [s.networkAclId] : [])));

  return {
    scope,
    vpcId,
    subnets: subnetModels,
    ports,
    groups: new Map(groups.filter((g) => usedGroups.has(g.GroupId)).map((g) => [g.GroupId, {
      ingress: g.rules.filter((r) => !r.IsEgress),
      egress: g.rules.filter((r) => r.IsEgress),
    }])),
    networkAcls: new Map(acls.filter((a) => usedAcls.has(a.NetworkAclId)).map((a) => [a.NetworkAclId, a.Entries ?? []])),
  };
}
