/**
 * The default VPC of an account in a region: 172.31.0.0/16 with a /20 subnet per zone and a
 * default security group, internet gateway, main route table, network ACL and DHCP options. Its ids
 * are derived from the account and region, so they are stable; vpc/default-vpc.ts stores the
 * resources under these ids the first time an account uses the region's VPCs.
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
  InternetGatewayId: string;
  RouteTableId: string;
  NetworkAclId: string;
  DhcpOptionsId: string;
  subnets: DefaultSubnet[];
}

const hex17 = (...parts: string[]) => createHash('sha256').update(parts.join('/')).digest('hex').slice(0, 17);

// Each derived id costs a SHA-256 and every instance presented needs them: derive once per scope.
const derived = new Map<string, DefaultVpc>();

export function defaultVpc(scope: Scope): DefaultVpc {
  const key = `${scope.account}/${scope.region}`;
  let vpc = derived.get(key);
  if (!vpc) {
    if (derived.size >= 10_000) derived.clear();
    derived.set(key, (vpc = deriveDefaultVpc(scope)));
  }
  return vpc;
}

function deriveDefaultVpc(scope: Scope): DefaultVpc {
  const zones = regionInfo(scope.region)?.zones ?? [];
  return {
    VpcId: `vpc-${hex17('vpc', scope.account, scope.region)}`,
    CidrBlock: '172.31.0.0/16',
    SecurityGroupId: `sg-${hex17('sg-default', scope.account, scope.region)}`,
    InternetGatewayId: `igw-${hex17('igw', scope.account, scope.region)}`,
    RouteTableId: `rtb-${hex17('rtb-main', scope.account, scope.region)}`,
    NetworkAclId: `acl-${hex17('acl-default', scope.account, scope.region)}`,
    DhcpOptionsId: `dopt-${hex17('dopt', scope.account, scope.region)}`,
    subnets: zones.map((z, i) => ({
      SubnetId: `subnet-${hex17('subnet', scope.account, z.name)}`,
      AvailabilityZone: z.name,
      AvailabilityZoneId: z.id,
      CidrBlock: `172.31.${i * 16}.0/20`,
    })),
  };
}
