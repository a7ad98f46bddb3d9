import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AssociateRouteTableCommand, AssociateVpcCidrBlockCommand, AttachInternetGatewayCommand, CreateDhcpOptionsCommand,
  CreateInternetGatewayCommand, CreateNetworkAclCommand, CreateNetworkAclEntryCommand, CreateRouteCommand, CreateRouteTableCommand,
  CreateNetworkInterfaceCommand, CreateSubnetCommand, CreateTagsCommand, CreateVpcCommand, DeleteDhcpOptionsCommand, DeleteInternetGatewayCommand,
  DeleteNetworkAclCommand, DeleteNetworkAclEntryCommand, DeleteNetworkInterfaceCommand, DeleteRouteCommand, DeleteRouteTableCommand, DeleteSubnetCommand,
  DeleteVpcCommand, DescribeAccountAttributesCommand, DescribeDhcpOptionsCommand, DescribeInternetGatewaysCommand,
  DescribeNetworkAclsCommand, DescribeRouteTablesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand,
  DescribeVpcAttributeCommand, DescribeVpcsCommand, DetachInternetGatewayCommand, DisassociateRouteTableCommand,
  ModifySubnetAttributeCommand, ModifyVpcAttributeCommand, ReplaceNetworkAclAssociationCommand, ReplaceNetworkAclEntryCommand,
  ReplaceRouteCommand, ReplaceRouteTableAssociationCommand, AssociateDhcpOptionsCommand, RunInstancesCommand,
  TerminateInstancesCommand, waitUntilInstanceTerminated, type EC2Client,
} from '@aws-sdk/client-ec2';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { cliErrorCode, errorCode, startServer, type NimbusProcess } from './support/server.js';

const AMI = 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';

