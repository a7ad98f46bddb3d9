/**
 * What an instance's state changes do to its interfaces: an auto-assigned public address is
 * released on stop and a new one given on start; termination deletes the interfaces marked
 * DeleteOnTermination and detaches the others. Elastic IPs stay with their interface throughout.
 */
import type { Scope, Store } from '../../../store/store.js';
import { ELASTIC_IP_KIND, endAssociation, type ElasticIpRecord } from '../elastic-ips/record.js';
import type { InstanceRecord } from '../instances/record.js';
import { allocatePublicIp, releasePrivateIp, releasePublicIp } from './addresses.js';
import { releaseIpv6 } from './ipv6.js';
import { ENI_KIND, primaryAddress, type NetworkInterfaceRecord } from './record.js';

export async function attachedInterfaces(store: Store, scope: Scope, rec: InstanceRecord): Promise<NetworkInterfaceRecord[]> {
  return store.getMany<NetworkInterfaceRecord>(ENI_KIND, scope, rec.networkInterfaceIds);
}

/** Drops the auto-assigned public addresses of an interface (Elastic IPs stay). */
async function releaseAutoPublic(store: Store, eni: NetworkInterfaceRecord): Promise<void> {
  for (const a of eni.PrivateIpAddresses) {
    if (a.association && !a.association.AllocationId) {
      await releasePublicIp(store, a.association.PublicIp);
      a.association = undefined;
    }
  }
}

export async function releasePublicAddresses(store: Store, scope: Scope, rec: InstanceRecord): Promise<void> {
  for (const eni of await attachedInterfaces(store, scope, rec)) {
    await releaseAutoPublic(store, eni);
    await store.put(ENI_KIND, scope, eni.NetworkInterfaceId, eni);
  }
}

/** On start: a fresh public address for an interface launched with one, unless an Elastic IP holds its place. */
export async function assignPublicAddresses(store: Store, scope: Scope, rec: InstanceRecord, pool: string): Promise<void> {
  for (const eni of await attachedInterfaces(store, scope, rec)) {
    const primary = primaryAddress(eni);
    if (!eni.autoPublicIp || primary.association) continue;
    primary.association = { PublicIp: await allocatePublicIp(store, pool, eni.NetworkInterfaceId), IpOwnerId: 'amazon' };
    await store.put(ENI_KIND, scope, eni.NetworkInterfaceId, eni);
  }
}

/** At termination: interfaces marked DeleteOnTermination go with every address; the others are detached. */
export async function releaseInterfaces(store: Store, scope: Scope, rec: InstanceRecord): Promise<void> {
  for (const eni of await attachedInterfaces(store, scope, rec)) {
    await releaseAutoPublic(store, eni);
    if (eni.Attachment?.DeleteOnTermination) await deleteInterface(store, scope, eni);
    else {
      eni.Attachment = undefined;
      await store.put(ENI_KIND, scope, eni.NetworkInterfaceId, eni);
      await updateElasticIps(store, scope, eni, (a) => { a.InstanceId = undefined; });
    }
  }
  rec.networkInterfaceIds = [];
}

/** Removes an interface: its private and IPv6 addresses go back to the subnet and its Elastic IPs are disassociated. */
export async function deleteInterface(store: Store, scope: Scope, eni: NetworkInterfaceRecord): Promise<void> {
  for (const a of eni.PrivateIpAddresses) await releasePrivateIp(store, scope, eni.SubnetId, a.PrivateIpAddress);
  for (const ip of eni.Ipv6Addresses) await releaseIpv6(store, scope, eni.SubnetId, ip);
  await updateElasticIps(store, scope, eni, (_a, eip) => endAssociation(eip));
  await store.remove(ENI_KIND, scope, eni.NetworkInterfaceId);
  await store.deleteAllTags(scope, eni.NetworkInterfaceId);
}

/** Applies `change` to the Elastic IPs associated with any address of the interface. */
export async function updateElasticIps(
  store: Store, scope: Scope, eni: NetworkInterfaceRecord,
  change: (a: NonNullable<ElasticIpRecord['association']>, eip: ElasticIpRecord) => void,
): Promise<void> {
  const ids = eni.PrivateIpAddresses.flatMap((a) => (a.association?.AllocationId ? [a.association.AllocationId] : []));
  for (const eip of await store.getMany<ElasticIpRecord>(ELASTIC_IP_KIND, scope, ids)) {
    if (eip.association) change(eip.association, eip);
    await store.put(ELASTIC_IP_KIND, scope, eip.AllocationId, eip);
  }
}
