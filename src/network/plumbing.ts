/**
 * The kernel side of the data plane, step by step and idempotent: each function reads what is
 * there and changes only what differs from the model.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { ip, ipBatch, ipJson, nftApply, sysctl } from './exec.js';
import type { PortModel, SubnetModel, VpcModel } from './model.js';
import { BRIDGE, guestDevice, HOST_LINK_IP, netnsPath, UPLINK, VPC_LINK_IP, type NetnsNames } from './names.js';
import { compileRuleset, type RouterService } from './ruleset.js';

interface LinkInfo {
  ifname: string;
  address?: string;
  master?: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

async function links(netns: string | undefined): Promise<Map<string, LinkInfo>> {
  const list = await ipJson<LinkInfo[]>(netns, ['addr', 'show']);
  return new Map(list.map((l) => [l.ifname, l]));
}

const ipv4Of = (l: LinkInfo | undefined) => (l?.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
/** Global IPv6 addresses (link-local ones are the kernel's). */
const ipv6Of = (l: LinkInfo | undefined) =>
  (l?.addr_info ?? []).filter((a) => a.family === 'inet6' && !a.local.startsWith('fe80:')).map((a) => `${a.local}/${a.prefixlen}`);

/** The VPC router's link-local address, every IPv6 subnet's default gateway (as EC2's router advertises). */
export const ROUTER_LINK_LOCAL = 'fe80::1';

/** The router's address in an IPv6 /64: its first host (`…::1`); a /64's canonical form ends in `::`. */
const ipv6Gateway = (cidr: string) => `${cidr.replace(/\/\d+$/, '')}1/64`;

export async function ensureNetns(name: string, settings?: Record<string, string | number>): Promise<string> {
  if (!existsSync(netnsPath(name))) {
    await ip(undefined, ['netns', 'add', name]);
    await ip(name, ['link', 'set', 'lo', 'up']);
    if (settings) await sysctl(name, settings);
  }
  return netnsPath(name);
}

/**
 * An instance's namespace belongs to the host's user namespace, not the instance's, so its root
 * holds no network capability there: any port may be bound (sshd on 22) and ICMP echo sockets
 * opened (ping) without one, as root on a server expects.
 */
export const INSTANCE_NETNS_SETTINGS = {
  'net.ipv4.ip_unprivileged_port_start': 0,
  'net.ipv4.ping_group_range': '0 2147483647',
};

/**
 * Deletes a namespace, its veth pairs first. The kernel frees a namespace only once nothing holds
 * it (a process inside, a socket of it still open anywhere); until then its links live on, the
 * far ends with them, and a VPC's host link keeps its name and routes on the host. Deleting one
 * end of a pair deletes both at once.
 */
export async function deleteNetns(name: string): Promise<void> {
  if (!existsSync(netnsPath(name))) return;
  const veths = await ipJson<{ ifname: string }[]>(name, ['link', 'show', 'type', 'veth']).catch(() => []);
  await ipBatch(name, veths.map((l) => `link del ${l.ifname}`)).catch(() => {});
  await ip(undefined, ['netns', 'delete', name]);
}

/** Whether the host has a link of this name. */
const hostHasLink = (name: string) => existsSync(`/sys/class/net/${name}`);