describe('VPC resources', () => {
  let nimbus: NimbusProcess;
  let ec2: EC2Client;
  before(async () => {
    nimbus = await startServer({ args: ['--sim-delay-ms', '50'] });
    ec2 = nimbus.ec2();
  });
  after(() => nimbus.dispose());

  it('gives every region a default VPC with its subnets, gateway, routes, group, ACL and DHCP options', async () => {
    const attr = await ec2.send(new DescribeAccountAttributesCommand({ AttributeNames: ['default-vpc'] }));
    const vpcId = attr.AccountAttributes![0]!.AttributeValues![0]!.AttributeValue!;
    const cli = nimbus.aws(['ec2', 'describe-vpcs', '--filters', 'Name=is-default,Values=true']);
    assert.equal(cli.status, 0, cli.stderr);
    const vpc = (cli.json as { Vpcs: { VpcId: string; CidrBlock: string; IsDefault: boolean; State: string; DhcpOptionsId: string }[] }).Vpcs;
    assert.equal(vpc.length, 1);
    assert.equal(vpc[0]!.VpcId, vpcId);
    assert.equal(vpc[0]!.CidrBlock, '172.31.0.0/16');
    assert.equal(vpc[0]!.State, 'available');

    const subnets = (await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).Subnets!;
    assert.ok(subnets.length >= 3);
    for (const s of subnets) {
      assert.equal(s.DefaultForAz, true);
      assert.equal(s.MapPublicIpOnLaunch, true);
      assert.match(s.CidrBlock!, /^172\.31\.\d+\.0\/20$/);
      assert.equal(s.AvailableIpAddressCount, 4096 - 5);
    }
    assert.equal(new Set(subnets.map((s) => s.AvailabilityZone)).size, subnets.length);

    const igws = (await ec2.send(new DescribeInternetGatewaysCommand({ Filters: [{ Name: 'attachment.vpc-id', Values: [vpcId] }] })))
      .InternetGateways!;
    assert.equal(igws.length, 1);
    assert.deepEqual(igws[0]!.Attachments, [{ VpcId: vpcId, State: 'available' }]);

    const tables = (await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'association.main', Values: ['true'] }] }))).RouteTables!;
    assert.equal(tables.length, 1);
    const routes = tables[0]!.Routes!.map((r) => [r.DestinationCidrBlock, r.GatewayId]);
    assert.deepEqual(routes, [['172.31.0.0/16', 'local'], ['0.0.0.0/0', igws[0]!.InternetGatewayId]]);

    const groups = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['default'] }))).SecurityGroups!;
    assert.equal(groups.length, 1);
    const sg = groups[0]!;
    assert.equal(sg.VpcId, vpcId);
    assert.deepEqual(sg.IpPermissions!.map((p) => [p.IpProtocol, p.UserIdGroupPairs![0]!.GroupId]), [['-1', sg.GroupId]]);
    assert.deepEqual(sg.IpPermissionsEgress!.map((p) => [p.IpProtocol, p.IpRanges![0]!.CidrIp]), [['-1', '0.0.0.0/0']]);

    const acl = (await ec2.send(new DescribeNetworkAclsCommand({ Filters: [{ Name: 'default', Values: ['true'] }] }))).NetworkAcls![0]!;
    assert.equal(acl.VpcId, vpcId);
    assert.deepEqual(acl.Entries!.map((e) => [e.Egress, e.RuleNumber, e.RuleAction]), [
      [true, 100, 'allow'], [true, 32767, 'deny'], [false, 100, 'allow'], [false, 32767, 'deny'],
    ]);
    assert.equal(acl.Associations!.length, subnets.length);

    const dopt = (await ec2.send(new DescribeDhcpOptionsCommand({ DhcpOptionsIds: [vpc[0]!.DhcpOptionsId] }))).DhcpOptions![0]!;
    assert.deepEqual(dopt.DhcpConfigurations, [
      { Key: 'domain-name', Values: [{ Value: 'ec2.internal' }] },
      { Key: 'domain-name-servers', Values: [{ Value: 'AmazonProvidedDNS' }] },
    ]);
    const west = nimbus.boto3('result = ec2.describe_dhcp_options()["DhcpOptions"][0]["DhcpConfigurations"][0]', { region: 'eu-west-1' });
    assert.deepEqual(west, { Key: 'domain-name', Values: [{ Value: 'eu-west-1.compute.internal' }] });

    // Instances already launched into the default VPC use the same ids.
    const run = await ec2.send(new RunInstancesCommand({ ImageId: AMI, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1 }));
    const inst = run.Instances![0]!;
    assert.equal(inst.VpcId, vpcId);
    assert.ok(subnets.some((s) => s.SubnetId === inst.SubnetId));
    assert.deepEqual(inst.SecurityGroups!.map((g) => g.GroupId), [sg.GroupId]);
    assert.ok(inst.PublicIpAddress);
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId!] }));
  });

  it('rolls a DryRun back whole, default VPC provisioning included', async () => {
    const region = 'ap-southeast-2';
    const dry = nimbus.aws(['ec2', 'create-vpc', '--cidr-block', '10.0.0.0/16', '--dry-run'], { region });
    assert.equal(cliErrorCode(dry), 'DryRunOperation');
    const vpcs = nimbus.aws(['ec2', 'describe-vpcs'], { region }).json as { Vpcs: { IsDefault: boolean }[] };
    assert.deepEqual(vpcs.Vpcs.map((v) => v.IsDefault), [true]);
  });

  it('creates a VPC with an IPv6 block, its main table, default ACL and group, and changes its attributes', async () => {
    const created = await ec2.send(new CreateVpcCommand({
      CidrBlock: '10.1.0.0/16', AmazonProvidedIpv6CidrBlock: true,
      TagSpecifications: [{ ResourceType: 'vpc', Tags: [{ Key: 'Name', Value: 'app' }] }],
    }));
    const vpcId = created.Vpc!.VpcId!;
    assert.match(vpcId, /^vpc-[0-9a-f]{17}$/);
    const [vpc] = (await ec2.send(new DescribeVpcsCommand({ VpcIds: [vpcId] }))).Vpcs!;
    assert.equal(vpc!.IsDefault, false);
    assert.deepEqual(vpc!.Tags, [{ Key: 'Name', Value: 'app' }]);
    assert.match(vpc!.Ipv6CidrBlockAssociationSet![0]!.Ipv6CidrBlock!, /^[0-9a-f:]+::\/56$/);
    const byTag = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'tag:Name', Values: ['app'] }] }));
    assert.deepEqual(byTag.Vpcs!.map((v) => v.VpcId), [vpcId]);
    const byCidr = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'cidr-block-association.cidr-block', Values: ['10.1.*'] }] }));
    assert.deepEqual(byCidr.Vpcs!.map((v) => v.VpcId), [vpcId]);

    const main = (await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).RouteTables!;
    assert.equal(main.length, 1);
    assert.equal(main[0]!.Associations![0]!.Main, true);
    assert.deepEqual(main[0]!.Routes!.map((r) => r.GatewayId), ['local', 'local']);
    const sgs = (await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).SecurityGroups!;
    assert.deepEqual(sgs.map((g) => g.GroupName), ['default']);
    const acls = (await ec2.send(new DescribeNetworkAclsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }))).NetworkAcls!;
    assert.deepEqual(acls.map((a) => a.IsDefault), [true]);

    const dns = await ec2.send(new DescribeVpcAttributeCommand({ VpcId: vpcId, Attribute: 'enableDnsHostnames' }));
    assert.equal(dns.EnableDnsHostnames!.Value, false);
    await ec2.send(new ModifyVpcAttributeCommand({ VpcId: vpcId, EnableDnsHostnames: { Value: true } }));
    const after = nimbus.aws(['ec2', 'describe-vpc-attribute', '--vpc-id', vpcId, '--attribute', 'enableDnsHostnames']);
    assert.equal((after.json as { EnableDnsHostnames: { Value: boolean } }).EnableDnsHostnames.Value, true);

    const extra = await ec2.send(new AssociateVpcCidrBlockCommand({ VpcId: vpcId, CidrBlock: '10.2.0.0/16' }));
    assert.equal(extra.CidrBlockAssociation!.CidrBlock, '10.2.0.0/16');
    const overlapping = ec2.send(new AssociateVpcCidrBlockCommand({ VpcId: vpcId, CidrBlock: '10.1.128.0/17' }));
    assert.equal(await errorCode(overlapping), 'InvalidParameterValue');

    // Subnets: within the VPC, not overlapping, /16 to /28.
    const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.1.1.0/24', AvailabilityZone: 'us-east-1b' }))).Subnet!;
    assert.equal(subnet.AvailableIpAddressCount, 251);
    assert.equal(subnet.MapPublicIpOnLaunch, false);
    assert.equal(subnet.AvailabilityZone, 'us-east-1b');
    const second = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.2.0.0/28' }))).Subnet!;
    assert.equal(second.AvailableIpAddressCount, 11);
    const bad = (cidr: string) => errorCode(ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr })));
    assert.equal(await bad('10.1.1.128/25'), 'InvalidSubnet.Conflict');
    assert.equal(await bad('10.9.0.0/24'), 'InvalidSubnet.Range');
    assert.equal(await bad('10.1.2.0/29'), 'InvalidSubnet.Range');
    assert.equal(await bad('10.1.2.0/33'), 'InvalidParameterValue');
    assert.equal(await bad('10.1.2.7/24'), 'InvalidParameterValue');
    assert.equal(await errorCode(ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.1.3.0/24', AvailabilityZone: 'us-east-1z' }))),
      'InvalidParameterValue');
    const v6Block = vpc!.Ipv6CidrBlockAssociationSet![0]!.Ipv6CidrBlock!.replace('/56', '/64');
    const v6 = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.1.4.0/24', Ipv6CidrBlock: v6Block }))).Subnet!;
    assert.equal(v6.Ipv6CidrBlockAssociationSet![0]!.Ipv6CidrBlock, v6Block);
    await ec2.send(new ModifySubnetAttributeCommand({ SubnetId: subnet.SubnetId!, MapPublicIpOnLaunch: { Value: true } }));
    const modified = (await ec2.send(new DescribeSubnetsCommand({
      Filters: [{ Name: 'map-public-ip-on-launch', Values: ['true'] }, { Name: 'vpc-id', Values: [vpcId] }],
    }))).Subnets!;
    assert.deepEqual(modified.map((s) => s.SubnetId), [subnet.SubnetId]);

    // An instance launched into the custom subnet gets its VPC, zone, group and an address in its range.
    const run = await ec2.send(new RunInstancesCommand({ ImageId: AMI, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, SubnetId: second.SubnetId }));
    const inst = run.Instances![0]!;
    assert.equal(inst.VpcId, vpcId);
    assert.equal(inst.Placement!.AvailabilityZone, second.AvailabilityZone);
    assert.match(inst.PrivateIpAddress!, /^10\.2\.0\.([4-9]|1[0-4])$/);
    assert.equal(inst.PublicIpAddress, undefined);
    assert.deepEqual(inst.SecurityGroups!.map((g) => g.GroupId), [sgs[0]!.GroupId]);
    const count = (await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [second.SubnetId!] }))).Subnets![0]!.AvailableIpAddressCount;
    assert.equal(count, 10);
    assert.equal(await errorCode(ec2.send(new DeleteSubnetCommand({ SubnetId: second.SubnetId! }))), 'DependencyViolation');
    assert.equal(await errorCode(ec2.send(new DeleteVpcCommand({ VpcId: vpcId }))), 'DependencyViolation');
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [inst.InstanceId!] }));
    await waitUntilInstanceTerminated({ client: ec2, maxWaitTime: 20, minDelay: 0.1, maxDelay: 0.2 }, { InstanceIds: [inst.InstanceId!] });

    for (const s of [subnet, second, v6]) await ec2.send(new DeleteSubnetCommand({ SubnetId: s.SubnetId! }));
    await ec2.send(new DeleteVpcCommand({ VpcId: vpcId }));
    assert.equal(await errorCode(ec2.send(new DescribeVpcsCommand({ VpcIds: [vpcId] }))), 'InvalidVpcID.NotFound');
    const left = await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }));
    assert.deepEqual(left.RouteTables, []);
  });

  it('attaches one internet gateway per VPC and routes through it', async () => {
    const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.3.0.0/16' }))).Vpc!.VpcId!;
    const igw = (await ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
    const other = (await ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
    await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId }));
    assert.equal(await errorCode(ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: other, VpcId: vpcId }))), 'Resource.AlreadyAssociated');
    assert.equal(await errorCode(ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId }))), 'Resource.AlreadyAssociated');
    assert.equal(await errorCode(ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igw }))), 'DependencyViolation');
    assert.equal(await errorCode(ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: other, VpcId: vpcId }))), 'Gateway.NotAttached');

    const rtb = (await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }))).RouteTable!.RouteTableId!;
    await ec2.send(new CreateRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw }));
    assert.equal(await errorCode(ec2.send(new CreateRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw }))),
      'RouteAlreadyExists');
    assert.equal(await errorCode(ec2.send(new CreateRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '10.3.1.0/24', GatewayId: igw }))),
      'InvalidParameterValue');
    assert.equal(await errorCode(ec2.send(new CreateRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '1.0.0.0/8', GatewayId: other }))),
      'InvalidParameterValue');
    assert.equal(await errorCode(ec2.send(new CreateRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '1.0.0.0/8', GatewayId: 'igw-0123456789abcdef0' }))),
      'InvalidGatewayID.NotFound');
    assert.equal(await errorCode(ec2.send(new DeleteRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '10.3.0.0/16' }))), 'InvalidParameterValue');
    assert.equal(await errorCode(ec2.send(new DeleteRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '8.8.8.0/24' }))), 'InvalidRoute.NotFound');
    await ec2.send(new ReplaceRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw }));
    const byRoute = await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'route.gateway-id', Values: [igw] }] }));
    assert.deepEqual(byRoute.RouteTables!.map((t) => t.RouteTableId), [rtb]);

    const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.3.1.0/24' }))).Subnet!.SubnetId!;
    const assoc = await ec2.send(new AssociateRouteTableCommand({ RouteTableId: rtb, SubnetId: subnet }));
    assert.match(assoc.AssociationId!, /^rtbassoc-/);
    assert.equal(await errorCode(ec2.send(new AssociateRouteTableCommand({ RouteTableId: rtb, SubnetId: subnet }))), 'Resource.AlreadyAssociated');
    assert.equal(await errorCode(ec2.send(new DeleteRouteTableCommand({ RouteTableId: rtb }))), 'DependencyViolation');
    const bySubnet = await ec2.send(new DescribeRouteTablesCommand({ Filters: [{ Name: 'association.subnet-id', Values: [subnet] }] }));
    assert.deepEqual(bySubnet.RouteTables!.map((t) => t.RouteTableId), [rtb]);
    await ec2.send(new DisassociateRouteTableCommand({ AssociationId: assoc.AssociationId! }));
    assert.equal(await errorCode(ec2.send(new DisassociateRouteTableCommand({ AssociationId: assoc.AssociationId! }))), 'InvalidAssociationID.NotFound');

    // Making the new table main moves the main association; the old main can then be deleted.
    const main = (await ec2.send(new DescribeRouteTablesCommand({
      Filters: [{ Name: 'vpc-id', Values: [vpcId] }, { Name: 'association.main', Values: ['true'] }],
    }))).RouteTables![0]!;
    const mainAssoc = main.Associations![0]!.RouteTableAssociationId!;
    assert.equal(await errorCode(ec2.send(new DisassociateRouteTableCommand({ AssociationId: mainAssoc }))), 'InvalidParameterValue');
    assert.equal(await errorCode(ec2.send(new DeleteRouteTableCommand({ RouteTableId: main.RouteTableId! }))), 'DependencyViolation');
    const moved = await ec2.send(new ReplaceRouteTableAssociationCommand({ AssociationId: mainAssoc, RouteTableId: rtb }));
    const now = (await ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [rtb] }))).RouteTables![0]!;
    assert.deepEqual(now.Associations!.map((a) => [a.RouteTableAssociationId, a.Main]), [[moved.NewAssociationId, true]]);
    await ec2.send(new DeleteRouteTableCommand({ RouteTableId: main.RouteTableId! }));

    await ec2.send(new DeleteSubnetCommand({ SubnetId: subnet }));
    assert.equal(await errorCode(ec2.send(new DeleteVpcCommand({ VpcId: vpcId }))), 'DependencyViolation'); // the gateway
    await ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId }));
    await ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igw }));
    await ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: other }));
    await ec2.send(new DeleteVpcCommand({ VpcId: vpcId }));
  });

  it('keeps numbered network ACL entries per direction and moves subnet associations', async () => {
    const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.4.0.0/16' }))).Vpc!.VpcId!;
    const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.4.0.0/24' }))).Subnet!.SubnetId!;
    const acl = (await ec2.send(new CreateNetworkAclCommand({ VpcId: vpcId }))).NetworkAcl!;
    assert.equal(acl.IsDefault, false);
    assert.deepEqual(acl.Entries!.map((e) => [e.Egress, e.RuleNumber, e.RuleAction]), [[true, 32767, 'deny'], [false, 32767, 'deny']]);
    const aclId = acl.NetworkAclId!;
    const entry = { NetworkAclId: aclId, RuleNumber: 100, Protocol: '6', RuleAction: 'allow' as const, Egress: false, CidrBlock: '0.0.0.0/0', PortRange: { From: 22, To: 22 } };
    await ec2.send(new CreateNetworkAclEntryCommand(entry));
    await ec2.send(new CreateNetworkAclEntryCommand({ ...entry, Egress: true }));
    assert.equal(await errorCode(ec2.send(new CreateNetworkAclEntryCommand(entry))), 'NetworkAclEntryAlreadyExists');
    assert.equal(await errorCode(ec2.send(new CreateNetworkAclEntryCommand({ ...entry, RuleNumber: 32767 }))), 'InvalidParameterValue');
    assert.equal(await errorCode(ec2.send(new CreateNetworkAclEntryCommand({ ...entry, RuleNumber: 0 }))), 'InvalidParameterValue');
    await ec2.send(new ReplaceNetworkAclEntryCommand({ ...entry, RuleAction: 'deny', PortRange: { From: 80, To: 443 } }));
    const got = (await ec2.send(new DescribeNetworkAclsCommand({ NetworkAclIds: [aclId] }))).NetworkAcls![0]!;
    const ingress100 = got.Entries!.find((e) => !e.Egress && e.RuleNumber === 100)!;
    assert.deepEqual([ingress100.RuleAction, ingress100.PortRange], ['deny', { From: 80, To: 443 }]);
    const filtered = await ec2.send(new DescribeNetworkAclsCommand({ Filters: [{ Name: 'entry.port-range.from', Values: ['80'] }] }));
    assert.deepEqual(filtered.NetworkAcls!.map((a) => a.NetworkAclId), [aclId]);
    await ec2.send(new DeleteNetworkAclEntryCommand({ NetworkAclId: aclId, RuleNumber: 100, Egress: true }));
    assert.equal(await errorCode(ec2.send(new DeleteNetworkAclEntryCommand({ NetworkAclId: aclId, RuleNumber: 100, Egress: true }))),
      'InvalidNetworkAclEntry.NotFound');

    const current = (await ec2.send(new DescribeNetworkAclsCommand({ Filters: [{ Name: 'association.subnet-id', Values: [subnet] }] }))).NetworkAcls![0]!;
    assert.equal(current.IsDefault, true);
    const assocId = current.Associations!.find((a) => a.SubnetId === subnet)!.NetworkAclAssociationId!;
    const moved = await ec2.send(new ReplaceNetworkAclAssociationCommand({ AssociationId: assocId, NetworkAclId: aclId }));
    assert.match(moved.NewAssociationId!, /^aclassoc-/);
    assert.equal(await errorCode(ec2.send(new DeleteNetworkAclCommand({ NetworkAclId: aclId }))), 'DependencyViolation');
    assert.equal(await errorCode(ec2.send(new DeleteNetworkAclCommand({ NetworkAclId: current.NetworkAclId! }))), 'InvalidParameterValue');
    await ec2.send(new DeleteSubnetCommand({ SubnetId: subnet }));
    await ec2.send(new DeleteNetworkAclCommand({ NetworkAclId: aclId }));
    await ec2.send(new DeleteVpcCommand({ VpcId: vpcId }));
  });

  it('creates DHCP options, associates them and refuses to delete them while in use', async () => {
    const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.5.0.0/16' }))).Vpc!.VpcId!;
    const dopt = (await ec2.send(new CreateDhcpOptionsCommand({
      DhcpConfigurations: [{ Key: 'domain-name', Values: ['corp.example'] }, { Key: 'domain-name-servers', Values: ['10.5.0.2', '10.5.0.3'] }],
    }))).DhcpOptions!.DhcpOptionsId!;
    await ec2.send(new AssociateDhcpOptionsCommand({ VpcId: vpcId, DhcpOptionsId: dopt }));
    const byDopt = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'dhcp-options-id', Values: [dopt] }] }));
    assert.deepEqual(byDopt.Vpcs!.map((v) => v.VpcId), [vpcId]);
    const byValue = await ec2.send(new DescribeDhcpOptionsCommand({ Filters: [{ Name: 'value', Values: ['corp.example'] }] }));
    assert.deepEqual(byValue.DhcpOptions!.map((d) => d.DhcpOptionsId), [dopt]);
    assert.equal(await errorCode(ec2.send(new DeleteDhcpOptionsCommand({ DhcpOptionsId: dopt }))), 'DependencyViolation');
    assert.equal(await errorCode(ec2.send(new CreateDhcpOptionsCommand({ DhcpConfigurations: [{ Key: 'bogus', Values: ['x'] }] }))),
      'InvalidParameterValue');
    await ec2.send(new AssociateDhcpOptionsCommand({ VpcId: vpcId, DhcpOptionsId: 'default' }));
    await ec2.send(new DeleteDhcpOptionsCommand({ DhcpOptionsId: dopt }));
    assert.equal(await errorCode(ec2.send(new DescribeDhcpOptionsCommand({ DhcpOptionsIds: [dopt] }))), 'InvalidDhcpOptionID.NotFound');
    await ec2.send(new DeleteVpcCommand({ VpcId: vpcId }));
  });

  it('answers bad input with EC2 codes, and tags VPC resources through CreateTags', async () => {
    const code = async (p: Promise<unknown>) => errorCode(p);
    assert.equal(await code(ec2.send(new DescribeVpcsCommand({ VpcIds: ['vpc-bogus'] }))), 'InvalidVpcID.Malformed');
    assert.equal(await code(ec2.send(new DescribeVpcsCommand({ VpcIds: ['vpc-0123456789abcdef0'] }))), 'InvalidVpcID.NotFound');
    assert.equal(await code(ec2.send(new DescribeSubnetsCommand({ SubnetIds: ['subnet-0123456789abcdef0'] }))), 'InvalidSubnetID.NotFound');
    assert.equal(await code(ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: ['rtb-x'] }))), 'InvalidRouteTableID.Malformed');
    assert.equal(await code(ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: ['rtb-0123456789abcdef0'] }))), 'InvalidRouteTableID.NotFound');
    assert.equal(await code(ec2.send(new DescribeNetworkAclsCommand({ NetworkAclIds: ['acl-0123456789abcdef0'] }))), 'InvalidNetworkAclID.NotFound');
    assert.equal(await code(ec2.send(new DescribeInternetGatewaysCommand({ InternetGatewayIds: ['igw-0123456789abcdef0'] }))),
      'InvalidInternetGatewayID.NotFound');
    assert.equal(await code(ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'bogus', Values: ['x'] }] }))), 'InvalidParameterValue');
    for (const cidr of ['10.0.0.0/15', '10.0.0.0/29']) {
      assert.equal(await code(ec2.send(new CreateVpcCommand({ CidrBlock: cidr }))), 'InvalidVpc.Range');
    }
    assert.equal(await code(ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0' }))), 'InvalidParameterValue');
    assert.equal(await code(ec2.send(new CreateVpcCommand({ CidrBlock: '300.0.0.0/16' }))), 'InvalidParameterValue');
    const igw = (await ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
    await ec2.send(new CreateTagsCommand({ Resources: [igw], Tags: [{ Key: 'team', Value: 'net' }] }));
    const tagged = await ec2.send(new DescribeInternetGatewaysCommand({ Filters: [{ Name: 'tag:team', Values: ['net'] }] }));
    assert.deepEqual(tagged.InternetGateways!.map((g) => [g.InternetGatewayId, g.Tags]), [[igw, [{ Key: 'team', Value: 'net' }]]]);
    assert.equal(await code(ec2.send(new CreateTagsCommand({ Resources: ['rtb-0123456789abcdef0'], Tags: [{ Key: 'a', Value: 'b' }] }))),
      'InvalidRouteTableID.NotFound');
    const paged = nimbus.boto3(`
pages = ec2.get_paginator("describe_subnets").paginate(PaginationConfig={"PageSize": 5})
result = [len(p["Subnets"]) for p in pages]`) as number[];
    assert.ok(paged.length >= 2 && paged.every((n) => n <= 5));
    await ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igw }));
  });
});

