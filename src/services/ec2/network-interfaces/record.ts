/**
 * The stored form of an elastic network interface. An ENI owns every mutable piece of an
 * instance's networking: its private addresses and what public address each maps to, its groups,
 * source/dest check and attachment. Instances only list the ids of the interfaces attached to them.
 */
import type { GroupIdentifier, InstanceNetworkInterface, NetworkInterface } from '@aws-sdk/client-ec2';
import type { Tag } from '../../../store/store.js';
import { storedTime } from '../../../util/stored-time.js';

export const ENI_KIND = 'network-interface';

/** A public address mapped to one private address: an auto-assigned one (`amazon`) or an Elastic IP. */
export interface IpAssociation {
  PublicIp: string;
  /** `amazon` for an auto-assigned address, the account for an Elastic IP. */
  IpOwnerId: string;
  AllocationId?: string;
  AssociationId?: string;
}

export interface StoredPrivateIp {
  PrivateIpAddress: string;
  Primary: boolean;
  association?: IpAssociation;
}

export interface StoredAttachment {
  AttachmentId: string;
  InstanceId: string;
  InstanceOwnerId: string;
  DeviceIndex: number;
  AttachTime: string;
  DeleteOnTermination: boolean;
}

export interface NetworkInterfaceRecord {
  NetworkInterfaceId: string;
  OwnerId: string;
  VpcId: string;
  SubnetId: string;
  AvailabilityZone: string;
  Description: string;
  MacAddress: string;
  PrivateIpAddresses: StoredPrivateIp[];
  /** IPv6 addresses from the subnet's /64, in canonical RFC 5952 form (what the kernel side configures). */
  Ipv6Addresses: string[];
  Groups: { GroupId: string; GroupName: string }[];
  SourceDestCheck: boolean;
  Attachment?: StoredAttachment;
  /**
   * Whether the interface gets an address from the public pool whenever its instance starts
   * (launched with a public IP as the primary interface); an Elastic IP takes its place.
   */
  autoPublicIp: boolean;
}

export function primaryAddress(eni: NetworkInterfaceRecord): StoredPrivateIp {
  return eni.PrivateIpAddresses.find((a) => a.Primary) ?? eni.PrivateIpAddresses[0]!;
}

export function groupIdentifiers(eni: NetworkInterfaceRecord): GroupIdentifier[] {
  return eni.Groups.map((g) => ({ GroupId: g.GroupId, GroupName: g.GroupName }));
}

/** EC2 marks none of them primary: a primary IPv6 address (EnablePrimaryIpv6) is not offered. */
const presentIpv6 = (eni: NetworkInterfaceRecord) => eni.Ipv6Addresses.map((Ipv6Address) => ({ Ipv6Address, IsPrimaryIpv6: false }));

function presentAssociation(a: IpAssociation | undefined) {
  if (!a) return undefined;
  return { IpOwnerId: a.IpOwnerId, PublicDnsName: '', PublicIp: a.PublicIp, AllocationId: a.AllocationId, AssociationId: a.AssociationId };
}

/** What both answers say of an interface alike: its addresses, groups, MAC, subnet and VPC. */
function presentCommon(eni: NetworkInterfaceRecord, dnsName: (ip: string) => string) {
  const primary = primaryAddress(eni);
  return {
    Association: presentAssociation(primary.association),
    Description: eni.Description,
    Groups: groupIdentifiers(eni),
    InterfaceType: 'interface' as const,
    Ipv6Addresses: presentIpv6(eni),
    MacAddress: eni.MacAddress,
    NetworkInterfaceId: eni.NetworkInterfaceId,
    OwnerId: eni.OwnerId,
    PrivateDnsName: dnsName(primary.PrivateIpAddress),
    PrivateIpAddress: primary.PrivateIpAddress,
    PrivateIpAddresses: eni.PrivateIpAddresses.map((a) => ({
      Association: presentAssociation(a.association),
      Primary: a.Primary,
      PrivateDnsName: dnsName(a.PrivateIpAddress),
      PrivateIpAddress: a.PrivateIpAddress,
    })),
    SourceDestCheck: eni.SourceDestCheck,
    SubnetId: eni.SubnetId,
    VpcId: eni.VpcId,
  };
}

/** An interface as DescribeInstances shows it inside its instance. */
export function presentInstanceInterface(eni: NetworkInterfaceRecord, dnsName: (ip: string) => string): InstanceNetworkInterface {
  const att = eni.Attachment!;
  return {
    ...presentCommon(eni, dnsName),
    Attachment: {
      AttachTime: storedTime(att.AttachTime),
      AttachmentId: att.AttachmentId,
      DeleteOnTermination: att.DeleteOnTermination,
      DeviceIndex: att.DeviceIndex,
      Status: 'attached',
      NetworkCardIndex: 0,
    },
    Status: 'in-use',
  };
}

/** An interface as DescribeNetworkInterfaces shows it. */
export function presentNetworkInterface(eni: NetworkInterfaceRecord, tags: readonly Tag[], dnsName: (ip: string) => string): NetworkInterface {
  const att = eni.Attachment;
  return {
    ...presentCommon(eni, dnsName),
    Attachment: att
      ? {
          AttachTime: storedTime(att.AttachTime),
          AttachmentId: att.AttachmentId,
          DeleteOnTermination: att.DeleteOnTermination,
          DeviceIndex: att.DeviceIndex,
          NetworkCardIndex: 0,
          InstanceId: att.InstanceId,
          InstanceOwnerId: att.InstanceOwnerId,
          Status: 'attached',
        }
      : undefined,
    AvailabilityZone: eni.AvailabilityZone,
    RequesterManaged: false,
    Status: att ? 'in-use' : 'available',
    TagSet: [...tags],
  };
}
