/**
 * DescribeNetworkInterfaces and DescribeVolumes apply some filters to the stored records before
 * presenting anything: their answers must be exactly those of the filters on the presented
 * resources, for every value present and for wildcards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type NimbusProcess } from './support/server.js';

const AMI = 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';

describe('filters answered from stored interfaces and volumes', () => {
  let nimbus: NimbusProcess;
  before(async () => {
    nimbus = await startServer({ args: ['--sim-delay-ms', '20'] });
  });
  after(() => nimbus.dispose());

  it('gives the answers of the presented interfaces and volumes', async () => {
    const out = nimbus.boto3(`
zones = sorted(z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"])
run = ec2.run_instances(ImageId="${AMI}", InstanceType="t3.micro", MinCount=2, MaxCount=2)["Instances"]
other = ec2.run_instances(ImageId="${AMI}", InstanceType="t3.micro", MinCount=1, MaxCount=1, Placement={"AvailabilityZone": zones[1]})["Instances"]
ids = [i["InstanceId"] for i in run + other]
ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig={"Delay": 1})
# An interface of no instance (available), and a data volume attached beside a root one.
ec2.create_network_interface(SubnetId=run[0]["SubnetId"])
vol = ec2.create_volume(AvailabilityZone=run[0]["Placement"]["AvailabilityZone"], Size=1)["VolumeId"]
ec2.create_volume(AvailabilityZone=zones[2], Size=1)
ec2.get_waiter("volume_available").wait(VolumeIds=[vol], WaiterConfig={"Delay": 1})
ec2.attach_volume(VolumeId=vol, InstanceId=ids[0], Device="/dev/sdf")
ec2.get_waiter("volume_in_use").wait(VolumeIds=[vol], WaiterConfig={"Delay": 1})

att = lambda x: x.get("Attachment") or {}
cases = {
    "interfaces": (
        lambda **kw: ec2.describe_network_interfaces(**kw)["NetworkInterfaces"], "NetworkInterfaceId", {
            "attachment.attachment-id": lambda n: [att(n).get("AttachmentId")],
            "attachment.instance-id": lambda n: [att(n).get("InstanceId")],
            "availability-zone": lambda n: [n["AvailabilityZone"]],
            "network-interface-id": lambda n: [n["NetworkInterfaceId"]],
            "owner-id": lambda n: [n["OwnerId"]],
            "status": lambda n: [n["Status"]],
            "subnet-id": lambda n: [n["SubnetId"]],
            "vpc-id": lambda n: [n["VpcId"]],
        }),
    "volumes": (
        lambda **kw: ec2.describe_volumes(**kw)["Volumes"], "VolumeId", {
            "attachment.instance-id": lambda v: [a["InstanceId"] for a in v["Attachments"]],
            "availability-zone": lambda v: [v["AvailabilityZone"]],
            "volume-id": lambda v: [v["VolumeId"]],
        }),
}
wrong, checked = [], 0
for what, (describe, key, fields) in cases.items():
    every = describe()
    for name, field in fields.items():
        for value in sorted({x for item in every for x in field(item)} - {None}):
            for pattern in (value, value[:4] + "*"):
                prefix = pattern[:-1] if pattern.endswith("*") else None
                want = sorted(i[key] for i in every if any(x is not None and (x == value or (prefix and x.startswith(prefix))) for x in field(i)))
                got = sorted(i[key] for i in describe(Filters=[{"Name": name, "Values": [pattern]}]))
                checked += 1
                if got != want:
                    wrong.append([what, name, pattern, got, want])
result = {"wrong": wrong, "checked": checked}
`) as { wrong: unknown[]; checked: number };
    assert.deepEqual(out.wrong, []);
    assert.ok(out.checked > 40, `only ${out.checked} filter values checked`);
  });
});
