import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AllocateAddressCommand, AssociateAddressCommand, CreateNetworkInterfaceCommand, CreateSubnetCommand, CreateVpcCommand,
  DeleteNetworkInterfaceCommand, DescribeAddressesCommand, DescribeInstancesCommand, DescribeNetworkInterfacesCommand,
  DisassociateAddressCommand, ReleaseAddressCommand, RunInstancesCommand, StartInstancesCommand, StopInstancesCommand,
  TerminateInstancesCommand, waitUntilInstanceRunning, waitUntilInstanceStopped,
  type EC2Client, type Instance,
} from '@aws-sdk/client-ec2';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { cliErrorCode, errorCode, ROOT, startServer, type NimbusProcess } from './support/server.js';

const AMI = 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';
const waitOpts = (client: EC2Client) => ({ client, maxWaitTime: 30, minDelay: 0.1, maxDelay: 0.2 });
const POOL = /^198\.1[89]\.\d+\.\d+$/;

describe('Elastic IP addresses', () => {
  let nimbus: NimbusProcess;
  let ec2: EC2Client;
  before(async () => {
    nimbus = await startServer({ args: ['--sim-delay-ms', '50'] });
    ec2 = nimbus.ec2();
  });
  after(() => nimbus.dispose());

  const launch = async (): Promise<string> => {
    const i = (await ec2.send(new RunInstancesCommand({ ImageId: AMI, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }))).Instances![0]!;
    await waitUntilInstanceRunning(waitOpts(ec2), { InstanceIds: [i.InstanceId!] });
    return i.InstanceId!;
  };
  const describeInstance = async (id: string): Promise<Instance> =>
    (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;
  const addressOf = async (AllocationId: string) => (await ec2.send(new DescribeAddressesCommand({ AllocationIds: [AllocationId] }))).Addresses![0]!;

  it('allocates addresses from the public pool, tagged, and describes them by id, address and filter', async () => {
    const cli = nimbus.aws(['ec2', 'allocate-address', '--domain', 'vpc', '--tag-specifications', 'ResourceType=elastic-ip,Tags=[{Key=env,Value=prod}]']);
    assert.equal(cli.status, 0, cli.stderr);
    const a = cli.json as { AllocationId: string; PublicIp: string; Domain: string };
    assert.match(a.AllocationId, /^eipalloc-[0-9a-f]{17}$/);
    assert.match(a.PublicIp, POOL);
    assert.equal(a.Domain, 'vpc');
    const byIp = await ec2.send(new DescribeAddressesCommand({ PublicIps: [a.PublicIp] }));
    assert.equal(byIp.Addresses![0]!.AllocationId, a.AllocationId);
    assert.deepEqual(byIp.Addresses![0]!.Tags, [{ Key: 'env', Value: 'prod' }]);
    for (const [Name, value] of [['tag:env', 'prod'], ['tag-key', 'env'], ['domain', 'vpc'], ['public-ip', a.PublicIp], ['allocation-id', a.AllocationId]]) {
      const r = await ec2.send(new DescribeAddressesCommand({ Filters: [{ Name, Values: [value!] }] }));
      assert.deepEqual(r.Addresses!.map((x) => x.AllocationId), [a.AllocationId], Name);
    }
    assert.equal(await errorCode(ec2.send(new DescribeAddressesCommand({ Filters: [{ Name: 'bogus', Values: ['x'] }] }))), 'InvalidParameterValue');
    assert.equal(await errorCode(ec2.send(new DescribeAddressesCommand({ AllocationIds: ['eipalloc-0123456789abcdef0'] }))), 'InvalidAllocationID.NotFound');
    assert.equal(await errorCode(ec2.send(new DescribeAddressesCommand({ AllocationIds: ['eipalloc-zz'] }))), 'InvalidAllocationID.Malformed');
    assert.equal(await errorCode(ec2.send(new DescribeAddressesCommand({ PublicIps: ['203.0.113.9'] }))), 'InvalidAddress.NotFound');
    // Per region: another region does not see it.
    const west = nimbus.ec2({ region: 'us-west-2' });
    assert.deepEqual((await west.send(new DescribeAddressesCommand({}))).Addresses, []);
    await ec2.send(new ReleaseAddressCommand({ AllocationId: a.AllocationId }));
    assert.equal(await errorCode(addressOf(a.AllocationId)), 'InvalidAllocationID.NotFound');
  });

  it('associates with an instance, replacing its public address, moves, survives stop/start and disassociates', async () => {
    const first = await launch();
    const second = await launch();
    const autoIp = (await describeInstance(first)).PublicIpAddress!;
    assert.match(autoIp, POOL);
    const eip = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));

    const { AssociationId } = await ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId, InstanceId: first }));
    assert.match(AssociationId!, /^eipassoc-[0-9a-f]{17}$/);
    const shown = await describeInstance(first);
    assert.equal(shown.PublicIpAddress, eip.PublicIp);
    assert.equal(shown.NetworkInterfaces![0]!.Association!.IpOwnerId, '000000000000');
    const addr = await addressOf(eip.AllocationId!);
    assert.equal(addr.InstanceId, first);
    assert.equal(addr.AssociationId, AssociationId);
    assert.equal(addr.NetworkInterfaceId, shown.NetworkInterfaces![0]!.NetworkInterfaceId);
    assert.equal(addr.PrivateIpAddress, shown.PrivateIpAddress);
    const eniByIp = await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'association.public-ip', Values: [eip.PublicIp!] }] }));
    assert.equal(eniByIp.NetworkInterfaces!.length, 1);
    for (const [Name, value] of [['instance-id', first], ['association-id', AssociationId!], ['private-ip-address', shown.PrivateIpAddress!]]) {
      assert.equal((await ec2.send(new DescribeAddressesCommand({ Filters: [{ Name, Values: [value] }] }))).Addresses!.length, 1, Name);
    }
    assert.equal(await errorCode(ec2.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId }))), 'InvalidIPAddress.InUse');

    // Already associated: refused without AllowReassociation, moved with it (in one call).
    assert.equal(await errorCode(ec2.send(new AssociateAddressCommand({ AllocationId: eip.AllocationId, InstanceId: second }))),
      'Resource.AlreadyAssociated');
    const moved = nimbus.boto3(`
r = ec2.associate_address(AllocationId="${eip.AllocationId}", InstanceId="${second}", AllowReassociation=True)
result = r["AssociationId"]`) as string;
    assert.equal((await describeInstance(second)).PublicIpAddress, eip.PublicIp);
    // As in EC2, the instance the Elastic IP left gets a new address from the pool.
    const firstAgain = (await describeInstance(first)).PublicIpAddress;
    assert.match(firstAgain ?? '', POOL);
    assert.notEqual(firstAgain, eip.PublicIp);
    assert.equal((await addressOf(eip.AllocationId!)).InstanceId, second);

    // Stop and start: the Elastic IP stays.
    await ec2.send(new StopInstancesCommand({ InstanceIds: [second] }));
    await waitUntilInstanceStopped(waitOpts(ec2), { InstanceIds: [second] });
    assert.equal((await describeInstance(second)).PublicIpAddress, eip.PublicIp);
    await ec2.send(new StartInstancesCommand({ InstanceIds: [second] }));
    await waitUntilInstanceRunning(waitOpts(ec2), { InstanceIds: [second] });
    assert.equal((await describeInstance(second)).PublicIpAddress, eip.PublicIp);

    const cli = nimbus.aws(['ec2', 'disassociate-address', '--association-id', moved]);
    assert.equal(cli.status, 0, cli.stderr);
    const secondAgain = (await describeInstance(second)).PublicIpAddress;
    assert.match(secondAgain ?? '', POOL, 'a new public address once the Elastic IP is gone');
    assert.notEqual(secondAgain, eip.PublicIp);
    assert.equal((await addressOf(eip.AllocationId!)).AssociationId, undefined);
    // Idempotent for an association that ended; an unknown one is an error.
    await ec2.send(new DisassociateAddressCommand({ AssociationId: moved }));
    assert.equal(await errorCode(ec2.send(new DisassociateAddressCommand({ AssociationId: 'eipassoc-0123456789abcdef0' }))),
      'InvalidAssociationID.NotFound');
    await ec2.send(new ReleaseAddressCommand({ AllocationId: eip.AllocationId }));
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [first, second] }));
  });

  it('associates with a network interface and a secondary address; a second address replaces the first', async () => {
    const id = await launch();
    const eni = (await describeInstance(id)).NetworkInterfaces![0]!;
    const a = await ec2.send(new AllocateAddressCommand({}));
    const b = await ec2.send(new AllocateAddressCommand({}));
    await ec2.send(new AssociateAddressCommand({ AllocationId: a.AllocationId, NetworkInterfaceId: eni.NetworkInterfaceId }));
    await ec2.send(new AssociateAddressCommand({ AllocationId: b.AllocationId, InstanceId: id }));
    assert.equal((await describeInstance(id)).PublicIpAddress, b.PublicIp);
    assert.equal((await addressOf(a.AllocationId!)).AssociationId, undefined); // replaced, still allocated
    assert.equal(await errorCode(ec2.send(new AssociateAddressCommand({
      AllocationId: a.AllocationId, NetworkInterfaceId: eni.NetworkInterfaceId, PrivateIpAddress: '10.99.99.99',
    }))), 'InvalidParameterValue');
    assert.equal(await errorCode(ec2.send(new AssociateAddressCommand({ AllocationId: a.AllocationId, InstanceId: 'i-0123456789abcdef0' }))),
      'InvalidInstanceID.NotFound');
    assert.equal(await errorCode(ec2.send(new AssociateAddressCommand({ AllocationId: 'eipalloc-0123456789abcdef0', InstanceId: id }))),
      'InvalidAllocationID.NotFound');

    // A VPC without an internet gateway cannot take a public address.
    const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.30.0.0/16' }))).Vpc!.VpcId!;
    const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: '10.30.0.0/24' }))).Subnet!.SubnetId!;
    const lone = (await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnet }))).NetworkInterface!.NetworkInterfaceId!;
    assert.equal(await errorCode(ec2.send(new AssociateAddressCommand({ AllocationId: a.AllocationId, NetworkInterfaceId: lone }))),
      'Gateway.NotAttached');
    await ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: lone }));
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  });
});

