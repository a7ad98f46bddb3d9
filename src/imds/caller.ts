/**
 * Who is asking: the metadata service knows the caller by where the connection came from — the
 * VPC whose namespace it arrived in, and the source address on that VPC's bridge (which the data
 * plane's anti-spoofing guarantees is the sender's own) — never by anything in the request.
 */
import type { Scope, Store, Tag } from '../store/store.js';
import { INSTANCE_KIND, type InstanceRecord } from '../services/ec2/instances/record.js';
import { ENI_KIND, type NetworkInterfaceRecord } from '../services/ec2/network-interfaces/record.js';
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
  const enis = (await store.list<NetworkInterfaceRecord>(ENI_KIND, at.scope)).filter((e) => e.VpcId === at.vpcId);
  const eni = enis.find((e) => e.PrivateIpAddresses.some((a) => a.PrivateIpAddress === sourceIp) || e.Ipv6Addresses.includes(sourceIp));
  const instanceId = eni?.Attachment?.InstanceId;
  if (!instanceId) return undefined;
  const instance = await store.get<InstanceRecord>(INSTANCE_KIND, at.scope, instanceId);
  if (!instance || instance.state === 'terminated') return undefined;
  const byId = new Map(enis.map((e) => [e.NetworkInterfaceId, e]));
  const interfaces = instance.networkInterfaceIds.flatMap((id) => byId.get(id) ?? [])
    .sort((a, b) => a.Attachment!.DeviceIndex - b.Attachment!.DeviceIndex);
  const subnets = new Map(
    (await store.getMany<SubnetRecord>(KINDS.subnet, at.scope, [...new Set(interfaces.map((i) => i.SubnetId))])).map((s) => [s.SubnetId, s]),
  );
  const vpc = await store.get<VpcRecord>(KINDS.vpc, at.scope, at.vpcId);
  const tags = (await store.tagsOf(at.scope, [instanceId])).get(instanceId) ?? [];
  return { scope: at.scope, instance, interfaces, subnets, vpc, tags };
}
