/**
 * Security group permissions both ways: EC2's IpPermissions (one protocol and port range, many
 * peers) split into single-peer rules as stored and shown by DescribeSecurityGroupRules, and the
 * rules grouped back into IpPermissions for DescribeSecurityGroups.
 */
import type { IpPermission, SecurityGroupRuleRequest } from '@aws-sdk/client-ec2';
import { ApiError, invalidParameterValue } from '../../../protocol/errors.js';
import { newId } from '../../../util/ids.js';
import type { RequestContext } from '../../context.js';
import { notFound } from '../common/errors.js';
import { formatCidr, parseCidr } from './cidr.js';
import { KINDS, type SecurityGroupRecord, type StoredRule } from './records.js';

const PROTOCOL_NAMES: Record<string, string> = { '6': 'tcp', '17': 'udp', '1': 'icmp', '58': 'icmpv6', all: '-1' };
const MAX_DESCRIPTION = 255;

/** EC2's protocol spelling: tcp, udp, icmp, icmpv6, -1 (all) or another protocol number. */
export function normalizeProtocol(p: string | undefined): string {
  if (p === undefined || p === '') throw new ApiError('MissingParameter', 'The request must contain the parameter ipProtocol');
  const lower = p.toLowerCase();
  const name = PROTOCOL_NAMES[lower] ?? lower;
  if (['tcp', 'udp', 'icmp', 'icmpv6', '-1'].includes(name)) return name;
  if (/^\d+$/.test(name) && Number(name) <= 255) return String(Number(name));
  throw invalidParameterValue(`Invalid value '${p}' for IP protocol. Unknown protocol.`);
}

/** Ports as EC2 stores them: a TCP/UDP range, an ICMP type and code, or -1 for everything else. */
export function portsOf(protocol: string, from: number | undefined, to: number | undefined): { FromPort: number; ToPort: number } {
  if (protocol === 'tcp' || protocol === 'udp') {
    if (from === undefined || to === undefined) {
      throw invalidParameterValue('Invalid value for portRange. Must specify both from and to ports with TCP/UDP.');
    }
    if (from < 0 || from > 65535 || to < 0 || to > 65535 || from > to) {
      throw invalidParameterValue(`Invalid TCP/UDP port range: from port ${from} to port ${to}. Ports are 0 to 65535 and from may not exceed to.`);
    }
    return { FromPort: from, ToPort: to };
  }
  if (protocol === 'icmp' || protocol === 'icmpv6') {
    const type = from ?? -1;
    const code = to ?? -1;
    if (type < -1 || type > 255 || code < -1 || code > 255) throw invalidParameterValue(`Invalid ICMP type ${type} or code ${code}.`);
    return { FromPort: type, ToPort: code };
  }
  return { FromPort: -1, ToPort: -1 };
}

function cidrOf(value: string, family: 4 | 6): string {
  const b = parseCidr(value, family);
  if (!b) {
    const param = family === 4 ? 'cidrIp' : 'cidrIpv6';
    throw invalidParameterValue(`Value (${value}) for parameter ${param} is invalid. This is not a valid CIDR block.`);
  }
  return formatCidr(b);
}

