import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AuthorizeSecurityGroupIngressCommand, CreateInternetGatewayCommand, AttachInternetGatewayCommand, CreateNetworkAclCommand,
  CreateNetworkAclEntryCommand, CreateRouteCommand, CreateRouteTableCommand, CreateSecurityGroupCommand, CreateSubnetCommand,
  CreateVpcCommand, DescribeVpcsCommand, RunInstancesCommand, type EC2Client,
} from '@aws-sdk/client-ec2';
import { cliErrorCode, errorCode, startServer, type NimbusProcess } from './support/server.js';

const AMI = 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';

describe('VPC limits, each configurable and each with its EC2 error', () => {
  let nimbus: NimbusProcess;
  let ec2: EC2Client;
  const limits = {
    vpcsPerRegion: 2, subnetsPerVpc: 2, securityGroupsPerVpc: 3, rulesPerSecurityGroup: 2, securityGroupsPerInterface: 2,
    networkAclsPerVpc: 2, rulesPerNetworkAcl: 2, routeTablesPerVpc: 2, routesPerRouteTable: 1,
  };
  before(async () => {
    nimbus = await startServer({ args: Object.entries(limits).flatMap(([k, v]) => ['--limit', `${k}=${v}`]) });
    ec2 = nimbus.ec2();
  });
  after(() => nimbus.dispose());

  it('counts the default VPC toward the VPC limit', async () => {
    await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }));
    const cli = nimbus.aws(['ec2', 'create-vpc', '--cidr-block', '10.1.0.0/16']);
    assert.equal(cliErrorCode(cli), 'VpcLimitExceeded');
    assert.equal((await ec2.send(new DescribeVpcsCommand({}))).Vpcs!.length, 2);
  });

  it('limits subnets, groups, rules, ACLs, ACL entries, route tables and routes per VPC', async () => {
    const vpcId = (await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['false'] }] }))).Vpcs![0]!.VpcId!;
    for (const cidr of ['10.0.0.0/24', '10.0.1.0/24']) await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr }));
    assert.equal(await errorCode(ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.0.2.0/24' }))), 'SubnetLimitExceeded');

    // The default group is one of the three.
    const a = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'a', Description: 'a', VpcId: vpcId }))).GroupId!;
    await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'b', Description: 'b', VpcId: vpcId }));
    assert.equal(await errorCode(ec2.send(new CreateSecurityGroupCommand({ GroupName: 'c', Description: 'c', VpcId: vpcId }))),
      'SecurityGroupLimitExceeded');

    const ingress = (cidrs: string[]) => ec2.send(new AuthorizeSecurityGroupIngressCommand({
      GroupId: a, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: cidrs.map((CidrIp) => ({ CidrIp })) }],
    }));
    assert.equal(await errorCode(ingress(['1.0.0.0/8', '2.0.0.0/8', '3.0.0.0/8'])), 'RulesPerSecurityGroupLimitExceeded');
    await ingress(['1.0.0.0/8', '2.0.0.0/8']);
    assert.equal(await errorCode(ingress(['3.0.0.0/8'])), 'RulesPerSecurityGroupLimitExceeded');

    await ec2.send(new CreateNetworkAclCommand({ VpcId: vpcId }));
    assert.equal(await errorCode(ec2.send(new CreateNetworkAclCommand({ VpcId: vpcId }))), 'NetworkAclLimitExceeded');
    const acl = (await ec2.send(new CreateNetworkAclCommand({ VpcId: (await ec2.send(new DescribeVpcsCommand({
      Filters: [{ Name: 'is-default', Values: ['true'] }],
    }))).Vpcs![0]!.VpcId! }))).NetworkAcl!.NetworkAclId!;
    const entry = (n: number) => ec2.send(new CreateNetworkAclEntryCommand({
      NetworkAclId: acl, RuleNumber: n, Protocol: '-1', RuleAction: 'allow', Egress: false, CidrBlock: '0.0.0.0/0',
    }));
    await entry(10);
    await entry(20);
    assert.equal(await errorCode(entry(30)), 'NetworkAclEntryLimitExceeded');

    const rtb = (await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }))).RouteTable!.RouteTableId!;
    assert.equal(await errorCode(ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }))), 'RouteTableLimitExceeded');
    const igw = (await ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
    await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpcId }));
    await ec2.send(new CreateRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igw }));
    assert.equal(await errorCode(ec2.send(new CreateRouteCommand({ RouteTableId: rtb, DestinationCidrBlock: '1.0.0.0/8', GatewayId: igw }))),
      'RouteLimitExceeded');
  });

  it('limits security groups per network interface at launch', async () => {
    const g1 = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'one', Description: 'one' }))).GroupId!;
    const g2 = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'two', Description: 'two' }))).GroupId!;
    const run = (SecurityGroups: string[]) =>
      ec2.send(new RunInstancesCommand({ ImageId: AMI, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, SecurityGroups }));
    assert.equal(await errorCode(run(['one', 'two', 'default'])), 'SecurityGroupsPerInstanceLimitExceeded');
    const ok = await run(['one', 'two']);
    assert.deepEqual(ok.Instances![0]!.SecurityGroups!.map((g) => g.GroupId).sort(), [g1, g2].sort());
  });
});
