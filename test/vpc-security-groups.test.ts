import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AuthorizeSecurityGroupEgressCommand, AuthorizeSecurityGroupIngressCommand, CreateSecurityGroupCommand, CreateSubnetCommand,
  CreateVpcCommand, DeleteSecurityGroupCommand, DescribeInstanceAttributeCommand, DescribeSecurityGroupRulesCommand,
  DescribeInstancesCommand, DescribeSecurityGroupsCommand, ModifyInstanceAttributeCommand, ModifySecurityGroupRulesCommand, RevokeSecurityGroupIngressCommand, RunInstancesCommand, TerminateInstancesCommand,
  waitUntilInstanceTerminated, type EC2Client,
} from '@aws-sdk/client-ec2';
import { cliErrorCode, errorCode, startServer, type NimbusProcess } from './support/server.js';

const AMI = 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';

describe('security groups and their rules', () => {
  let nimbus: NimbusProcess;
  let ec2: EC2Client;
  before(async () => {
    nimbus = await startServer({ args: ['--sim-delay-ms', '50'] });
    ec2 = nimbus.ec2();
  });
  after(() => nimbus.dispose());

  it('creates groups in the default VPC or a given one, with all egress, and refuses duplicates', async () => {
    const cli = nimbus.aws(['ec2', 'create-security-group', '--group-name', 'web', '--description', 'web servers']);
    assert.equal(cli.status, 0, cli.stderr);
    const groupId = (cli.json as { GroupId: string }).GroupId;
    assert.match(groupId, /^sg-[0-9a-f]{17}$/);
    const [g] = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['web'] }))).SecurityGroups!;
    assert.equal(g!.GroupId, groupId);
    assert.equal(g!.Description, 'web servers');
    assert.deepEqual(g!.IpPermissions, []);
    assert.deepEqual(g!.IpPermissionsEgress!.map((p) => [p.IpProtocol, p.IpRanges]), [['-1', [{ CidrIp: '0.0.0.0/0' }]]]);
    const dup = nimbus.aws(['ec2', 'create-security-group', '--group-name', 'web', '--description', 'again']);
    assert.equal(cliErrorCode(dup), 'InvalidGroup.Duplicate');

    const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.7.0.0/16' }))).Vpc!.VpcId!;
    const same = await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'web', Description: 'web in vpc', VpcId: vpcId }));
    assert.notEqual(same.GroupId, groupId);
    const inVpc = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }, { Name: 'group-name', Values: ['web'] }] }));
    assert.deepEqual(inVpc.SecurityGroups!.map((x) => x.GroupId), [same.GroupId]);
    assert.equal(await errorCode(ec2.send(new CreateSecurityGroupCommand({ GroupName: 'x', Description: 'x', VpcId: 'vpc-0123456789abcdef0' }))),
      'InvalidVpcID.NotFound');
    assert.equal(await errorCode(ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: ['sg-0123456789abcdef0'] }))), 'InvalidGroup.NotFound');
    assert.equal(await errorCode(ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: ['sg-nope'] }))), 'InvalidGroupId.Malformed');
    assert.equal(await errorCode(ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['nope'] }))), 'InvalidGroup.NotFound');
  });

  it('authorizes and revokes rules by CIDR, IPv6 CIDR, group and prefix list, with rule ids', async () => {
    const web = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'rules-web', Description: 'web' }))).GroupId!;
    const lb = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'rules-lb', Description: 'lb' }))).GroupId!;
    const added = await ec2.send(new AuthorizeSecurityGroupIngressCommand({
      GroupId: web,
      IpPermissions: [
        { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'https' }], Ipv6Ranges: [{ CidrIpv6: '::/0' }] },
        { IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, UserIdGroupPairs: [{ GroupId: lb }] },
        { IpProtocol: 'udp', FromPort: 53, ToPort: 53, PrefixListIds: [{ PrefixListId: 'pl-0123456789abcdef0' }] },
      ],
    }));
    assert.equal(added.Return, true);
    assert.equal(added.SecurityGroupRules!.length, 4);
    for (const r of added.SecurityGroupRules!) assert.match(r.SecurityGroupRuleId!, /^sgr-[0-9a-f]{17}$/);

    // The old flat parameters (CLI --protocol/--port/--cidr) add one rule.
    const flat = nimbus.aws(['ec2', 'authorize-security-group-ingress', '--group-id', web, '--protocol', 'tcp', '--port', '22', '--cidr', '10.0.0.0/8']);
    assert.equal(flat.status, 0, flat.stderr);
    const dup = nimbus.aws(['ec2', 'authorize-security-group-ingress', '--group-id', web, '--protocol', 'tcp', '--port', '22', '--cidr', '10.0.0.0/8']);
    assert.equal(cliErrorCode(dup), 'InvalidPermission.Duplicate');

    const [g] = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [web] }))).SecurityGroups!;
    const https = g!.IpPermissions!.find((p) => p.FromPort === 443)!;
    assert.deepEqual(https.IpRanges, [{ CidrIp: '0.0.0.0/0', Description: 'https' }]);
    assert.deepEqual(https.Ipv6Ranges, [{ CidrIpv6: '::/0' }]);
    assert.equal(g!.IpPermissions!.find((p) => p.FromPort === 8080)!.UserIdGroupPairs![0]!.GroupId, lb);
    const byPort = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'ip-permission.from-port', Values: ['22'] }] }));
    assert.deepEqual(byPort.SecurityGroups!.map((x) => x.GroupId), [web]);
    const byGroup = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'ip-permission.group-id', Values: [lb] }] }));
    assert.deepEqual(byGroup.SecurityGroups!.map((x) => x.GroupId), [web]);

    const rules = (await ec2.send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [web] }] }))).SecurityGroupRules!;
    assert.equal(rules.length, 6); // five ingress, the default egress
    const ssh = rules.find((r) => r.FromPort === 22)!;
    assert.deepEqual([ssh.IsEgress, ssh.IpProtocol, ssh.CidrIpv4, ssh.GroupId], [false, 'tcp', '10.0.0.0/8', web]);
    const fromLb = rules.find((r) => r.ReferencedGroupInfo)!;
    assert.equal(fromLb.ReferencedGroupInfo!.GroupId, lb);
    const one = await ec2.send(new DescribeSecurityGroupRulesCommand({ SecurityGroupRuleIds: [ssh.SecurityGroupRuleId!] }));
    assert.equal(one.SecurityGroupRules!.length, 1);
    assert.equal(await errorCode(ec2.send(new DescribeSecurityGroupRulesCommand({ SecurityGroupRuleIds: ['sgr-0123456789abcdef0'] }))),
      'InvalidSecurityGroupRuleId.NotFound');
    const boto = nimbus.boto3(`
pages = ec2.get_paginator("describe_security_group_rules").paginate(Filters=[{"Name": "group-id", "Values": ["${web}"]}], PaginationConfig={"PageSize": 5})
result = [len(p["SecurityGroupRules"]) for p in pages]`);
    assert.deepEqual(boto, [5, 1]);

    await ec2.send(new ModifySecurityGroupRulesCommand({
      GroupId: web,
      SecurityGroupRules: [{ SecurityGroupRuleId: ssh.SecurityGroupRuleId!, SecurityGroupRule: { IpProtocol: 'tcp', FromPort: 2222, ToPort: 2222, CidrIpv4: '10.1.0.0/16' } }],
    }));
    const modified = (await ec2.send(new DescribeSecurityGroupRulesCommand({ SecurityGroupRuleIds: [ssh.SecurityGroupRuleId!] }))).SecurityGroupRules![0]!;
    assert.deepEqual([modified.FromPort, modified.CidrIpv4], [2222, '10.1.0.0/16']);

    await ec2.send(new RevokeSecurityGroupIngressCommand({
      GroupId: web, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
    }));
    await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: web, SecurityGroupRuleIds: [modified.SecurityGroupRuleId!] }));
    assert.equal(await errorCode(ec2.send(new RevokeSecurityGroupIngressCommand({
      GroupId: web, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
    }))), 'InvalidPermission.NotFound');
    const left = (await ec2.send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [web] }] }))).SecurityGroupRules!;
    assert.equal(left.length, 4);

    await ec2.send(new AuthorizeSecurityGroupEgressCommand({
      GroupId: web, IpPermissions: [{ IpProtocol: 'icmp', FromPort: 8, ToPort: 0, IpRanges: [{ CidrIp: '192.168.0.0/16' }] }],
    }));
    const egress = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'egress.ip-permission.protocol', Values: ['icmp'] }] }));
    assert.deepEqual(egress.SecurityGroups!.map((x) => x.GroupId), [web]);

    const bad = (p: object) => errorCode(ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: web, IpPermissions: [p] })));
    assert.equal(await bad({ IpProtocol: 'tcp', FromPort: 1, ToPort: 70000, IpRanges: [{ CidrIp: '1.2.3.0/24' }] }), 'InvalidParameterValue');
    assert.equal(await bad({ IpProtocol: 'tcp', FromPort: 1, ToPort: 2, IpRanges: [{ CidrIp: '1.2.3.0/33' }] }), 'InvalidParameterValue');
    assert.equal(await bad({ IpProtocol: 'bogus', IpRanges: [{ CidrIp: '1.2.3.0/24' }] }), 'InvalidParameterValue');
    assert.equal(await bad({ IpProtocol: 'tcp', FromPort: 1, ToPort: 2, UserIdGroupPairs: [{ GroupId: 'sg-0123456789abcdef0' }] }), 'InvalidGroup.NotFound');
    assert.equal(await errorCode(ec2.send(new AuthorizeSecurityGroupIngressCommand({
      GroupId: 'sg-0123456789abcdef0', IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '1.2.3.0/24' }] }],
    }))), 'InvalidGroup.NotFound');

    // lb is referenced by web's rule: it cannot go until the rule does.
    assert.equal(await errorCode(ec2.send(new DeleteSecurityGroupCommand({ GroupId: lb }))), 'DependencyViolation');
    await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: web, SecurityGroupRuleIds: [fromLb.SecurityGroupRuleId!] }));
    await ec2.send(new DeleteSecurityGroupCommand({ GroupId: lb }));
  });

  it('launches into groups by id or name, and protects groups in use and the default group', async () => {
    const app = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'launch-app', Description: 'app' }))).GroupId!;
    const run = (extra: object) => ec2.send(new RunInstancesCommand({ ImageId: AMI, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, ...extra }));
    const byName = (await run({ SecurityGroups: ['launch-app', 'default'] })).Instances![0]!;
    assert.deepEqual(byName.SecurityGroups!.map((g) => g.GroupName).sort(), ['default', 'launch-app']);
    assert.ok(byName.SecurityGroups!.some((g) => g.GroupId === app && g.GroupName === 'launch-app'));
    const byId = (await run({ SecurityGroupIds: [app] })).Instances![0]!;
    assert.deepEqual(byId.SecurityGroups!.map((g) => g.GroupId), [app]);
    assert.equal(await errorCode(run({ SecurityGroupIds: ['sg-0123456789abcdef0'] })), 'InvalidGroup.NotFound');
    assert.equal(await errorCode(run({ SecurityGroups: ['no-such-group'] })), 'InvalidGroup.NotFound');

    // A group of another VPC does not fit a default subnet; a custom VPC's subnet takes its own groups.
    const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.8.0.0/16' }))).Vpc!.VpcId!;
    const subnet = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.8.0.0/24' }))).Subnet!.SubnetId!;
    const other = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'other', Description: 'other', VpcId: vpcId }))).GroupId!;
    assert.equal(await errorCode(run({ SecurityGroupIds: [other] })), 'InvalidParameterValue');
    const custom = (await run({ SubnetId: subnet, SecurityGroupIds: [other] })).Instances![0]!;
    assert.deepEqual([custom.VpcId, custom.SecurityGroups![0]!.GroupId], [vpcId, other]);

    assert.equal(await errorCode(ec2.send(new DeleteSecurityGroupCommand({ GroupId: app }))), 'DependencyViolation');
    const [def] = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['default'] }))).SecurityGroups!;
    assert.equal(await errorCode(ec2.send(new DeleteSecurityGroupCommand({ GroupId: def!.GroupId! }))), 'CannotDelete');
    assert.equal(await errorCode(ec2.send(new DeleteSecurityGroupCommand({ GroupName: 'default' }))), 'CannotDelete');

    // ModifyInstanceAttribute's groupSet: groups of the instance's own VPC, by id.
    const modify = (Groups: string[]) => ec2.send(new ModifyInstanceAttributeCommand({ InstanceId: custom.InstanceId!, Groups }));
    const mine = (await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'mine', Description: 'mine', VpcId: vpcId }))).GroupId!;
    await modify([mine]);
    const groupSet = async () => (await ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: custom.InstanceId!, Attribute: 'groupSet' })))
      .Groups!.map((g) => g.GroupId);
    assert.deepEqual(await groupSet(), [mine]);
    const described = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [custom.InstanceId!] }))).Reservations![0]!.Instances![0]!;
    assert.deepEqual(described.SecurityGroups, [{ GroupId: mine, GroupName: 'mine' }]);
    const groupsCli = nimbus.aws(['ec2', 'modify-instance-attribute', '--instance-id', custom.InstanceId!, '--groups', mine, other]);
    assert.equal(groupsCli.status, 0, groupsCli.stderr);
    assert.deepEqual((await groupSet()).sort(), [mine, other].sort());
    assert.equal(await errorCode(modify(['sg-0123456789abcdef0'])), 'InvalidGroup.NotFound');
    assert.equal(await errorCode(modify([app])), 'InvalidGroup.NotFound'); // the default VPC's, not this one's
    assert.equal(await errorCode(modify(['sg-nothex'])), 'InvalidGroupId.Malformed');
    const six = [mine, other];
    for (let i = 0; i < 4; i++) {
      six.push((await ec2.send(new CreateSecurityGroupCommand({ GroupName: `extra-${i}`, Description: 'x', VpcId: vpcId }))).GroupId!);
    }
    assert.equal(await errorCode(modify(six)), 'SecurityGroupsPerInstanceLimitExceeded');
    assert.deepEqual((await groupSet()).sort(), [mine, other].sort());
    for (const id of six.slice(2)) await ec2.send(new DeleteSecurityGroupCommand({ GroupId: id }));

    const ids = [byName.InstanceId!, byId.InstanceId!, custom.InstanceId!];
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
    await waitUntilInstanceTerminated({ client: ec2, maxWaitTime: 20, minDelay: 0.1, maxDelay: 0.2 }, { InstanceIds: ids });
    await ec2.send(new DeleteSecurityGroupCommand({ GroupName: 'launch-app' }));
    assert.equal(await errorCode(ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [app] }))), 'InvalidGroup.NotFound');
    await ec2.send(new DeleteSecurityGroupCommand({ GroupId: other }));
    await ec2.send(new DeleteSecurityGroupCommand({ GroupId: mine }));
  });
});
