/** Making an interface: its addresses from the subnet, a MAC, and (for a primary one) a public address. */
import { newId } from '../../../util/ids.js';
import type { RequestContext } from '../../context.js';
import type { SubnetRecord } from '../vpc/records.js';
import { allocatePrivateIp, allocatePublicIp, newMacAddress } from './addresses.js';
import { ENI_KIND, type NetworkInterfaceRecord, type StoredAttachment, type StoredPrivateIp } from './record.js';

export interface InterfaceRequest {
  subnet: Pick<SubnetRecord, 'SubnetId' | 'VpcId' | 'AvailabilityZone' | 'CidrBlock'>;
  groups: { GroupId: string; GroupName: string }[];
  description?: string;
  /** The primary private address; a free one when absent. */
  privateIp?: string;
  /** Secondary addresses: these, then `secondaryCount` free ones. */
  secondaryIps?: string[];
  secondaryCount?: number;
  /** Map a public address from the pool to the primary address, now and on every start. */
  publicIp: boolean;
  attachment?: Omit<StoredAttachment, 'AttachmentId'>;
}

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
  if (req.publicIp) addresses[0]!.association = { PublicIp: await allocatePublicIp(store, id), IpOwnerId: 'amazon' };
  const eni: NetworkInterfaceRecord = {
    NetworkInterfaceId: id,
    OwnerId: ctx.accountId,
    VpcId: req.subnet.VpcId,
    SubnetId: req.subnet.SubnetId,
    AvailabilityZone: req.subnet.AvailabilityZone,
    Description: req.description ?? '',
    MacAddress: newMacAddress(),
    PrivateIpAddresses: addresses,
    Ipv6Addresses: [],
    Groups: req.groups,
    SourceDestCheck: true,
    Attachment: req.attachment ? { ...req.attachment, AttachmentId: newId('eni-attach') } : undefined,
    autoPublicIp: req.publicIp,
  };
  await store.put(ENI_KIND, scope, id, eni);
  return eni;
}
