import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DescribeInstancesCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { cliErrorCode, errorCode, startServer, type NimbusProcess } from './support/server.js';

const AMI = 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';

interface CliInstance {
  InstanceId: string;
  ImageId: string;
  InstanceType: string;
  KeyName?: string;
  Placement: { AvailabilityZone: string; Tenancy: string };
  PrivateIpAddress: string;
  PrivateDnsName: string;
  PublicIpAddress?: string;
  SubnetId: string;
  VpcId: string;
  Monitoring: { State: string };
  MetadataOptions: { HttpTokens: string; HttpPutResponseHopLimit: number; HttpEndpoint: string; State: string };
  EbsOptimized: boolean;
  IamInstanceProfile?: { Arn: string };
  BlockDeviceMappings: { DeviceName: string; Ebs: { VolumeId: string } }[];
  NetworkInterfaces: { NetworkInterfaceId: string; MacAddress: string; Attachment: { DeviceIndex: number } }[];
  SecurityGroups: { GroupName: string; GroupId: string }[];
  Tags?: { Key: string; Value: string }[];
  RootDeviceName: string;
  PlatformDetails: string;
  CpuOptions: { CoreCount: number; ThreadsPerCore: number };
  AmiLaunchIndex: number;
}

describe('RunInstances and DescribeInstances through the AWS CLI and boto3', () => {
  let nimbus: NimbusProcess;
  let webIds: string[] = [];
  before(async () => {
    nimbus = await startServer({ args: ['--sim-delay-ms', '50'] });
  });
  after(() => nimbus.dispose());

  it('launches with the options the CLI passes, and records them', () => {
    const key = nimbus.aws(['ec2', 'create-key-pair', '--key-name', 'deployer']);
    assert.equal(key.status, 0, key.stderr);
    // The launch names an instance profile, which must exist.
    const profile = nimbus.aws(['iam', 'create-instance-profile', '--instance-profile-name', 'web-role']);
    assert.equal(profile.status, 0, profile.stderr);
    const r = nimbus.aws([
      'ec2', 'run-instances', '--image-id', AMI, '--instance-type', 't3.micro', '--count', '2',
      '--key-name', 'deployer', '--placement', 'AvailabilityZone=us-east-1b', '--security-groups', 'default',
      '--user-data', 'echo hello', '--monitoring', 'Enabled=true', '--credit-specification', 'CpuCredits=standard',
      '--metadata-options', 'HttpTokens=required,HttpPutResponseHopLimit=3', '--ebs-optimized',
      '--iam-instance-profile', 'Name=web-role', '--instance-initiated-shutdown-behavior', 'terminate',
      '--tag-specifications', 'ResourceType=instance,Tags=[{Key=Name,Value=web},{Key=team,Value=blue}]',
      'ResourceType=volume,Tags=[{Key=Name,Value=web-root}]',
    ]);
    assert.equal(r.status, 0, r.stderr);
    const res = r.json as { ReservationId: string; OwnerId: string; Instances: CliInstance[] };
    assert.match(res.ReservationId, /^r-[0-9a-f]{17}$/);
    assert.equal(res.OwnerId, '000000000000');
    assert.equal(res.Instances.length, 2);
    assert.deepEqual(res.Instances.map((i) => i.AmiLaunchIndex), [0, 1]);
    const [i] = res.Instances as [CliInstance];
    assert.match(i.ImageId, /^ami-[0-9a-f]{17}$/);
    assert.equal(i.KeyName, 'deployer');
    assert.equal(i.Placement.AvailabilityZone, 'us-east-1b');
    assert.equal(i.Placement.Tenancy, 'default');
    assert.match(i.PrivateIpAddress, /^172\.31\.(1[6-9]|2\d|3[01])\.\d+$/, 'an address of us-east-1b\'s default subnet');
    assert.equal(i.PrivateDnsName, `ip-${i.PrivateIpAddress.replaceAll('.', '-')}.ec2.internal`);
    assert.match(i.PublicIpAddress!, /^198\.1[89]\./);
    assert.match(i.SubnetId, /^subnet-/);
    assert.match(i.VpcId, /^vpc-/);
    assert.equal(i.Monitoring.State, 'enabled');
    assert.deepEqual(
      { t: i.MetadataOptions.HttpTokens, h: i.MetadataOptions.HttpPutResponseHopLimit, e: i.MetadataOptions.HttpEndpoint },
      { t: 'required', h: 3, e: 'enabled' },
    );
    assert.equal(i.EbsOptimized, true);
    assert.equal(i.IamInstanceProfile?.Arn, 'arn:aws:iam::000000000000:instance-profile/web-role');
    assert.equal(i.BlockDeviceMappings[0]!.DeviceName, i.RootDeviceName);
    assert.match(i.BlockDeviceMappings[0]!.Ebs.VolumeId, /^vol-[0-9a-f]{17}$/);
    assert.match(i.NetworkInterfaces[0]!.NetworkInterfaceId, /^eni-[0-9a-f]{17}$/);
    assert.match(i.NetworkInterfaces[0]!.MacAddress, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    assert.equal(i.SecurityGroups[0]!.GroupName, 'default');
    assert.equal(i.PlatformDetails, 'Linux/UNIX');
    assert.deepEqual(i.CpuOptions, { CoreCount: 1, ThreadsPerCore: 2 });
    assert.deepEqual(i.Tags, [{ Key: 'Name', Value: 'web' }, { Key: 'team', Value: 'blue' }]);
    webIds = res.Instances.map((x) => x.InstanceId);

    const ud = nimbus.aws(['ec2', 'describe-instance-attribute', '--instance-id', i.InstanceId, '--attribute', 'userData']);
    assert.equal(Buffer.from((ud.json as { UserData: { Value: string } }).UserData.Value, 'base64').toString(), 'echo hello');
    const sd = nimbus.aws(['ec2', 'describe-instance-attribute', '--instance-id', i.InstanceId, '--attribute', 'instanceInitiatedShutdownBehavior']);
    assert.equal((sd.json as { InstanceInitiatedShutdownBehavior: { Value: string } }).InstanceInitiatedShutdownBehavior.Value, 'terminate');
  });

  it('filters instances as EC2 does', () => {
    const out = nimbus.boto3(`
subnet = ec2.describe_instances(InstanceIds=["${webIds[0]}"])["Reservations"][0]["Instances"][0]["SubnetId"]
other = ec2.run_instances(ImageId="${AMI}", InstanceType="t3.small", MinCount=1, MaxCount=1, SubnetId=subnet,
    PrivateIpAddress="172.31.20.99", TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "db"}]}])["Instances"][0]
def ids(filters):
    return sorted(i["InstanceId"] for r in ec2.describe_instances(Filters=filters)["Reservations"] for i in r["Instances"])
def f(name, *values):
    return {"Name": name, "Values": list(values)}
reservation = ec2.describe_instances(InstanceIds=["${webIds[0]}"])["Reservations"][0]["ReservationId"]
queries = {
    "tag": [f("tag:Name", "web")], "tag-wildcard": [f("tag:Name", "w*")], "tag-key": [f("tag-key", "team")],
    "tag-value": [f("tag-value", "db")], "type": [f("instance-type", "t3.small")],
    "private-ip": [f("private-ip-address", "172.31.20.99")], "key": [f("key-name", "deployer")],
    "zone": [f("availability-zone", "us-east-1b")], "launch-index": [f("launch-index", "1")],
    "eni": [f("network-interface.network-interface-id", other["NetworkInterfaces"][0]["NetworkInterfaceId"])],
    "image-and-tag": [f("image-id", other["ImageId"]), f("tag:Name", "db", "web")],
    "arch-owner": [f("architecture", "x86_64"), f("owner-id", "000000000000")],
    "tenancy-platform": [f("tenancy", "default"), f("platform-details", "Linux/UNIX")],
    "live": [f("instance-state-name", "pending", "running")], "stopped": [f("instance-state-code", "80")],
    "spot": [f("instance-lifecycle", "spot")], "reservation": [f("reservation-id", reservation)],
    "subnet-vpc": [f("subnet-id", subnet), f("vpc-id", other["VpcId"])],
    "dns": [f("private-dns-name", other["PrivateDnsName"])], "public-ip": [f("ip-address", other["PublicIpAddress"])],
}
result = {"other": other["InstanceId"], "ids": {k: ids(v) for k, v in queries.items()}}
try:
    ec2.run_instances(ImageId="${AMI}", MinCount=1, MaxCount=1, InstanceType="t3.micro", SubnetId=subnet, PrivateIpAddress="172.31.20.99")
    result["taken"] = "launched"
except botocore.exceptions.ClientError as e:
    result["taken"] = e.response["Error"]["Code"]
`) as { other: string; ids: Record<string, string[]>; taken: string };
    const web = [...webIds].sort();
    const all = [...web, out.other].sort();
    assert.deepEqual(out.ids, {
      'tag': web, 'tag-wildcard': web, 'tag-key': web, 'tag-value': [out.other], 'type': [out.other], 'private-ip': [out.other],
      'key': web, 'zone': all, 'launch-index': [webIds[1]], 'eni': [out.other], 'image-and-tag': all, 'arch-owner': all,
      'tenancy-platform': all, 'live': all, 'stopped': [], 'spot': [], 'reservation': web, 'subnet-vpc': all,
      'dns': [out.other], 'public-ip': [out.other],
    });
    assert.equal(out.taken, 'InvalidIPAddress.InUse');
    const bad = nimbus.aws(['ec2', 'describe-instances', '--filters', 'Name=flavour,Values=x']);
    assert.equal(cliErrorCode(bad), 'InvalidParameterValue');
  });

  it('checks user data: base64 and at most 16 KB', async () => {
    const ec2 = nimbus.ec2();
    const tooBig = nimbus.boto3(`
try:
    ec2.run_instances(ImageId="${AMI}", MinCount=1, MaxCount=1, UserData="x" * 16385)
    result = "launched"
except botocore.exceptions.ClientError as e:
    result = [e.response["Error"]["Code"], e.response["Error"]["Message"]]
`) as [string, string];
    assert.deepEqual(tooBig, ['InvalidParameterValue', 'User data is limited to 16384 bytes']);
    const notBase64 = ec2.send(new RunInstancesCommand({ ImageId: AMI, MinCount: 1, MaxCount: 1, UserData: 'this is not base64!' }));
    assert.equal(await errorCode(notBase64), 'InvalidParameterValue');
    const exact = await ec2.send(new RunInstancesCommand({
      ImageId: AMI, MinCount: 1, MaxCount: 1, InstanceType: 't3.micro', UserData: Buffer.alloc(16384, 'y').toString('base64'),
    }));
    assert.equal(exact.Instances!.length, 1);
  });

  it('answers malformed and unknown ids with EC2\'s codes', async () => {
    assert.equal(cliErrorCode(nimbus.aws(['ec2', 'describe-instances', '--instance-ids', 'i-nothex'])), 'InvalidInstanceID.Malformed');
    const unknown = nimbus.aws(['ec2', 'describe-instances', '--instance-ids', 'i-0123456789abcdef0', 'i-0123456789abcdef1']);
    assert.equal(cliErrorCode(unknown), 'InvalidInstanceID.NotFound');
    assert.match(unknown.stderr, /i-0123456789abcdef0, i-0123456789abcdef1/);
    const codes = nimbus.boto3(`
subnet_b = ec2.describe_instances(InstanceIds=["${webIds[0]}"])["Reservations"][0]["Instances"][0]["SubnetId"]
cases = {
    "stop-unknown": lambda: ec2.stop_instances(InstanceIds=["i-0123456789abcdef0"]),
    "ami-malformed": lambda: run(ImageId="not-an-ami"),
    "ami-unknown": lambda: run(ImageId="ami-0123456789abcdef0"),
    "type": lambda: run(InstanceType="q9.mega"),
    "key": lambda: run(KeyName="nobody"),
    "subnet-unknown": lambda: run(SubnetId="subnet-0123456789abcdef0"),
    "subnet-malformed": lambda: run(SubnetId="bogus"),
    "group-id": lambda: run(SecurityGroupIds=["sg-0123456789abcdef0"]),
    "group-name": lambda: run(SecurityGroups=["web"]),
    "zone": lambda: run(Placement={"AvailabilityZone": "us-east-1z"}),
    "zone-conflict": lambda: run(SubnetId=subnet_b, Placement={"AvailabilityZone": "us-east-1a"}),
    "tag-type": lambda: run(TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "a", "Value": "b"}]}]),
    "hop-limit": lambda: run(MetadataOptions={"HttpPutResponseHopLimit": 65}),
    "credits": lambda: run(InstanceType="m5.large", CreditSpecification={"CpuCredits": "unlimited"}),
    "ssm-unknown": lambda: run(ImageId="resolve:ssm:/aws/service/nothing/here"),
}
def run(**kw):
    args = {"ImageId": "${AMI}", "MinCount": 1, "MaxCount": 1, "InstanceType": "t3.micro", **kw}
    return ec2.run_instances(**args)
result = {}
for name, call in cases.items():
    try:
        call()
        result[name] = "ok"
    except botocore.exceptions.ClientError as e:
        result[name] = e.response["Error"]["Code"]
`);
    assert.deepEqual(codes, {
      'stop-unknown': 'InvalidInstanceID.NotFound', 'ami-malformed': 'InvalidAMIID.Malformed', 'ami-unknown': 'InvalidAMIID.NotFound',
      'type': 'InvalidParameterValue', 'key': 'InvalidKeyPair.NotFound', 'subnet-unknown': 'InvalidSubnetID.NotFound',
      'subnet-malformed': 'InvalidSubnetID.Malformed', 'group-id': 'InvalidGroup.NotFound', 'group-name': 'InvalidGroup.NotFound',
      'zone': 'InvalidParameterValue', 'zone-conflict': 'InvalidParameterValue', 'tag-type': 'InvalidParameterValue',
      'hop-limit': 'InvalidParameterValue', 'credits': 'InvalidParameterCombination', 'ssm-unknown': 'InvalidParameterValue',
    });
  });

  it('pages with MaxResults and NextToken', () => {
    const r = nimbus.boto3(`
ec2.run_instances(ImageId="${AMI}", InstanceType="t3.micro", MinCount=4, MaxCount=4)
pages = []
kwargs = {"MaxResults": 5}
while True:
    page = ec2.describe_instances(**kwargs)
    pages.append(sum(len(r["Instances"]) for r in page["Reservations"]))
    if not page.get("NextToken"):
        break
    kwargs["NextToken"] = page["NextToken"]
total = sum(len(r["Instances"]) for r in ec2.describe_instances()["Reservations"])
errors = []
for kw in [{"MaxResults": 4}, {"MaxResults": 5, "InstanceIds": ["${webIds[0]}"]}, {"NextToken": "garbage"}]:
    try:
        ec2.describe_instances(**kw)
        errors.append("ok")
    except botocore.exceptions.ClientError as e:
        errors.append(e.response["Error"]["Code"])
result = {"pages": pages, "total": total, "errors": errors}
`) as { pages: number[]; total: number; errors: string[] };
    assert.ok(r.total > 5);
    assert.ok(r.pages.length >= 2);
    assert.ok(r.pages.every((n) => n <= 5));
    assert.equal(r.pages.reduce((a, b) => a + b, 0), r.total);
    assert.deepEqual(r.errors, ['InvalidParameterValue', 'InvalidParameterCombination', 'InvalidPaginationToken']);
  });

  it('is idempotent on ClientToken', async () => {
    const ec2 = nimbus.ec2();
    const count = async () => (await ec2.send(new DescribeInstancesCommand({}))).Reservations!.flatMap((r) => r.Instances!).length;
    const before = await count();
    const params = { ImageId: AMI, InstanceType: 't3.micro' as const, MinCount: 1, MaxCount: 1, ClientToken: 'launch-once-42' };
    const first = await ec2.send(new RunInstancesCommand(params));
    const second = await ec2.send(new RunInstancesCommand(params));
    assert.equal(second.ReservationId, first.ReservationId);
    assert.equal(second.Instances![0]!.InstanceId, first.Instances![0]!.InstanceId);
    assert.equal(first.Instances![0]!.ClientToken, 'launch-once-42');
    assert.equal(await count(), before + 1);
    const mismatch = ec2.send(new RunInstancesCommand({ ...params, InstanceType: 't3.small' }));
    assert.equal(await errorCode(mismatch), 'IdempotentParameterMismatch');
  });

  it('creates nothing on DryRun', async () => {
    const ec2 = nimbus.ec2();
    const count = async () => (await ec2.send(new DescribeInstancesCommand({}))).Reservations!.flatMap((r) => r.Instances!).length;
    const before = await count();
    const r = nimbus.aws(['ec2', 'run-instances', '--image-id', AMI, '--count', '1', '--dry-run']);
    assert.equal(cliErrorCode(r), 'DryRunOperation');
    assert.equal(cliErrorCode(nimbus.aws(['ec2', 'terminate-instances', '--instance-ids', webIds[0]!, '--dry-run'])), 'DryRunOperation');
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(await count(), before);
    const web = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [webIds[0]!] }));
    assert.notEqual(web.Reservations![0]!.Instances![0]!.State!.Name, 'shutting-down');
  });
});
