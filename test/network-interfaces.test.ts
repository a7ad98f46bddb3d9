import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AssignPrivateIpAddressesCommand, AttachNetworkInterfaceCommand, CreateNetworkInterfaceCommand, CreateSecurityGroupCommand,
  CreateSubnetCommand, CreateVpcCommand, DeleteNetworkInterfaceCommand, DeleteSecurityGroupCommand, DeleteSubnetCommand,
  DeleteVpcCommand, DescribeInstancesCommand, DescribeNetworkInterfaceAttributeCommand, DescribeNetworkInterfacesCommand,
  DescribeSubnetsCommand, DetachNetworkInterfaceCommand, ModifyNetworkInterfaceAttributeCommand, ResetNetworkInterfaceAttributeCommand,
  RunInstancesCommand, TerminateInstancesCommand, UnassignPrivateIpAddressesCommand, waitUntilInstanceRunning, waitUntilInstanceTerminated,
  type EC2Client, type Instance, type NetworkInterface,
} from '@aws-sdk/client-ec2';
import { cliErrorCode, errorCode, startServer, type NimbusProcess } from './support/server.js';

const AMI = 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';
const waitOpts = (client: EC2Client) => ({ client, maxWaitTime: 30, minDelay: 0.1, maxDelay: 0.2 });

