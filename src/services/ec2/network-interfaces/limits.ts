/**
 * What an instance type allows its interfaces (the catalogue's NetworkInfo): how many interfaces,
 * how many IPv4 and IPv6 addresses each. Passing either is EC2's AttachmentLimitExceeded or
 * PrivateIpAddressLimitExceeded.
 */
import { instanceType, instanceTypes } from '../../../catalog/instance-types.js';
import { ApiError } from '../../../protocol/errors.js';
import type { RequestContext } from '../../context.js';
import { checkLimit } from '../vpc/limits.js';
import { ENI_KIND } from './record.js';

export function maxInterfaces(typeName: string): number {
  return instanceType(typeName)?.NetworkInfo?.MaximumNetworkInterfaces ?? 1;
}

export function maxAddressesPerInterface(typeName: string): number {
  return instanceType(typeName)?.NetworkInfo?.Ipv4AddressesPerInterface ?? 1;
}

/** How many IPv6 addresses one interface of the type may have (0 for a type without IPv6). */
export function maxIpv6PerInterface(typeName: string): number {
  return instanceType(typeName)?.NetworkInfo?.Ipv6AddressesPerInterface ?? 0;
}

let largestAddressCount: number | undefined;
let largestIpv6Count: number | undefined;

/** The most IPv4 addresses any instance type allows one interface: the bound for an interface that is not attached. */
export function maxAddressesOfAnyType(): number {
  largestAddressCount ??= Math.max(1, ...instanceTypes().map((t) => t.NetworkInfo?.Ipv4AddressesPerInterface ?? 1));
  return largestAddressCount;
}

/** The most IPv6 addresses any instance type allows one interface: the bound for an interface that is not attached. */
export function maxIpv6OfAnyType(): number {
  largestIpv6Count ??= Math.max(0, ...instanceTypes().map((t) => t.NetworkInfo?.Ipv6AddressesPerInterface ?? 0));
  return largestIpv6Count;
}

export function checkInterfaceCount(typeName: string, count: number): void {
  if (count > maxInterfaces(typeName)) {
    throw new ApiError('AttachmentLimitExceeded', `Interface count ${count} exceeds the limit for ${typeName}`);
  }
}

export function checkAddressCount(count: number, limit: number): void {
  if (count > limit) throw new ApiError('PrivateIpAddressLimitExceeded', 'Number of private addresses will exceed limit.');
}

export function checkIpv6Count(count: number, limit: number): void {
  if (count > limit) throw new ApiError('PrivateIpAddressLimitExceeded', 'Number of IPv6 addresses will exceed limit.');
}

/** The account's network interface quota in the region (NetworkInterfaceLimitExceeded). */
export async function checkInterfaceQuota(ctx: RequestContext, adding: number): Promise<void> {
  checkLimit(ctx, 'networkInterfacesPerRegion', await ctx.store.count(ENI_KIND, ctx.scope), adding);
}
