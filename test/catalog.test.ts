import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateDefaultVpcCommand,
  DeleteInternetGatewayCommand,
  DeleteSubnetCommand,
  DeleteVpcCommand,
  DescribeAccountAttributesCommand,
  DescribeAvailabilityZonesCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeInstanceTypesCommand,
  DescribeInternetGatewaysCommand,
  DescribeRegionsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  DetachInternetGatewayCommand,
  type AvailabilityZone,
  type InstanceTypeInfo,
} from '@aws-sdk/client-ec2';
import { cliErrorCode, errorCode, startServer, type NimbusProcess } from './support/server.js';

/** Families of every EC2 category, each of which must be in the catalogue. */
const FAMILIES = {
  general: ['t2', 't3', 't3a', 't4g', 'm5', 'm6i', 'm7g', 'mac1'],
  compute: ['c5', 'c6i', 'c7g'],
  memory: ['r5', 'r6i', 'x2idn', 'u-6tb1'],
  storage: ['i3', 'i4i', 'd3', 'im4gn'],
  accelerated: ['p3dn', 'p4d', 'g4dn', 'g5', 'inf1', 'trn1', 'dl1'],
  hpc: ['hpc6a', 'hpc7g'],
};

describe('catalogues: regions, zones, instance types, account attributes', () => {
  let nimbus: NimbusProcess;
  before(async () => {
    nimbus = await startServer();
  });
  after(async () => {
    await nimbus.dispose();
  });

  describe('DescribeRegions', () => {
    it('lists enabled regions, all regions on request, and named ones', async () => {
      const ec2 = nimbus.ec2();
      const enabled = (await ec2.send(new DescribeRegionsCommand({}))).Regions!;
      assert.ok(enabled.every((r) => r.OptInStatus === 'opt-in-not-required'));
      assert.ok(enabled.some((r) => r.RegionName === 'us-east-1' && r.Endpoint === 'ec2.us-east-1.amazonaws.com'));
      const all = (await ec2.send(new DescribeRegionsCommand({ AllRegions: true }))).Regions!;
      assert.ok(all.some((r) => r.RegionName === 'af-south-1' && r.OptInStatus === 'not-opted-in'));
      assert.ok(all.length > enabled.length);
      const cli = nimbus.aws(['ec2', 'describe-regions', '--region-names', 'eu-west-1', 'ap-east-1']);
      assert.equal(cli.status, 0, cli.stderr);
      const names = (cli.json as { Regions: { RegionName: string }[] }).Regions.map((r) => r.RegionName).sort();
      assert.deepEqual(names, ['ap-east-1', 'eu-west-1']);
    });

    it('filters by opt-in-status and region-name with wildcards', () => {
      const r = nimbus.boto3(`
out = ec2.describe_regions(AllRegions=True, Filters=[
    {"Name": "opt-in-status", "Values": ["not-opted-in"]}, {"Name": "region-name", "Values": ["ap-*"]}])
result = sorted(r["RegionName"] for r in out["Regions"])`) as string[];
      assert.ok(r.length > 0 && r.every((n) => n.startsWith('ap-')));
      assert.ok(r.includes('ap-east-1') && !r.includes('ap-northeast-1'));
    });

    it('refuses an unknown region with InvalidParameterValue', async () => {
      assert.equal(await errorCode(nimbus.ec2().send(new DescribeRegionsCommand({ RegionNames: ['us-moon-1'] }))), 'InvalidParameterValue');
    });
  });

  describe('DescribeAvailabilityZones', () => {
    it("describes every zone of the request's region", () => {
      const r = nimbus.aws(['ec2', 'describe-availability-zones']);
      assert.equal(r.status, 0, r.stderr);
      const zones = (r.json as { AvailabilityZones: AvailabilityZone[] }).AvailabilityZones;
      assert.deepEqual(
        zones.map((z) => [z.ZoneName, z.ZoneId]),
        [
          ['us-east-1a', 'use1-az6'],
          ['us-east-1b', 'use1-az1'],
          ['us-east-1c', 'use1-az2'],
          ['us-east-1d', 'use1-az4'],
          ['us-east-1e', 'use1-az3'],
          ['us-east-1f', 'use1-az5'],
        ],
      );
      assert.deepEqual(zones[0], {
        State: 'available',
        OptInStatus: 'opt-in-not-required',
        Messages: [],
        RegionName: 'us-east-1',
        ZoneName: 'us-east-1a',
        ZoneId: 'use1-az6',
        GroupName: 'us-east-1-zg-1',
        NetworkBorderGroup: 'us-east-1',
        ZoneType: 'availability-zone',
      });
    });

    it('follows the region of the client and selects by name, id and filter', async () => {
      const ec2 = nimbus.ec2({ region: 'eu-west-1' });
      const all = (await ec2.send(new DescribeAvailabilityZonesCommand({ AllAvailabilityZones: true }))).AvailabilityZones!;
      assert.deepEqual(all.map((z) => z.ZoneName), ['eu-west-1a', 'eu-west-1b', 'eu-west-1c']);
      const byName = await ec2.send(new DescribeAvailabilityZonesCommand({ ZoneNames: ['eu-west-1b'] }));
      assert.deepEqual(byName.AvailabilityZones!.map((z) => z.ZoneId), ['euw1-az1']);
      const byId = await ec2.send(new DescribeAvailabilityZonesCommand({ ZoneIds: ['euw1-az3'] }));
      assert.deepEqual(byId.AvailabilityZones!.map((z) => z.ZoneName), ['eu-west-1a']);
      const filtered = await ec2.send(
        new DescribeAvailabilityZonesCommand({
          Filters: [
            { Name: 'zone-id', Values: ['euw1-az?'] },
            { Name: 'zone-name', Values: ['*b', '*c'] },
            { Name: 'state', Values: ['available'] },
            { Name: 'zone-type', Values: ['availability-zone'] },
            { Name: 'group-name', Values: ['eu-west-1-zg-1'] },
            { Name: 'region-name', Values: ['eu-west-1'] },
          ],
        }),
      );
      assert.deepEqual(filtered.AvailabilityZones!.map((z) => z.ZoneName), ['eu-west-1b', 'eu-west-1c']);
    });

    it('refuses unknown zones, zones of another region and unknown filters', async () => {
      const cli = nimbus.aws(['ec2', 'describe-availability-zones', '--zone-names', 'us-east-1z']);
      assert.equal(cliErrorCode(cli), 'InvalidParameterValue');
      const ec2 = nimbus.ec2();
      assert.equal(await errorCode(ec2.send(new DescribeAvailabilityZonesCommand({ ZoneNames: ['eu-west-1a'] }))), 'InvalidParameterValue');
      assert.equal(await errorCode(ec2.send(new DescribeAvailabilityZonesCommand({ ZoneIds: ['use1-az9'] }))), 'InvalidParameterValue');
      assert.equal(
        await errorCode(ec2.send(new DescribeAvailabilityZonesCommand({ Filters: [{ Name: 'zone-colour', Values: ['x'] }] }))),
        'InvalidParameterValue',
      );
    });
  });

  describe('DescribeInstanceTypes', () => {
    /** Every type's name and page sizes, paged through by boto3's paginator (names only: the full list is MBs). */
    let names: string[];
    let pageSizes: number[];
    before(() => {
      [names, pageSizes] = nimbus.boto3(`
pages = list(ec2.get_paginator("describe_instance_types").paginate())
result = [[t["InstanceType"] for p in pages for t in p["InstanceTypes"]], [len(p["InstanceTypes"]) for p in pages]]`) as [
        string[],
        number[],
      ];
    });

    it('pages through every instance type with boto3', () => {
      assert.ok(names.length > 1000, `only ${names.length} types`);
      assert.ok(pageSizes.length > 10 && pageSizes.slice(0, -1).every((n) => n === 100), pageSizes.join());
      assert.equal(new Set(names).size, names.length, 'no type twice');
      assert.deepEqual(names, [...names].sort());
    });

    it('has the families of every category', () => {
      const families = new Set(names.map((n) => n.slice(0, n.lastIndexOf('.'))));
      for (const [category, list] of Object.entries(FAMILIES)) {
        for (const family of list) assert.ok(families.has(family), `${category} family ${family} missing`);
      }
    });

    it('carries EC2’s facts', async () => {
      const out = await nimbus.ec2().send(
        new DescribeInstanceTypesCommand({ InstanceTypes: ['m5.large', 'p4d.24xlarge', 't3.micro', 'm7g.large', 'i3.large'] }),
      );
      const byName = new Map(out.InstanceTypes!.map((t) => [t.InstanceType, t]));
      assert.equal(byName.size, 5);
      const m5 = byName.get('m5.large')!;
      assert.equal(m5.VCpuInfo!.DefaultVCpus, 2);
      assert.equal(m5.MemoryInfo!.SizeInMiB, 8192);
      assert.equal(m5.NetworkInfo!.MaximumNetworkInterfaces, 3);
      assert.equal(m5.NetworkInfo!.Ipv4AddressesPerInterface, 10);
      assert.equal(m5.NetworkInfo!.EnaSupport, 'required');
      assert.equal(m5.Hypervisor, 'nitro');
      assert.deepEqual(m5.ProcessorInfo!.SupportedArchitectures, ['x86_64']);
      const p4d = byName.get('p4d.24xlarge')!;
      assert.equal(p4d.GpuInfo!.Gpus![0]!.Count, 8);
      assert.equal(p4d.GpuInfo!.Gpus![0]!.Manufacturer, 'NVIDIA');
      assert.equal(p4d.NetworkInfo!.EfaSupported, true);
      assert.equal(p4d.VCpuInfo!.DefaultVCpus, 96);
      assert.equal(byName.get('t3.micro')!.BurstablePerformanceSupported, true);
      assert.deepEqual(byName.get('m7g.large')!.ProcessorInfo!.SupportedArchitectures, ['arm64']);
      const i3 = byName.get('i3.large')!;
      assert.equal(i3.InstanceStorageSupported, true);
      assert.equal(i3.InstanceStorageInfo!.TotalSizeInGB, 475);
    });

    it('filters with wildcards and on nested facts', async () => {
      const t3 = nimbus.aws(['ec2', 'describe-instance-types', '--filters', 'Name=instance-type,Values=t3.*']);
      assert.equal(t3.status, 0, t3.stderr);
      const t3Names = (t3.json as { InstanceTypes: InstanceTypeInfo[] }).InstanceTypes.map((t) => t.InstanceType!).sort();
      assert.deepEqual(t3Names, ['t3.2xlarge', 't3.large', 't3.medium', 't3.micro', 't3.nano', 't3.small', 't3.xlarge']);

      const ec2 = nimbus.ec2();
      const graviton = await ec2.send(
        new DescribeInstanceTypesCommand({
          Filters: [
            { Name: 'processor-info.supported-architecture', Values: ['arm64'] },
            { Name: 'vcpu-info.default-vcpus', Values: ['2'] },
            { Name: 'memory-info.size-in-mib', Values: ['8192'] },
            { Name: 'bare-metal', Values: ['false'] },
          ],
        }),
      );
      const names = graviton.InstanceTypes!.map((t) => t.InstanceType!);
      assert.ok(names.includes('m6g.large') && names.includes('m7g.large'), names.join());
      assert.ok(names.every((n) => !n.startsWith('m5.')));

      const efa = await ec2.send(
        new DescribeInstanceTypesCommand({
          Filters: [
            { Name: 'network-info.efa-supported', Values: ['true'] },
            { Name: 'instance-type', Values: ['hpc*'] },
          ],
        }),
      );
      assert.ok(efa.InstanceTypes!.length > 0);
      assert.ok(efa.InstanceTypes!.every((t) => t.NetworkInfo!.EfaSupported && t.InstanceType!.startsWith('hpc')));

      const free = nimbus.boto3(`
out = ec2.describe_instance_types(Filters=[{"Name": "free-tier-eligible", "Values": ["true"]},
                                           {"Name": "burstable-performance-supported", "Values": ["true"]}])
result = sorted(t["InstanceType"] for t in out["InstanceTypes"])`) as string[];
      assert.ok(free.includes('t3.micro'), free.join());
    });

    it('pages with MaxResults and NextToken', async () => {
      const ec2 = nimbus.ec2();
      const first = await ec2.send(new DescribeInstanceTypesCommand({ MaxResults: 5, Filters: [{ Name: 'instance-type', Values: ['m5.*'] }] }));
      assert.equal(first.InstanceTypes!.length, 5);
      assert.ok(first.NextToken);
      const second = await ec2.send(
        new DescribeInstanceTypesCommand({ MaxResults: 5, NextToken: first.NextToken, Filters: [{ Name: 'instance-type', Values: ['m5.*'] }] }),
      );
      assert.ok(second.InstanceTypes!.length > 0);
      assert.ok(second.InstanceTypes![0]!.InstanceType! > first.InstanceTypes![4]!.InstanceType!);
    });

    it('refuses unknown types, unknown filters and MaxResults out of 5–100', async () => {
      const cli = nimbus.aws(['ec2', 'describe-instance-types', '--instance-types', 'm5.large', 'm5.huge']);
      assert.equal(cliErrorCode(cli), 'InvalidInstanceType');
      const ec2 = nimbus.ec2();
      assert.equal(
        await errorCode(ec2.send(new DescribeInstanceTypesCommand({ Filters: [{ Name: 'vcpus', Values: ['2'] }] }))),
        'InvalidParameterValue',
      );
      assert.equal(await errorCode(ec2.send(new DescribeInstanceTypesCommand({ MaxResults: 4 }))), 'InvalidParameterValue');
      assert.equal(await errorCode(ec2.send(new DescribeInstanceTypesCommand({ MaxResults: 101 }))), 'InvalidParameterValue');
      assert.equal(await errorCode(ec2.send(new DescribeInstanceTypesCommand({ NextToken: 'garbage' }))), 'InvalidPaginationToken');
    });
  });

  describe('DescribeInstanceTypeOfferings', () => {
    it('offers every type in the region by default', () => {
      const r = nimbus.boto3(`
pages = ec2.get_paginator("describe_instance_type_offerings").paginate()
offers = [o for p in pages for o in p["InstanceTypeOfferings"]]
types = ec2.get_paginator("describe_instance_types").paginate()
result = [len(offers), len([t for p in types for t in p["InstanceTypes"]]), sorted(set(o["LocationType"] + " " + o["Location"] for o in offers))]`) as [
        number,
        number,
        string[],
      ];
      assert.equal(r[0], r[1]);
      assert.deepEqual(r[2], ['region us-east-1']);
    });

    it('offers types per zone and zone id, common ones everywhere and rarer ones in some zones', async () => {
      const ec2 = nimbus.ec2();
      const zones = await ec2.send(
        new DescribeInstanceTypeOfferingsCommand({
          LocationType: 'availability-zone',
          Filters: [{ Name: 'instance-type', Values: ['m5.large', 'p4d.24xlarge'] }],
        }),
      );
      const where = (type: string) => zones.InstanceTypeOfferings!.filter((o) => o.InstanceType === type).map((o) => o.Location!);
      assert.deepEqual(where('m5.large'), ['us-east-1a', 'us-east-1b', 'us-east-1c', 'us-east-1d', 'us-east-1e', 'us-east-1f']);
      const p4d = where('p4d.24xlarge');
      assert.ok(p4d.length >= 1 && p4d.length < 6, p4d.join());
      assert.ok(zones.InstanceTypeOfferings!.every((o) => o.LocationType === 'availability-zone'));

      const ids = nimbus.aws([
        'ec2', 'describe-instance-type-offerings', '--location-type', 'availability-zone-id',
        '--filters', 'Name=location,Values=use1-az6', 'Name=instance-type,Values=t3.*',
      ]);
      assert.equal(ids.status, 0, ids.stderr);
      const offers = (ids.json as { InstanceTypeOfferings: { InstanceType: string; Location: string }[] }).InstanceTypeOfferings;
      assert.ok(offers.some((o) => o.InstanceType === 't3.micro'));
      assert.ok(offers.every((o) => o.Location === 'use1-az6' && o.InstanceType.startsWith('t3.')));
    });

    it('pages zone offerings with MaxResults and refuses bad input', async () => {
      const ec2 = nimbus.ec2();
      const page = await ec2.send(new DescribeInstanceTypeOfferingsCommand({ LocationType: 'availability-zone', MaxResults: 1000 }));
      assert.equal(page.InstanceTypeOfferings!.length, 1000);
      assert.ok(page.NextToken);
      const next = await ec2.send(
        new DescribeInstanceTypeOfferingsCommand({ LocationType: 'availability-zone', MaxResults: 5, NextToken: page.NextToken }),
      );
      assert.equal(next.InstanceTypeOfferings!.length, 5);
      assert.equal(await errorCode(ec2.send(new DescribeInstanceTypeOfferingsCommand({ MaxResults: 4 }))), 'InvalidParameterValue');
      assert.equal(await errorCode(ec2.send(new DescribeInstanceTypeOfferingsCommand({ MaxResults: 1001 }))), 'InvalidParameterValue');
      assert.equal(
        await errorCode(ec2.send(new DescribeInstanceTypeOfferingsCommand({ Filters: [{ Name: 'zone', Values: ['x'] }] }))),
        'InvalidParameterValue',
      );
    });
  });

  describe('DescribeAccountAttributes', () => {
    it('describes the platform, default VPC and limits', () => {
      const r = nimbus.aws(['ec2', 'describe-account-attributes']);
      assert.equal(r.status, 0, r.stderr);
      const attrs = Object.fromEntries(
        (r.json as { AccountAttributes: { AttributeName: string; AttributeValues: { AttributeValue: string }[] }[] }).AccountAttributes.map(
          (a) => [a.AttributeName, a.AttributeValues.map((v) => v.AttributeValue)],
        ),
      );
      assert.deepEqual(attrs['supported-platforms'], ['VPC']);
      assert.deepEqual(attrs['max-instances'], ['20']);
      assert.deepEqual(attrs['max-elastic-ips'], ['5']);
      assert.deepEqual(attrs['vpc-max-elastic-ips'], ['5']);
      assert.deepEqual(attrs['vpc-max-security-groups-per-interface'], ['5']);
      assert.match(attrs['default-vpc']![0]!, /^vpc-[0-9a-f]{17}$/);
    });

    it('selects attributes by name, with a default VPC per region', async () => {
      const east = await nimbus.ec2().send(new DescribeAccountAttributesCommand({ AttributeNames: ['default-vpc'] }));
      const west = await nimbus.ec2({ region: 'us-west-2' }).send(new DescribeAccountAttributesCommand({ AttributeNames: ['default-vpc'] }));
      assert.deepEqual(east.AccountAttributes!.map((a) => a.AttributeName), ['default-vpc']);
      assert.notEqual(east.AccountAttributes![0]!.AttributeValues![0]!.AttributeValue, west.AccountAttributes![0]!.AttributeValues![0]!.AttributeValue);
      const both = nimbus.boto3(`
out = ec2.describe_account_attributes(AttributeNames=["supported-platforms", "max-instances"])
result = [a["AttributeName"] for a in out["AccountAttributes"]]`) as string[];
      assert.deepEqual(both.sort(), ['max-instances', 'supported-platforms']);
    });

    it('names the stored default VPC: none once it is deleted, the new one after CreateDefaultVpc', async () => {
      const ec2 = nimbus.ec2({ region: 'eu-west-1' });
      const defaultVpcAttribute = async () =>
        (await ec2.send(new DescribeAccountAttributesCommand({ AttributeNames: ['default-vpc'] }))).AccountAttributes![0]!.AttributeValues!
          .map((v) => v.AttributeValue);
      const [vpc] = (await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }))).Vpcs!;
      assert.deepEqual(await defaultVpcAttribute(), [vpc!.VpcId]);

      const inVpc = [{ Name: 'vpc-id', Values: [vpc!.VpcId!] }];
      for (const s of (await ec2.send(new DescribeSubnetsCommand({ Filters: inVpc }))).Subnets!) {
        await ec2.send(new DeleteSubnetCommand({ SubnetId: s.SubnetId! }));
      }
      const gateways = (await ec2.send(new DescribeInternetGatewaysCommand({ Filters: [{ Name: 'attachment.vpc-id', Values: [vpc!.VpcId!] }] })))
        .InternetGateways!;
      for (const { InternetGatewayId } of gateways) {
        await ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId, VpcId: vpc!.VpcId! }));
        await ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId }));
      }
      await ec2.send(new DeleteVpcCommand({ VpcId: vpc!.VpcId! }));
      assert.deepEqual(await defaultVpcAttribute(), ['none']);

      const created = (await ec2.send(new CreateDefaultVpcCommand({}))).Vpc!;
      assert.deepEqual(await defaultVpcAttribute(), [created.VpcId]);
    });
  });
});