function description(d: string | undefined): string | undefined {
  if (d === undefined) return undefined;
  if (d.length > MAX_DESCRIPTION || !/^[a-zA-Z0-9 ._\-:/()#,@[\]+=&;{}!$*]*$/.test(d)) {
    throw invalidParameterValue(`Invalid rule description: '${d}'. Up to ${MAX_DESCRIPTION} characters of a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*.`);
  }
  return d;
}

/** A group this account can reference in a rule of `owner`: by id, or by name within the owner's VPC. */
async function referencedGroup(
  ctx: RequestContext, owner: SecurityGroupRecord, pair: { GroupId?: string; GroupName?: string; UserId?: string },
): Promise<SecurityGroupRecord> {
  if (pair.UserId !== undefined && pair.UserId !== ctx.accountId) {
    throw new ApiError('InvalidGroup.NotFound', `You have specified a security group of account ${pair.UserId}, which is not shared with this account.`);
  }
  if (pair.GroupId !== undefined) {
    const g = await ctx.store.get<SecurityGroupRecord>(KINDS.securityGroup, ctx.scope, pair.GroupId);
    if (!g) throw notFound('security-group', [pair.GroupId]);
    if (g.VpcId !== owner.VpcId) {
      throw new ApiError('InvalidGroup.NotFound', `You have specified two resources that belong to different networks.`);
    }
    return g;
  }
  if (pair.GroupName !== undefined) {
    const groups = await ctx.store.list<SecurityGroupRecord>(KINDS.securityGroup, ctx.scope);
    const g = groups.find((x) => x.VpcId === owner.VpcId && x.GroupName === pair.GroupName);
    if (!g) throw new ApiError('InvalidGroup.NotFound', `The security group '${pair.GroupName}' does not exist in VPC '${owner.VpcId}'`);
    return g;
  }
  throw new ApiError('MissingParameter', 'A referenced group pair must contain groupId or groupName');
}

/** The single-peer rules an IpPermissions list asks for (ids fresh; the caller checks duplicates). */
export async function rulesOf(
  ctx: RequestContext, group: SecurityGroupRecord, permissions: readonly IpPermission[], isEgress: boolean,
): Promise<StoredRule[]> {
  const out: StoredRule[] = [];
  for (const p of permissions) {
    const before = out.length;
    const IpProtocol = normalizeProtocol(p.IpProtocol);
    const base = { IsEgress: isEgress, IpProtocol, ...portsOf(IpProtocol, p.FromPort, p.ToPort) };
    const rule = (peer: Partial<StoredRule>, d: string | undefined): StoredRule => ({
      SecurityGroupRuleId: newId('sgr'), ...base, ...peer, Description: description(d),
    });
    for (const r of p.IpRanges ?? []) out.push(rule({ CidrIpv4: cidrOf(r.CidrIp ?? '', 4) }, r.Description));
    for (const r of p.Ipv6Ranges ?? []) out.push(rule({ CidrIpv6: cidrOf(r.CidrIpv6 ?? '', 6) }, r.Description));
    for (const r of p.PrefixListIds ?? []) {
      if (!/^pl-[0-9a-f]{8,17}$/.test(r.PrefixListId ?? '')) throw new ApiError('InvalidPrefixListId.Malformed', `Invalid id: "${r.PrefixListId}"`);
      out.push(rule({ PrefixListId: r.PrefixListId }, r.Description));
    }
    for (const pair of p.UserIdGroupPairs ?? []) {
      const g = await referencedGroup(ctx, group, pair);
      out.push(rule({ ReferencedGroupInfo: { GroupId: g.GroupId, UserId: ctx.accountId } }, pair.Description));
    }
    if (out.length === before) throw new ApiError('MissingParameter', 'The request must contain at least one of IpRanges, Ipv6Ranges, PrefixListIds or UserIdGroupPairs');
  }
  return out;
}

/** A rule as ModifySecurityGroupRules describes it. */
export async function ruleOfRequest(
  ctx: RequestContext, group: SecurityGroupRecord, id: string, isEgress: boolean, req: SecurityGroupRuleRequest,
): Promise<StoredRule> {
  const IpProtocol = normalizeProtocol(req.IpProtocol);
  const peers = [req.CidrIpv4, req.CidrIpv6, req.PrefixListId, req.ReferencedGroupId].filter((p) => p !== undefined);
  if (peers.length !== 1) {
    throw new ApiError('InvalidParameterCombination', 'Specify exactly one of CidrIpv4, CidrIpv6, PrefixListId and ReferencedGroupId.');
  }
  const rule: StoredRule = {
    SecurityGroupRuleId: id, IsEgress: isEgress, IpProtocol, ...portsOf(IpProtocol, req.FromPort, req.ToPort), Description: description(req.Description),
  };
  if (req.CidrIpv4 !== undefined) rule.CidrIpv4 = cidrOf(req.CidrIpv4, 4);
  if (req.CidrIpv6 !== undefined) rule.CidrIpv6 = cidrOf(req.CidrIpv6, 6);
  if (req.PrefixListId !== undefined) rule.PrefixListId = req.PrefixListId;
  if (req.ReferencedGroupId !== undefined) {
    const g = await referencedGroup(ctx, group, { GroupId: req.ReferencedGroupId });
    rule.ReferencedGroupInfo = { GroupId: g.GroupId, UserId: ctx.accountId };
  }
  return rule;
}

/** Two rules are the same rule when direction, protocol, ports and peer agree (descriptions aside). */
export function sameRule(a: StoredRule, b: StoredRule): boolean {
  return a.IsEgress === b.IsEgress && a.IpProtocol === b.IpProtocol && a.FromPort === b.FromPort && a.ToPort === b.ToPort &&
    a.CidrIpv4 === b.CidrIpv4 && a.CidrIpv6 === b.CidrIpv6 && a.PrefixListId === b.PrefixListId &&
    a.ReferencedGroupInfo?.GroupId === b.ReferencedGroupInfo?.GroupId;
}

/** EC2's words for a rule in InvalidPermission messages. */
export function describeRule(r: StoredRule): string {
  const peer = r.CidrIpv4 ?? r.CidrIpv6 ?? r.PrefixListId ?? r.ReferencedGroupInfo?.GroupId;
  const proto = r.IpProtocol === '-1' ? 'ALL' : r.IpProtocol.toUpperCase();
  const ports = r.IpProtocol === '-1' ? '' : `, from port: ${r.FromPort}, to port: ${r.ToPort}`;
  return `peer: ${peer}, ${proto}${ports}, ALLOW`;
}

/** Rules grouped into IpPermissions, one per protocol and port range, in the order first seen. */
export function ipPermissionsOf(rules: readonly StoredRule[]): IpPermission[] {
  const byKey = new Map<string, IpPermission>();
  for (const r of rules) {
    const key = `${r.IpProtocol}/${r.FromPort}/${r.ToPort}`;
    let p = byKey.get(key);
    if (!p) {
      p = { IpProtocol: r.IpProtocol, IpRanges: [], Ipv6Ranges: [], PrefixListIds: [], UserIdGroupPairs: [] };
      if (r.IpProtocol !== '-1') Object.assign(p, { FromPort: r.FromPort, ToPort: r.ToPort });
      byKey.set(key, p);
    }
    const d = r.Description === undefined ? {} : { Description: r.Description };
    if (r.CidrIpv4) p.IpRanges!.push({ CidrIp: r.CidrIpv4, ...d });
    if (r.CidrIpv6) p.Ipv6Ranges!.push({ CidrIpv6: r.CidrIpv6, ...d });
    if (r.PrefixListId) p.PrefixListIds!.push({ PrefixListId: r.PrefixListId, ...d });
    if (r.ReferencedGroupInfo) p.UserIdGroupPairs!.push({ GroupId: r.ReferencedGroupInfo.GroupId, UserId: r.ReferencedGroupInfo.UserId, ...d });
  }
  return [...byKey.values()];
}
