/**
 * IPv6 addresses for interfaces, from their subnet's /64. As in IPv4, AWS reserves the first four
 * addresses and the last one of the block. Addresses are kept in canonical RFC 5952 form (what the
 * kernel side configures and what EC2 prints), and each one in use is a store row, so no two
 * interfaces ever share one.
 */
import { randomBytes } from 'node:crypto';
import { ApiError, invalidParameterValue } from '../../../protocol/errors.js';
import type { Scope, Store } from '../../../store/store.js';
import { cidrSize, formatAddress, parseCidr, parseIpv6, type Cidr } from '../vpc/cidr.js';
import type { SubnetRecord } from '../vpc/records.js';

const IPV6_KIND = 'ipv6-address';

export type Ipv6Subnet = Pick<SubnetRecord, 'SubnetId' | 'Ipv6CidrBlockAssociationSet'>;

/** The subnet's associated IPv6 block, if it has one. */
export function subnetIpv6Block(subnet: Ipv6Subnet): Cidr | undefined {
  const assoc = (subnet.Ipv6CidrBlockAssociationSet ?? []).find((a) => a.Ipv6CidrBlockState?.State === 'associated' && a.Ipv6CidrBlock);
  return assoc ? parseCidr(assoc.Ipv6CidrBlock!, 6) : undefined;
}

/** The error EC2 gives when IPv6 addresses are asked of a subnet without an IPv6 block. */
export const noIpv6Block = (subnetId: string) =>
  invalidParameterValue(`The subnet '${subnetId}' does not have an IPv6 CIDR block associated with it, so it cannot assign IPv6 addresses.`);

/** An address in canonical form, or undefined when `s` is not an IPv6 address. */
export function canonicalIpv6(s: string): string | undefined {
  const n = parseIpv6(s);
  return n === undefined ? undefined : formatAddress(n, 6);
}

/** The canonical form of an address given in a request; EC2's InvalidParameterValue when it is malformed. */
export function requestedIpv6(s: string): string {
  const ip = canonicalIpv6(s);
  if (ip === undefined) throw invalidParameterValue(`Invalid value '${s}' for Ipv6Address: it is not a valid IPv6 address.`);
  return ip;
}

const rowKey = (subnetId: string, ip: string) => `${subnetId}/${ip}`;

function isReserved(block: Cidr, n: bigint): boolean {
  return n - block.base < 4n || n === block.base + cidrSize(block) - 1n;
}

async function claim(store: Store, scope: Scope, subnetId: string, ip: string, holder: string): Promise<boolean> {
  if (await store.get(IPV6_KIND, scope, rowKey(subnetId, ip))) return false;
  await store.put(IPV6_KIND, scope, rowKey(subnetId, ip), { holder });
  return true;
}

/** Reserves an IPv6 address of the subnet for `holder`: the one asked for (canonical), or a free random one. */
export async function allocateIpv6(store: Store, scope: Scope, subnet: Ipv6Subnet, holder: string, wanted?: string): Promise<string> {
  const block = subnetIpv6Block(subnet);
  if (!block) throw noIpv6Block(subnet.SubnetId);
  if (wanted !== undefined) {
    const n = parseIpv6(wanted)!;
    if (n < block.base || n >= block.base + cidrSize(block)) {
      throw invalidParameterValue(`Address ${wanted} does not fall within the subnet's address range`);
    }
    if (isReserved(block, n)) throw invalidParameterValue(`Address ${wanted} is reserved by AWS and cannot be used in this subnet`);
    if (!(await claim(store, scope, subnet.SubnetId, wanted, holder))) throw new ApiError('InvalidIPAddress.InUse', `Address ${wanted} is in use.`);
    return wanted;
  }
  // A random interface id: with 2^64 of them a collision is all but impossible, but is retried.
  const span = cidrSize(block);
  for (let i = 0; i < 16; i++) {
    const n = block.base + (randomBytes(8).readBigUInt64BE(0) % span);
    if (isReserved(block, n)) continue;
    const ip = formatAddress(n, 6);
    if (await claim(store, scope, subnet.SubnetId, ip, holder)) return ip;
  }
  throw new ApiError(
    'InsufficientFreeAddressesInSubnet',
    `There are not enough free IPv6 addresses in subnet '${subnet.SubnetId}' to satisfy the request.`,
  );
}

/** The interface that holds an IPv6 address (canonical) of a subnet, if any. */
export async function ipv6Holder(store: Store, scope: Scope, subnetId: string, ip: string): Promise<string | undefined> {
  return (await store.get<{ holder: string }>(IPV6_KIND, scope, rowKey(subnetId, ip)))?.holder;
}

export async function releaseIpv6(store: Store, scope: Scope, subnetId: string, ip: string): Promise<void> {
  await store.remove(IPV6_KIND, scope, rowKey(subnetId, ip));
}

/** What a request asks for: these addresses (canonical), then `count` free ones. */
export interface RequestedIpv6 {
  addresses: string[];
  count: number;
}

/**
 * The IPv6 addresses a request asks for, from Ipv6Addresses or Ipv6AddressCount (never both); with
 * neither, the subnet's AssignIpv6AddressOnCreation gives one.
 */
export function requestedIpv6Addresses(
  subnet: Ipv6Subnet & Pick<SubnetRecord, 'AssignIpv6AddressOnCreation'>, listed: readonly string[] | undefined, count: number | undefined,
): RequestedIpv6 {
  const given = listed ?? [];
  if (given.length > 0 && count !== undefined) {
    throw new ApiError('InvalidParameterCombination', 'IPv6 addresses and IPv6 address count may not be specified on the same request');
  }
  if (count !== undefined && (!Number.isInteger(count) || count < 0)) {
    throw invalidParameterValue(`Value (${count}) for parameter ipv6AddressCount is invalid. Expected a value of 0 or more.`);
  }
  const addresses = given.map(requestedIpv6);
  const dup = addresses.find((ip, i) => addresses.indexOf(ip) !== i);
  if (dup !== undefined) throw invalidParameterValue(`The address ${dup} is given more than once.`);
  const wanted = { addresses, count: count ?? (given.length === 0 && subnet.AssignIpv6AddressOnCreation ? 1 : 0) };
  if (ipv6Total(wanted) > 0 && !subnetIpv6Block(subnet)) throw noIpv6Block(subnet.SubnetId);
  return wanted;
}

export const ipv6Total = (r: RequestedIpv6) => r.addresses.length + r.count;

/** Reserves every address of a request for `holder`, the listed ones first. */
export async function allocateRequestedIpv6(store: Store, scope: Scope, subnet: Ipv6Subnet, holder: string, r: RequestedIpv6): Promise<string[]> {
  const out: string[] = [];
  for (const ip of r.addresses) out.push(await allocateIpv6(store, scope, subnet, holder, ip));
  for (let i = 0; i < r.count; i++) out.push(await allocateIpv6(store, scope, subnet, holder));
  return out;
}
