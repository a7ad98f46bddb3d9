/** The stored form of an Elastic IP: an address from the public pool that an account holds until it releases it. */
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
}
