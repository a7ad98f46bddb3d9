import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DescribeRegionsCommand } from '@aws-sdk/client-ec2';
import { cliErrorCode, errorCode, startServer, type NimbusProcess } from './support/server.js';

describe('protocol and server', () => {
  let nimbus: NimbusProcess;
  before(async () => {
    nimbus = await startServer();
  });
  after(async () => {
    await nimbus.dispose();
  });

  it('answers health checks', async () => {
    const res = await fetch(`${nimbus.url}/_nimbus/health`);
    assert.equal(res.status, 200);
  });

  it('serves DescribeRegions to SDK v3, the AWS CLI and boto3', async () => {
    const out = await nimbus.ec2().send(new DescribeRegionsCommand({}));
    assert.ok(out.Regions!.some((r) => r.RegionName === 'eu-west-1'));
    const cli = nimbus.aws(['ec2', 'describe-regions']);
    assert.equal(cli.status, 0, cli.stderr);
    assert.ok((cli.json as { Regions: { RegionName: string }[] }).Regions.some((r) => r.RegionName === 'us-west-2'));
    const names = nimbus.boto3('result = [r["RegionName"] for r in ec2.describe_regions()["Regions"]]') as string[];
    assert.ok(names.includes('ap-northeast-1'));
  });

  it('refuses a bad signature with SignatureDoesNotMatch', async () => {
    const code = await errorCode(
      nimbus.ec2({ credentials: { accessKeyId: 'test', secretAccessKey: 'wrong' } }).send(new DescribeRegionsCommand({})),
    );
    assert.equal(code, 'SignatureDoesNotMatch');
  });

  it('answers an unknown action with InvalidAction', () => {
    const r = nimbus.boto3(`
import botocore.awsrequest, botocore.auth, botocore.credentials, urllib.request
creds = botocore.credentials.Credentials("test", "test")
req = botocore.awsrequest.AWSRequest(method="POST", url="${nimbus.url}/", data="Action=FlyToTheMoon&Version=2016-11-15",
    headers={"Content-Type": "application/x-www-form-urlencoded"})
botocore.auth.SigV4Auth(creds, "ec2", "us-east-1").add_auth(req)
p = req.prepare()
try:
    urllib.request.urlopen(urllib.request.Request(p.url, data=p.body.encode() if isinstance(p.body, str) else p.body, headers=dict(p.headers), method="POST"))
    result = "no error"
except urllib.error.HTTPError as e:
    result = [e.code, e.read().decode()]
`) as [number, string];
    assert.equal(r[0], 400);
    assert.match(r[1], /<Code>InvalidAction<\/Code>/);
    assert.match(r[1], /<RequestID>[0-9a-f-]{36}<\/RequestID>/);
  });

  it('answers a wrong type with InvalidParameterValue', () => {
    const r = nimbus.aws(['ec2', 'describe-regions', '--all-regions', '--filters', 'Name=region-name,Values=x']);
    assert.equal(r.status, 0, r.stderr);
    const bad = nimbus.aws(['ec2', 'describe-regions', '--filters', 'Name=nonsense,Values=x']);
    assert.equal(cliErrorCode(bad), 'InvalidParameterValue');
  });
});
