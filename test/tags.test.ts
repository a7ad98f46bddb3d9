/**
 * CreateTags, DeleteTags and DescribeTags through the AWS CLI, boto3 and SDK v3: exact round trips
 * of awkward text, EC2's limits and reserved prefix, all-or-nothing requests, filters, pagination
 * and the scoping of tags to one account and region.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateKeyPairCommand,
  CreateTagsCommand,
  DeleteTagsCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeKeyPairsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeTagsCommand,
  DescribeVpcsCommand,
  RunInstancesCommand,
  type EC2Client,
  type Tag,
} from '@aws-sdk/client-ec2';
import { cliErrorCode, createAccount, errorCode, startServer, type NimbusProcess } from './support/server.js';
import { defaultVpc } from '../src/services/ec2/default-vpc.js';
import { x86Image } from './support/fixtures.js';

/** Every character XML must escape, and text beyond ASCII (accents, CJK, an astral emoji). */
const AWKWARD = `<a href="x">&amp; 'q' ünïcødé 日本語 😀</a>`;

describe('tags', () => {
  let nimbus: NimbusProcess;
  let ec2: EC2Client;
  let keyNo = 0;

  /** A fresh key pair's id: the taggable resource most tests use. */
  const newKeyPair = async (client = ec2) =>
    (await client.send(new CreateKeyPairCommand({ KeyName: `tags-${process.pid}-${keyNo++}` }))).KeyPairId!;

  const tagsOf = async (resourceId: string, client = ec2): Promise<Tag[]> =>
    ((await client.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [resourceId] }] }))).Tags ?? []).map(
      (t) => ({ Key: t.Key, Value: t.Value }),
    );

  before(async () => {
    nimbus = await startServer();
    ec2 = nimbus.ec2();
  });
  after(() => nimbus.dispose());

  it('round-trips XML-special and non-ASCII keys and values exactly through the CLI', async () => {
    const id = await newKeyPair();
    const tags = [
      { Key: AWKWARD, Value: AWKWARD },
      { Key: 'Name', Value: '' },
      { Key: 'spaces  and\ttabs', Value: ' leading and trailing ' },
    ];
    const created = nimbus.aws(['ec2', 'create-tags', '--resources', id, '--tags', JSON.stringify(tags)]);
    assert.equal(created.status, 0, created.stderr);
    const described = nimbus.aws(['ec2', 'describe-tags', '--filters', `Name=resource-id,Values=${id}`]);
    assert.equal(described.status, 0, described.stderr);
    const items = (described.json as { Tags: { ResourceId: string; ResourceType: string; Key: string; Value: string }[] }).Tags;
    assert.deepEqual(
      items.map((t) => ({ Key: t.Key, Value: t.Value })).sort((a, b) => (a.Key < b.Key ? -1 : 1)),
      [...tags].sort((a, b) => (a.Key < b.Key ? -1 : 1)),
    );
    for (const t of items) {
      assert.equal(t.ResourceId, id);
      assert.equal(t.ResourceType, 'key-pair');
    }
    // The resource's own Describe shows the same tags (SDK v3 parses the XML independently).
    const kp = await ec2.send(new DescribeKeyPairsCommand({ KeyPairIds: [id] }));
    assert.deepEqual(
      [...kp.KeyPairs![0]!.Tags!].sort((a, b) => (a.Key! < b.Key! ? -1 : 1)),
      [...tags].sort((a, b) => (a.Key < b.Key ? -1 : 1)),
    );
    // And boto3 reads the same text.
    const fromBoto = nimbus.boto3(`
result = ec2.describe_tags(Filters=[{"Name": "key", "Values": [${JSON.stringify(AWKWARD)}]}])["Tags"]
`) as { Key: string; Value: string }[];
    assert.deepEqual(fromBoto.map((t) => [t.Key, t.Value]), [[AWKWARD, AWKWARD]]);
  });

  it('tags instances: CLI, boto3 and SDK v3 agree, and DescribeInstances carries the tags', async () => {
    const run = await ec2.send(new RunInstancesCommand({ ImageId: await x86Image(ec2), InstanceType: 't3.micro', MinCount: 2, MaxCount: 2 }));
    const [one, two] = run.Instances!.map((i) => i.InstanceId!) as [string, string];
    const cli = nimbus.aws(['ec2', 'create-tags', '--resources', one, two, '--tags', JSON.stringify([{ Key: 'Name', Value: AWKWARD }, { Key: 'tier', Value: 'web' }])]);
    assert.equal(cli.status, 0, cli.stderr);
    const viaBoto = nimbus.boto3(`
ec2.delete_tags(Resources=["${two}"], Tags=[{"Key": "tier"}])
result = sorted([t["ResourceId"], t["ResourceType"], t["Key"], t["Value"]] for t in ec2.describe_tags(Filters=[{"Name": "resource-type", "Values": ["instance"]}])["Tags"])
`) as string[][];
    assert.deepEqual(viaBoto, [
      [one, 'instance', 'Name', AWKWARD],
      [one, 'instance', 'tier', 'web'],
      [two, 'instance', 'Name', AWKWARD],
    ].sort());
    const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [one, two] }));
    const byId = new Map(described.Reservations!.flatMap((r) => r.Instances!).map((i) => [i.InstanceId!, i.Tags ?? []]));
    assert.deepEqual(byId.get(one)!.map((t) => t.Key).sort(), ['Name', 'tier']);
    assert.deepEqual(byId.get(two), [{ Key: 'Name', Value: AWKWARD }]);
  });

  it('answers DescribeTags items with ResourceId, ResourceType, Key and Value', async () => {
    const id = await newKeyPair();
    await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'env', Value: 'prod' }] }));
    const out = await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [id] }] }));
    assert.deepEqual(out.Tags, [{ ResourceId: id, ResourceType: 'key-pair', Key: 'env', Value: 'prod' }]);
  });

  it('overwrites the value of an existing key, and tags many resources at once', async () => {
    const [a, b] = [await newKeyPair(), await newKeyPair()];
    await ec2.send(new CreateTagsCommand({ Resources: [a], Tags: [{ Key: 'stage', Value: 'one' }] }));
    await ec2.send(new CreateTagsCommand({ Resources: [a, b], Tags: [{ Key: 'stage', Value: 'two' }, { Key: 'team' }] }));
    for (const id of [a, b]) {
      assert.deepEqual(
        (await tagsOf(id)).sort((x, y) => (x.Key! < y.Key! ? -1 : 1)),
        [{ Key: 'stage', Value: 'two' }, { Key: 'team', Value: '' }],
      );
    }
  });

  it('deletes by key whatever the value, by key and value only on a match, and everything without tags', async () => {
    const id = await newKeyPair();
    const put = (tags: Tag[]) => ec2.send(new CreateTagsCommand({ Resources: [id], Tags: tags }));
    await put([{ Key: 'a', Value: '1' }, { Key: 'b', Value: '2' }, { Key: 'c', Value: '' }, { Key: 'd', Value: '4' }]);
    await ec2.send(new DeleteTagsCommand({ Resources: [id], Tags: [{ Key: 'a' }] }));
    await ec2.send(new DeleteTagsCommand({ Resources: [id], Tags: [{ Key: 'b', Value: 'not-2' }] }));
    // An empty Value deletes only a tag whose value is empty.
    await ec2.send(new DeleteTagsCommand({ Resources: [id], Tags: [{ Key: 'c', Value: '' }, { Key: 'd', Value: '' }] }));
    assert.deepEqual((await tagsOf(id)).map((t) => t.Key).sort(), ['b', 'd']);
    // The CLI's shorthand `Key=d,Value=` sends an empty value too.
    const cli = nimbus.aws(['ec2', 'delete-tags', '--resources', id, '--tags', 'Key=b,Value=2', 'Key=d,Value=']);
    assert.equal(cli.status, 0, cli.stderr);
    assert.deepEqual((await tagsOf(id)).map((t) => t.Key), ['d']);
    await put([{ Key: 'x', Value: 'y' }]);
    await ec2.send(new DeleteTagsCommand({ Resources: [id] }));
    assert.deepEqual(await tagsOf(id), []);
    // Deleting a tag that is not there is not an error.
    await ec2.send(new DeleteTagsCommand({ Resources: [id], Tags: [{ Key: 'never-was' }] }));
  });

  it('filters by key, value, resource-id, resource-type and tag:Key, with wildcards', async () => {
    const [web, db] = [await newKeyPair(), await newKeyPair()];
    await ec2.send(new CreateTagsCommand({ Resources: [web], Tags: [{ Key: 'role', Value: 'web-frontend' }, { Key: 'owner', Value: 'ana' }] }));
    await ec2.send(new CreateTagsCommand({ Resources: [db], Tags: [{ Key: 'role', Value: 'database' }, { Key: 'star*', Value: 'lit?' }] }));
    const describe = async (...filters: [string, string[]][]) =>
      ((await ec2.send(new DescribeTagsCommand({ Filters: [...filters.map(([Name, Values]) => ({ Name, Values })), { Name: 'resource-id', Values: [web, db] }] }))).Tags ?? [])
        .map((t) => `${t.ResourceId === web ? 'web' : 'db'}:${t.Key}=${t.Value}`)
        .sort();
    assert.deepEqual(await describe(['key', ['role']]), ['db:role=database', 'web:role=web-frontend']);
    assert.deepEqual(await describe(['value', ['web-*']]), ['web:role=web-frontend']);
    assert.deepEqual(await describe(['value', ['d?tabase', 'an?']]), ['db:role=database', 'web:owner=ana']);
    assert.deepEqual(await describe(['key', ['o*']], ['value', ['*a*']]), ['web:owner=ana']);
    // A backslash makes a wildcard literal.
    assert.deepEqual(await describe(['key', ['star\\*']]), ['db:star*=lit?']);
    assert.deepEqual(await describe(['key', ['sta\\?*']]), []);
    assert.deepEqual(await describe(['resource-type', ['key-pair']], ['key', ['owner']]), ['web:owner=ana']);
    assert.deepEqual(await describe(['resource-type', ['instance']]), []);
    // tag:Key selects every tag of the resources that carry that tag.
    assert.deepEqual(await describe(['tag:role', ['web*']]), ['web:owner=ana', 'web:role=web-frontend']);
    assert.equal(await errorCode(ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'colour', Values: ['x'] }] }))), 'InvalidParameterValue');
  });

  it("pages with MaxResults and NextToken, including boto3's describe_tags paginator", async () => {
    const ids = [await newKeyPair(), await newKeyPair(), await newKeyPair()];
    const tags = Array.from({ length: 7 }, (_, i) => ({ Key: `page-${i}`, Value: String(i) }));
    await ec2.send(new CreateTagsCommand({ Resources: ids, Tags: tags }));
    const filter = [{ Name: 'key', Values: ['page-*'] }];
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const out = await ec2.send(new DescribeTagsCommand({ Filters: filter, MaxResults: 5, NextToken: token }));
      assert.ok(out.Tags!.length <= 5);
      seen.push(...out.Tags!.map((t) => `${t.ResourceId}/${t.Key}`));
      token = out.NextToken;
      pages++;
    } while (token);
    assert.equal(pages, 5);
    assert.equal(seen.length, 21);
    assert.equal(new Set(seen).size, 21);
    const viaBoto = nimbus.boto3(`
pages = ec2.get_paginator("describe_tags").paginate(Filters=[{"Name": "key", "Values": ["page-*"]}], PaginationConfig={"PageSize": 5})
sizes, keys = [], []
for p in pages:
    sizes.append(len(p["Tags"]))
    keys += [t["ResourceId"] + "/" + t["Key"] for t in p["Tags"]]
result = [sizes, keys]
`) as [number[], string[]];
    assert.deepEqual(viaBoto[0], [5, 5, 5, 5, 1]);
    assert.deepEqual(viaBoto[1], seen);
    // The CLI pages by itself and returns everything.
    const cli = nimbus.aws(['ec2', 'describe-tags', '--filters', 'Name=key,Values=page-*', '--page-size', '6']);
    assert.equal((cli.json as { Tags: unknown[] }).Tags.length, 21);
    for (const bad of [4, 1001]) {
      assert.equal(await errorCode(ec2.send(new DescribeTagsCommand({ MaxResults: bad }))), 'InvalidParameterValue');
    }
    assert.equal(await errorCode(ec2.send(new DescribeTagsCommand({ MaxResults: 5, NextToken: 'garbage' }))), 'InvalidPaginationToken');
  });

  it('allows 50 tags per resource and refuses the 51st with TagLimitExceeded, all or nothing', async () => {
    const [full, empty] = [await newKeyPair(), await newKeyPair()];
    const fifty = Array.from({ length: 50 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    await ec2.send(new CreateTagsCommand({ Resources: [full], Tags: fifty }));
    // Overwriting keys it already has keeps the count at 50.
    await ec2.send(new CreateTagsCommand({ Resources: [full], Tags: [{ Key: 'k0', Value: 'new' }] }));
    const cli = nimbus.aws(['ec2', 'create-tags', '--resources', empty, full, '--tags', 'Key=extra,Value=1']);
    assert.equal(cliErrorCode(cli), 'TagLimitExceeded');
    assert.equal((await tagsOf(full)).length, 50);
    assert.deepEqual(await tagsOf(empty), [], 'a refused request tags no resource at all');
    const many = Array.from({ length: 51 }, (_, i) => ({ Key: `m${i}` }));
    assert.equal(await errorCode(ec2.send(new CreateTagsCommand({ Resources: [empty], Tags: many }))), 'TagLimitExceeded');
    assert.deepEqual(await tagsOf(empty), []);
  });

  it('limits keys to 128 and values to 256 characters (not bytes), and reserves the aws: prefix', async () => {
    const id = await newKeyPair();
    const create = (Key: string, Value = '') => ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key, Value }] }));
    await create('k'.repeat(128), 'v'.repeat(256));
    await create('日'.repeat(128), '😀'.repeat(256));
    assert.equal(await errorCode(create('k'.repeat(129))), 'InvalidParameterValue');
    assert.equal(await errorCode(create('k', 'v'.repeat(257))), 'InvalidParameterValue');
    for (const reserved of ['aws:cloudformation:stack-name', 'AWS:x']) {
      assert.equal(await errorCode(create(reserved, 'x')), 'InvalidParameterValue');
    }
    assert.equal(await errorCode(ec2.send(new DeleteTagsCommand({ Resources: [id], Tags: [{ Key: 'aws:x' }] }))), 'InvalidParameterValue');
    // "aws" elsewhere in a key is fine.
    await create('my-aws:key', 'ok');
    const r = nimbus.aws(['ec2', 'create-tags', '--resources', id, '--tags', 'Key=aws:name,Value=x']);
    assert.equal(cliErrorCode(r), 'InvalidParameterValue');
    assert.match(r.stderr, /aws:/);
    assert.equal((await tagsOf(id)).length, 3);
  });

  it("answers unknown resources with their kind's NotFound, malformed ids with Malformed, others with InvalidID", async () => {
    const id = await newKeyPair();
    const create = (resources: string[]) => ec2.send(new CreateTagsCommand({ Resources: resources, Tags: [{ Key: 'k', Value: 'v' }] }));
    assert.equal(await errorCode(create(['i-0123456789abcdef0'])), 'InvalidInstanceID.NotFound');
    assert.equal(await errorCode(create(['key-0123456789abcdef0'])), 'InvalidKeyPair.NotFound');
    assert.equal(await errorCode(create(['ami-0123456789abcdef0'])), 'InvalidAMIID.NotFound');
    assert.equal(await errorCode(create(['vol-0123456789abcdef0'])), 'InvalidVolume.NotFound');
    assert.equal(await errorCode(create(['i-xyz'])), 'InvalidInstanceID.Malformed');
    assert.equal(await errorCode(create(['ami-123'])), 'InvalidAMIID.Malformed');
    for (const other of ['r-0123456789abcdef0', 'lt-0123456789abcdef0', 'nonsense']) {
      assert.equal(await errorCode(create([other])), 'InvalidID', other);
    }
    const cli = nimbus.aws(['ec2', 'create-tags', '--resources', id, 'i-0123456789abcdef0', '--tags', 'Key=k,Value=v']);
    assert.equal(cliErrorCode(cli), 'InvalidInstanceID.NotFound');
    assert.match(cli.stderr, /i-0123456789abcdef0/);
    assert.deepEqual(await tagsOf(id), [], 'the existing resource of a refused request stays untagged');
    assert.equal(await errorCode(ec2.send(new DeleteTagsCommand({ Resources: ['key-0123456789abcdef0'] }))), 'InvalidKeyPair.NotFound');
  });

  it('drops the tags of a deleted resource', async () => {
    const name = `doomed-${process.pid}`;
    const id = (await ec2.send(new CreateKeyPairCommand({ KeyName: name, TagSpecifications: [{ ResourceType: 'key-pair', Tags: [{ Key: 'a', Value: 'b' }] }] }))).KeyPairId!;
    assert.deepEqual(await tagsOf(id), [{ Key: 'a', Value: 'b' }]);
    const del = nimbus.aws(['ec2', 'delete-key-pair', '--key-name', name]);
    assert.equal(del.status, 0, del.stderr);
    assert.deepEqual(await tagsOf(id), []);
  });

  it('keeps tags to their region', async () => {
    const id = await newKeyPair();
    await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'where', Value: 'virginia' }] }));
    const ireland = nimbus.ec2({ region: 'eu-west-1' });
    assert.deepEqual((await ireland.send(new DescribeTagsCommand({}))).Tags, []);
    assert.equal(
      await errorCode(ireland.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'k', Value: 'v' }] }))),
      'InvalidKeyPair.NotFound',
    );
    assert.equal((await tagsOf(id)).length, 1);
  });

  it("tags a fresh account's default VPC, subnet and group as its very first request", async () => {
    const account = createAccount(nimbus.dataDir, 'fresh-tagger');
    const fresh = nimbus.ec2({ credentials: account });
    // The ids the account's default VPC is stored under (nothing of it is stored before this request).
    const ids = defaultVpc({ account: account.accountId, region: 'us-east-1' });
    const subnetId = ids.subnets[0]!.SubnetId;
    const resources = [ids.VpcId, subnetId, ids.SecurityGroupId];
    await fresh.send(new CreateTagsCommand({ Resources: resources, Tags: [{ Key: 'Name', Value: 'default' }] }));
    const named = [{ Key: 'Name', Value: 'default' }];
    assert.deepEqual((await fresh.send(new DescribeVpcsCommand({ VpcIds: [ids.VpcId] }))).Vpcs![0]!.Tags, named);
    assert.deepEqual((await fresh.send(new DescribeSubnetsCommand({ SubnetIds: [subnetId] }))).Subnets![0]!.Tags, named);
    assert.deepEqual((await fresh.send(new DescribeSecurityGroupsCommand({ GroupIds: [ids.SecurityGroupId] }))).SecurityGroups![0]!.Tags, named);
    // Another account's default VPC is not the caller's.
    assert.equal(
      await errorCode(ec2.send(new CreateTagsCommand({ Resources: [ids.VpcId], Tags: [{ Key: 'k', Value: 'v' }] }))),
      'InvalidVpcID.NotFound',
    );
  });

  it('lets every account tag a public AMI, each seeing only its own tags', async () => {
    const images = await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'], MaxResults: 5 }));
    const ami = images.Images?.[0]?.ImageId;
    assert.ok(ami, 'the catalogue has public images');
    const other = nimbus.ec2({ credentials: createAccount(nimbus.dataDir, 'tagger') });
    await ec2.send(new CreateTagsCommand({ Resources: [ami], Tags: [{ Key: 'mine', Value: 'default-account' }] }));
    await other.send(new CreateTagsCommand({ Resources: [ami], Tags: [{ Key: 'mine', Value: 'other-account' }] }));
    assert.deepEqual(await tagsOf(ami), [{ Key: 'mine', Value: 'default-account' }]);
    assert.deepEqual(await tagsOf(ami, other), [{ Key: 'mine', Value: 'other-account' }]);
    const describedByOther = await other.send(new DescribeImagesCommand({ ImageIds: [ami] }));
    assert.deepEqual(describedByOther.Images![0]!.Tags, [{ Key: 'mine', Value: 'other-account' }]);
  });
});
