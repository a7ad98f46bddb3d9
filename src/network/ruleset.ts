/**
 * Compiles a VPC's model to the nftables ruleset of its namespace, loaded in one transaction.
 *
 * Packets between instances are bridged, and the bridge hands IPv4 to the inet hooks
 * (br_netfilter), so one stateful table sees all traffic of the VPC:
 * - `bridge nimbus` (stateless, first): each port may only send from its interface's MAC and
 *   private addresses (source/dest check), in IPv4 and ARP; that is what lets the inet table
 *   know the sending interface by its source address.
 * - `inet nimbus`, forward: network ACLs first (stateless, on every packet that crosses a subnet's
 *   edge, rules in number order, first match wins), then established flows pass, then a new flow
 *   needs the sender's egress rules and the receiver's ingress rules (the union over each
 *   interface's groups). Instances never open connections to the host.
 * - `ip nimbus_nat`: public and Elastic IPs are DNAT from the host link to the private address.
 */
import type { NetworkAclEntry } from '@aws-sdk/client-ec2';
import type { StoredRule } from '../services/ec2/vpc/records.js';
import type { PortModel, VpcModel } from './model.js';
import { BRIDGE, UPLINK } from './names.js';

const ident = (s: string) => s.replace(/[^A-Za-z0-9_]/g, '_');
const setOf = (items: readonly string[]) => `{ ${items.join(', ')} }`;
const groupSet = (groupId: string) => `g_${ident(groupId)}`;

/** Matches for a protocol and its ports (TCP/UDP ports, ICMP type and code); undefined if nftables here cannot express it. */
function protocolMatch(protocol: string, from: number | undefined, to: number | undefined): string | undefined {
  const name = ({ '6': 'tcp', '17': 'udp', '1': 'icmp', '58': 'icmpv6' } as Record<string, string>)[protocol] ?? protocol;
  if (name === '-1') return '';
  if (name === 'icmpv6') return undefined; // IPv6 does not cross this data plane
  if (name === 'tcp' || name === 'udp') {
    const lo = from ?? 0;
    const hi = to ?? 65535;
    if (lo <= 0 && (hi < 0 || hi >= 65535)) return `meta l4proto ${name}`;
    return `meta l4proto ${name} th dport ${lo === hi ? lo : `${lo}-${hi}`}`;
  }
  if (name === 'icmp') {
    const parts = ['meta l4proto icmp'];
    if (from !== undefined && from >= 0) parts.push(`icmp type ${from}`);
    if (to !== undefined && to >= 0) parts.push(`icmp code ${to}`);
    return parts.join(' ');
  }
  return `meta l4proto ${Number(name)}`;
}

/** One security group rule as a match, or undefined when its peer cannot match IPv4 traffic. */
function ruleMatch(rule: StoredRule, ingress: boolean): string | undefined {
  const dir = ingress ? 'saddr' : 'daddr';
  let peer: string;
  if (rule.CidrIpv4) peer = rule.CidrIpv4 === '0.0.0.0/0' ? '' : `ip ${dir} ${rule.CidrIpv4}`;
  else if (rule.ReferencedGroupInfo?.GroupId) peer = `ip ${dir} @${groupSet(rule.ReferencedGroupInfo.GroupId)}`;
  else return undefined; // IPv6 CIDRs and prefix lists
  const proto = protocolMatch(rule.IpProtocol, rule.FromPort, rule.ToPort);
  if (proto === undefined) return undefined;
  return [peer, proto].filter(Boolean).join(' ');
}

function aclEntryMatch(e: NetworkAclEntry): string | undefined {
  if (!e.CidrBlock) return undefined;
  const peer = e.CidrBlock === '0.0.0.0/0' ? '' : `ip ${e.Egress ? 'daddr' : 'saddr'} ${e.CidrBlock}`;
  const proto = protocolMatch(e.Protocol ?? '-1', e.PortRange?.From ?? e.IcmpTypeCode?.Type, e.PortRange?.To ?? e.IcmpTypeCode?.Code);
  if (proto === undefined) return undefined;
  return [peer, proto].filter(Boolean).join(' ');
}

function aclChain(name: string, entries: readonly NetworkAclEntry[]): string[] {
  const lines = [`  chain ${name} {`];
  for (const e of [...entries].sort((a, b) => (a.RuleNumber ?? 0) - (b.RuleNumber ?? 0))) {
    const m = aclEntryMatch(e);
    if (m === undefined) continue;
    lines.push(`    ${m ? `${m} ` : ''}${e.RuleAction === 'allow' ? 'return' : 'drop'}`);
  }
  lines.push('    drop', '  }');
  return lines;
}

function portChains(model: VpcModel, port: PortModel): string[] {
  const rules = (ingress: boolean) =>
    port.groupIds.flatMap((g) => {
      const group = model.groups.get(g);
      return (ingress ? group?.ingress : group?.egress) ?? [];
    });
  const chain = (name: string, ingress: boolean, verdict: string) => {
    const lines = [`  chain ${name} {`];
    for (const r of rules(ingress)) {
      const m = ruleMatch(r, ingress);
      if (m !== undefined) lines.push(`    ${m ? `${m} ` : ''}${verdict}`);
    }
    lines.push('    drop', '  }');
    return lines;
  };
  return [...chain(`sg_in_${port.port}`, true, 'accept'), ...chain(`sg_out_${port.port}`, false, 'return')];
}

