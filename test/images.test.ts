import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  CreateTagsCommand,
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  type EC2Client,
  type Image,
} from '@aws-sdk/client-ec2';
import { cliErrorCode, createAccount, errorCode, startServer, type NimbusProcess } from './support/server.js';

/** Name filters as people write them for AWS, with the owner each publisher uses. */
const FAMILIES: { family: string; owner: string; name: string; arch?: string }[] = [
  { family: 'Amazon Linux 2023', owner: 'amazon', name: 'al2023-ami-*-x86_64' },
  { family: 'Amazon Linux 2023 arm64', owner: 'amazon', name: 'al2023-ami-2023.*-kernel-6.1-arm64' },
  { family: 'Amazon Linux 2', owner: 'amazon', name: 'amzn2-ami-kernel-5.10-hvm-*-x86_64-gp2' },
  { family: 'Ubuntu 20.04', owner: '099720109477', name: 'ubuntu/images/hvm-ssd/ubuntu-focal-20.04-amd64-server-*' },
  { family: 'Ubuntu 22.04', owner: '099720109477', name: 'ubuntu/images/*ubuntu-jammy-22.04-amd64-server-*' },
  { family: 'Ubuntu 24.04 arm64', owner: '099720109477', name: 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-*' },
  { family: 'Windows Server 2016', owner: 'amazon', name: 'Windows_Server-2016-English-Full-Base-*' },
  { family: 'Windows Server 2019', owner: 'amazon', name: 'Windows_Server-2019-English-Core-Base-*' },
  { family: 'Windows Server 2022', owner: 'amazon', name: 'Windows_Server-2022-English-Full-Base-*' },
  { family: 'Windows Server 2025', owner: 'amazon', name: 'Windows_Server-2025-English-Full-Base-*' },
  { family: 'macOS Sequoia', owner: 'amazon', name: 'amzn-ec2-macos-15*', arch: 'arm64_mac' },
  { family: 'macOS Sonoma Intel', owner: 'amazon', name: 'amzn-ec2-macos-14*', arch: 'x86_64_mac' },
  { family: 'RHEL 8', owner: '309956199498', name: 'RHEL-8.*_HVM-*-x86_64-*-Hourly2-GP3' },
  { family: 'RHEL 9', owner: '309956199498', name: 'RHEL-9.*', arch: 'arm64' },
  { family: 'SLES 15', owner: 'amazon', name: 'suse-sles-15-sp6-v*-hvm-ssd-x86_64' },
  { family: 'Debian 11', owner: '136693071363', name: 'debian-11-amd64-*' },
  { family: 'Debian 12', owner: '136693071363', name: 'debian-12-arm64-*' },
  { family: 'Fedora', owner: '125523088429', name: 'Fedora-Cloud-Base-Generic-*.x86_64-hvm-us-east-1-gp3-0' },
  { family: 'CentOS Stream 9', owner: '125523088429', name: 'CentOS Stream 9 x86_64 *' },
  { family: 'Oracle Linux 9', owner: '131827586825', name: 'OL9.*-x86_64-HVM-*' },
  { family: 'Oracle Linux 8', owner: '131827586825', name: 'OL8.*-arm64-HVM-*' },
  { family: 'Gentoo', owner: '902460189751', name: 'gentoo-amd64-*' },
  { family: 'FreeBSD 13', owner: '782442783595', name: 'FreeBSD 13.*-RELEASE-amd64*' },
  { family: 'FreeBSD 14', owner: '782442783595', name: 'FreeBSD 14.*-RELEASE-arm64*' },
];

const newest = (images: Image[]) => [...images].sort((a, b) => (a.CreationDate! < b.CreationDate! ? 1 : -1))[0]!;

describe('public images and DescribeImages', () => {
  let nimbus: NimbusProcess;
  let ec2: EC2Client;
  before(async () => {
    nimbus = await startServer();
  });
  // A fresh client per test: a pooled socket left idle while a CLI or boto3 step ran may be closed
  // by the server's keep-alive timeout just as the SDK reuses it.
  beforeEach(() => {
    ec2 = nimbus.ec2();
  });
  after(async () => {
    await nimbus.dispose();
  });

  const describeImages = async (name: string, owner?: string, extra: Record<string, unknown> = {}) =>
    (
      await ec2.send(
        new DescribeImagesCommand({ Owners: owner ? [owner] : undefined, Filters: [{ Name: 'name', Values: [name] }], ...extra }),
      )
    ).Images ?? [];

  it('finds every OS family with the name filters written for AWS (SDK v3)', async () => {
    for (const f of FAMILIES) {
      const images = await describeImages(f.name, f.owner);
      assert.ok(images.length >= 1, `${f.family}: nothing found`);
      if (f.arch) assert.ok(images.some((i) => i.Architecture === f.arch), `${f.family}: no ${f.arch} image`);
      for (const i of images) {
        assert.match(i.ImageId!, /^ami-[0-9a-f]{17}$/);
        assert.equal(i.State, 'available');
        assert.equal(i.Public, true);
        assert.equal(i.ImageType, 'machine');
        assert.equal(i.RootDeviceType, 'ebs');
        assert.equal(i.VirtualizationType, 'hvm');
        assert.equal(i.Hypervisor, 'xen');
        const root = i.BlockDeviceMappings!.find((m) => m.DeviceName === i.RootDeviceName)!;
        assert.match(root.Ebs!.SnapshotId!, /^snap-[0-9a-f]{17}$/);
        assert.equal(root.Ebs!.Encrypted, false);
        assert.ok(new Date(i.DeprecationTime!) > new Date(), `${i.Name} is deprecated but listed`);
      }
      // Several dated releases (some deprecated by now) make "most recent" meaningful.
      const releases = await describeImages(f.name, f.owner, { IncludeDeprecated: true });
      assert.ok(new Set(releases.map((i) => i.CreationDate)).size >= 2, `${f.family}: expected several releases`);
    }
  });

  it('reports platform and billing as EC2 does', async () => {
    const win = newest(await describeImages('Windows_Server-2022-English-Full-Base-*', 'amazon'));
    assert.equal(win.Platform, 'windows');
    assert.equal(win.PlatformDetails, 'Windows');
    assert.equal(win.UsageOperation, 'RunInstances:0002');
    const al = newest(await describeImages('al2023-ami-2023.*-kernel-6.1-x86_64', 'amazon'));
    assert.equal(al.Platform, undefined);
    assert.equal(al.PlatformDetails, 'Linux/UNIX');
    assert.equal(al.UsageOperation, 'RunInstances');
    assert.equal(al.ImageOwnerAlias, 'amazon');
    assert.equal(al.OwnerId, '137112412989');
    assert.equal(al.ImageLocation, `amazon/${al.Name}`);
    const rhel = newest(await describeImages('RHEL-9.*', '309956199498'));
    assert.equal(rhel.UsageOperation, 'RunInstances:0010');
    assert.equal(rhel.PlatformDetails, 'Red Hat Enterprise Linux');
    const sles = newest(await describeImages('suse-sles-15-*', '013907871322'));
    assert.equal(sles.UsageOperation, 'RunInstances:000g');
    const windowsOnly = await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'platform', Values: ['windows'] }] }));
    assert.ok(windowsOnly.Images!.length > 0);
    assert.ok(windowsOnly.Images!.every((i) => i.Name!.startsWith('Windows_Server-')));
  });

  it('serves the same name filters to the AWS CLI and boto3', () => {
    const cli = nimbus.aws([
      'ec2', 'describe-images', '--owners', 'amazon',
      '--filters', 'Name=name,Values=al2023-ami-*-x86_64', 'Name=architecture,Values=x86_64',
      '--query', 'sort_by(Images, &CreationDate)[-1]',
    ]);
    assert.equal(cli.status, 0, cli.stderr);
    assert.match((cli.json as Image).Name!, /^al2023-ami-(minimal-)?2023\.\d+\.\d{8}\.\d-kernel-6\.\d+-x86_64$/);
    const names = nimbus.boto3(`
result = {}
for owner, pattern in [("099720109477", "ubuntu/images/*ubuntu-jammy-22.04-amd64-server-*"),
                       ("amazon", "Windows_Server-2022-English-Full-Base-*"),
                       ("136693071363", "debian-12-amd64-*"),
                       ("782442783595", "FreeBSD 14.*-RELEASE-amd64*")]:
    images = ec2.describe_images(Owners=[owner], Filters=[{"Name": "name", "Values": [pattern]}])["Images"]
    result[pattern] = sorted(images, key=lambda i: i["CreationDate"])[-1]["Name"]
`) as Record<string, string>;
    assert.match(names['ubuntu/images/*ubuntu-jammy-22.04-amd64-server-*']!, /^ubuntu\/images\/hvm-ssd\/ubuntu-jammy-22\.04-amd64-server-\d{8}$/);
    assert.match(names['Windows_Server-2022-English-Full-Base-*']!, /^Windows_Server-2022-English-Full-Base-\d{4}\.\d\d\.\d\d$/);
    assert.match(names['debian-12-amd64-*']!, /^debian-12-amd64-\d{8}-\d+$/);
    assert.match(names['FreeBSD 14.*-RELEASE-amd64*']!, /^FreeBSD 14\.\d-RELEASE-amd64/);
  });

  it('selects by Owners and owner-alias', async () => {
    const amazon = (await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images!;
    const owners = new Set(amazon.map((i) => i.OwnerId));
    for (const id of ['137112412989', '801119661308', '013907871322']) assert.ok(owners.has(id), `amazon owns ${id}'s images`);
    assert.ok(!owners.has('099720109477'), 'Canonical is not aliased amazon');
    assert.ok(amazon.every((i) => i.ImageOwnerAlias === 'amazon'));
    const byAlias = (await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'owner-alias', Values: ['amazon'] }] }))).Images!;
    assert.equal(byAlias.length, amazon.length);
    const canonical = (await ec2.send(new DescribeImagesCommand({ Owners: ['099720109477'] }))).Images!;
    assert.ok(canonical.length > 0 && canonical.every((i) => i.OwnerId === '099720109477' && i.ImageOwnerAlias === undefined));
    const both = (await ec2.send(new DescribeImagesCommand({ Owners: ['099720109477', '136693071363'] }))).Images!;
    assert.deepEqual(new Set(both.map((i) => i.OwnerId)), new Set(['099720109477', '136693071363']));
    const self = (await ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images!;
    assert.deepEqual(self, []);
    const publicOnes = (await ec2.send(new DescribeImagesCommand({ ExecutableUsers: ['all'], Owners: ['136693071363'] }))).Images!;
    assert.equal(publicOnes.length, (await ec2.send(new DescribeImagesCommand({ Owners: ['136693071363'] }))).Images!.length);
  });

  it('pages with boto3’s paginator without losing or repeating images', () => {
    const r = nimbus.boto3(`
pages = ec2.get_paginator("describe_images").paginate(Owners=["amazon"], PaginationConfig={"PageSize": 40})
ids, sizes = [], []
for page in pages:
    sizes.append(len(page["Images"]))
    ids += [i["ImageId"] for i in page["Images"]]
result = {"ids": ids, "sizes": sizes, "all": len(ec2.describe_images(Owners=["amazon"])["Images"])}
`) as { ids: string[]; sizes: number[]; all: number };
    assert.ok(r.sizes.length > 2);
    assert.ok(r.sizes.slice(0, -1).every((n) => n === 40));
    assert.equal(new Set(r.ids).size, r.ids.length);
    assert.equal(r.ids.length, r.all);
  });

  it('gives each region its own, stable AMI ids', async () => {
    const name = 'Windows_Server-2022-English-Full-Base-*';
    const east = (await describeImages(name, 'amazon')).map((i) => i.ImageId).sort();
    const again = (await describeImages(name, 'amazon')).map((i) => i.ImageId).sort();
    assert.deepEqual(east, again);
    const west = (
      await nimbus.ec2({ region: 'eu-west-1' }).send(new DescribeImagesCommand({ Owners: ['amazon'], Filters: [{ Name: 'name', Values: [name] }] }))
    ).Images!.map((i) => i.ImageId);
    assert.equal(west.length, east.length);
    assert.ok(west.every((id) => !east.includes(id)));
    // An AMI id of one region is unknown in another.
    const code = await errorCode(nimbus.ec2({ region: 'eu-west-1' }).send(new DescribeImagesCommand({ ImageIds: [east[0]!] })));
    assert.equal(code, 'InvalidAMIID.NotFound');
    // Fedora names carry their region.
    const fedora = await nimbus.ec2({ region: 'eu-west-1' }).send(new DescribeImagesCommand({ Filters: [{ Name: 'name', Values: ['Fedora-Cloud-Base-*'] }] }));
    assert.ok(fedora.Images!.every((i) => i.Name!.includes('-hvm-eu-west-1-')));
  });

  it('hides deprecated images unless asked, or named by id', async () => {
    const listed = await describeImages('debian-12-amd64-*', '136693071363');
    const all = await describeImages('debian-12-amd64-*', '136693071363', { IncludeDeprecated: true });
    const deprecated = all.filter((i) => new Date(i.DeprecationTime!) <= new Date());
    assert.ok(deprecated.length > 0);
    assert.equal(listed.length + deprecated.length, all.length);
    const byId = await ec2.send(new DescribeImagesCommand({ ImageIds: [deprecated[0]!.ImageId!] }));
    assert.equal(byId.Images![0]!.ImageId, deprecated[0]!.ImageId);
  });

  it('filters by image id, attributes, block devices and the caller’s own tags', async () => {
    const image = newest(await describeImages('al2023-ami-2023.*-kernel-6.1-arm64', 'amazon'));
    const snapshot = image.BlockDeviceMappings![0]!.Ebs!.SnapshotId!;
    const r = await ec2.send(
      new DescribeImagesCommand({
        Filters: [
          { Name: 'block-device-mapping.snapshot-id', Values: [snapshot] },
          { Name: 'architecture', Values: ['arm64'] },
          { Name: 'ena-support', Values: ['true'] },
          { Name: 'is-public', Values: ['true'] },
          { Name: 'root-device-type', Values: ['ebs'] },
          { Name: 'creation-date', Values: [`${image.CreationDate!.slice(0, 7)}-*`] },
        ],
      }),
    );
    assert.deepEqual(r.Images!.map((i) => i.ImageId), [image.ImageId]);
    await ec2.send(new CreateTagsCommand({ Resources: [image.ImageId!], Tags: [{ Key: 'team', Value: 'infra' }] }));
    const tagged = await ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'tag:team', Values: ['infra'] }] }));
    assert.deepEqual(tagged.Images!.map((i) => [i.ImageId, i.Tags]), [[image.ImageId, [{ Key: 'team', Value: 'infra' }]]]);
    // Tags on a public AMI belong to the account that set them.
    const other = createAccount(nimbus.dataDir, 'images-other');
    const theirs = await nimbus.ec2({ credentials: other }).send(new DescribeImagesCommand({ ImageIds: [image.ImageId!] }));
    assert.equal(theirs.Images![0]!.Tags, undefined);
    const attr = await ec2.send(new DescribeImageAttributeCommand({ ImageId: image.ImageId, Attribute: 'description' }));
    assert.equal(attr.Description?.Value, image.Description);
  });

  it('answers bad input with EC2’s error codes', async () => {
    assert.equal(await errorCode(ec2.send(new DescribeImagesCommand({ ImageIds: ['ami-123'] }))), 'InvalidAMIID.Malformed');
    assert.equal(await errorCode(ec2.send(new DescribeImagesCommand({ ImageIds: ['ami-0123456789abcdef0'] }))), 'InvalidAMIID.NotFound');
    assert.equal(
      await errorCode(ec2.send(new DescribeImagesCommand({ Filters: [{ Name: 'flavour', Values: ['x'] }] }))),
      'InvalidParameterValue',
    );
    assert.equal(await errorCode(ec2.send(new DescribeImagesCommand({ Owners: ['somebody'] }))), 'InvalidUserID.Malformed');
    assert.equal(await errorCode(ec2.send(new DescribeImagesCommand({ MaxResults: 0 }))), 'InvalidParameterValue');
    assert.equal(await errorCode(ec2.send(new DescribeImagesCommand({ NextToken: 'garbage' }))), 'InvalidPaginationToken');
    const cli = nimbus.aws(['ec2', 'describe-images', '--image-ids', 'ami-00000000000000000']);
    assert.equal(cliErrorCode(cli), 'InvalidAMIID.NotFound');
    assert.match(cli.stderr, /The image id '\[ami-00000000000000000\]' does not exist/);
  });
});
