/**
 * Compiles a VPC's model to the nftables ruleset of its namespace, loaded in one transaction.
 *
 * Packets between instances are bridged, and the bridge hands IPv4 and IPv6 to the inet hooks
 * (br_netfilter), so one stateful table sees all traffic of the VPC:
 * - `bridge nimbus` (stateless, first): each port may only send from its interface's MAC and
 *   addresses (source/dest check), in IPv4, ARP and IPv6; that is what lets the inet table know
 *   the sending interface by its source address.
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
const groupSet6 = (groupId: string) => `g6_${ident(groupId)}`;
/** Neighbour discovery: IPv6's ARP, which every interface needs (EC2 filters it neither). */
const ND = 'icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert }';

/** Matches for a protocol and its ports (TCP/UDP ports, ICMP type and code); undefined if nftables here cannot express it. */
function protocolMatch(protocol: string, from: number | undefined, to: number | undefined): string {
  const name = ({ '6': 'tcp', '17': 'udp', '1': 'icmp', '58': 'icmpv6' } as Record<string, string>)[protocol] ?? protocol;
  if (name === '-1') return '';
  if (name === 'tcp' || name === 'udp') {
    const lo = from ?? 0;
    const hi = to ?? 65535;
    if (lo <= 0 && (hi < 0 || hi >= 65535)) return `meta l4proto ${name}`;
    return `meta l4proto ${name} th dport ${lo === hi ? lo : `${lo}-${hi}`}`;
  }
  if (name === 'icmp' || name === 'icmpv6') {
    const parts = [name === 'icmp' ? 'meta l4proto icmp' : 'meta l4proto ipv6-icmp'];
    if (from !== undefined && from >= 0) parts.push(`${name} type ${from}`);
    if (to !== undefined && to >= 0) parts.push(`${name} code ${to}`);
    return parts.join(' ');
  }
  return `meta l4proto ${Number(name)}`;
}

/** A peer CIDR as a match: an address family of its own, so 0.0.0.0/0 never lets IPv6 in or ::/0 IPv4. */
function cidrMatch(cidr: string, field: 'saddr' | 'daddr'): string {
  const v6 = cidr.includes(':');
  if (cidr === '0.0.0.0/0' || cidr === '::/0') return `meta nfproto ${v6 ? 'ipv6' : 'ipv4'}`;
  return `${v6 ? 'ip6' : 'ip'} ${field} ${cidr}`;
}

/** One security group rule as matches (a group reference is one per address family); none for prefix lists. */
function ruleMatches(rule: StoredRule, ingress: boolean): string[] {
  const dir = ingress ? 'saddr' : 'daddr';
  let peers: string[];
  if (rule.CidrIpv4) peers = [cidrMatch(rule.CidrIpv4, dir)];
  else if (rule.CidrIpv6) peers = [cidrMatch(rule.CidrIpv6, dir)];
  else if (rule.ReferencedGroupInfo?.GroupId) {
    const g = rule.ReferencedGroupInfo.GroupId;
    peers = [`ip ${dir} @${groupSet(g)}`, `ip6 ${dir} @${groupSet6(g)}`];
  } else return []; // prefix lists are not modelled
  const proto = protocolMatch(rule.IpProtocol, rule.FromPort, rule.ToPort);
  return peers.map((peer) => [peer, proto].filter(Boolean).join(' '));
}

function aclEntryMatch(e: NetworkAclEntry): string {
  const cidr = e.CidrBlock ?? e.Ipv6CidrBlock ?? '0.0.0.0/0';
  const proto = protocolMatch(e.Protocol ?? '-1', e.PortRange?.From ?? e.IcmpTypeCode?.Type, e.PortRange?.To ?? e.IcmpTypeCode?.Code);
  return [cidrMatch(cidr, e.Egress ? 'daddr' : 'saddr'), proto].filter(Boolean).join(' ');
}

function aclChain(name: string, entries: readonly NetworkAclEntry[]): string[] {
  const lines = [`  chain ${name} {`];
  for (const e of [...entries].sort((a, b) => (a.RuleNumber ?? 0) - (b.RuleNumber ?? 0))) {
    lines.push(`    ${aclEntryMatch(e)} ${e.RuleAction === 'allow' ? 'return' : 'drop'}`);
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
    for (const r of rules(ingress)) for (const m of ruleMatches(r, ingress)) lines.push(`    ${m} ${verdict}`);
    lines.push('    drop', '  }');
    return lines;
  };
  return [...chain(`sg_in_${port.port}`, true, 'accept'), ...chain(`sg_out_${port.port}`, false, 'return')];
}

function vmaps(field: 'saddr' | 'daddr', ports: readonly PortModel[], chain: (p: PortModel) => string): string[] {
  const v4 = ports.flatMap((p) => p.ips.map((a) => `${a} : jump ${chain(p)}`));
  const v6 = ports.flatMap((p) => p.ipv6s.map((a) => `${a} : jump ${chain(p)}`));
  return [...(v4.length ? [`ip ${field} vmap ${setOf(v4)}`] : []), ...(v6.length ? [`ip6 ${field} vmap ${setOf(v6)}`] : [])];
}

/** A service the VPC router answers on (the metadata service, the API for instances). */
export interface RouterService {
  address: string;
  port: number;
  /** Subject to the instance's metadata options (HttpEndpoint, HttpPutResponseHopLimit). */
  metadata?: boolean;
}

