/**
 * The kernel side of the data plane, step by step and idempotent: each function reads what is
 * there and changes only what differs from the model.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { ip, ipBatch, ipJson, nftApply, sysctl } from './exec.js';
import type { PortModel, SubnetModel, VpcModel } from './model.js';
import { BRIDGE, guestDevice, HOST_LINK_IP, netnsPath, UPLINK, VPC_LINK_IP, type NetnsNames } from './names.js';
import { compileRuleset } from './ruleset.js';

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

export async function ensureNetns(name: string): Promise<string> {
  if (!existsSync(netnsPath(name))) {
    await ip(undefined, ['netns', 'add', name]);
    await ip(name, ['link', 'set', 'lo', 'up']);
  }
  return netnsPath(name);
}

export async function deleteNetns(name: string): Promise<void> {
  if (existsSync(netnsPath(name))) await ip(undefined, ['netns', 'delete', name]);
}

/** A locally administered MAC for the VPC router, fixed so instances' ARP caches stay right. */
function routerMac(vpcId: string): string {
  const h = createHash('sha256').update(vpcId).digest();
  return ['02', ...[...h.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** The VPC namespace with its bridge (a gateway address per subnet in use) and its link to the host. */
export async function ensureVpc(names: NetnsNames, model: VpcModel): Promise<void> {
  const ns = names.vpc(model.vpcId);
  const fresh = !existsSync(netnsPath(ns));
  await ensureNetns(ns);
  if (fresh) {
    await sysctl(ns, { 'net.ipv4.ip_forward': 1, 'net.bridge.bridge-nf-call-iptables': 1, 'net.ipv6.conf.all.disable_ipv6': 1 });
  }
  let have = await links(ns);
  const lines: string[] = [];
  if (!have.has(BRIDGE)) lines.push(`link add ${BRIDGE} address ${routerMac(model.vpcId)} type bridge`, `link set ${BRIDGE} up`);
  await ipBatch(ns, lines);

  const host = names.hostLink(model.vpcId);
  if (!have.has(UPLINK)) {
    await ip(undefined, ['link', 'add', host, 'type', 'veth', 'peer', 'name', UPLINK, 'netns', ns]);
    await ipBatch(undefined, [`addr add ${HOST_LINK_IP}/32 dev ${host}`, `link set ${host} up`]);
    await ipBatch(ns, [`addr add ${VPC_LINK_IP}/32 dev ${UPLINK}`, `link set ${UPLINK} up`, `route add ${HOST_LINK_IP}/32 dev ${UPLINK} scope link`]);
    have = await links(ns);
  }
  const want = new Set(model.subnets.map((s) => `${s.gateway}/${s.prefix}`));
  const current = new Set(ipv4Of(have.get(BRIDGE)));
  await ipBatch(ns, [
    ...[...want].filter((a) => !current.has(a)).map((a) => `addr add ${a} dev ${BRIDGE}`),
    ...[...current].filter((a) => !want.has(a)).map((a) => `addr del ${a} dev ${BRIDGE}`),
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

export async function applyRuleset(names: NetnsNames, model: VpcModel): Promise<void> {
  await nftApply(names.vpc(model.vpcId), compileRuleset(model));
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
    const want = p.ips.map((a) => `${a}/${subnet.prefix}`);
    const have = new Set(ipv4Of(guestLinks.get(dev)));
    const table = 100 + p.deviceIndex;
    const lines = [
      ...want.filter((a) => !have.has(a)).map((a) => `addr add ${a} dev ${dev}`),
      ...[...have].filter((a) => !want.includes(a)).map((a) => `addr del ${a} dev ${dev}`),
      `link set ${dev} up`,
    ];
    if (p.deviceIndex === 0) lines.push(`route replace default via ${subnet.gateway} dev ${dev}`);
    else lines.push(`route replace default via ${subnet.gateway} dev ${dev} table ${table}`);
    await ipBatch(ins, lines);
    if (p.deviceIndex > 0) {
      const rules = await ipJson<{ src?: string }[]>(ins, ['rule', 'show', 'table', String(table)]);
      const present = new Set(rules.map((r) => r.src));
      await ipBatch(ins, p.ips.filter((a) => !present.has(a)).map((a) => `rule add from ${a} table ${table}`));
    }
  }
  // Interfaces detached since: their bridge port goes, and the guest's end with it.
  const wanted = new Set(ports.map((p) => guestDevice(p.deviceIndex)));
  for (const name of guestLinks.keys()) {
    if (/^eth\d+$/.test(name) && !wanted.has(name)) await ip(ins, ['link', 'del', name]).catch(() => {});
  }
}
