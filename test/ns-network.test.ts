/**
 * VPC networking in the kernel, through the AWS CLI against a server with `--driver ns`, checked
 * from the host and from inside real instances over SSH with the key pair:
 * - SSH with the key pair logs in at the public IP; another key does not;
 * - two instances reach each other only on the ports their groups allow, and a revoke takes
 *   effect on the running instances at once;
 * - a network ACL deny rule wins over a group that allows;
 * - a bastion: a private instance that allows SSH only from the bastion's group is reached with
 *   `ssh -J` through the bastion and not from elsewhere;
 * - the public IP changes across stop/start while the private IP stays; an Elastic IP stays, and
 *   moved to another instance it answers from there;
 * - a hot-attached interface and secondary addresses appear inside the running instance at once,
 *   a warm-attached one when the instance starts;
 * - IPv6 in a VPC with an IPv6 CIDR: each rule lets in only its own address family;
 * - termination leaves no namespace, link or route behind.
 * Needs root (CI runs as root).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { installationTag, NetnsNames } from '../src/network/names.js';
import { NsApi, nsSkipReason, sleep } from './support/ns-api.js';
import { SshClient } from './support/ssh.js';

const skip = nsSkipReason();

/** Two web servers (8080 and 8081) that answer with the instance's hostname. */
const WEB_USER_DATA = `#!/bin/sh
mkdir -p /www && hostname > /www/index.html
busybox httpd -p 8080 -h /www
busybox httpd -p 8081 -h /www
echo web-ready
`;

