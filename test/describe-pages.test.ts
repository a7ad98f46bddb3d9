/**
 * Paged describes cut each page from the stored records before presenting it, so that paging
 * through a fleet costs the fleet once. With filters that only the presented resource answers, a
 * page may come back short (even empty) with a NextToken, as EC2's do; the pages together must
 * still be exactly the unpaged answer, and without filters every page but the last is full.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type NimbusProcess } from './support/server.js';

const AMI = 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';

describe('paged describes', () => {
  let nimbus: NimbusProcess;
  before(async () => {
    nimbus = await startServer({ args: ['--sim-delay-ms', '20'] });
  });
  after(() => nimbus.dispose());

  it('page instances, interfaces, volumes and instance statuses as their unpaged answers', async () => {
    const out = nimbus.boto3(`
run = ec2.run_instances(ImageId="${AMI}", InstanceType="t3.micro", MinCount=13, MaxCount=13)["Instances"]
ids = sorted(i["InstanceId"] for i in run)
ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig={"Delay": 1})
ec2.stop_instances(InstanceIds=ids[:4])
enis = [i["NetworkInterfaces"][0]["NetworkInterfaceId"] for i in run]
vols = [v["VolumeId"] for v in ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": ids}])["Volumes"]]
# Every third instance, interface and volume carries a tag that only their presented tags answer
# (tag-key with a wildcard narrows nothing through the index).
marked = ids[::3] + sorted(enis)[::3] + sorted(vols)[::3]
ec2.create_tags(Resources=marked, Tags=[{"Key": "pick", "Value": "yes"}])
ec2.get_waiter("instance_stopped").wait(InstanceIds=ids[:4], WaiterConfig={"Delay": 1})

pick = [{"Name": "tag-key", "Values": ["pi*"]}]
calls = {
    "instances": (ec2.describe_instances, lambda p: [i["InstanceId"] for r in p["Reservations"] for i in r["Instances"]], pick),
    "interfaces": (ec2.describe_network_interfaces, lambda p: [n["NetworkInterfaceId"] for n in p["NetworkInterfaces"]], pick),
    "volumes": (ec2.describe_volumes, lambda p: [v["VolumeId"] for v in p["Volumes"]], pick),
    "statuses": (lambda **kw: ec2.describe_instance_status(IncludeAllInstances=True, **kw),
                 lambda p: [s["InstanceId"] for s in p["InstanceStatuses"]], [{"Name": "instance-state-name", "Values": ["stopped"]}]),
}
result = {}
for what, (call, items, filters) in calls.items():
    for label, kw in (("all", {}), ("filtered", {"Filters": filters})):
        whole = items(call(**kw))
        pages, token = [], None
        while True:
            page = call(MaxResults=5, **kw, **({"NextToken": token} if token else {}))
            pages.append(items(page))
            token = page.get("NextToken")
            if not token:
                break
        result[f"{what} {label}"] = {"whole": whole, "pages": pages}
`) as Record<string, { whole: string[]; pages: string[][] }>;
    for (const [what, { whole, pages }] of Object.entries(out)) {
      // Instances come grouped by reservation, in launch order within each: only the set compares.
      const inOrder = what.startsWith('instances') ? (ids: string[]) => [...ids].sort() : (ids: string[]) => ids;
      assert.deepEqual(inOrder(pages.flat()), inOrder(whole), `${what}: the pages together are the unpaged answer`);
      assert.equal(new Set(pages.flat()).size, pages.flat().length, `${what}: no item on two pages`);
      assert.ok(pages.every((p) => p.length <= 5), `${what}: no page holds more than MaxResults`);
      if (what.endsWith(' all')) {
        assert.ok(whole.length >= 13, `${what}: ${whole.length} items`);
        assert.ok(pages.slice(0, -1).every((p) => p.length === 5), `${what}: every page but the last is full`);
      } else {
        assert.ok(whole.length >= 4 && whole.length < 13, `${what}: the filter keeps ${whole.length}`);
      }
    }
  });
});
