/**
 * IPv4 and IPv6 CIDR blocks as numbers (bigint, so both families share one arithmetic): parsing,
 * containment and overlap, and the addresses a VPC's subnets may use.
 */
import { randomBytes } from 'node:crypto';

export interface Cidr {
  family: 4 | 6;
  /** The network address. */
  base: bigint;
  bits: number;
}

const WIDTH = { 4: 32, 6: 128 } as const;

function parseIpv4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((n, p) => (n << 8n) | BigInt(p), 0n);
}

export function parseIpv6(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F:]+$/.test(s) || s.split('::').length > 2) return undefined;
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const groups = (x: string | undefined) => (x ? x.split(':') : []);
  const left = groups(head);
  const right = groups(tail);
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined;
  const all = [...left, ...Array<string>(tail === undefined ? 0 : missing).fill('0'), ...right];
  if (all.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  return all.reduce((n, g) => (n << 16n) | BigInt(`0x${g}`), 0n);
}

/** A CIDR block in its network form, or undefined when `s` is not one (host bits set included). */
export function parseCidr(s: string, family: 4 | 6 = 4): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const bits = Number(m[2]);
  const width = WIDTH[family];
  if (bits > width) return undefined;
  const addr = family === 4 ? parseIpv4(m[1]!) : parseIpv6(m[1]!);
  if (addr === undefined) return undefined;
  const hostMask = (1n << BigInt(width - bits)) - 1n;
  if ((addr & hostMask) !== 0n) return undefined;
  return { family, base: addr, bits };
}

export function formatCidr(c: Cidr): string {
  return `${formatAddress(c.base, c.family)}/${c.bits}`;
}

export function formatAddress(n: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => ((n >> BigInt(112 - 16 * i)) & 0xffffn).toString(16));
  // The longest run of zero groups becomes `::` (RFC 5952).
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len && j - i > 1) best = { at: i, len: j - i };
    i = j;
  }
  if (best.at < 0) return groups.join(':');
  return `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
}

export const cidrSize = (c: Cidr): bigint => 1n << BigInt(WIDTH[c.family] - c.bits);

export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return outer.family === inner.family && inner.bits >= outer.bits && inner.base >= outer.base &&
    inner.base + cidrSize(inner) <= outer.base + cidrSize(outer);
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.base < b.base + cidrSize(b) && b.base < a.base + cidrSize(a);
}

/** EC2 reserves five addresses of every IPv4 subnet: the first four and the last. */
export const RESERVED_SUBNET_ADDRESSES = 5;

/** A fresh /56 for a VPC's Amazon-provided IPv6 block, from the 2600:1f00::/24 range AWS uses. */
export function newIpv6VpcBlock(): string {
  const b = randomBytes(4);
  const n = (0x2600_1fn << 104n) | (BigInt(b.readUInt32BE(0)) << 72n);
  return formatCidr({ family: 6, base: n & ~((1n << 72n) - 1n), bits: 56 });
}
