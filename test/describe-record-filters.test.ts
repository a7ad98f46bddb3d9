/**
 * DescribeNetworkInterfaces and DescribeVolumes apply some filters to the stored records, and their
 * tag filters to the tags index, before presenting anything: their answers must be exactly those of
 * the filters on the presented resources, for every value present and for wildcards.
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

  it('answers tag filters on interfaces and volumes as the presented tags say', async () => {
    const out = nimbus.boto3(`
from fnmatch import fnmatchcase
run = ec2.run_instances(ImageId="${AMI}", InstanceType="t3.micro", MinCount=3, MaxCount=3)["Instances"]
ids = [i["InstanceId"] for i in run]
ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig={"Delay": 1})
enis = [i["NetworkInterfaces"][0]["NetworkInterfaceId"] for i in run]
spare = ec2.create_network_interface(SubnetId=run[0]["SubnetId"])["NetworkInterface"]["NetworkInterfaceId"]
roots = [v["VolumeId"] for v in ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": ids}])["Volumes"]]
data = ec2.create_volume(AvailabilityZone=run[0]["Placement"]["AvailabilityZone"], Size=1)["VolumeId"]
tag = lambda rs, k, v: ec2.create_tags(Resources=rs, Tags=[{"Key": k, "Value": v}])
tag(enis[:2] + roots[:2], "role", "web")
tag([enis[2], roots[2]], "role", "web-db")
tag([spare, data], "role", "spare")
tag([enis[0], data], "team", "a")

def tags_of(x):
    return {t["Key"]: t["Value"] for t in x.get("TagSet", x.get("Tags", []))}
def matches(item, name, patterns):
    tags = tags_of(item)
    if name.startswith("tag:"):
        return name[4:] in tags and any(fnmatchcase(tags[name[4:]], p) for p in patterns)
    if name == "tag-key":
        return any(fnmatchcase(k, p) for k in tags for p in patterns)
    if name == "tag-value":
        return any(fnmatchcase(v, p) for v in tags.values() for p in patterns)
    return any(fnmatchcase(item[name], p) for p in patterns)
f = lambda name, *values: {"Name": name, "Values": list(values)}
zone = run[0]["Placement"]["AvailabilityZone"]
filter_sets = [
    [f("tag:role", "web")], [f("tag:role", "web", "spare")], [f("tag:role", "web*")], [f("tag:role", "*")],
    [f("tag:role", "?eb")], [f("tag:role", "*db")], [f("tag:role", "nothing")], [f("tag-key", "team")],
    [f("tag-key", "te*")], [f("tag-value", "web")], [f("tag-value", "sp*", "a")], [f("tag-value", "*db")],
    [f("tag:role", "web*"), f("tag:team", "a")], [f("tag:role", "web", "spare"), f("tag-key", "team")],
]
cases = {
    "interfaces": (lambda **kw: ec2.describe_network_interfaces(**kw)["NetworkInterfaces"], "NetworkInterfaceId"),
    "volumes": (lambda **kw: ec2.describe_volumes(**kw)["Volumes"], "VolumeId"),
}
wrong, nonempty = [], 0
for what, (describe, key) in cases.items():
    every = describe()
    for filters in filter_sets + [[f("tag:role", "web*"), f("availability-zone", zone)]]:
        field = lambda fl: fl["Name"] if fl["Name"] != "availability-zone" else "AvailabilityZone"
        want = sorted(i[key] for i in every if all(matches(i, field(fl), fl["Values"]) for fl in filters))
        got = sorted(i[key] for i in describe(Filters=filters))
        nonempty += bool(want)
        if got != want:
            wrong.append([what, filters, got, want])
result = {"wrong": wrong, "nonempty": nonempty}
`) as { wrong: unknown[]; nonempty: number };
    assert.deepEqual(out.wrong, []);
    assert.ok(out.nonempty >= 24, `only ${out.nonempty} filter sets matched anything`);
  });
});