describe('VPC networking in the kernel', { skip, timeout: 300_000 }, () => {
  const api = new NsApi();
  const aws = (args: string[]) => api.aws(['ec2', ...args]);
  const launched: string[] = [];
  let client: SshClient;
  let otherKeyFile: string;
  const ssh = (ip: string, command: string, opts: { key?: string; jump?: string } = {}) => client.run(ip, command, opts);
  const sshReady = (ip: string, jump?: string) => client.ready(ip, jump);
  /** Whether the instance at `from` gets an HTTP answer from `to:port` (busybox nc, 2 s timeout). */
  const reaches = (from: string, to: string, port: number) => {
    const r = ssh(from, `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 ${to} ${port}`);
    return /200 OK/.test(r.stdout);
  };

  const group = (name: string, vpcId?: string) =>
    aws(['create-security-group', '--group-name', name, '--description', name, ...(vpcId ? ['--vpc-id', vpcId] : [])]).GroupId as string;
  const allow = (groupId: string, port: number, source: { cidr?: string; group?: string }) => {
    const peer = source.cidr ? ['--cidr', source.cidr] : ['--source-group', source.group!];
    aws(['authorize-security-group-ingress', '--group-id', groupId, '--protocol', 'tcp', '--port', String(port), ...peer]);
  };
  const launch = async (groups: string[], opts: { subnet?: string; userData?: string; publicIp?: boolean } = {}) => {
    const args = ['run-instances', '--image-id', api.amiId, '--instance-type', 't3.micro', '--key-name', 'k1'];
    if (opts.publicIp === false || opts.subnet) {
      args.push('--network-interfaces', JSON.stringify([{
        DeviceIndex: 0, Groups: groups, AssociatePublicIpAddress: opts.publicIp ?? true, ...(opts.subnet ? { SubnetId: opts.subnet } : {}),
      }]));
    } else {
      args.push('--security-group-ids', ...groups);
    }
    if (opts.userData) args.push('--user-data', opts.userData);
    const id = aws(args).Instances[0].InstanceId as string;
    launched.push(id);
    await api.waitFor('running', id);
    const inst = await api.describe(id);
    return { id, privateIp: inst.PrivateIpAddress!, publicIp: inst.PublicIpAddress, subnetId: inst.SubnetId! };
  };

  /** Waits up to 10 s for this installation's namespaces to go once its instances have. */
  const namespacesGone = async () => {
    const end = Date.now() + 10_000;
    while (api.networkNamespaces().length && Date.now() < end) await sleep(100);
    assert.deepEqual(api.networkNamespaces(), []);
  };

  let sshGroup: string;

  before(async () => {
    await api.start();
    client = new SshClient(aws(['create-key-pair', '--key-name', 'k1']).KeyMaterial);
    otherKeyFile = join(client.dir, 'other.pem');
    writeFileSync(otherKeyFile, aws(['create-key-pair', '--key-name', 'other']).KeyMaterial, { mode: 0o600 });
    sshGroup = group('ssh-from-anywhere');
    allow(sshGroup, 22, { cidr: '0.0.0.0/0' });
  });

  after(async () => {
    if (launched.length) await api.terminate(...launched).catch(() => {});
    await api.dispose();
    client?.dispose();
  });

  it('logs in over SSH with the key pair at the public IP, and refuses another key', async () => {
    const a = await launch([sshGroup]);
    assert.match(a.publicIp ?? '', /^198\.1[89]\./, 'the public IP comes from the public pool');
    await sshReady(a.publicIp!);
    const inside = ssh(a.publicIp!, 'hostname; ip -4 -o addr show dev eth0');
    assert.equal(inside.status, 0, inside.stderr);
    assert.match(inside.stdout, new RegExp(`ip-${a.privateIp.replaceAll('.', '-')}`), 'the hostname names the private IP');
    assert.match(inside.stdout, new RegExp(`inet ${a.privateIp.replaceAll('.', '\\.')}/20`), 'eth0 holds the private IP');
    const refused = ssh(a.publicIp!, 'true', { key: otherKeyFile });
    assert.notEqual(refused.status, 0, 'another key pair is refused');
    assert.match(refused.stderr, /Permission denied/);
  });

  it('lets instances reach each other only on the ports their groups allow; a revoke acts at once', async () => {
    const clients = group('clients');
    const web = group('web');
    allow(web, 8080, { group: clients });
    const server = await launch([sshGroup, web], { userData: WEB_USER_DATA });
    const client = await launch([sshGroup, clients]);
    const outsider = await launch([sshGroup]);
    await api.consoleHas(server.id, 'web-ready');
    await sshReady(client.publicIp!);
    await sshReady(outsider.publicIp!);

    assert.ok(reaches(client.publicIp!, server.privateIp, 8080), 'the client group may reach 8080');
    assert.ok(!reaches(client.publicIp!, server.privateIp, 8081), '8081 is not allowed');
    assert.ok(!reaches(outsider.publicIp!, server.privateIp, 8080), 'an instance outside the client group may not reach 8080');

    aws(['revoke-security-group-ingress', '--group-id', web, '--protocol', 'tcp', '--port', '8080', '--source-group', clients]);
    await sleep(300);
    assert.ok(!reaches(client.publicIp!, server.privateIp, 8080), 'after the revoke, 8080 is closed to the client too');

    allow(web, 8081, { cidr: `${client.privateIp}/32` });
    await sleep(300);
    assert.ok(reaches(client.publicIp!, server.privateIp, 8081), 'a CIDR rule added to a running instance acts at once');
  });

  it('lets a network ACL deny rule win over a group that allows', async () => {
    const subnets = aws(['describe-subnets', '--filters', 'Name=default-for-az,Values=true']).Subnets as { SubnetId: string; VpcId: string }[];
    const [s1, s2] = [...subnets].sort((a, b) => (a.SubnetId < b.SubnetId ? -1 : 1));
    const open = group('open-8080');
    allow(open, 8080, { cidr: '0.0.0.0/0' });
    const server = await launch([sshGroup, open], { subnet: s1!.SubnetId, userData: WEB_USER_DATA });
    const client = await launch([sshGroup], { subnet: s2!.SubnetId });
    await api.consoleHas(server.id, 'web-ready');
    await sshReady(client.publicIp!);
    assert.ok(reaches(client.publicIp!, server.privateIp, 8080), 'the group allows 8080 across subnets');

    const acl = aws(['create-network-acl', '--vpc-id', s1!.VpcId]).NetworkAcl.NetworkAclId as string;
    const entry = (n: number, egress: boolean, action: string, extra: string[] = []) =>
      aws(['create-network-acl-entry', '--network-acl-id', acl, '--rule-number', String(n), egress ? '--egress' : '--ingress',
        '--rule-action', action, '--cidr-block', '0.0.0.0/0', ...extra]);
    entry(100, false, 'deny', ['--protocol', 'tcp', '--port-range', 'From=8080,To=8080']);
    entry(200, false, 'allow', ['--protocol', '-1']);
    entry(100, true, 'allow', ['--protocol', '-1']);
    const acls = aws(['describe-network-acls', '--filters', `Name=association.subnet-id,Values=${s1!.SubnetId}`]).NetworkAcls;
    const association = acls[0].Associations.find((a: { SubnetId: string }) => a.SubnetId === s1!.SubnetId).NetworkAclAssociationId;
    const defaultAcl = acls[0].NetworkAclId as string;
    const moved = aws(['replace-network-acl-association', '--association-id', association, '--network-acl-id', acl]).NewAssociationId;
    await sleep(300);
    assert.ok(!reaches(client.publicIp!, server.privateIp, 8080), 'the ACL denies 8080 into the subnet');
    assert.ok(reaches(client.publicIp!, server.privateIp, 8081) === false, 'and the group never allowed 8081');
    assert.equal(ssh(client.publicIp!, 'true').status, 0, 'the ACL lets SSH into the client subnet still');

    aws(['replace-network-acl-association', '--association-id', moved, '--network-acl-id', defaultAcl]);
    await sleep(300);
    assert.ok(reaches(client.publicIp!, server.privateIp, 8080), 'back on the default ACL, 8080 answers again');
  });

  it('reaches a private instance through a bastion with ssh -J, and not from elsewhere', async () => {
    const bastionGroup = group('bastion');
    allow(bastionGroup, 22, { cidr: '0.0.0.0/0' });
    const privateGroup = group('private-ssh');
    allow(privateGroup, 22, { group: bastionGroup });
    const bastion = await launch([bastionGroup]);
    const inner = await launch([privateGroup], { publicIp: false });
    const other = await launch([sshGroup]);
    assert.equal(inner.publicIp, undefined, 'the private instance has no public IP');
    await sshReady(bastion.publicIp!);
    await sshReady(inner.privateIp, bastion.publicIp!);
    const through = ssh(inner.privateIp, 'hostname', { jump: bastion.publicIp! });
    assert.equal(through.status, 0, through.stderr);
    assert.match(through.stdout, new RegExp(`ip-${inner.privateIp.replaceAll('.', '-')}`));
    await sshReady(other.publicIp!);
    const direct = ssh(other.publicIp!, `nc -w 2 ${inner.privateIp} 22 </dev/null; echo rc=$?`);
    assert.doesNotMatch(direct.stdout, /SSH-2\.0/, 'an instance outside the bastion group gets no SSH banner');
    // The host reaches private addresses from the VPC's namespace, under the same group rules.
    const vpcNetns = new NetnsNames(installationTag(api.dataDir)).vpc((await api.describe(bastion.id)).VpcId!);
    const fromRouter = (ip: string) => spawnSync('ip', ['netns', 'exec', vpcNetns, 'ssh', '-F', client.configFile, `root@${ip}`, 'hostname'],
      { encoding: 'utf8', timeout: 20_000 });
    assert.match(fromRouter(bastion.privateIp).stdout, new RegExp(`ip-${bastion.privateIp.replaceAll('.', '-')}`), 'SSH to a private IP from the host');
    assert.notEqual(fromRouter(inner.privateIp).status, 0, 'but not past the private instance\'s group');
  });

  it('gives a new public IP on stop/start and keeps the private IP', async () => {
    const a = await launch([sshGroup]);
    aws(['stop-instances', '--instance-ids', a.id]);
    await api.waitFor('stopped', a.id);
    assert.equal((await api.describe(a.id)).PublicIpAddress, undefined, 'a stopped instance has no public IP');
    aws(['start-instances', '--instance-ids', a.id]);
    await api.waitFor('running', a.id);
    const after = await api.describe(a.id);
    assert.equal(after.PrivateIpAddress, a.privateIp, 'the private IP stays');
    assert.ok(after.PublicIpAddress && after.PublicIpAddress !== a.publicIp, 'a new public IP');
    await sshReady(after.PublicIpAddress!);
    const old = spawnSync('ip', ['route', 'get', a.publicIp!], { encoding: 'utf8' });
    assert.doesNotMatch(old.stdout, /dev nv/, 'the old public IP is no longer routed to the VPC');
  });

  it('moves an Elastic IP between instances in one call: it answers from the new one, and stays across stop/start', async () => {
    const a = await launch([sshGroup]);
    const b = await launch([sshGroup]);
    const eip = aws(['allocate-address', '--domain', 'vpc']) as { PublicIp: string; AllocationId: string };
    aws(['associate-address', '--allocation-id', eip.AllocationId, '--instance-id', a.id]);
    await sshReady(eip.PublicIp);
    const hostnameAt = (ip: string) => ssh(ip, 'hostname').stdout.trim();
    assert.equal(hostnameAt(eip.PublicIp), `ip-${a.privateIp.replaceAll('.', '-')}`);

    aws(['associate-address', '--allocation-id', eip.AllocationId, '--instance-id', b.id, '--allow-reassociation']);
    await sleep(300);
    assert.equal(hostnameAt(eip.PublicIp), `ip-${b.privateIp.replaceAll('.', '-')}`, 'the Elastic IP now answers from B');

    aws(['stop-instances', '--instance-ids', b.id]);
    await api.waitFor('stopped', b.id);
    aws(['start-instances', '--instance-ids', b.id]);
    await api.waitFor('running', b.id);
    const after = await api.describe(b.id);
    assert.equal(after.PublicIpAddress, eip.PublicIp, 'the Elastic IP stays across stop/start');
    assert.equal(after.PrivateIpAddress, b.privateIp);
    await sshReady(eip.PublicIp);
    assert.equal(hostnameAt(eip.PublicIp), `ip-${b.privateIp.replaceAll('.', '-')}`);
    aws(['disassociate-address', '--association-id', aws(['describe-addresses', '--allocation-ids', eip.AllocationId]).Addresses[0].AssociationId]);
    aws(['release-address', '--allocation-id', eip.AllocationId]);
  });

  it('hot-attaches an interface and secondary addresses: they appear inside the running instance at once', async () => {
    const a = await launch([sshGroup]);
    await sshReady(a.publicIp!);
    const eni = aws(['create-network-interface', '--subnet-id', a.subnetId, '--groups', sshGroup]).NetworkInterface as {
      NetworkInterfaceId: string; PrivateIpAddress: string; MacAddress: string;
    };
    aws(['attach-network-interface', '--network-interface-id', eni.NetworkInterfaceId, '--instance-id', a.id, '--device-index', '1']);
    const eth1 = async (want: RegExp) => {
      const end = Date.now() + 10_000;
      for (;;) {
        const out = ssh(a.publicIp!, 'ip -o addr show dev eth1 2>&1; ip -o link show dev eth1 2>&1').stdout;
        if (want.test(out)) return out;
        if (Date.now() > end) throw new Error(`eth1 never matched ${want}: ${out}`);
        await sleep(200);
      }
    };
    const seen = await eth1(new RegExp(`inet ${eni.PrivateIpAddress.replaceAll('.', '\\.')}/`));
    assert.match(seen, new RegExp(eni.MacAddress), 'eth1 has the interface\'s MAC address');

    const assigned = aws(['assign-private-ip-addresses', '--network-interface-id', eni.NetworkInterfaceId, '--secondary-private-ip-address-count', '1']);
    const secondary = assigned.AssignedPrivateIpAddresses[0].PrivateIpAddress as string;
    await eth1(new RegExp(`inet ${secondary.replaceAll('.', '\\.')}/`));

    // An Elastic IP on the new interface's secondary address reaches the instance through eth1.
    const eip = aws(['allocate-address']) as { PublicIp: string; AllocationId: string };
    aws(['associate-address', '--allocation-id', eip.AllocationId, '--network-interface-id', eni.NetworkInterfaceId, '--private-ip-address', secondary]);
    await sshReady(eip.PublicIp);
    assert.equal(ssh(eip.PublicIp, 'hostname').stdout.trim(), `ip-${a.privateIp.replaceAll('.', '-')}`);

    const attachment = aws(['describe-network-interfaces', '--network-interface-ids', eni.NetworkInterfaceId]).NetworkInterfaces[0].Attachment.AttachmentId;
    aws(['detach-network-interface', '--attachment-id', attachment]);
    await eth1(/can't find device|does not exist/);
    // The Elastic IP stays with the detached interface until it is disassociated.
    const association = aws(['describe-addresses', '--allocation-ids', eip.AllocationId]).Addresses[0].AssociationId;
    assert.ok(association, 'still associated with the detached interface');
    aws(['disassociate-address', '--association-id', association]);
    aws(['release-address', '--allocation-id', eip.AllocationId]);
    aws(['delete-network-interface', '--network-interface-id', eni.NetworkInterfaceId]);
  });

  it('warm-attaches an interface to a stopped instance: it is there when the instance starts', async () => {
    const a = await launch([sshGroup]);
    aws(['stop-instances', '--instance-ids', a.id]);
    await api.waitFor('stopped', a.id);
    const eni = aws(['create-network-interface', '--subnet-id', a.subnetId]).NetworkInterface as { NetworkInterfaceId: string; PrivateIpAddress: string };
    aws(['attach-network-interface', '--network-interface-id', eni.NetworkInterfaceId, '--instance-id', a.id, '--device-index', '2']);
    aws(['start-instances', '--instance-ids', a.id]);
    await api.waitFor('running', a.id);
    const ip = (await api.describe(a.id)).PublicIpAddress!;
    await sshReady(ip);
    assert.match(ssh(ip, 'ip -o addr show dev eth2').stdout, new RegExp(`inet ${eni.PrivateIpAddress.replaceAll('.', '\\.')}/`));
  });

  it('carries IPv6 in a VPC with an IPv6 CIDR: addresses inside, and only what IPv6 rules allow', async () => {
    const vpc = aws(['create-vpc', '--cidr-block', '10.50.0.0/16', '--amazon-provided-ipv6-cidr-block']).Vpc;
    const block = (aws(['describe-vpcs', '--vpc-ids', vpc.VpcId]).Vpcs[0].Ipv6CidrBlockAssociationSet[0].Ipv6CidrBlock as string);
    const subnetV6 = block.replace('/56', '/64');
    const subnet = aws(['create-subnet', '--vpc-id', vpc.VpcId, '--cidr-block', '10.50.1.0/24', '--ipv6-cidr-block', subnetV6]).Subnet.SubnetId as string;
    const igw = aws(['create-internet-gateway']).InternetGateway.InternetGatewayId as string;
    aws(['attach-internet-gateway', '--internet-gateway-id', igw, '--vpc-id', vpc.VpcId]);
    const main = aws(['describe-route-tables', '--filters', `Name=vpc-id,Values=${vpc.VpcId}`]).RouteTables[0].RouteTableId as string;
    aws(['create-route', '--route-table-id', main, '--destination-cidr-block', '0.0.0.0/0', '--gateway-id', igw]);
    const ssh6 = group('ssh-v6', vpc.VpcId);
    allow(ssh6, 22, { cidr: '0.0.0.0/0' });
    const web6 = group('web-v6', vpc.VpcId);
    allow(web6, 8080, { cidr: '10.50.0.0/16' });
    const start = async (groups: string[], userData?: string) => {
      const args = ['run-instances', '--image-id', api.amiId, '--instance-type', 't3.micro', '--key-name', 'k1', '--network-interfaces',
        JSON.stringify([{ DeviceIndex: 0, SubnetId: subnet, Groups: groups, AssociatePublicIpAddress: true, Ipv6AddressCount: 1 }])];
      if (userData) args.push('--user-data', userData);
      const id = aws(args).Instances[0].InstanceId as string;
      launched.push(id);
      await api.waitFor('running', id);
      const inst = await api.describe(id);
      return { id, publicIp: inst.PublicIpAddress!, privateIp: inst.PrivateIpAddress!, ipv6: inst.NetworkInterfaces![0]!.Ipv6Addresses![0]!.Ipv6Address! };
    };
    const server = await start([ssh6, web6], WEB_USER_DATA);
    const client = await start([ssh6]);
    await api.consoleHas(server.id, 'web-ready');
    await sshReady(client.publicIp);
    assert.match(ssh(client.publicIp, 'ip -6 -o addr show dev eth0').stdout, new RegExp(client.ipv6), 'eth0 holds the IPv6 address');
    assert.ok(reaches(client.publicIp, server.privateIp, 8080), 'IPv4 to 8080 is allowed');
    assert.ok(!reaches(client.publicIp, server.ipv6, 8080), 'an IPv4 rule lets no IPv6 in');
    aws(['authorize-security-group-ingress', '--group-id', web6, '--ip-permissions',
      JSON.stringify([{ IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, Ipv6Ranges: [{ CidrIpv6: subnetV6 }] }])]);
    await sleep(300);
    assert.ok(reaches(client.publicIp, server.ipv6, 8080), 'an IPv6 rule lets IPv6 in');

    // The metadata service on IPv6 answers only instances that turned HttpProtocolIpv6 on.
    const imds6 = () => ssh(client.publicIp, "printf 'GET /latest/meta-data/instance-id HTTP/1.0\\r\\n\\r\\n' | nc -w 2 fd00:ec2::254 80").stdout;
    assert.doesNotMatch(imds6(), /200 OK/, 'HttpProtocolIpv6 is disabled by default');
    aws(['modify-instance-metadata-options', '--instance-id', client.id, '--http-protocol-ipv6', 'enabled']);
    await sleep(300);
    const answer = imds6();
    assert.match(answer, /200 OK/);
    assert.ok(answer.endsWith(client.id), `the IPv6 metadata service knows the caller: ${answer}`);
    await api.terminate(server.id, client.id);
    launched.splice(launched.indexOf(server.id), 1);
    launched.splice(launched.indexOf(client.id), 1);
  });

  it('leaves no namespace, link or route behind once every instance is terminated', async () => {
    await api.terminate(...launched.splice(0));
    await namespacesGone();
    const vpcId = aws(['describe-vpcs', '--filters', 'Name=is-default,Values=true']).Vpcs[0].VpcId as string;
    const link = new NetnsNames(installationTag(api.dataDir)).hostLink(vpcId);
    const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout;
    assert.ok(!links.includes(`${link}@`), `the VPC's host link ${link} is gone`);
    const routes = spawnSync('ip', ['route', 'show'], { encoding: 'utf8' }).stdout;
    assert.ok(!routes.includes(`dev ${link}`), 'no route through it is left');
  });

  it('takes a VPC\'s link down with its last instance even while something holds the namespace, so the next instance plugs in at once', async () => {
    const a = await launch([sshGroup]);
    const vpcId = (await api.describe(a.id)).VpcId!;
    const names = new NetnsNames(installationTag(api.dataDir));
    // A process inside keeps the kernel from freeing the namespace once it is deleted, as a socket
    // of it still open anywhere does; its links would live on with it.
    const holder = spawn('ip', ['netns', 'exec', names.vpc(vpcId), 'sleep', '300'], { stdio: 'ignore' });
    try {
      await api.terminate(...launched.splice(0));
      await namespacesGone();
      assert.notEqual(spawnSync('ip', ['link', 'show', 'dev', names.hostLink(vpcId)]).status, 0, 'the host link went with the namespace');
      const b = await launch([sshGroup]);
      await sshReady(b.publicIp!);
    } finally {
      holder.kill();
    }
  });
});