describe('Elastic IP limit', () => {
  let nimbus: NimbusProcess;
  before(async () => {
    nimbus = await startServer({ args: ['--limit', 'elasticIpsPerRegion=2'] });
  });
  after(() => nimbus.dispose());

  it('refuses an address past the limit with AddressLimitExceeded, per region', async () => {
    const codes = nimbus.boto3(`
codes = []
for i in range(3):
    try:
        ec2.allocate_address(Domain="vpc")
        codes.append("ok")
    except botocore.exceptions.ClientError as e:
        codes.append(e.response["Error"]["Code"])
result = codes`);
    assert.deepEqual(codes, ['ok', 'ok', 'AddressLimitExceeded']);
    assert.equal(cliErrorCode(nimbus.aws(['ec2', 'allocate-address'])), 'AddressLimitExceeded');
    assert.equal(nimbus.aws(['ec2', 'allocate-address'], { region: 'eu-west-1' }).status, 0);
  });
});

describe('the public pool', () => {
  let nimbus: NimbusProcess;
  before(async () => {
    nimbus = await startServer({ args: ['--public-pool', '203.0.113.0/28', '--limit', 'elasticIpsPerRegion=30', '--sim-delay-ms', '50'] });
  });
  after(() => nimbus.dispose());

  it('hands out public and Elastic IPs from the configured pool only, and says when it is used up', async () => {
    const result = nimbus.boto3(`
import ipaddress
pool = ipaddress.ip_network("203.0.113.0/28")
image = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["al2023-ami-2023*-x86_64"]}])["Images"][0]["ImageId"]
inst = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1)["Instances"][0]
got, codes = [inst["PublicIpAddress"]], []
for i in range(16):
    try:
        got.append(ec2.allocate_address(Domain="vpc")["PublicIp"])
    except botocore.exceptions.ClientError as e:
        codes.append(e.response["Error"]["Code"])
result = {"inside": all(ipaddress.ip_address(a) in pool for a in got), "count": len(got), "distinct": len(set(got)), "codes": sorted(set(codes))}`);
    // 203.0.113.0 looks like a network address and is never handed out: 15 of the 16.
    assert.deepEqual(result, { inside: true, count: 15, distinct: 15, codes: ['InsufficientAddressCapacity'] });
  });

  it('refuses a pool that is not a CIDR block', () => {
    const r = spawnSync(join(ROOT, 'bin/nimbus'), ['serve', '--public-pool', '198.18.0.0'], { encoding: 'utf8', timeout: 10_000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--public-pool must be an IPv4 CIDR block/);
  });
});