/** A locally administered MAC for the VPC router, fixed so instances' ARP caches stay right. */
function routerMac(vpcId: string): string {
  const h = createHash('sha256').update(vpcId).digest();
  return ['02', ...[...h.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** The VPC namespace with its bridge (a gateway address per subnet in use) and its link to the host. */
/**
 * `serviceAddresses` go on the namespace's loopback: the router answers them for every subnet.
 * With `prune: false` nothing the model lacks is taken away (a model of one instance's needs).
 */
export async function ensureVpc(
  names: NetnsNames, model: VpcModel, serviceAddresses: readonly string[] = [], opts: { prune?: boolean } = {},
): Promise<void> {
  const ns = names.vpc(model.vpcId);
  const fresh = !existsSync(netnsPath(ns));
  await ensureNetns(ns);
  if (fresh) {
    await sysctl(ns, {
      'net.ipv4.ip_forward': 1, 'net.ipv6.conf.all.forwarding': 1,
      'net.bridge.bridge-nf-call-iptables': 1, 'net.bridge.bridge-nf-call-ip6tables': 1,
    });
  }
  let have = await links(ns);
  const lines: string[] = [];
  if (!have.has(BRIDGE)) lines.push(`link add ${BRIDGE} address ${routerMac(model.vpcId)} type bridge`, `link set ${BRIDGE} up`);
  const loopback = new Set([...ipv4Of(have.get('lo')), ...ipv6Of(have.get('lo'))]);
  for (const a of serviceAddresses) {
    const host = a.includes(':') ? `${a}/128` : `${a}/32`;
    if (!loopback.has(host)) lines.push(`addr add ${host} dev lo${a.includes(':') ? ' nodad' : ''}`);
  }
  await ipBatch(ns, lines);

  const host = names.hostLink(model.vpcId);
  if (!have.has(UPLINK)) {
    // A host link without its end here is a namespace of this VPC's that the kernel has not freed yet.
    if (hostHasLink(host)) await ip(undefined, ['link', 'del', host]);
    await ip(undefined, ['link', 'add', host, 'type', 'veth', 'peer', 'name', UPLINK, 'netns', ns]);
    await ipBatch(undefined, [`addr add ${HOST_LINK_IP}/32 dev ${host}`, `link set ${host} up`]);
    // IPv6 never crosses to the host.
    await sysctl(ns, { [`net.ipv6.conf.${UPLINK}.disable_ipv6`]: 1 });
    await ipBatch(ns, [`addr add ${VPC_LINK_IP}/32 dev ${UPLINK}`, `link set ${UPLINK} up`, `route add ${HOST_LINK_IP}/32 dev ${UPLINK} scope link`]);
    have = await links(ns);
  }
  const want = new Set(model.subnets.flatMap((s) => [`${s.gateway}/${s.prefix}`, ...(s.ipv6Cidr ? [ipv6Gateway(s.ipv6Cidr)] : [])]));
  const bridge = have.get(BRIDGE);
  const current = new Set([...ipv4Of(bridge), ...ipv6Of(bridge)]);
  if (!(bridge?.addr_info ?? []).some((a) => a.local === ROUTER_LINK_LOCAL)) await ip(ns, ['addr', 'add', `${ROUTER_LINK_LOCAL}/64`, 'dev', BRIDGE]);
  await ipBatch(ns, [
    ...[...want].filter((a) => !current.has(a)).map((a) => `addr add ${a} dev ${BRIDGE}`),
    ...(opts.prune === false ? [] : [...current].filter((a) => !want.has(a)).map((a) => `addr del ${a} dev ${BRIDGE}`)),
  ]);
}

/** Host routes to the VPC's public addresses, through its link; the others on the link go. */
export async function ensurePublicRoutes(names: NetnsNames, model: VpcModel): Promise<void> {
  const dev = names.hostLink(model.vpcId);
  const want = new Set(model.ports.flatMap((p) => p.nat.map((n) => n.publicIp)));
  const routes = await ipJson<{ dst: string }[]>(undefined, ['route', 'show', 'dev', dev]).catch(() => []);
  const have = new Set(routes.map((r) => r.dst).filter((d) => d !== VPC_LINK_IP && !d.startsWith('169.254.')));
  await ipBatch(undefined, [
    ...[...want].filter((a) => !have.has(a)).map((a) => `route replace ${a}/32 via ${VPC_LINK_IP} dev ${dev} onlink src ${HOST_LINK_IP}`),
    ...[...have].filter((a) => !want.has(a.replace(/\/32$/, ''))).map((a) => `route del ${a} dev ${dev}`),
  ]);
}

export async function applyRuleset(names: NetnsNames, model: VpcModel, services: readonly RouterService[]): Promise<void> {
  await nftApply(names.vpc(model.vpcId), compileRuleset(model, services));
}

/**
 * An instance's interfaces: each port a veth pair, `eth<device index>` inside with the interface's
 * MAC and addresses, the other end on the VPC bridge. eth0 holds the default route; later
 * interfaces answer from their own addresses through a routing table of their own, as
 * ec2-net-utils sets up on Amazon Linux.
 */
export async function ensureInstancePorts(
  names: NetnsNames, vpcId: string, instanceId: string, ports: readonly PortModel[], subnets: readonly SubnetModel[],
): Promise<void> {
  const vns = names.vpc(vpcId);
  const ins = names.instance(instanceId);
  const bridgeLinks = await links(vns);
  const guestLinks = await links(ins);
  for (const p of ports) {
    const subnet = subnets.find((s) => s.subnetId === p.subnetId);
    if (!subnet) continue;
    const dev = guestDevice(p.deviceIndex);
    if (!bridgeLinks.has(p.port) || !guestLinks.has(dev)) {
      if (bridgeLinks.has(p.port)) await ip(vns, ['link', 'del', p.port]);
      if (guestLinks.has(dev)) await ip(ins, ['link', 'del', dev]);
      await ip(vns, ['link', 'add', p.port, 'type', 'veth', 'peer', 'name', dev, 'address', p.mac, 'netns', ins]);
      await ipBatch(vns, [`link set ${p.port} master ${BRIDGE} up`]);
    }
    const want = [...p.ips.map((a) => `${a}/${subnet.prefix}`), ...p.ipv6s.map((a) => `${a}/64`)];
    const have = new Set([...ipv4Of(guestLinks.get(dev)), ...ipv6Of(guestLinks.get(dev))]);
    const table = 100 + p.deviceIndex;
    const on = p.deviceIndex === 0 ? '' : ` table ${table}`;
    const lines = [
      `link set ${dev} up`,
      // nodad: the address is the interface's alone (the IPAM says so), so it is usable at once.
      ...want.filter((a) => !have.has(a)).map((a) => `addr add ${a} dev ${dev}${a.includes(':') ? ' nodad' : ''}`),
      ...[...have].filter((a) => !want.includes(a)).map((a) => `addr del ${a} dev ${dev}`),
      `route replace default via ${subnet.gateway} dev ${dev}${on}`,
    ];
    // The gateway's family tells ip which table: IPv6 for fe80::1.
    if (p.ipv6s.length) lines.push(`route replace default via ${ROUTER_LINK_LOCAL} dev ${dev}${on}`);
    await ipBatch(ins, lines);
    if (p.deviceIndex > 0) {
      for (const family of ['-4', '-6']) {
        const addrs = family === '-4' ? p.ips : p.ipv6s;
        if (!addrs.length) continue;
        const rules = await ipJson<{ src?: string }[]>(ins, [family, 'rule', 'show', 'table', String(table)]);
        const present = new Set(rules.map((r) => r.src));
        await ipBatch(ins, addrs.filter((a) => !present.has(a)).map((a) => `rule add from ${a} table ${table}`));
      }
    }
  }
  // Interfaces detached since: their bridge port goes, and the guest's end with it.
  const wanted = new Set(ports.map((p) => guestDevice(p.deviceIndex)));
  for (const name of guestLinks.keys()) {
    if (/^eth\d+$/.test(name) && !wanted.has(name)) await ip(ins, ['link', 'del', name]).catch(() => {});
  }
}
