/**
 * Addresses for instances: private IPv4 addresses from the subnet (AWS reserves the first four and
 * the last address of every subnet), public IPv4 addresses from the host's public pool
 * (198.18.0.0/15, which never leaves the machine) and MAC addresses. Each address in use is a store
 * row, so two instances never share one, across restarts too.
 */
import { randomInt } from 'node:crypto';
import { randomPooled } from '../../../util/ids.js';
import { ApiError, invalidParameterValue } from '../../../protocol/errors.js';
import type { Scope, Store } from '../../../store/store.js';

const PRIVATE_IP_KIND = 'private-ip';
const PUBLIC_IP_KIND = 'public-ip';
/** The public pool belongs to the host, not to an account or region. */
const HOST_SCOPE: Scope = { account: '-', region: '-' };

/** The public pool's addresses (config.publicPool): [base, base + size). */
function poolRange(cidr: string): { base: number; size: number } {
  const [addr, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const n = ipToInt(addr!);
  return { base: n - (n % size), size };
}

/** Whether `n` may be handed out: inside the pool, and not a network or broadcast-looking x.x.x.0 or x.x.x.255. */
const usablePublic = (pool: { base: number; size: number }, n: number) =>
  n >= pool.base && n < pool.base + pool.size && n % 256 !== 0 && n % 256 !== 255;

export function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

export function isIpv4(s: string): boolean {
  return /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(s);
}

/** The usable range of a subnet: [first, last] as integers. */
function usableRange(cidr: string): { first: number; last: number; base: number; size: number } {
  const [addr, bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const base = ipToInt(addr!);
  return { base, size, first: base + 4, last: base + size - 2 };
}

/** Who holds an address: the interface (or Elastic IP allocation) it belongs to. */
interface AddressHolder {
  holder: string;
}

/**
 * Reserves a free address of [first, last] for `holder`, as the row `${keyPrefix}${ip}`; undefined
 * when all are taken. Random probes find one at once while the range is sparse. When they miss,
 * the range is read a /24 at a time from a random one on: the rows of a /24 are one stretch of the
 * index (`…/a.b.c.`), so a nearly full range costs one read of at most 256 ids, not a probe for each
 * address (which took 25 ms a launch in a nearly full /20).
 */
async function takeFree(
  store: Store, kind: string, scope: Scope, keyPrefix: string, range: { first: number; last: number },
  holder: string, probes: number, usable: (n: number) => boolean = () => true,
): Promise<string | undefined> {
  const take = async (n: number) => {
    const ip = intToIp(n);
    await store.put<AddressHolder>(kind, scope, `${keyPrefix}${ip}`, { holder });
    return ip;
  };
  const span = range.last - range.first + 1;
  for (let i = 0; i < probes; i++) {
    const n = range.first + randomInt(span);
    if (usable(n) && !(await store.get(kind, scope, `${keyPrefix}${intToIp(n)}`))) return take(n);
  }
  const firstBlock = Math.floor(range.first / 256);
  const blocks = Math.floor(range.last / 256) - firstBlock + 1;
  const start = randomInt(blocks);
  for (let i = 0; i < blocks; i++) {
    const block = (firstBlock + ((start + i) % blocks)) * 256;
    const blockPrefix = `${keyPrefix}${intToIp(block).slice(0, -1)}`; // "…/a.b.c."
    const used = new Set((await store.idsWithPrefix(kind, scope, blockPrefix)).map((id) => Number(id.slice(blockPrefix.length))));
    for (let n = Math.max(block, range.first); n <= Math.min(block + 255, range.last); n++) {
      if (!used.has(n - block) && usable(n)) return take(n);
    }
  }
  return undefined;
}

/** Reserves a private address in the subnet: the one asked for, or a free one. */
export async function allocatePrivateIp(
  store: Store, scope: Scope, subnet: { SubnetId: string; CidrBlock: string }, holder: string, wanted?: string,
): Promise<string> {
  const range = usableRange(subnet.CidrBlock);
  const key = (ip: number) => `${subnet.SubnetId}/${intToIp(ip)}`;
  if (wanted !== undefined) {
    if (!isIpv4(wanted)) throw invalidParameterValue(`Invalid value '${wanted}' for PrivateIpAddress.`);
    const n = ipToInt(wanted);
    if (n < range.base || n >= range.base + range.size) {
      throw invalidParameterValue(`Address ${wanted} does not fall within the subnet's address range`);
    }
    if (n < range.first || n > range.last) {
      throw invalidParameterValue(`Address ${wanted} is reserved by AWS and cannot be used in this subnet`);
    }
    if (await store.get(PRIVATE_IP_KIND, scope, key(n))) throw new ApiError('InvalidIPAddress.InUse', `Address ${wanted} is in use.`);
    await store.put<AddressHolder>(PRIVATE_IP_KIND, scope, key(n), { holder });
    return wanted;
  }
  const found = await takeFree(store, PRIVATE_IP_KIND, scope, `${subnet.SubnetId}/`, range, holder, 8);
  if (found !== undefined) return found;
  throw new ApiError(
    'InsufficientFreeAddressesInSubnet',
    `There are not enough free addresses in subnet '${subnet.SubnetId}' to satisfy the requested number of instances.`,
  );
}

/** How many private addresses of the subnet are held (by interfaces, instances' included). */
export async function privateIpsInUse(store: Store, scope: Scope, subnetId: string): Promise<number> {
  return store.countInGroup(PRIVATE_IP_KIND, scope, subnetId);
}

/** The interface that holds a private address of a subnet, if any. */
export async function privateIpHolder(store: Store, scope: Scope, subnetId: string, ip: string): Promise<string | undefined> {
  return (await store.get<AddressHolder>(PRIVATE_IP_KIND, scope, `${subnetId}/${ip}`))?.holder;
}

/** Hands a private address that another interface holds to `holder` (AllowReassignment). */
export async function transferPrivateIp(store: Store, scope: Scope, subnetId: string, ip: string, holder: string): Promise<void> {
  await store.put<AddressHolder>(PRIVATE_IP_KIND, scope, `${subnetId}/${ip}`, { holder });
}

export async function releasePrivateIp(store: Store, scope: Scope, subnetId: string, ip: string): Promise<void> {
  await store.remove(PRIVATE_IP_KIND, scope, `${subnetId}/${ip}`);
}

export async function allocatePublicIp(store: Store, poolCidr: string, holder: string): Promise<string> {
  const pool = poolRange(poolCidr);
  const usable = (n: number) => usablePublic(pool, n);
  const found = await takeFree(store, PUBLIC_IP_KIND, HOST_SCOPE, '', { first: pool.base, last: pool.base + pool.size - 1 }, holder, 64, usable);
  if (found !== undefined) return found;
  throw new ApiError('InsufficientAddressCapacity', 'There are no free public IPv4 addresses in the pool.');
}

/** Takes one given address of the pool (recovering a released Elastic IP); undefined when it is not free. */
export async function claimPublicIp(store: Store, poolCidr: string, holder: string, ip: string): Promise<string | undefined> {
  if (!isIpv4(ip) || !usablePublic(poolRange(poolCidr), ipToInt(ip))) return undefined;
  if (await store.get(PUBLIC_IP_KIND, HOST_SCOPE, ip)) return undefined;
  await store.put<AddressHolder>(PUBLIC_IP_KIND, HOST_SCOPE, ip, { holder });
  return ip;
}

export async function releasePublicIp(store: Store, ip: string): Promise<void> {
  await store.remove(PUBLIC_IP_KIND, HOST_SCOPE, ip);
}

/** A locally administered unicast MAC, in the form EC2 prints (`0e:1a:…`). */
export function newMacAddress(): string {
  const b = randomPooled(6);
  b[0] = (b[0]! & 0xfc) | 0x02;
  return b.toString('hex').replace(/..(?!$)/g, '$&:');
}
