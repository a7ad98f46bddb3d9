/**
 * DescribeInstances answers filters on tags and ids from the store's indexes (not by reading every
 * instance): the answers must be exactly those of the filters' plain semantics, including when
 * indexed and unindexed filters are combined, values are ORed, and a tag value's wildcards narrow
 * to the values that begin with its text before the first one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type NimbusProcess } from './support/server.js';

const AMI = 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';

describe('DescribeInstances filters answered from indexes', () => {
  let nimbus: NimbusProcess;
  before(async () => {
    nimbus = await startServer({ args: ['--sim-delay-ms', '20'] });
  });
  after(() => nimbus.dispose());

  it('gives the same answers as the filters say, alone and combined', async () => {
    const out = nimbus.boto3(`
def launch(count, tags, itype="t3.micro"):
    spec = [{"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}] if tags else []
    r = ec2.run_instances(ImageId="${AMI}", InstanceType=itype, MinCount=count, MaxCount=count, TagSpecifications=spec)
    return sorted(i["InstanceId"] for i in r["Instances"])
web = launch(3, {"role": "web", "team": "a"})
db = launch(2, {"role": "db", "team": "b"}, "t3.small")
bare = launch(2, {})
gone = launch(1, {"role": "web", "team": "c"})
star = launch(1, {"role": "w*x"})
rocket = launch(1, {"role": "\\U0001F680\\U0001F680x"})
ec2.terminate_instances(InstanceIds=gone)
def ids(*filters):
    return sorted(i["InstanceId"] for r in ec2.describe_instances(Filters=list(filters))["Reservations"] for i in r["Instances"])
def f(name, *values):
    return {"Name": name, "Values": list(values)}
result = {
    "web": web, "db": db, "bare": bare, "gone": gone, "star": star, "rocket": rocket,
    "role-web": ids(f("tag:role", "web")),
    "role-web-or-db": ids(f("tag:role", "web", "db")),
    "role-and-team": ids(f("tag:role", "web"), f("tag:team", "a")),
    "disjoint-tags": ids(f("tag:role", "web"), f("tag:team", "b")),
    "tag-and-type": ids(f("tag:role", "web", "db"), f("instance-type", "t3.small")),
    "tag-key": ids(f("tag-key", "team", "nothing")),
    "tag-key-wildcard": ids(f("tag-key", "te*")),
    "tag-key-one-character": ids(f("tag-key", "r?le", "nothing*")),
    "tag-key-any": ids(f("tag-key", "*")),
    "by-id-filter": ids(f("instance-id", web[0], bare[1], "i-0123456789abcdef0")),
    "id-and-tag": ids(f("instance-id", web[0], db[0]), f("tag:role", "db")),
    "wildcard": ids(f("tag:role", "w*")),
    "escaped": ids(f("tag:role", "w\\\\eb")),
    "suffix": ids(f("tag:role", "*b")),
    "one-character": ids(f("tag:role", "d?")),
    "literal-star": ids(f("tag:role", "w\\\\*x")),
    "wildcards-ored": ids(f("tag:role", "d*", "w\\\\*?")),
    "wildcard-and-exact": ids(f("tag:role", "web", "?b")),
    "beyond-the-bmp": ids(f("tag:role", "\\U0001F680*")),
    "wildcard-and-type": ids(f("tag:role", "*"), f("instance-type", "t3.small")),
    "tag-value": ids(f("tag-value", "web")),
    "tag-value-wildcard": ids(f("tag-value", "w*", "b")),
    "missing-tag": ids(f("tag:role", "nobody")),
}
`) as Record<string, string[]>;
    const sorted = (...lists: string[][]) => lists.flat().sort();
    assert.deepEqual(out['role-web'], sorted(out.web!, out.gone!), 'a terminated instance stays visible to filters');
    assert.deepEqual(out['role-web-or-db'], sorted(out.web!, out.db!, out.gone!));
    assert.deepEqual(out['role-and-team'], out.web);
    assert.deepEqual(out['disjoint-tags'], []);
    assert.deepEqual(out['tag-and-type'], out.db);
    assert.deepEqual(out['tag-key'], sorted(out.web!, out.db!, out.gone!));
    assert.deepEqual(out['tag-key-wildcard'], sorted(out.web!, out.db!, out.gone!));
    assert.deepEqual(out['tag-key-one-character'], sorted(out.web!, out.db!, out.gone!, out.star!, out.rocket!));
    assert.deepEqual(out['tag-key-any'], sorted(out.web!, out.db!, out.gone!, out.star!, out.rocket!), 'untagged instances have no key');
    assert.deepEqual(out['by-id-filter'], sorted([out.web![0]!], [out.bare![1]!]), 'an unknown id in the filter matches nothing');
    assert.deepEqual(out['id-and-tag'], [out.db![0]]);
    assert.deepEqual(out.wildcard, sorted(out.web!, out.gone!, out.star!));
    assert.deepEqual(out.suffix, sorted(out.web!, out.db!, out.gone!));
    assert.deepEqual(out['one-character'], out.db);
    assert.deepEqual(out['literal-star'], out.star, 'an escaped * matches only itself');
    assert.deepEqual(out['wildcards-ored'], sorted(out.db!, out.star!));
    assert.deepEqual(out['wildcard-and-exact'], sorted(out.web!, out.db!, out.gone!));
    assert.deepEqual(out['beyond-the-bmp'], out.rocket);
    assert.deepEqual(out['wildcard-and-type'], out.db);
    assert.deepEqual(out['tag-value'], sorted(out.web!, out.gone!));
    assert.deepEqual(out['tag-value-wildcard'], sorted(out.web!, out.gone!, out.star!, out.db!), 'any key: team=b matches b');
    assert.deepEqual(out.escaped, sorted(out.web!, out.gone!), 'an escaped character matches itself');
    assert.deepEqual(out['missing-tag'], []);
  });

  it('answers the filters it applies to stored records as the presented instances would', async () => {
    // Each filter value seen in the presented instances, and a wildcard of it: the server's answer
    // must be the instances whose presented form carries it (a terminated one shows no VPC, subnet
    // or private address).
    const out = nimbus.boto3(`
ec2.create_key_pair(KeyName="filters")
zones = sorted(z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"])
def launch(count, **kw):
    return [i["InstanceId"] for i in ec2.run_instances(ImageId="${AMI}", MinCount=count, MaxCount=count, **kw)["Instances"]]
launch(2, InstanceType="t3.micro", KeyName="filters")
launch(1, InstanceType="t3.small", Placement={"AvailabilityZone": zones[1]})
gone = launch(1, InstanceType="t3.micro")
ec2.terminate_instances(InstanceIds=gone)
ec2.get_waiter("instance_terminated").wait(InstanceIds=gone, WaiterConfig={"Delay": 1})
fields = {
    "architecture": lambda r, i: i["Architecture"],
    "availability-zone": lambda r, i: i["Placement"]["AvailabilityZone"],
    "image-id": lambda r, i: i["ImageId"],
    "instance-id": lambda r, i: i["InstanceId"],
    "instance-state-code": lambda r, i: str(i["State"]["Code"]),
    "instance-state-name": lambda r, i: i["State"]["Name"],
    "instance-type": lambda r, i: i["InstanceType"],
    "key-name": lambda r, i: i.get("KeyName"),
    "owner-id": lambda r, i: r["OwnerId"],
    "private-ip-address": lambda r, i: i.get("PrivateIpAddress"),
    "reservation-id": lambda r, i: r["ReservationId"],
    "subnet-id": lambda r, i: i.get("SubnetId"),
    "vpc-id": lambda r, i: i.get("VpcId"),
}
every = [(r, i) for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
def ids(name, value):
    return sorted(i["InstanceId"] for r in ec2.describe_instances(Filters=[{"Name": name, "Values": [value]}])["Reservations"] for i in r["Instances"])
wrong = []
checked = 0
for name, field in fields.items():
    for value in sorted({field(r, i) for r, i in every} - {None}):
        for pattern in (value, value[:3] + "*"):
            want = sorted(i["InstanceId"] for r, i in every if field(r, i) is not None and (field(r, i) == value or (pattern.endswith("*") and field(r, i).startswith(pattern[:-1]))))
            got = ids(name, pattern)
            checked += 1
            if got != want:
                wrong.append([name, pattern, got, want])
result = {"wrong": wrong, "checked": checked}
`) as { wrong: unknown[]; checked: number };
    assert.deepEqual(out.wrong, []);
    assert.ok(out.checked > 40, `only ${out.checked} filter values checked`);
  });

  it('answers the filters it applies to interface records as the presented instances would', async () => {
    // Groups and interface fields, each value seen in the presented instances and a wildcard of it:
    // instances in a group of their own, one with a second interface in another group, and a
    // terminated one (which shows no groups and no interfaces).
    const out = nimbus.boto3(`
vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
web = ec2.create_security_group(GroupName="iface-web", Description="web", VpcId=vpc)["GroupId"]
side = ec2.create_security_group(GroupName="iface-side", Description="side", VpcId=vpc)["GroupId"]
def launch(count, **kw):
    return [i for i in ec2.run_instances(ImageId="${AMI}", InstanceType="t3.micro", MinCount=count, MaxCount=count, **kw)["Instances"]]
webs = launch(2, SecurityGroupIds=[web])
plain = launch(1)[0]
gone = launch(1, SecurityGroupIds=[web])[0]["InstanceId"]
extra = ec2.create_network_interface(SubnetId=plain["SubnetId"], Groups=[side], Description="second card")["NetworkInterface"]["NetworkInterfaceId"]
ec2.get_waiter("instance_running").wait(InstanceIds=[plain["InstanceId"]], WaiterConfig={"Delay": 1})
ec2.attach_network_interface(NetworkInterfaceId=extra, InstanceId=plain["InstanceId"], DeviceIndex=1)
ec2.terminate_instances(InstanceIds=[gone])
ec2.get_waiter("instance_terminated").wait(InstanceIds=[gone], WaiterConfig={"Delay": 1})
nics = lambda i: i.get("NetworkInterfaces", [])
fields = {
    "group-id": lambda i: [g["GroupId"] for g in i["SecurityGroups"]],
    "group-name": lambda i: [g["GroupName"] for g in i["SecurityGroups"]],
    "instance.group-id": lambda i: [g["GroupId"] for g in i["SecurityGroups"]],
    "instance.group-name": lambda i: [g["GroupName"] for g in i["SecurityGroups"]],
    "network-interface.addresses.primary": lambda i: [str(a["Primary"]).lower() for n in nics(i) for a in n["PrivateIpAddresses"]],
    "network-interface.addresses.private-ip-address": lambda i: [a["PrivateIpAddress"] for n in nics(i) for a in n["PrivateIpAddresses"]],
    "network-interface.attachment.attachment-id": lambda i: [n["Attachment"]["AttachmentId"] for n in nics(i)],
    "network-interface.attachment.delete-on-termination": lambda i: [str(n["Attachment"]["DeleteOnTermination"]).lower() for n in nics(i)],
    "network-interface.attachment.device-index": lambda i: [str(n["Attachment"]["DeviceIndex"]) for n in nics(i)],
    "network-interface.description": lambda i: [n["Description"] for n in nics(i) if n.get("Description")],
    "network-interface.group-id": lambda i: [g["GroupId"] for n in nics(i) for g in n["Groups"]],
    "network-interface.group-name": lambda i: [g["GroupName"] for n in nics(i) for g in n["Groups"]],
    "network-interface.mac-address": lambda i: [n["MacAddress"] for n in nics(i)],
    "network-interface.network-interface-id": lambda i: [n["NetworkInterfaceId"] for n in nics(i)],
    "network-interface.owner-id": lambda i: [n["OwnerId"] for n in nics(i)],
    "network-interface.private-ip-address": lambda i: [n["PrivateIpAddress"] for n in nics(i)],
    "network-interface.source-dest-check": lambda i: [str(n["SourceDestCheck"]).lower() for n in nics(i)],
    "network-interface.subnet-id": lambda i: [n["SubnetId"] for n in nics(i)],
    "network-interface.vpc-id": lambda i: [n["VpcId"] for n in nics(i)],
}
every = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
def ids(name, value):
    return sorted(i["InstanceId"] for r in ec2.describe_instances(Filters=[{"Name": name, "Values": [value]}])["Reservations"] for i in r["Instances"])
wrong, checked = [], 0
for name, field in fields.items():
    for value in sorted({v for i in every for v in field(i)}):
        for pattern in (value, value[:3] + "*"):
            want = sorted(i["InstanceId"] for i in every if any(v == value or (pattern.endswith("*") and v.startswith(pattern[:-1])) for v in field(i)))
            got = ids(name, pattern)
            checked += 1
            if got != want:
                wrong.append([name, pattern, got, want])
result = {"wrong": wrong, "checked": checked, "web": sorted(i["InstanceId"] for i in webs), "byWeb": ids("instance.group-id", web),
          "bySide": ids("network-interface.group-id", side), "plain": plain["InstanceId"]}
`) as { wrong: unknown[]; checked: number; web: string[]; byWeb: string[]; bySide: string[]; plain: string };
    assert.deepEqual(out.wrong, []);
    assert.ok(out.checked > 60, `only ${out.checked} filter values checked`);
    assert.deepEqual(out.byWeb, out.web, 'a terminated instance shows no groups');
    assert.deepEqual(out.bySide, [out.plain], 'a second interface answers for its instance');
  });
});
