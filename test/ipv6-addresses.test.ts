import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AssignIpv6AddressesCommand, CreateNetworkInterfaceCommand, CreateSubnetCommand, CreateVpcCommand, DeleteNetworkInterfaceCommand,
  DescribeInstancesCommand, DescribeNetworkInterfacesCommand, RunInstancesCommand, TerminateInstancesCommand,
  UnassignIpv6AddressesCommand, waitUntilInstanceRunning, waitUntilInstanceTerminated, type EC2Client, type Instance,
  type NetworkInterface,
} from '@aws-sdk/client-ec2';
import { cliErrorCode, errorCode, startServer, type NimbusProcess } from './support/server.js';

const AMI = 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';
const waitOpts = (client: EC2Client) => ({ client, maxWaitTime: 30, minDelay: 0.1, maxDelay: 0.2 });

/** The canonical (RFC 5952) form of an IPv6 address, as WHATWG URL serializes it. */
const canon = (a: string) => new URL(`http://[${a}]`).hostname.slice(1, -1);

/** The eight groups of an IPv6 address. */
function groups(a: string): string[] {
  const [head, tail] = a.split('::');
  const left = head ? head.split(':') : [];
  if (tail === undefined) return left;
  const right = tail ? tail.split(':') : [];
  return [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
}

/** The code and message of the error a call must fail with. */
async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return `${(err as Error).name}: ${(err as Error).message}`;
  }
  throw new Error('the call succeeded');
}

const toBig = (a: string) => groups(a).reduce((n, g) => (n << 16n) | BigInt(`0x${g}`), 0n);

