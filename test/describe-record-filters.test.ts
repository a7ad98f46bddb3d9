/**
 * DescribeInstances, DescribeNetworkInterfaces and DescribeVolumes apply some filters to the stored
 * records, and their tag filters to the tags index, before presenting anything: their answers must
 * be exactly those of the filters on the presented resources, for every value present and for
 * wildcards.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type NimbusProcess } from './support/server.js';

const AMI = 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';

describe('filters answered from stored instances, interfaces and volumes', () => {
  let nimbus: NimbusProcess;
  before(async () => {
    nimbus = await startServer({ args: ['--sim-delay-ms', '20'] });
  });
  after(() => nimbus.dispose());

  it('gives the answers of the presented instances, interfaces and volumes', async () => {
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
# A second address and a description on one interface; an instance launched and terminated (it
# shows neither devices, addresses nor interfaces); an encrypted gp3 volume.
ec2.assign_private_ip_addresses(NetworkInterfaceId=run[1]["NetworkInterfaces"][0]["NetworkInterfaceId"], SecondaryPrivateIpAddressCount=1)
ec2.modify_network_interface_attribute(NetworkInterfaceId=run[1]["NetworkInterfaces"][0]["NetworkInterfaceId"], Description={"Value": "second"})
gone = ec2.run_instances(ImageId="${AMI}", InstanceType="t3.small", MinCount=1, MaxCount=1, ClientToken="gone-1")["Instances"][0]["InstanceId"]
ec2.terminate_instances(InstanceIds=[gone])
ec2.get_waiter("instance_terminated").wait(InstanceIds=[gone], WaiterConfig={"Delay": 1})
gp3 = ec2.create_volume(AvailabilityZone=zones[0], Size=2, VolumeType="gp3", Encrypted=True)["VolumeId"]
ec2.get_waiter("volume_available").wait(VolumeIds=[gp3], WaiterConfig={"Delay": 1})

def text(x):
    return None if x is None else ("true" if x is True else "false" if x is False else str(x))
def texts(xs):
    return [text(x) for x in xs]
att = lambda x: x.get("Attachment") or {}
nics = lambda i: i.get("NetworkInterfaces", [])
addrs = lambda n: n.get("PrivateIpAddresses", [])
devices = lambda i: i.get("BlockDeviceMappings", [])
def primary_nic(i):
    return [n for n in nics(i) if n["Attachment"]["DeviceIndex"] == 0]
cases = {
    "instances": (
        lambda **kw: [i for r in ec2.describe_instances(**kw)["Reservations"] for i in r["Instances"]], "InstanceId", {
            "block-device-mapping.delete-on-termination": lambda i: texts(d["Ebs"]["DeleteOnTermination"] for d in devices(i)),
            "block-device-mapping.device-name": lambda i: [d["DeviceName"] for d in devices(i)],
            "block-device-mapping.status": lambda i: [d["Ebs"]["Status"] for d in devices(i)],
            "block-device-mapping.volume-id": lambda i: [d["Ebs"]["VolumeId"] for d in devices(i)],
            "client-token": lambda i: [i.get("ClientToken")],
            "ebs-optimized": lambda i: [text(i.get("EbsOptimized"))],
            "ena-support": lambda i: [text(i.get("EnaSupport"))],
            "hypervisor": lambda i: [i.get("Hypervisor")],
            "instance-state-name": lambda i: [i["State"]["Name"]],
            "ip-address": lambda i: [i.get("PublicIpAddress")],
            "launch-index": lambda i: [text(i.get("AmiLaunchIndex"))],
            "metadata-options.http-tokens": lambda i: [i["MetadataOptions"].get("HttpTokens")],
            "monitoring-state": lambda i: [i["Monitoring"]["State"]],
            "network-interface.addresses.association.public-ip": lambda i: [(a.get("Association") or {}).get("PublicIp") for n in nics(i) for a in addrs(n)],
            "network-interface.association.public-ip": lambda i: [(n.get("Association") or {}).get("PublicIp") for n in nics(i)],
            "placement-group-name": lambda i: [i["Placement"].get("GroupName")],
            "platform-details": lambda i: [i.get("PlatformDetails")],
            "private-dns-name": lambda i: [i.get("PrivateDnsName")],
            "private-ip-address": lambda i: [i.get("PrivateIpAddress")],
            "reason": lambda i: [i.get("StateTransitionReason")],
            "root-device-name": lambda i: [i.get("RootDeviceName")],
            "root-device-type": lambda i: [i.get("RootDeviceType")],
            "source-dest-check": lambda i: [text(i.get("SourceDestCheck"))],
            "state-reason-code": lambda i: [(i.get("StateReason") or {}).get("Code")],
            "tenancy": lambda i: [i["Placement"].get("Tenancy")],
            "usage-operation": lambda i: [i.get("UsageOperation")],
            "virtualization-type": lambda i: [i.get("VirtualizationType")],
        }),
    "interfaces": (
        lambda **kw: ec2.describe_network_interfaces(**kw)["NetworkInterfaces"], "NetworkInterfaceId", {
            "addresses.association.owner-id": lambda n: [(a.get("Association") or {}).get("IpOwnerId") for a in addrs(n)],
            "addresses.association.public-ip": lambda n: [(a.get("Association") or {}).get("PublicIp") for a in addrs(n)],
            "addresses.primary": lambda n: texts(a["Primary"] for a in addrs(n)),
            "addresses.private-ip-address": lambda n: [a["PrivateIpAddress"] for a in addrs(n)],
            "association.ip-owner-id": lambda n: [(n.get("Association") or {}).get("IpOwnerId")],
            "association.public-ip": lambda n: [(n.get("Association") or {}).get("PublicIp")],
            "attachment.attachment-id": lambda n: [att(n).get("AttachmentId")],
            "attachment.delete-on-termination": lambda n: [text(att(n).get("DeleteOnTermination"))],
            "attachment.device-index": lambda n: [text(att(n).get("DeviceIndex"))],
            "attachment.instance-id": lambda n: [att(n).get("InstanceId")],
            "attachment.instance-owner-id": lambda n: [att(n).get("InstanceOwnerId")],
            "availability-zone": lambda n: [n["AvailabilityZone"]],
            "description": lambda n: [n.get("Description")],
            "group-id": lambda n: [g["GroupId"] for g in n.get("Groups", [])],
            "group-name": lambda n: [g["GroupName"] for g in n.get("Groups", [])],
            "mac-address": lambda n: [n["MacAddress"]],
            "network-interface-id": lambda n: [n["NetworkInterfaceId"]],
            "owner-id": lambda n: [n["OwnerId"]],
            "private-ip-address": lambda n: [n["PrivateIpAddress"]],
            "source-dest-check": lambda n: [text(n.get("SourceDestCheck"))],
            "status": lambda n: [n["Status"]],
            "subnet-id": lambda n: [n["SubnetId"]],
            "vpc-id": lambda n: [n["VpcId"]],
        }),
    "volumes": (
        lambda **kw: ec2.describe_volumes(**kw)["Volumes"], "VolumeId", {
            "attachment.device": lambda v: [a["Device"] for a in v["Attachments"]],
            "attachment.instance-id": lambda v: [a["InstanceId"] for a in v["Attachments"]],
            "availability-zone": lambda v: [v["AvailabilityZone"]],
            "encrypted": lambda v: [text(v["Encrypted"])],
            "iops": lambda v: [text(v.get("Iops"))],
            "multi-attach-enabled": lambda v: [text(v.get("MultiAttachEnabled"))],
            "size": lambda v: [text(v["Size"])],
            "snapshot-id": lambda v: [v.get("SnapshotId")],
            "status": lambda v: [v["State"]],
            "throughput": lambda v: [text(v.get("Throughput"))],
            "volume-id": lambda v: [v["VolumeId"]],
            "volume-type": lambda v: [v["VolumeType"]],
        }),
}
wrong, checked = [], 0
for what, (describe, key, fields) in cases.items():
    every = describe()
    for name, field in fields.items():
        for value in sorted({x for item in every for x in field(item)} - {None, ""}):
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
    assert.ok(out.checked > 200, `only ${out.checked} filter values checked`);
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
    [f("tag-key", "te*")], [f("tag-key", "*m")], [f("tag-key", "?ole", "x*")], [f("tag-value", "web")], [f("tag-value", "sp*", "a")], [f("tag-value", "*db")],
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