describe('elastic network interfaces', () => {
  let nimbus: NimbusProcess;
  let ec2: EC2Client;
  let subnetA: string;
  let subnetB: string;
  before(async () => {
    nimbus = await startServer({ args: ['--sim-delay-ms', '50'] });
    ec2 = nimbus.ec2();
    const subnets = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'default-for-az', Values: ['true'] }] }))).Subnets!;
    subnetA = subnets.find((s) => s.AvailabilityZone === 'us-east-1a')!.SubnetId!;
    subnetB = subnets.find((s) => s.AvailabilityZone === 'us-east-1b')!.SubnetId!;
  });
  after(() => nimbus.dispose());

  const create = async (extra: Partial<ConstructorParameters<typeof CreateNetworkInterfaceCommand>[0]> = {}) =>
    (await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnetA, ...extra }))).NetworkInterface!;
  const describeEni = async (id: string): Promise<NetworkInterface> =>
    (await ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [id] }))).NetworkInterfaces![0]!;
  const launch = async (extra: Partial<ConstructorParameters<typeof RunInstancesCommand>[0]> = {}): Promise<Instance> => {
    const i = (await ec2.send(new RunInstancesCommand({ ImageId: AMI, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, ...extra }))).Instances![0]!;
    await waitUntilInstanceRunning(waitOpts(ec2), { InstanceIds: [i.InstanceId!] });
    return i;
  };
  const describeInstance = async (id: string): Promise<Instance> =>
    (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }))).Reservations![0]!.Instances![0]!;

  it('creates an interface with the addresses asked for, and describes it by id, filter, tag and page', async () => {
    const cidr = (await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnetA] }))).Subnets![0]!.CidrBlock!;
    const base = cidr.split('/')[0]!.split('.').slice(0, 3).join('.');
    const eni = await create({
      Description: 'web',
      PrivateIpAddresses: [{ PrivateIpAddress: `${base}.10`, Primary: true }, { PrivateIpAddress: `${base}.11` }],
      SecondaryPrivateIpAddressCount: 1,
      TagSpecifications: [{ ResourceType: 'network-interface', Tags: [{ Key: 'role', Value: 'web' }] }],
    });
    assert.match(eni.NetworkInterfaceId!, /^eni-[0-9a-f]{17}$/);
    assert.equal(eni.Status, 'available');
    assert.equal(eni.PrivateIpAddress, `${base}.10`);
    assert.equal(eni.PrivateIpAddresses!.length, 3);
    assert.deepEqual(eni.PrivateIpAddresses!.map((a) => a.Primary), [true, false, false]);
    assert.match(eni.MacAddress!, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    assert.equal(eni.Groups![0]!.GroupName, 'default');
    assert.equal(eni.SourceDestCheck, true);
    assert.deepEqual(eni.TagSet, [{ Key: 'role', Value: 'web' }]);

    const byFilter = async (Name: string, Values: string[]) =>
      (await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name, Values }] }))).NetworkInterfaces!.map((n) => n.NetworkInterfaceId);
    const id = eni.NetworkInterfaceId!;
    for (const [name, value] of [
      ['addresses.private-ip-address', `${base}.11`], ['private-ip-address', `${base}.10`], ['subnet-id', subnetA], ['status', 'available'],
      ['description', 'w*'], ['tag:role', 'web'], ['tag-key', 'role'], ['mac-address', eni.MacAddress!], ['availability-zone', 'us-east-1a'],
      ['group-id', eni.Groups![0]!.GroupId!], ['vpc-id', eni.VpcId!], ['owner-id', '000000000000'], ['network-interface-id', id],
    ] as const) assert.ok((await byFilter(name, [value])).includes(id), `${name}=${value}`);
    assert.deepEqual(await byFilter('private-ip-address', [`${base}.11`]), []);

    // A reserved address (the subnet's first four) and a used one are refused.
    assert.equal(await errorCode(create({ PrivateIpAddress: `${base}.2` })), 'InvalidParameterValue');
    assert.equal(await errorCode(create({ PrivateIpAddress: `${base}.10` })), 'InvalidIPAddress.InUse');

    for (let i = 0; i < 5; i++) await create();
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await ec2.send(new DescribeNetworkInterfacesCommand({ MaxResults: 5, NextToken: token }));
      assert.ok(page.NetworkInterfaces!.length <= 5);
      seen.push(...page.NetworkInterfaces!.map((n) => n.NetworkInterfaceId!));
      token = page.NextToken;
    } while (token);
    assert.equal(new Set(seen).size, 6);
  });

  it('refuses bad input with EC2 codes', async () => {
    assert.equal(await errorCode(ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: ['eni-nope'] }))), 'InvalidNetworkInterfaceID.Malformed');
    assert.equal(await errorCode(ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: ['eni-0123456789abcdef0'] }))),
      'InvalidNetworkInterfaceID.NotFound');
    assert.equal(await errorCode(ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'bogus', Values: ['x'] }] }))), 'InvalidParameterValue');
    assert.equal(await errorCode(create({ SubnetId: 'subnet-0123456789abcdef0' })), 'InvalidSubnetID.NotFound');
    assert.equal(await errorCode(create({ Groups: ['sg-0123456789abcdef0'] })), 'InvalidGroup.NotFound');
    const cli = nimbus.aws(['ec2', 'delete-network-interface', '--network-interface-id', 'eni-0123456789abcdef0']);
    assert.equal(cliErrorCode(cli), 'InvalidNetworkInterfaceID.NotFound');
  });

  it('attaches and detaches interfaces, within the instance type, zone and device-index rules', async () => {
    const inst = await launch({ SubnetId: subnetA });
    const id = inst.InstanceId!;
    const eni = (await create()).NetworkInterfaceId!;
    const attach = (NetworkInterfaceId: string, DeviceIndex: number) =>
      ec2.send(new AttachNetworkInterfaceCommand({ InstanceId: id, NetworkInterfaceId, DeviceIndex }));
    const { AttachmentId } = await attach(eni, 1);
    assert.match(AttachmentId!, /^eni-attach-[0-9a-f]{17}$/);
    const attached = await describeEni(eni);
    assert.equal(attached.Status, 'in-use');
    assert.equal(attached.Attachment!.InstanceId, id);
    assert.equal(attached.Attachment!.DeleteOnTermination, false);
    const shown = await describeInstance(id);
    assert.deepEqual(shown.NetworkInterfaces!.map((n) => n.Attachment!.DeviceIndex).sort(), [0, 1]);
    const byInstance = await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: [id] }] }));
    assert.equal(byInstance.NetworkInterfaces!.length, 2);

    const other = (await create()).NetworkInterfaceId!;
    assert.equal(await errorCode(attach(other, 1)), 'InvalidParameterValue'); // index 1 is taken
    assert.equal(await errorCode(attach(other, 2)), 'AttachmentLimitExceeded'); // t3.micro: 2 interfaces
    assert.equal(await errorCode(attach(eni, 2)), 'InvalidNetworkInterface.InUse');
    const elsewhere = (await create({ SubnetId: subnetB })).NetworkInterfaceId!;
    const zone = nimbus.aws(['ec2', 'attach-network-interface', '--instance-id', id, '--network-interface-id', elsewhere, '--device-index', '1']);
    assert.equal(cliErrorCode(zone), 'InvalidParameterCombination');
    assert.equal(await errorCode(ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eni }))), 'InvalidNetworkInterface.InUse');
    const primaryAttachment = shown.NetworkInterfaces!.find((n) => n.Attachment!.DeviceIndex === 0)!.Attachment!.AttachmentId!;
    assert.equal(await errorCode(ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId: primaryAttachment }))), 'OperationNotPermitted');
    assert.equal(await errorCode(ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId: 'eni-attach-0123456789abcdef0' }))),
      'InvalidAttachmentID.NotFound');

    await ec2.send(new DetachNetworkInterfaceCommand({ AttachmentId, Force: true }));
    assert.equal((await describeEni(eni)).Status, 'available');
    assert.equal((await describeInstance(id)).NetworkInterfaces!.length, 1);

    // Attached again, it stays behind when the instance terminates (DeleteOnTermination false), and the primary goes.
    await attach(eni, 1);
    const primaryId = shown.NetworkInterfaces!.find((n) => n.Attachment!.DeviceIndex === 0)!.NetworkInterfaceId!;
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
    await waitUntilInstanceTerminated(waitOpts(ec2), { InstanceIds: [id] });
    assert.equal((await describeEni(eni)).Status, 'available');
    assert.equal(await errorCode(describeEni(primaryId)), 'InvalidNetworkInterfaceID.NotFound');
    for (const e of [eni, other, elsewhere]) await ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: e }));
  });

  it('assigns and unassigns secondary addresses, moving one between interfaces with AllowReassignment', async () => {
    const inst = await launch({ SubnetId: subnetA });
    const primary = (await describeInstance(inst.InstanceId!)).NetworkInterfaces![0]!.NetworkInterfaceId!;
    const assigned = await ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: primary, SecondaryPrivateIpAddressCount: 1 }));
    assert.equal(assigned.AssignedPrivateIpAddresses!.length, 1);
    // t3.micro allows 2 IPv4 addresses per interface.
    assert.equal(await errorCode(ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: primary, SecondaryPrivateIpAddressCount: 1 }))),
      'PrivateIpAddressLimitExceeded');
    const moving = assigned.AssignedPrivateIpAddresses![0]!.PrivateIpAddress!;

    const free = (await create()).NetworkInterfaceId!;
    assert.equal(await errorCode(ec2.send(new AssignPrivateIpAddressesCommand({ NetworkInterfaceId: free, PrivateIpAddresses: [moving] }))),
      'InvalidIPAddress.InUse');
    const moved = nimbus.boto3(`
r = ec2.assign_private_ip_addresses(NetworkInterfaceId="${free}", PrivateIpAddresses=["${moving}"], AllowReassignment=True)
result = r["AssignedPrivateIpAddresses"]`) as { PrivateIpAddress: string }[];
    assert.deepEqual(moved, [{ PrivateIpAddress: moving }]);
    assert.ok((await describeEni(free)).PrivateIpAddresses!.some((a) => a.PrivateIpAddress === moving));
    assert.ok(!(await describeEni(primary)).PrivateIpAddresses!.some((a) => a.PrivateIpAddress === moving));

    const primaryIp = (await describeEni(free)).PrivateIpAddress!;
    assert.equal(await errorCode(ec2.send(new UnassignPrivateIpAddressesCommand({ NetworkInterfaceId: free, PrivateIpAddresses: [primaryIp] }))),
      'InvalidParameterValue');
    assert.equal(await errorCode(ec2.send(new UnassignPrivateIpAddressesCommand({ NetworkInterfaceId: free, PrivateIpAddresses: ['10.9.9.9'] }))),
      'InvalidParameterValue');
    await ec2.send(new UnassignPrivateIpAddressesCommand({ NetworkInterfaceId: free, PrivateIpAddresses: [moving] }));
    assert.equal((await describeEni(free)).PrivateIpAddresses!.length, 1);
    await ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: free }));
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId!] }));
  });

  it('modifies, describes and resets attributes', async () => {
    const eni = await create();
    const id = eni.NetworkInterfaceId!;
    const sg = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'eni-sg', Description: 'x', VpcId: eni.VpcId }))).GroupId!;
    await ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: id, Groups: [sg] }));
    await ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: id, Description: { Value: 'changed' } }));
    await ec2.send(new ModifyNetworkInterfaceAttributeCommand({ NetworkInterfaceId: id, SourceDestCheck: { Value: false } }));
    const attr = (Attribute: 'groupSet' | 'description' | 'sourceDestCheck' | 'attachment') =>
      ec2.send(new DescribeNetworkInterfaceAttributeCommand({ NetworkInterfaceId: id, Attribute }));
    assert.deepEqual((await attr('groupSet')).Groups, [{ GroupId: sg, GroupName: 'eni-sg' }]);
    assert.equal((await attr('description')).Description!.Value, 'changed');
    assert.equal((await attr('sourceDestCheck')).SourceDestCheck!.Value, false);
    assert.equal((await attr('attachment')).Attachment, undefined);
    await ec2.send(new ResetNetworkInterfaceAttributeCommand({ NetworkInterfaceId: id, SourceDestCheck: 'true' }));
    assert.equal((await attr('sourceDestCheck')).SourceDestCheck!.Value, true);

    assert.equal(await errorCode(ec2.send(new ModifyNetworkInterfaceAttributeCommand({
      NetworkInterfaceId: id, Description: { Value: 'a' }, SourceDestCheck: { Value: true },
    }))), 'InvalidParameterCombination');
    const bad = nimbus.aws(['ec2', 'describe-network-interface-attribute', '--network-interface-id', id, '--attribute', 'bogus']);
    assert.notEqual(bad.status, 0);
    // The group and the subnet now have a dependent interface.
    assert.equal(await errorCode(ec2.send(new DeleteSecurityGroupCommand({ GroupId: sg }))), 'DependencyViolation');
    assert.equal(await errorCode(ec2.send(new DeleteSubnetCommand({ SubnetId: subnetA }))), 'DependencyViolation');
    await ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: id }));
    await ec2.send(new DeleteSecurityGroupCommand({ GroupId: sg }));
  });

  it('launches with several interfaces: new and existing ones, no public address, EC2 rules enforced', async () => {
    const existing = (await create({ Description: 'cold' })).NetworkInterfaceId!;
    const r = nimbus.boto3(`
r = ec2.run_instances(ImageId="${AMI}", InstanceType="t3.micro", MinCount=1, MaxCount=1, NetworkInterfaces=[
  {"DeviceIndex": 0, "SubnetId": "${subnetA}", "Description": "primary", "SecondaryPrivateIpAddressCount": 1},
  {"DeviceIndex": 1, "NetworkInterfaceId": "${existing}"},
])
i = r["Instances"][0]
result = {"id": i["InstanceId"], "public": i.get("PublicIpAddress"), "nics": sorted([(n["Attachment"]["DeviceIndex"], n["NetworkInterfaceId"], len(n["PrivateIpAddresses"]), n["Description"]) for n in i["NetworkInterfaces"]])}
`) as { id: string; public?: string | null; nics: [number, string, number, string][] };
    assert.equal(r.public ?? undefined, undefined); // default subnets map public IPs, but never with several interfaces
    assert.equal(r.nics.length, 2);
    assert.deepEqual([r.nics[0]![0], r.nics[0]![2], r.nics[0]![3]], [0, 2, 'primary']);
    assert.deepEqual([r.nics[1]![0], r.nics[1]![1]], [1, existing]);
    assert.equal((await describeEni(existing)).Attachment!.InstanceId, r.id);

    const two = (extra: object = {}) => [
      { DeviceIndex: 0, SubnetId: subnetA, ...extra }, { DeviceIndex: 1, SubnetId: subnetA },
    ];
    const run = (NetworkInterfaces: object[], extra: object = {}) =>
      ec2.send(new RunInstancesCommand({ ImageId: AMI, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, NetworkInterfaces, ...extra }));
    assert.equal(await errorCode(run(two({ AssociatePublicIpAddress: true }))), 'InvalidParameterCombination');
    assert.equal(await errorCode(run([{ DeviceIndex: 0, SubnetId: subnetA }, { DeviceIndex: 1, SubnetId: subnetB }])), 'InvalidParameterCombination');
    assert.equal(await errorCode(run([...two(), { DeviceIndex: 2, SubnetId: subnetA }])), 'AttachmentLimitExceeded');
    assert.equal(await errorCode(run([{ DeviceIndex: 1, SubnetId: subnetA }])), 'InvalidParameterValue');
    assert.equal(await errorCode(run([{ DeviceIndex: 0, SubnetId: subnetA }, { DeviceIndex: 0, SubnetId: subnetA }])), 'InvalidParameterValue');
    assert.equal(await errorCode(run([{ DeviceIndex: 0, NetworkInterfaceId: existing }])), 'InvalidNetworkInterface.InUse');
    assert.equal(await errorCode(run([{ DeviceIndex: 0, SubnetId: subnetA }], { SubnetId: subnetA })), 'InvalidParameterCombination');
    const cli = nimbus.aws(['ec2', 'run-instances', '--image-id', AMI, '--instance-type', 't3.micro', '--network-interfaces',
      `DeviceIndex=0,SubnetId=${subnetA},SecondaryPrivateIpAddressCount=2`]);
    assert.equal(cliErrorCode(cli), 'PrivateIpAddressLimitExceeded');

    // A single interface at index 0 still gets a public address from the subnet's setting.
    const single = (await run([{ DeviceIndex: 0, SubnetId: subnetA }])).Instances![0]!;
    assert.match(single.PublicIpAddress!, /^198\.1[89]\./);

    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [r.id, single.InstanceId!] }));
    await waitUntilInstanceTerminated(waitOpts(ec2), { InstanceIds: [r.id] });
    const after = await describeEni(existing);
    assert.equal(after.Status, 'available'); // attached at launch without DeleteOnTermination: it stays
    await ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: existing }));
  });

  it('makes a VPC with an interface in it undeletable until the interface goes', async () => {
    const vpc = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.20.0.0/16' }))).Vpc!.VpcId!;
    const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: '10.20.1.0/24' }))).Subnet!.SubnetId!;
    const eni = (await create({ SubnetId: subnet })).NetworkInterfaceId!;
    assert.equal(await errorCode(ec2.send(new DeleteSubnetCommand({ SubnetId: subnet }))), 'DependencyViolation');
    await ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eni }));
    await ec2.send(new DeleteSubnetCommand({ SubnetId: subnet }));
    await ec2.send(new DeleteVpcCommand({ VpcId: vpc }));
  });
});

