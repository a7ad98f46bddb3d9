/** EC2's VPC and address quotas (config.limits) and the error each gives when a request would pass it. */
import { ApiError } from '../../../protocol/errors.js';
import type { Config } from '../../../config.js';
import type { RequestContext } from '../../context.js';

type VpcLimit = Exclude<keyof Config['limits'], 'instancesPerRegion'>;

const ERRORS: Record<VpcLimit, { code: string; message: string }> = {
  vpcsPerRegion: { code: 'VpcLimitExceeded', message: 'The maximum number of VPCs has been reached.' },
  subnetsPerVpc: { code: 'SubnetLimitExceeded', message: 'The maximum number of subnets has been reached.' },
  securityGroupsPerVpc: { code: 'SecurityGroupLimitExceeded', message: 'The maximum number of security groups has been reached.' },
  rulesPerSecurityGroup: {
    code: 'RulesPerSecurityGroupLimitExceeded', message: 'The maximum number of rules per security group has been reached.',
  },
  securityGroupsPerInterface: {
    code: 'SecurityGroupsPerInstanceLimitExceeded', message: 'The maximum number of security groups per interface has been reached.',
  },
  networkAclsPerVpc: { code: 'NetworkAclLimitExceeded', message: 'The maximum number of network ACLs has been reached.' },
  rulesPerNetworkAcl: { code: 'NetworkAclEntryLimitExceeded', message: 'The maximum number of network acl entries has been reached.' },
  routeTablesPerVpc: { code: 'RouteTableLimitExceeded', message: 'The maximum number of route tables has been reached.' },
  routesPerRouteTable: { code: 'RouteLimitExceeded', message: 'The maximum number of routes has been reached.' },
  elasticIpsPerRegion: { code: 'AddressLimitExceeded', message: 'The maximum number of addresses has been reached.' },
  networkInterfacesPerRegion: {
    code: 'NetworkInterfaceLimitExceeded', message: 'The maximum number of network interfaces has been reached.',
  },
};

/** Throws the limit's error when `inUse + adding` would pass it. */
export function checkLimit(ctx: RequestContext, name: VpcLimit, inUse: number, adding = 1): void {
  if (inUse + adding <= ctx.plane.config.limits[name]) return;
  const e = ERRORS[name];
  throw new ApiError(e.code, e.message);
}
