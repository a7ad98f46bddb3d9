/** AssignIpv6Addresses and UnassignIpv6Addresses: IPv6 addresses of an interface, from its subnet's /64. */
import type {
  AssignIpv6AddressesRequest, AssignIpv6AddressesResult, UnassignIpv6AddressesRequest, UnassignIpv6AddressesResult,
} from '@aws-sdk/client-ec2';
import { ApiError, invalidParameterValue } from '../../../protocol/errors.js';
import type { RequestContext } from '../../context.js';
import { KINDS, type SubnetRecord } from '../vpc/records.js';
import { allocateRequestedIpv6, ipv6Total, releaseIpv6, requestedIpv6, requestedIpv6Addresses } from './ipv6.js';
import { checkIpv6Count, maxIpv6OfAnyType, maxIpv6PerInterface } from './limits.js';
import { attachedInstanceType, loadInterface, saveInterface } from './lookup.js';

async function assignIpv6Addresses(input: AssignIpv6AddressesRequest, ctx: RequestContext): Promise<AssignIpv6AddressesResult> {
  const eni = await loadInterface(ctx, input.NetworkInterfaceId!);
  const listed = input.Ipv6Addresses ?? [];
  const count = input.Ipv6AddressCount;
  if (listed.length === 0 && count === undefined) {
    throw new ApiError('MissingParameter', 'The request must contain the parameter Ipv6Addresses or Ipv6AddressCount');
  }
  if (count !== undefined && (!Number.isInteger(count) || count < 1)) {
    throw invalidParameterValue(`Value (${count}) for parameter ipv6AddressCount is invalid. Expected a value greater than 0.`);
  }
  const subnet = await ctx.store.get<SubnetRecord>(KINDS.subnet, ctx.scope, eni.SubnetId);
  if (!subnet) throw new ApiError('InvalidSubnetID.NotFound', `The subnet ID '${eni.SubnetId}' does not exist`);
  // The subnet's AssignIpv6AddressOnCreation is for new interfaces only.
  const wanted = requestedIpv6Addresses({ ...subnet, AssignIpv6AddressOnCreation: false }, listed, count);
  const mine = wanted.addresses.find((ip) => eni.Ipv6Addresses.includes(ip));
  if (mine !== undefined) throw invalidParameterValue(`Address ${mine} is already assigned to ${eni.NetworkInterfaceId}.`);
  const typeName = await attachedInstanceType(ctx, eni);
  checkIpv6Count(eni.Ipv6Addresses.length + ipv6Total(wanted), typeName ? maxIpv6PerInterface(typeName) : maxIpv6OfAnyType());

  const added = await allocateRequestedIpv6(ctx.store, ctx.scope, subnet, eni.NetworkInterfaceId, wanted);
  eni.Ipv6Addresses.push(...added);
  await saveInterface(ctx, eni);
  ctx.plane.kick();
  return { NetworkInterfaceId: eni.NetworkInterfaceId, AssignedIpv6Addresses: added, AssignedIpv6Prefixes: [] };
}

async function unassignIpv6Addresses(input: UnassignIpv6AddressesRequest, ctx: RequestContext): Promise<UnassignIpv6AddressesResult> {
  const eni = await loadInterface(ctx, input.NetworkInterfaceId!);
  const ips = [...new Set((input.Ipv6Addresses ?? []).map(requestedIpv6))];
  if (ips.length === 0) throw new ApiError('MissingParameter', 'The request must contain the parameter Ipv6Addresses');
  if (ips.some((ip) => !eni.Ipv6Addresses.includes(ip))) {
    throw invalidParameterValue(`Some of the specified addresses are not assigned to interface ${eni.NetworkInterfaceId}`);
  }
  for (const ip of ips) await releaseIpv6(ctx.store, ctx.scope, eni.SubnetId, ip);
  eni.Ipv6Addresses = eni.Ipv6Addresses.filter((ip) => !ips.includes(ip));
  await saveInterface(ctx, eni);
  ctx.plane.kick();
  return { NetworkInterfaceId: eni.NetworkInterfaceId, UnassignedIpv6Addresses: ips, UnassignedIpv6Prefixes: [] };
}

export const handlers = {
  AssignIpv6Addresses: assignIpv6Addresses,
  UnassignIpv6Addresses: unassignIpv6Addresses,
};
