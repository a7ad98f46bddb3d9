/** Making an interface: its IPv4 and IPv6 addresses from the subnet, a MAC, and (for a primary one) a public address. */
import type { PrivateIpAddressSpecification } from '@aws-sdk/client-ec2';
import { invalidParameterValue } from '../../../protocol/errors.js';
import { newId } from '../../../util/ids.js';
import type { RequestContext } from '../../context.js';
import type { SubnetRecord } from '../vpc/records.js';
import { allocatePrivateIp, allocatePublicIp, newMacAddress } from './addresses.js';
import { allocateRequestedIpv6, type RequestedIpv6 } from './ipv6.js';
import { ENI_KIND, type NetworkInterfaceRecord, type StoredAttachment, type StoredPrivateIp } from './record.js';

export interface InterfaceRequest {
  subnet: Pick<SubnetRecord, 'SubnetId' | 'VpcId' | 'AvailabilityZone' | 'CidrBlock' | 'Ipv6CidrBlockAssociationSet'>;
  groups: { GroupId: string; GroupName: string }[];
  description?: string;
  /** The primary private address; a free one when absent. */
  privateIp?: string;
  /** Secondary addresses: these, then `secondaryCount` free ones. */
  secondaryIps?: string[];
  secondaryCount?: number;
  /** IPv6 addresses from the subnet's /64 (see requestedIpv6Addresses); none when absent. */
  ipv6?: RequestedIpv6;
  /** Map a public address from the pool to the primary address, now and on every start. */
  publicIp: boolean;
  attachment?: Omit<StoredAttachment, 'AttachmentId'>;
}

export type RequestedAddresses = Pick<InterfaceRequest, 'privateIp' | 'secondaryIps' | 'secondaryCount'>;

/**
 * The addresses a request asks for, from EC2's three ways of saying it (PrivateIpAddress,
 * PrivateIpAddresses with one marked Primary, SecondaryPrivateIpAddressCount); with neither
 * PrivateIpAddress nor a Primary entry, the first address listed is the primary one.
 */
export function requestedAddresses(
  privateIp: string | undefined, specs: readonly PrivateIpAddressSpecification[] | undefined, count: number | undefined,
): RequestedAddresses {
  const listed = (specs ?? []).map((s) => {
    if (!s.PrivateIpAddress) throw invalidParameterValue('Each PrivateIpAddresses entry must have a PrivateIpAddress.');
    return { ip: s.PrivateIpAddress, primary: s.Primary === true };
  });
  const primaries = listed.filter((a) => a.primary).map((a) => a.ip);
  if (primaries.length > 1) throw invalidParameterValue('Only one primary private IP address can be specified.');
  if (privateIp !== undefined && primaries.length === 1 && primaries[0] !== privateIp) {
    throw invalidParameterValue(`The primary private IP address ${primaries[0]} does not match PrivateIpAddress ${privateIp}.`);
  }
  const primary = privateIp ?? primaries[0] ?? listed[0]?.ip;
  const secondaryIps = listed.map((a) => a.ip).filter((ip) => ip !== primary);
  const all = [primary, ...secondaryIps].filter((ip) => ip !== undefined);
  const dup = all.find((ip, i) => all.indexOf(ip) !== i);
  if (dup !== undefined) throw invalidParameterValue(`The address ${dup} is given more than once.`);
  if (count !== undefined && (!Number.isInteger(count) || count < 0)) {
    throw invalidParameterValue(`Value (${count}) for parameter secondaryPrivateIpAddressCount is invalid. Expected a value greater than 0.`);
  }
  return { privateIp: primary, secondaryIps, secondaryCount: count };
}

/** How many addresses an interface made from `req` will have. */
export const addressCount = (req: RequestedAddresses) => 1 + (req.secondaryIps?.length ?? 0) + (req.secondaryCount ?? 0);

export async function createInterface(ctx: RequestContext, req: InterfaceRequest): Promise<NetworkInterfaceRecord> {
  const id = newId('eni');
  const { store, scope } = ctx;
  const addresses: StoredPrivateIp[] = [
    { PrivateIpAddress: await allocatePrivateIp(store, scope, req.subnet, id, req.privateIp), Primary: true },
  ];
  for (const ip of req.secondaryIps ?? []) {
    addresses.push({ PrivateIpAddress: await allocatePrivateIp(store, scope, req.subnet, id, ip), Primary: false });
  }
  for (let i = 0; i < (req.secondaryCount ?? 0); i++) {
    addresses.push({ PrivateIpAddress: await allocatePrivateIp(store, scope, req.subnet, id), Primary: false });
  }
  if (req.publicIp) addresses[0]!.association = { PublicIp: await allocatePublicIp(store, ctx.plane.config.publicPool, id), IpOwnerId: 'amazon' };
  const eni: NetworkInterfaceRecord = {
    NetworkInterfaceId: id,
    OwnerId: ctx.accountId,
    VpcId: req.subnet.VpcId,
    SubnetId: req.subnet.SubnetId,
    AvailabilityZone: req.subnet.AvailabilityZone,
    Description: req.description ?? '',
    MacAddress: newMacAddress(),
    PrivateIpAddresses: addresses,
    Ipv6Addresses: req.ipv6 ? await allocateRequestedIpv6(store, scope, req.subnet, id, req.ipv6) : [],
    Groups: req.groups,
    SourceDestCheck: true,
    Attachment: req.attachment ? { ...req.attachment, AttachmentId: newId('eni-attach') } : undefined,
    autoPublicIp: req.publicIp,
  };
  await store.put(ENI_KIND, scope, id, eni);
  return eni;
}
