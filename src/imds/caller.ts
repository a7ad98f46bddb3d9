/**
 * Who is asking: the metadata service knows the caller by where the connection came from — the
 * VPC whose namespace it arrived in, and the source address on that VPC's bridge (which the data
 * plane's anti-spoofing guarantees is the sender's own) — never by anything in the request.
 */
import type { Scope, Store, Tag } from '../store/store.js';
import { INSTANCE_KIND, type InstanceRecord } from '../services/ec2/instances/record.js';
import { ENI_KIND, type NetworkInterfaceRecord } from '../services/ec2/network-interfaces/record.js';
import { privateIpHolder } from '../services/ec2/network-interfaces/addresses.js';
import { ipv6Holder, subnetIpv6Block } from '../services/ec2/network-interfaces/ipv6.js';
import { cidrContains, formatAddress, parseCidr, type Cidr } from '../services/ec2/vpc/cidr.js';
import { KINDS, type SubnetRecord, type VpcRecord } from '../services/ec2/vpc/records.js';

export interface VpcEndpoint {
  scope: Scope;
  vpcId: string;
}

export interface Caller {
  scope: Scope;
  instance: InstanceRecord;
  /** Attached interfaces in device order. */
  interfaces: NetworkInterfaceRecord[];
  subnets: Map<string, SubnetRecord>;
  vpc?: VpcRecord;
  tags: Tag[];
}

export async function resolveCaller(store: Store, at: VpcEndpoint, sourceIp: string): Promise<Caller | undefined> {
  const address = sourceIp.includes(':') ? parseCidr(`${sourceIp}/128`, 6) : parseCidr(`${sourceIp}/32`, 4);
  if (!address) return undefined;
  const ip = formatAddress(address.base, address.family); // canonical, as records and address rows hold it
  const eniId = await addressHolder(store, at, address, ip);
  const eni = eniId === undefined ? undefined : await store.get<NetworkInterfaceRecord>(ENI_KIND, at.scope, eniId);
  const holds = eni?.VpcId === at.vpcId &&
    (eni.PrivateIpAddresses.some((a) => a.PrivateIpAddress === ip) || eni.Ipv6Addresses.includes(ip));
  const instanceId = holds ? eni.Attachment?.InstanceId : undefined;
  if (!instanceId) return undefined;
  const instance = await store.get<InstanceRecord>(INSTANCE_KIND, at.scope, instanceId);
  if (!instance || instance.state === 'terminated') return undefined;
  const interfaces = (await store.getMany<NetworkInterfaceRecord>(ENI_KIND, at.scope, instance.networkInterfaceIds))
    .filter((e) => e.Attachment?.InstanceId === instanceId)
    .sort((a, b) => a.Attachment!.DeviceIndex - b.Attachment!.DeviceIndex);
  const subnets = new Map(
    (await store.getMany<SubnetRecord>(KINDS.subnet, at.scope, [...new Set(interfaces.map((i) => i.SubnetId))])).map((s) => [s.SubnetId, s]),
  );
  const vpc = await store.get<VpcRecord>(KINDS.vpc, at.scope, at.vpcId);
  const tags = (await store.tagsOf(at.scope, [instanceId])).get(instanceId) ?? [];
  return { scope: at.scope, instance, interfaces, subnets, vpc, tags };
}

/**
 * The interface that holds `ip` in the VPC, from the address rows of the subnets whose block
 * holds it: a read per such subnet, whatever the size of the fleet.
 */
async function addressHolder(store: Store, at: VpcEndpoint, address: Cidr, ip: string): Promise<string | undefined> {
  const v6 = address.family === 6;
  // The shared records (only their blocks are read), which the store keeps between requests.
  const subnets = (await store.listShared<SubnetRecord>(KINDS.subnet, at.scope)).filter((s) => s.VpcId === at.vpcId);
  for (const subnet of subnets) {
    const block = v6 ? subnetIpv6Block(subnet) : parseCidr(subnet.CidrBlock, 4);
    if (!block || !cidrContains(block, address)) continue;
    const holder = v6 ? await ipv6Holder(store, at.scope, subnet.SubnetId, ip) : await privateIpHolder(store, at.scope, subnet.SubnetId, ip);
    if (holder !== undefined) return holder;
  }
  return undefined;
}