function vmap(field: 'saddr' | 'daddr', ports: readonly PortModel[], chain: (p: PortModel) => string): string | undefined {
  const elements = ports.flatMap((p) => p.ips.map((ip) => `${ip} : jump ${chain(p)}`));
  return elements.length ? `ip ${field} vmap ${setOf(elements)}` : undefined;
}

function filterTable(model: VpcModel): string[] {
  const out = ['table inet nimbus {'];
  const referenced = new Set<string>();
  for (const g of model.groups.values()) {
    for (const r of [...g.ingress, ...g.egress]) if (r.ReferencedGroupInfo?.GroupId) referenced.add(r.ReferencedGroupInfo.GroupId);
  }
  for (const g of [...referenced].sort()) {
    const members = model.ports.filter((p) => p.groupIds.includes(g)).flatMap((p) => p.ips);
    out.push(`  set ${groupSet(g)} {`, '    type ipv4_addr', ...(members.length ? [`    elements = ${setOf(members)}`] : []), '  }');
  }
  for (const [id, entries] of model.networkAcls) {
    out.push(...aclChain(`acl_in_${ident(id)}`, entries.filter((e) => !e.Egress)));
    out.push(...aclChain(`acl_out_${ident(id)}`, entries.filter((e) => e.Egress)));
  }
  for (const p of model.ports) out.push(...portChains(model, p));

  const egress = vmap('saddr', model.ports, (p) => `sg_out_${p.port}`);
  const ingress = vmap('daddr', model.ports, (p) => `sg_in_${p.port}`);
  out.push('  chain forward {', '    type filter hook forward priority filter; policy drop;');
  for (const s of model.subnets) {
    if (!s.networkAclId) continue;
    out.push(`    ip saddr ${s.cidr} ip daddr != ${s.cidr} jump acl_out_${ident(s.networkAclId)}`);
    out.push(`    ip daddr ${s.cidr} ip saddr != ${s.cidr} jump acl_in_${ident(s.networkAclId)}`);
  }
  out.push('    ct state invalid drop', '    ct state established,related accept');
  if (egress) out.push(`    ${egress}`);
  out.push(`    oifname "${UPLINK}" drop`);
  if (ingress) out.push(`    ${ingress}`);
  out.push('  }');
  // The VPC router itself answers pings to its gateway addresses and nothing else yet.
  out.push(
    '  chain input {', '    type filter hook input priority filter; policy drop;', '    iifname "lo" accept',
    '    ct state established,related accept', `    iifname "${BRIDGE}" icmp type echo-request accept`, '  }',
  );
  // Connections from the VPC namespace (an operator's `ip netns exec … ssh`) meet the ingress rules too.
  out.push('  chain output {', '    type filter hook output priority filter; policy accept;', '    ct state established,related accept');
  if (ingress) out.push(`    oifname "${BRIDGE}" ${ingress}`);
  out.push('  }', '}');
  return out;
}

function natTable(model: VpcModel): string[] {
  const pairs = model.ports.flatMap((p) => p.nat.map((n) => `${n.publicIp} : ${n.privateIp}`));
  const out = ['table ip nimbus_nat {', '  chain prerouting {', '    type nat hook prerouting priority dstnat; policy accept;'];
  if (pairs.length) out.push(`    iifname "${UPLINK}" dnat to ip daddr map ${setOf(pairs)}`);
  out.push('  }', '}');
  return out;
}

function bridgeTable(model: VpcModel): string[] {
  const out = ['table bridge nimbus {', '  chain prerouting {', '    type filter hook prerouting priority filter; policy accept;'];
  for (const p of model.ports) {
    const at = `iifname "${p.port}"`;
    out.push(`    ${at} ether saddr != ${p.mac} drop`);
    out.push(`    ${at} ether type ip6 drop`);
    if (!p.sourceDestCheck) continue;
    out.push(`    ${at} ether type ip ip saddr != ${setOf(p.ips)} drop`);
    out.push(`    ${at} ether type arp arp saddr ether != ${p.mac} drop`);
    out.push(`    ${at} ether type arp arp saddr ip != ${setOf(['0.0.0.0', ...p.ips])} drop`);
  }
  out.push('  }', '}');
  return out;
}

/** The namespace's whole ruleset: each table is created if absent, deleted and defined again, atomically. */
export function compileRuleset(model: VpcModel): string {
  const tables = [['inet', 'nimbus'], ['ip', 'nimbus_nat'], ['bridge', 'nimbus']];
  const reset = tables.flatMap(([family, name]) => [`table ${family} ${name}`, `delete table ${family} ${name}`]);
  return [...reset, ...bridgeTable(model), ...filterTable(model), ...natTable(model)].join('\n') + '\n';
}