describe('private addresses of a subnet that fills up', () => {
  let nimbus: NimbusProcess;
  let ec2: EC2Client;
  before(async () => {
    nimbus = await startServer({
      args: ['--sim-delay-ms', '50', '--instance-limit', '1000', '--limit', 'networkInterfacesPerRegion=1000'],
    });
    ec2 = nimbus.ec2();
  });
  after(() => nimbus.dispose());

  it('hands out every usable address of a /23, the last ones too, and then says none is left', async () => {
    const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.40.0.0/16' }))).Vpc!.VpcId!;
    // Two /24s: 10.40.2.4–10.40.3.254, AWS's four first and one last address left out.
    const subnetId = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.40.2.0/23' }))).Subnet!.SubnetId!;
    const usable = [
      ...Array.from({ length: 252 }, (_, i) => `10.40.2.${i + 4}`),
      ...Array.from({ length: 255 }, (_, i) => `10.40.3.${i}`),
    ];
    const free = async () => (await ec2.send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] }))).Subnets![0]!.AvailableIpAddressCount;
    assert.equal(await free(), usable.length);
    // Every address an interface holds counts, secondary ones and those of interfaces without an instance too.
    const eni = (await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnetId, SecondaryPrivateIpAddressCount: 2 }))).NetworkInterface!;
    assert.equal(await free(), usable.length - 3);
    const byCount = await ec2.send(new DescribeSubnetsCommand({
      Filters: [{ Name: 'available-ip-address-count', Values: [String(usable.length - 3)] }, { Name: 'vpc-id', Values: [vpcId] }],
    }));
    assert.deepEqual(byCount.Subnets!.map((s) => s.SubnetId), [subnetId]);
    await ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: eni.NetworkInterfaceId! }));
    assert.equal(await free(), usable.length);
    const run = (n: number) => ec2.send(new RunInstancesCommand({
      ImageId: AMI, InstanceType: 't3.micro', MinCount: n, MaxCount: n, SubnetId: subnetId,
    }));

    const addresses = (r: Awaited<ReturnType<typeof run>>) => r.Instances!.map((i) => i.PrivateIpAddress!);
    const first = addresses(await run(usable.length - 7));
    assert.equal(new Set(first).size, first.length);
    // The last seven: random probes mostly miss them, the scan of the subnet's /24s finds them.
    assert.equal(await errorCode(run(8)), 'InsufficientFreeAddressesInSubnet');
    assert.equal(await free(), 7, 'a launch that did not fit took no address');
    const lastRun = await run(7);
    const last = addresses(lastRun);
    assert.deepEqual([...first, ...last].sort(), [...usable].sort());
    assert.equal(await free(), 0);
    assert.equal(await errorCode(run(1)), 'InsufficientFreeAddressesInSubnet');

    // A store from before the counts of each subnet's addresses: they are made from its rows at start.
    await nimbus.stop();
    const db = new Database(join(nimbus.dataDir, 'nimbus.db'));
    db.exec('DROP TRIGGER resources_grouped_insert; DROP TRIGGER resources_grouped_delete; DROP TABLE group_counts');
    db.close();
    await nimbus.start();
    ec2 = nimbus.ec2();
    assert.equal(await free(), 0);
    const gone = lastRun.Instances![0]!.InstanceId!;
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [gone] }));
    await waitUntilInstanceTerminated({ client: ec2, maxWaitTime: 20, minDelay: 0.1, maxDelay: 0.2 }, { InstanceIds: [gone] });
    assert.equal(await free(), 1);
    assert.deepEqual(addresses(await run(1)), [lastRun.Instances![0]!.PrivateIpAddress]);
  });
});