describe('IPv6 addresses on network interfaces', () => {
  let nimbus: NimbusProcess;
  let ec2: EC2Client;
  let vpcId: string;
  /** A dual-stack subnet, its /64, and a subnet with no IPv6 block. */
  let v6Subnet: string;
  let v6Block: string;
  let v4Subnet: string;
  /** The subnet's address with interface id `suffix` (four groups, e.g. `0:0:0:10`). */
  const at = (suffix: string) => canon([...groups(v6Block.split('/')[0]!).slice(0, 4), suffix].join(':'));
  /** The VPC's /64 `k` blocks after the subnet's, in canonical form without its length. */
  const nextBlock = (k: number) => {
    const g = groups(v6Block.split('/')[0]!);
    return canon([...g.slice(0, 3), (parseInt(g[3]!, 16) + k).toString(16), '0', '0', '0', '0'].join(':'));
  };
  const inBlock = (ip: string) => toBig(ip) >> 64n === toBig(v6Block.split('/')[0]!) >> 64n;

  before(async () => {
    nimbus = await startServer({ args: ['--sim-delay-ms', '50'] });
    ec2 = nimbus.ec2();
    const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.60.0.0/16', AmazonProvidedIpv6CidrBlock: true }))).Vpc!;
    vpcId = vpc.VpcId!;
    v6Block = vpc.Ipv6CidrBlockAssociationSet![0]!.Ipv6CidrBlock!.replace('/56', '/64');
    v6Subnet = (await ec2.send(new CreateSubnetCommand({
      VpcId: vpcId, CidrBlock: '10.60.1.0/24', Ipv6CidrBlock: v6Block, AvailabilityZone: 'us-east-1a',
    }))).Subnet!.SubnetId!;
    v4Subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.60.2.0/24', AvailabilityZone: 'us-east-1a' }))).Subnet!.SubnetId!;
  });
  after(() => nimbus.dispose());

  const create = async (extra: Partial<ConstructorParameters<typeof CreateNetworkInterfaceCommand>[0]> = {}) =>
    (await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: v6Subnet, ...extra }))).NetworkInterface!;
  const describeEni = async (id: string): Promise<NetworkInterface> =>
    (await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [id] }))).NetworkInterfaces![0]!;
  const ipv6Of = (n: { Ipv6Addresses?: { Ipv6Address?: string }[] }) => (n.Ipv6Addresses ?? []).map((a) => a.Ipv6Address!);
  const describeInstance = async (id: string): Promise<Instance> =>
    (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;
  const launch = async (extra: Partial<ConstructorParameters<typeof RunInstancesCommand>[0]>) =>
    ec2.send(new RunInstancesCommand({ ImageId: AMI, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, ...extra }));

  it('creates interfaces with IPv6 addresses from the subnet, shows and filters them, and frees them on delete', async () => {
    const counted = await create({ Ipv6AddressCount: 2 });
    const ips = ipv6Of(counted);
    assert.equal(ips.length, 2);
    assert.notEqual(ips[0], ips[1]);
    for (const ip of ips) {
      assert.equal(ip, canon(ip), 'canonical form');
      assert.ok(inBlock(ip), `${ip} is in ${v6Block}`);
    }
    assert.deepEqual(ipv6Of(await describeEni(counted.NetworkInterfaceId!)), ips);

    // A given address is stored canonically, whatever form it was written in.
    const wanted = at('0:0:0:a0');
    const longForm = groups(wanted).map((g) => g.padStart(4, '0').toUpperCase()).join(':');
    const listed = await create({ Ipv6Addresses: [{ Ipv6Address: longForm }] });
    assert.deepEqual(ipv6Of(listed), [wanted]);

    const found = (await ec2.send(new DescribeNetworkInterfacesCommand({
      Filters: [{ Name: 'ipv6-addresses.ipv6-address', Values: [wanted] }],
    }))).NetworkInterfaces!;
    assert.deepEqual(found.map((n) => n.NetworkInterfaceId), [listed.NetworkInterfaceId]);

    // Deleting the interface gives its addresses back.
    await ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: listed.NetworkInterfaceId! }));
    const again = await create({ Ipv6Addresses: [{ Ipv6Address: wanted }] });
    assert.deepEqual(ipv6Of(again), [wanted]);
    // An interface asked for none has none.
    assert.deepEqual(ipv6Of(await create()), []);
  });

  it('rejects bad IPv6 requests with EC2 codes', async () => {
    assert.match(await failure(create({ SubnetId: v4Subnet, Ipv6AddressCount: 1 })), /^InvalidParameterValue: .*does not have an IPv6 CIDR block/);
    assert.equal(await errorCode(create({ SubnetId: v4Subnet, Ipv6Addresses: [{ Ipv6Address: at('0:0:0:50') }] })), 'InvalidParameterValue');
    assert.equal(
      await errorCode(create({ Ipv6AddressCount: 1, Ipv6Addresses: [{ Ipv6Address: at('0:0:0:51') }] })),
      'InvalidParameterCombination',
    );
    // Outside the subnet's /64 (the next /64 of the VPC).
    const outside = canon([...groups(nextBlock(1)).slice(0, 4), '0', '0', '0', '10'].join(':'));
    assert.match(await failure(create({ Ipv6Addresses: [{ Ipv6Address: outside }] })), /^InvalidParameterValue: .*does not fall within/);
    // AWS's reserved addresses: the first four and the last.
    for (const reserved of [at('0:0:0:0'), at('0:0:0:3'), at('ffff:ffff:ffff:ffff')]) {
      assert.match(await failure(create({ Ipv6Addresses: [{ Ipv6Address: reserved }] })), /^InvalidParameterValue: .*reserved by AWS/, reserved);
    }
    assert.deepEqual(ipv6Of(await create({ Ipv6Addresses: [{ Ipv6Address: at('0:0:0:4') }] })), [at('0:0:0:4')]);
    assert.equal(await errorCode(create({ Ipv6Addresses: [{ Ipv6Address: at('0:0:0:4') }] })), 'InvalidIPAddress.InUse');
    for (const bad of ['2600:zz::1', '10.0.0.1', '1:2:3:4:5:6:7:8:9', 'fe80::1::2']) {
      assert.match(await failure(create({ Ipv6Addresses: [{ Ipv6Address: bad }] })), /^InvalidParameterValue: .*not a valid IPv6 address/, bad);
    }
    assert.equal(await errorCode(create({ Ipv6AddressCount: 1000 })), 'PrivateIpAddressLimitExceeded');
    assert.equal(await errorCode(create({ Ipv6AddressCount: -1 })), 'InvalidParameterValue');
  });

  it('assigns and unassigns IPv6 addresses (boto3)', async () => {
    const eni = await create();
    const wanted = at('0:0:0:b1');
    const r = nimbus.boto3(`
eni = "${eni.NetworkInterfaceId}"
a = ec2.assign_ipv6_addresses(NetworkInterfaceId=eni, Ipv6AddressCount=1)
b = ec2.assign_ipv6_addresses(NetworkInterfaceId=eni, Ipv6Addresses=["${wanted}"])
codes = {}
for name, kwargs in [
    ("again", {"Ipv6Addresses": ["${wanted}"]}),
    ("zero", {"Ipv6AddressCount": 0}),
    ("both", {"Ipv6AddressCount": 1, "Ipv6Addresses": ["${at('0:0:0:b2')}"]}),
    ("malformed", {"Ipv6Addresses": ["not-an-address"]}),
]:
    try:
        ec2.assign_ipv6_addresses(NetworkInterfaceId=eni, **kwargs)
        codes[name] = "ok"
    except botocore.exceptions.ClientError as e:
        codes[name] = e.response["Error"]["Code"]
now = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]["Ipv6Addresses"]
u = ec2.unassign_ipv6_addresses(NetworkInterfaceId=eni, Ipv6Addresses=["${wanted}"])
try:
    ec2.unassign_ipv6_addresses(NetworkInterfaceId=eni, Ipv6Addresses=["${wanted}"])
    codes["unassign-missing"] = "ok"
except botocore.exceptions.ClientError as e:
    codes["unassign-missing"] = e.response["Error"]["Code"]
result = {"a": a["AssignedIpv6Addresses"], "b": b["AssignedIpv6Addresses"], "codes": codes,
          "now": [x["Ipv6Address"] for x in now], "unassigned": u["UnassignedIpv6Addresses"]}
`) as { a: string[]; b: string[]; codes: Record<string, string>; now: string[]; unassigned: string[] };
    assert.equal(r.a.length, 1);
    assert.ok(inBlock(r.a[0]!));
    assert.deepEqual(r.b, [wanted]);
    assert.deepEqual(r.now, [r.a[0], wanted]);
    assert.deepEqual(r.unassigned, [wanted]);
    assert.deepEqual(r.codes, {
      again: 'InvalidParameterValue', zero: 'InvalidParameterValue', both: 'InvalidParameterCombination',
      malformed: 'InvalidParameterValue', 'unassign-missing': 'InvalidParameterValue',
    });
    assert.deepEqual(ipv6Of(await describeEni(eni.NetworkInterfaceId!)), [r.a[0]]);
    // The unassigned address is free again.
    const other = await create({ Ipv6Addresses: [{ Ipv6Address: wanted }] });
    assert.deepEqual(ipv6Of(other), [wanted]);

    const v4Only = await create({ SubnetId: v4Subnet });
    assert.equal(
      await errorCode(ec2.send(new AssignIpv6AddressesCommand({ NetworkInterfaceId: v4Only.NetworkInterfaceId!, Ipv6AddressCount: 1 }))),
      'InvalidParameterValue',
    );
    assert.equal(
      await errorCode(ec2.send(new UnassignIpv6AddressesCommand({ NetworkInterfaceId: eni.NetworkInterfaceId!, Ipv6Addresses: ['zz::'] }))),
      'InvalidParameterValue',
    );
  });

  it('launches instances with IPv6 addresses, shows and filters them, and frees them on termination', async () => {
    const wanted = at('0:0:0:c1');
    const [single] = (await launch({ SubnetId: v6Subnet, Ipv6Addresses: [{ Ipv6Address: wanted }] })).Instances!;
    const [counted] = (await launch({
      NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: v6Subnet, Ipv6AddressCount: 2 }],
    })).Instances!;
    const ids = [single!.InstanceId!, counted!.InstanceId!];
    await waitUntilInstanceRunning(waitOpts(ec2), { InstanceIds: ids });

    const a = await describeInstance(ids[0]!);
    assert.equal(a.Ipv6Address, wanted);
    assert.deepEqual(ipv6Of(a.NetworkInterfaces![0]!), [wanted]);
    const b = await describeInstance(ids[1]!);
    const bIps = ipv6Of(b.NetworkInterfaces![0]!);
    assert.equal(bIps.length, 2);
    assert.equal(b.Ipv6Address, bIps[0]);

    const byFilter = (await ec2.send(new DescribeInstancesCommand({
      Filters: [{ Name: 'network-interface.ipv6-addresses.ipv6-address', Values: [bIps[1]!] }],
    }))).Reservations!.flatMap((r) => r.Instances!.map((i) => i.InstanceId));
    assert.deepEqual(byFilter, [ids[1]]);

    // In use by the instance's interface until it terminates.
    assert.equal(await errorCode(create({ Ipv6Addresses: [{ Ipv6Address: wanted }] })), 'InvalidIPAddress.InUse');
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
    await waitUntilInstanceTerminated(waitOpts(ec2), { InstanceIds: ids });
    assert.deepEqual(ipv6Of(await create({ Ipv6Addresses: [{ Ipv6Address: wanted }] })), [wanted]);
    assert.deepEqual(ipv6Of(await create({ Ipv6Addresses: [{ Ipv6Address: bIps[0]! }] })), [bIps[0]]);
  });

  it('rejects bad IPv6 launches with EC2 codes', async () => {
    // t3.micro allows 2 IPv6 addresses an interface.
    assert.equal(await errorCode(launch({ SubnetId: v6Subnet, Ipv6AddressCount: 3 })), 'PrivateIpAddressLimitExceeded');
    assert.equal(
      await errorCode(launch({ NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: v6Subnet, Ipv6AddressCount: 3 }] })),
      'PrivateIpAddressLimitExceeded',
    );
    assert.equal(await errorCode(launch({ SubnetId: v4Subnet, Ipv6AddressCount: 1 })), 'InvalidParameterValue');
    assert.equal(
      await errorCode(launch({ Ipv6AddressCount: 1, NetworkInterfaces: [{ DeviceIndex: 0, SubnetId: v6Subnet }] })),
      'InvalidParameterCombination',
    );
    assert.equal(
      await errorCode(launch({ SubnetId: v6Subnet, MaxCount: 2, Ipv6Addresses: [{ Ipv6Address: at('0:0:0:d1') }] })),
      'InvalidParameterCombination',
    );
    assert.equal(await errorCode(launch({ SubnetId: v6Subnet, Ipv6Addresses: [{ Ipv6Address: 'bogus' }] })), 'InvalidParameterValue');
    // An interface with more addresses than the type allows cannot be attached, nor given more once attached.
    const wide = await create({ Ipv6AddressCount: 3 });
    assert.equal(
      await errorCode(launch({ NetworkInterfaces: [{ DeviceIndex: 0, NetworkInterfaceId: wide.NetworkInterfaceId! }] })),
      'PrivateIpAddressLimitExceeded',
    );
    const [inst] = (await launch({ SubnetId: v6Subnet, Ipv6AddressCount: 2 })).Instances!;
    const primary = inst!.NetworkInterfaces![0]!.NetworkInterfaceId!;
    assert.equal(
      await errorCode(ec2.send(new AssignIpv6AddressesCommand({ NetworkInterfaceId: primary, Ipv6AddressCount: 1 }))),
      'PrivateIpAddressLimitExceeded',
    );
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst!.InstanceId!] }));
    // A failed launch holds no address.
    assert.deepEqual(ipv6Of(await create({ Ipv6Addresses: [{ Ipv6Address: at('0:0:0:d1') }] })), [at('0:0:0:d1')]);
  });

  it("gives every new interface one address when the subnet's AssignIpv6AddressOnCreation is on (AWS CLI)", async () => {
    const block = `${nextBlock(2)}/64`;
    const subnet = nimbus.aws([
      'ec2', 'create-subnet', '--vpc-id', vpcId, '--cidr-block', '10.60.3.0/24', '--ipv6-cidr-block', block, '--availability-zone', 'us-east-1a',
    ]);
    assert.equal(subnet.status, 0, subnet.stderr);
    const subnetId = (subnet.json as { Subnet: { SubnetId: string } }).Subnet.SubnetId;
    const on = nimbus.aws(['ec2', 'modify-subnet-attribute', '--subnet-id', subnetId, '--assign-ipv6-address-on-creation']);
    assert.equal(on.status, 0, on.stderr);
    assert.equal(
      cliErrorCode(nimbus.aws(['ec2', 'modify-subnet-attribute', '--subnet-id', v4Subnet, '--assign-ipv6-address-on-creation'])),
      'InvalidParameterValue',
    );

    const made = nimbus.aws(['ec2', 'create-network-interface', '--subnet-id', subnetId]);
    assert.equal(made.status, 0, made.stderr);
    const eni = (made.json as { NetworkInterface: NetworkInterface }).NetworkInterface;
    assert.equal(ipv6Of(eni).length, 1);
    // An explicit count wins over the subnet's default.
    const none = nimbus.aws(['ec2', 'create-network-interface', '--subnet-id', subnetId, '--ipv6-address-count', '0']);
    assert.deepEqual(ipv6Of((none.json as { NetworkInterface: NetworkInterface }).NetworkInterface), []);

    const run = nimbus.aws(['ec2', 'run-instances', '--image-id', AMI, '--instance-type', 't3.micro', '--subnet-id', subnetId]);
    assert.equal(run.status, 0, run.stderr);
    const id = (run.json as { Instances: Instance[] }).Instances[0]!.InstanceId!;
    const described = nimbus.aws(['ec2', 'describe-instances', '--instance-ids', id]);
    const inst = (described.json as { Reservations: { Instances: Instance[] }[] }).Reservations[0]!.Instances[0]!;
    assert.equal(ipv6Of(inst.NetworkInterfaces![0]!).length, 1);
    assert.equal(inst.Ipv6Address, ipv6Of(inst.NetworkInterfaces![0]!)[0]);
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  });
});
