/** The stored form of an Elastic IP: an address from the public pool that an account holds until it releases it. */
import type { Address } from '@aws-sdk/client-ec2';
import type { Tag } from '../../../store/store.js';

export const ELASTIC_IP_KIND = 'elastic-ip';

export interface ElasticIpAssociation {
  AssociationId: string;
  NetworkInterfaceId: string;
  PrivateIpAddress: string;
  /** Set when the interface is attached to an instance (EC2 shows the instance too). */
  InstanceId?: string;
}

export interface ElasticIpRecord {
  AllocationId: string;
  PublicIp: string;
  Domain: 'vpc';
  NetworkBorderGroup: string;
  PublicIpv4Pool: 'amazon';
  association?: ElasticIpAssociation;
  /**
   * Association ids this address had (the latest few): DisassociateAddress is idempotent, so an
   * association that already ended is no error, unlike one that never existed.
   */
  endedAssociationIds?: string[];
}

const ENDED_KEPT = 20;

/** Ends the address's association, remembering its id. The caller saves the record. */
export function endAssociation(eip: ElasticIpRecord): void {
  if (!eip.association) return;
  eip.endedAssociationIds = [eip.association.AssociationId, ...(eip.endedAssociationIds ?? [])].slice(0, ENDED_KEPT);
  eip.association = undefined;
}

export function presentAddress(eip: ElasticIpRecord, ownerId: string, tags: readonly Tag[]): Address {
  const a = eip.association;
  return {
    AllocationId: eip.AllocationId,
    AssociationId: a?.AssociationId,
    Domain: eip.Domain,
    InstanceId: a?.InstanceId,
    NetworkInterfaceId: a?.NetworkInterfaceId,
    NetworkInterfaceOwnerId: a ? ownerId : undefined,
    PrivateIpAddress: a?.PrivateIpAddress,
    PublicIp: eip.PublicIp,
    PublicIpv4Pool: eip.PublicIpv4Pool,
    NetworkBorderGroup: eip.NetworkBorderGroup,
    Tags: tags.length > 0 ? [...tags] : undefined,
  };
}
