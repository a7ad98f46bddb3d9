/** The VPC control plane's operations, one module per resource. */
import type { Handler } from '../../context.js';
import { handlers as dhcpOptions } from './dhcp-options.js';
import { handlers as internetGateways } from './internet-gateways.js';
import { handlers as networkAcls } from './network-acls.js';
import { handlers as routeTables } from './route-tables.js';
import { handlers as securityGroupRules } from './security-group-rules.js';
import { handlers as securityGroups } from './security-groups.js';
import { handlers as subnets } from './subnets.js';
import { handlers as vpcs } from './vpcs.js';

export const handlers: Record<string, Handler> = {
  ...vpcs, ...subnets, ...internetGateways, ...routeTables, ...networkAcls, ...securityGroups, ...securityGroupRules, ...dhcpOptions,
};

export { ensureDefaultVpc, findDefaultVpc } from './default-vpc.js';
export { launchSubnet } from './subnets.js';
export { launchGroups, replacementGroups } from './security-groups.js';