describe('network interface limits', () => {
  let nimbus: NimbusProcess;
  before(async () => {
    nimbus = await startServer({ args: ['--limit', 'networkInterfacesPerRegion=2', '--limit', 'securityGroupsPerInterface=1'] });
  });
  after(() => nimbus.dispose());

  it('limits interfaces per region and groups per interface', async () => {
    const ec2 = nimbus.ec2();
    const subnet = (await ec2.send(new DescribeSubnetsCommand({}))).Subnets![0]!;
    const a = (await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnet.SubnetId }))).NetworkInterface!;
    const g2 = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'two', Description: 'x', VpcId: subnet.VpcId }))).GroupId!;
    assert.equal(await errorCode(ec2.send(new ModifyNetworkInterfaceAttributeCommand({
      NetworkInterfaceId: a.NetworkInterfaceId, Groups: [a.Groups![0]!.GroupId!, g2],
    }))), 'SecurityGroupsPerInstanceLimitExceeded');
    assert.equal(await errorCode(ec2.send(new CreateNetworkInterfaceCommand({
      SubnetId: subnet.SubnetId, Groups: [a.Groups![0]!.GroupId!, g2],
    }))), 'SecurityGroupsPerInstanceLimitExceeded');
    await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnet.SubnetId }));
    const cli = nimbus.aws(['ec2', 'create-network-interface', '--subnet-id', subnet.SubnetId!]);
    assert.equal(cliErrorCode(cli), 'NetworkInterfaceLimitExceeded');
    // An instance needs an interface too.
    assert.equal(await errorCode(ec2.send(new RunInstancesCommand({ ImageId: AMI, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }))),
      'NetworkInterfaceLimitExceeded');
  });
});
