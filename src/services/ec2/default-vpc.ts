/**
 * The default VPC of an account in a region: 172.31.0.0/16 with a /20 subnet per zone and a
 * default security group. Its ids are derived from the account and region, so they are stable
 * without being stored; the VPC resources themselves (and their data plane) belong to the
 * networking layer.
 */
import { createHash } from 'node:crypto';
import { regionInfo } from '../../catalog/regions.js';
import type { Scope } from '../../store/store.js';

export interface DefaultSubnet {
  SubnetId: string;
  AvailabilityZone: string;
  AvailabilityZoneId: string;
  CidrBlock: string;
}

export interface DefaultVpc {
  VpcId: string;
  CidrBlock: string;
  SecurityGroupId: string;
  subnets: DefaultSubnet[];
}

const hex17 = (...parts: string[]) => createHash('sha256').update(parts.join('/')).digest('hex').slice(0, 17);

export function defaultVpc(scope: Scope): DefaultVpc {
  const zones = regionInfo(scope.region)?.zones ?? [];
  return {
    VpcId: `vpc-${hex17('vpc', scope.account, scope.region)}`,
    CidrBlock: '172.31.0.0/16',
    SecurityGroupId: `sg-${hex17('sg-default', scope.account, scope.region)}`,
    subnets: zones.map((z, i) => ({
      SubnetId: `subnet-${hex17('subnet', scope.account, z.name)}`,
      AvailabilityZone: z.name,
      AvailabilityZoneId: z.id,
      CidrBlock: `172.31.${i * 16}.0/20`,
    })),
  };
}
