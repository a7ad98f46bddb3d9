import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DescribeImagesCommand, type Image } from '@aws-sdk/client-ec2';
import { GetParameterCommand, GetParametersByPathCommand, GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { cliErrorCode, errorCode, startServer, TEST_CREDENTIALS, type NimbusProcess } from './support/server.js';

const AL = '/aws/service/ami-amazon-linux-latest';

describe('SSM public parameters for the latest AMIs', () => {
  let nimbus: NimbusProcess;
  const ssm = (region = 'us-east-1') => new SSMClient({ endpoint: nimbus.url, region, credentials: TEST_CREDENTIALS, maxAttempts: 1 });
  before(async () => {
    nimbus = await startServer();
  });
  after(async () => {
    await nimbus.dispose();
  });

  const value = async (name: string, region = 'us-east-1') =>
    (await ssm(region).send(new GetParameterCommand({ Name: name }))).Parameter!;

  /** The newest image whose name matches, as a script picking "most recent" would find it. */
  const newestImage = async (owner: string, pattern: string, region = 'us-east-1'): Promise<Image> => {
    const images = (
      await nimbus.ec2({ region }).send(new DescribeImagesCommand({ Owners: [owner], Filters: [{ Name: 'name', Values: [pattern] }] }))
    ).Images!;
    return images.sort((a, b) => (a.CreationDate! < b.CreationDate! ? 1 : -1))[0]!;
  };

  it('points each parameter at the newest matching image of its region', async () => {
    const cases: [string, string, string][] = [
      [`${AL}/al2023-ami-kernel-default-x86_64`, 'amazon', 'al2023-ami-2023.*-kernel-6.1-x86_64'],
      [`${AL}/al2023-ami-kernel-6.1-arm64`, 'amazon', 'al2023-ami-2023.*-kernel-6.1-arm64'],
      [`${AL}/amzn2-ami-hvm-x86_64-gp2`, 'amazon', 'amzn2-ami-hvm-2.0.*-x86_64-gp2'],
      ['/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id', '099720109477', 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*'],
      ['/aws/service/canonical/ubuntu/server/jammy/stable/current/arm64/hvm/ebs-gp2/ami-id', '099720109477', 'ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-arm64-server-*'],
      ['/aws/service/debian/release/12/latest/amd64', '136693071363', 'debian-12-amd64-*'],
      ['/aws/service/ami-windows-latest/Windows_Server-2022-English-Full-Base', 'amazon', 'Windows_Server-2022-English-Full-Base-*'],
      ['/aws/service/suse/sles/15-sp7/x86_64/latest', 'amazon', 'suse-sles-15-sp7-*-x86_64'],
      ['/aws/service/ec2-macos/sequoia/arm64_mac/latest/image_id', 'amazon', 'amzn-ec2-macos-15*-arm64'],
    ];
    for (const [name, owner, pattern] of cases) {
      const p = await value(name);
      const image = await newestImage(owner, pattern);
      assert.equal(p.Value, image.ImageId, name);
      assert.equal(p.Name, name);
      assert.equal(p.Type, 'String');
      assert.equal(p.ARN, `arn:aws:ssm:us-east-1::parameter${name}`);
      assert.ok(p.Version! >= 1);
      assert.ok(p.LastModifiedDate instanceof Date);
    }
    const west = await value(`${AL}/al2023-ami-kernel-default-x86_64`, 'eu-west-1');
    assert.equal(west.Value, (await newestImage('amazon', 'al2023-ami-2023.*-kernel-6.1-x86_64', 'eu-west-1')).ImageId);
    assert.notEqual(west.Value, (await value(`${AL}/al2023-ami-kernel-default-x86_64`)).Value);
  });

  it('answers GetParameters with the unknown names in InvalidParameters', async () => {
    const out = await ssm().send(new GetParametersCommand({ Names: [`${AL}/al2023-ami-kernel-default-arm64`, '/aws/service/nothing/here'] }));
    assert.deepEqual(out.Parameters!.map((p) => p.Name), [`${AL}/al2023-ami-kernel-default-arm64`]);
    assert.deepEqual(out.InvalidParameters, ['/aws/service/nothing/here']);
    // name:version selects the current version.
    const current = await value(`${AL}/al2023-ami-kernel-default-arm64`);
    const selected = await value(`${AL}/al2023-ami-kernel-default-arm64:${current.Version}`);
    assert.equal(selected.Value, current.Value);
  });

  it('lists the Amazon Linux parameters by path, page by page (boto3 paginator and the AWS CLI)', async () => {
    const r = nimbus.boto3(`
ssm = session.client("ssm")
names, sizes = [], []
for page in ssm.get_paginator("get_parameters_by_path").paginate(Path="${AL}/", PaginationConfig={"PageSize": 10}):
    sizes.append(len(page["Parameters"]))
    names += [p["Name"] for p in page["Parameters"]]
values = {p["Name"]: p["Value"] for p in ssm.get_parameters(Names=names[:10])["Parameters"]}
images = ec2.describe_images(ImageIds=list(set(values.values())))["Images"]
result = {"names": names, "sizes": sizes, "found": len(images), "wanted": len(set(values.values()))}
`) as { names: string[]; sizes: number[]; found: number; wanted: number };
    assert.ok(r.names.length > 10 && r.sizes.every((n) => n <= 10));
    assert.equal(new Set(r.names).size, r.names.length);
    assert.ok(r.names.every((n) => n.startsWith(`${AL}/`)));
    for (const n of ['al2023-ami-kernel-default-x86_64', 'al2023-ami-kernel-6.1-arm64', 'amzn2-ami-hvm-x86_64-gp2']) {
      assert.ok(r.names.includes(`${AL}/${n}`), n);
    }
    assert.equal(r.found, r.wanted);
    // Without Recursive only direct children count; /aws/service has none.
    const shallow = await ssm().send(new GetParametersByPathCommand({ Path: '/aws/service' }));
    assert.deepEqual(shallow.Parameters, []);
    const deep = await ssm().send(new GetParametersByPathCommand({ Path: '/aws/service/debian', Recursive: true, MaxResults: 10 }));
    assert.equal(deep.Parameters!.length, 10);
    assert.ok(deep.NextToken);
    const cli = nimbus.aws(['ssm', 'get-parameters-by-path', '--path', AL, '--query', 'Parameters[].Name']);
    assert.equal(cli.status, 0, cli.stderr);
    assert.deepEqual((cli.json as string[]).sort(), [...r.names].sort());
  });

  it('answers bad input with SSM’s error codes', async () => {
    try {
      await ssm().send(new GetParameterCommand({ Name: `${AL}/al2099-ami-kernel-default-x86_64` }));
      assert.fail('expected ParameterNotFound');
    } catch (err) {
      const e = err as { name: string; $metadata: { httpStatusCode: number } };
      assert.equal(e.name, 'ParameterNotFound');
      assert.equal(e.$metadata.httpStatusCode, 400);
    }
    const cli = nimbus.aws(['ssm', 'get-parameter', '--name', '/aws/service/nope']);
    assert.equal(cliErrorCode(cli), 'ParameterNotFound');
    const version = nimbus.aws(['ssm', 'get-parameter', '--name', `${AL}/al2023-ami-kernel-default-x86_64:9999`]);
    assert.equal(cliErrorCode(version), 'ParameterVersionNotFound');
    const tooMany = nimbus.aws(['ssm', 'get-parameters-by-path', '--path', AL, '--max-results', '11', '--no-paginate']);
    assert.equal(cliErrorCode(tooMany), 'ValidationException');
    const badKey = nimbus.aws(['ssm', 'get-parameters-by-path', '--path', AL, '--parameter-filters', 'Key=Name,Values=x']);
    assert.equal(cliErrorCode(badKey), 'InvalidFilterKey');
    assert.equal(await errorCode(ssm().send(new GetParametersByPathCommand({ Path: AL, NextToken: 'garbage' }))), 'InvalidNextToken');
  });
});