function filterTable(model: VpcModel, services: readonly RouterService[]): string[] {
  const out = ['table inet nimbus {'];
  const referenced = new Set<string>();
  for (const g of model.groups.values()) {
    for (const r of [...g.ingress, ...g.egress]) if (r.ReferencedGroupInfo?.GroupId) referenced.add(r.ReferencedGroupInfo.GroupId);
  }
  const set = (name: string, type: string, members: string[]) =>
    out.push(`  set ${name} {`, `    type ${type}`, ...(members.length ? [`    elements = ${setOf(members)}`] : []), '  }');
  for (const g of [...referenced].sort()) {
    const members = model.ports.filter((p) => p.groupIds.includes(g));
    set(groupSet(g), 'ipv4_addr', members.flatMap((p) => p.ips));
    set(groupSet6(g), 'ipv6_addr', members.flatMap((p) => p.ipv6s));
  }
  for (const [id, entries] of model.networkAcls) {
    out.push(...aclChain(`acl_in_${ident(id)}`, entries.filter((e) => !e.Egress)));
    out.push(...aclChain(`acl_out_${ident(id)}`, entries.filter((e) => e.Egress)));
  }
  for (const p of model.ports) out.push(...portChains(model, p));

  const egress = vmaps('saddr', model.ports, (p) => `sg_out_${p.port}`);
  const ingress = vmaps('daddr', model.ports, (p) => `sg_in_${p.port}`);
  out.push('  chain forward {', '    type filter hook forward priority filter; policy drop;', `    ${ND} accept`);
  for (const s of model.subnets) {
    if (!s.networkAclId) continue;
    const acl = ident(s.networkAclId);
    for (const [family, cidr] of [['ip', s.cidr], ['ip6', s.ipv6Cidr]] as const) {
      if (!cidr) continue;
      out.push(`    ${family} saddr ${cidr} ${family} daddr != ${cidr} jump acl_out_${acl}`);
      out.push(`    ${family} daddr ${cidr} ${family} saddr != ${cidr} jump acl_in_${acl}`);
    }
  }
  out.push('    ct state invalid drop', '    ct state established,related accept');
  for (const v of egress) out.push(`    ${v}`);
  out.push(`    oifname "${UPLINK}" drop`);
  for (const v of ingress) out.push(`    ${v}`);
  out.push('  }');
  // The VPC router answers pings to its gateway addresses and its services; an instance whose
  // metadata endpoint is disabled gets no answer from the metadata service.
  out.push(
    '  chain input {', '    type filter hook input priority filter; policy drop;', '    iifname "lo" accept',
    '    ct state established,related accept', `    ${ND} accept`,
    `    iifname "${BRIDGE}" icmp type echo-request accept`, `    iifname "${BRIDGE}" icmpv6 type echo-request accept`,
  );
  for (const svc of services) {
    const v6 = svc.address.includes(':');
    const family = v6 ? 'ip6' : 'ip';
    const to = `${family} daddr ${svc.address} tcp dport ${svc.port}`;
    const silenced = svc.metadata
      ? model.ports.filter((p) => !p.metadata.enabled || (v6 && !p.metadata.ipv6)).flatMap((p) => (v6 ? p.ipv6s : p.ips))
      : [];
    if (silenced.length) out.push(`    ${to} ${family} saddr ${setOf(silenced)} drop`);
    out.push(`    iifname "${BRIDGE}" ${to} accept`);
  }
  out.push('  }');
  // Connections from the VPC namespace (an operator's `ip netns exec … ssh`) meet the ingress rules
  // too; the metadata service's answers leave with the instance's hop limit as their TTL.
  out.push('  chain output {', '    type filter hook output priority filter; policy accept;');
  for (const svc of services.filter((x) => x.metadata)) {
    const v6 = svc.address.includes(':');
    for (const p of model.ports) {
      const to = v6 ? p.ipv6s : p.ips;
      if (!to.length) continue;
      out.push(v6
        ? `    ip6 saddr ${svc.address} tcp sport ${svc.port} ip6 daddr ${setOf(to)} ip6 hoplimit set ${p.metadata.hopLimit}`
        : `    ip saddr ${svc.address} tcp sport ${svc.port} ip daddr ${setOf(to)} ip ttl set ${p.metadata.hopLimit}`);
    }
  }
  out.push('    ct state established,related accept', `    ${ND} accept`);
  for (const v of ingress) out.push(`    oifname "${BRIDGE}" ${v}`);
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
    if (!p.sourceDestCheck) continue;
    out.push(`    ${at} ether type ip ip saddr != ${setOf(p.ips)} drop`);
    // Link-local (and unspecified, for duplicate address detection) is every interface's own.
    out.push(`    ${at} ether type ip6 ip6 saddr != ${setOf(['::', 'fe80::/64', ...p.ipv6s])} drop`);
    out.push(`    ${at} ether type arp arp saddr ether != ${p.mac} drop`);
    out.push(`    ${at} ether type arp arp saddr ip != ${setOf(['0.0.0.0', ...p.ips])} drop`);
  }
  out.push('  }', '}');
  return out;
}

/** The namespace's whole ruleset: each table is created if absent, deleted and defined again, atomically. */
export function compileRuleset(model: VpcModel, services: readonly RouterService[] = []): string {
  const tables = [['inet', 'nimbus'], ['ip', 'nimbus_nat'], ['bridge', 'nimbus']];
  const reset = tables.flatMap(([family, name]) => [`table ${family} ${name}`, `delete table ${family} ${name}`]);
  return [...reset, ...bridgeTable(model), ...filterTable(model, services), ...natTable(model)].join('\n') + '\n';
}
