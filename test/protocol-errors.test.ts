/**
 * Bad input on the wire: every case is answered with EC2's error body and a 4xx status, never a
 * 500 or a stack trace. Raw signed requests reach what the SDKs would refuse to send.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CreateTagsCommand, DescribeInstancesCommand, DescribeTagsCommand, RunInstancesCommand, type _InstanceType } from '@aws-sdk/client-ec2';
import { defaultVpc } from '../src/services/ec2/default-vpc.js';
import { cliErrorCode, errorCode, startServer, type NimbusProcess } from './support/server.js';
import { x86Image } from './support/fixtures.js';
import { queryBody, send, signedCall, signPost, type RawResponse } from './support/signed-request.js';

const ERROR_BODY =
  /^<\?xml version="1.0" encoding="UTF-8"\?>\s*<Response><Errors><Error><Code>([^<]+)<\/Code><Message>([^<]*)<\/Message><\/Error><\/Errors><RequestID>[0-9a-f-]{36}<\/RequestID><\/Response>$/;

function assertError(r: RawResponse, code: string, status = 400): void {
  assert.match(r.body, ERROR_BODY);
  assert.equal(r.code, code, r.body);
  assert.equal(r.status, status, r.body);
}

describe('protocol errors', () => {
  let nimbus: NimbusProcess;
  // The default VPC exists in every account and region without being created: a taggable resource.
  const vpcId = defaultVpc({ account: '000000000000', region: 'us-east-1' }).VpcId;
  const call = (action: string | undefined, params: Record<string, string> = {}, version?: string) =>
    signedCall(nimbus.url, queryBody(action, params, version));

  before(async () => {
    nimbus = await startServer();
  });
  after(() => nimbus.dispose());

  it('answers an unknown action with InvalidAction', async () => {
    const r = await call('FlyToTheMoon');
    assertError(r, 'InvalidAction');
    assert.match(r.body, /FlyToTheMoon/);
    // Names are case-sensitive, and prototype names are not actions.
    assertError(await call('describeregions'), 'InvalidAction');
    assertError(await call('constructor'), 'InvalidAction');
  });

  it('answers a missing Action with MissingAction', async () => {
    assertError(await call(undefined), 'MissingAction');
    assertError(await call(''), 'MissingAction');
  });

  it('answers an unknown Version with NoSuchVersion', async () => {
    const r = await call('DescribeRegions', {}, '2099-01-01');
    assertError(r, 'NoSuchVersion');
    assert.match(r.body, /2099-01-01/);
  });

  it('answers a missing required parameter with MissingParameter', async () => {
    assertError(await call('CreateTags', { 'ResourceId.1': vpcId }), 'MissingParameter');
    assertError(await call('CreateTags', { 'Tag.1.Key': 'k', 'Tag.1.Value': 'v' }), 'MissingParameter');
    const r = await call('DeleteTags', {});
    assertError(r, 'MissingParameter');
    assert.match(r.body, /ResourceId/);
  });

  it('answers a value of the wrong type with InvalidParameterValue', async () => {
    assertError(await call('DescribeTags', { MaxResults: 'abc' }), 'InvalidParameterValue');
    assertError(await call('DescribeTags', { MaxResults: '1.5' }), 'InvalidParameterValue');
    assertError(await call('DescribeTags', { MaxResults: '99999999999' }), 'InvalidParameterValue');
    assertError(await call('DescribeRegions', { AllRegions: 'maybe' }), 'InvalidParameterValue');
    assertError(await call('DescribeTags', { 'Filter.x.Name': 'key' }), 'InvalidParameterValue');
    assertError(await call('DescribeTags', { 'Filter.0.Name': 'key' }), 'InvalidParameterValue');
    // A scalar given as a structure, and a list given as a scalar.
    assertError(await call('DescribeTags', { 'MaxResults.1': '5' }), 'InvalidParameterValue');
    assertError(await call('DescribeTags', { Filter: 'key' }), 'InvalidParameterValue');
    // The same through a real client.
    const cli = nimbus.aws(['ec2', 'describe-tags', '--max-results', '2']);
    assert.equal(cliErrorCode(cli), 'InvalidParameterValue');
  });

  it('answers a body over the size limit with a well-formed 413', async () => {
    const big = queryBody('DescribeRegions', { Padding: 'x'.repeat(1024 * 1024 + 1) });
    const declared = await send(nimbus.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: big });
    assertError(declared, 'RequestEntityTooLarge', 413);
    // Without a Content-Length (chunked), the limit is enforced while reading.
    const chunks = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 3; i++) c.enqueue(new TextEncoder().encode('x'.repeat(512 * 1024)));
        c.close();
      },
    });
    const res = await fetch(nimbus.url, { method: 'POST', body: chunks, duplex: 'half' } as RequestInit);
    const body = await res.text();
    assertError({ status: res.status, body, code: /<Code>([^<]*)/.exec(body)?.[1] }, 'RequestEntityTooLarge', 413);
    // The server still serves the next call.
    assert.equal((await call('DescribeRegions')).status, 200);
  });

  it('answers DryRun with DryRunOperation (412) and changes nothing', async () => {
    const r = await call('CreateTags', { DryRun: 'true', 'ResourceId.1': vpcId, 'Tag.1.Key': 'dry', 'Tag.1.Value': 'run' });
    assertError(r, 'DryRunOperation', 412);
    assert.match(r.body, /Request would have succeeded, but DryRun flag is set\./);
    const ec2 = nimbus.ec2();
    assert.equal(await errorCode(ec2.send(new CreateTagsCommand({ DryRun: true, Resources: [vpcId], Tags: [{ Key: 'dry', Value: 'run' }] }))), 'DryRunOperation');
    const tags = await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'key', Values: ['dry'] }] }));
    assert.deepEqual(tags.Tags, []);
    // A DryRun that would fail reports the failure, not DryRunOperation.
    assertError(await call('CreateTags', { DryRun: 'true', 'ResourceId.1': 'i-0123456789abcdef0', 'Tag.1.Key': 'k' }), 'InvalidInstanceID.NotFound');
  });

  it('answers an operation of the model that this endpoint lacks with a well-formed error, not a 500', async () => {
    const r = await call('PurchaseHostReservation', { OfferingId: 'hro-0123456789abcdef0', 'HostIdSet.1': 'h-0123456789abcdef0' });
    assert.match(r.body, ERROR_BODY);
    assert.equal(r.code, 'NotImplemented');
    assert.notEqual(r.status, 500);
  });

  it('answers RunInstances without MinCount with MissingParameter', async () => {
    const ami = await x86Image(nimbus.ec2());
    const r = await call('RunInstances', { ImageId: ami, MaxCount: '1' });
    assertError(r, 'MissingParameter');
    assert.match(r.body, /MinCount/);
  });

  it('replays a RunInstances ClientToken: same answer, one instance; other parameters are IdempotentParameterMismatch', async () => {
    const ec2 = nimbus.ec2({ region: 'ap-south-1' });
    const ami = await x86Image(ec2);
    const run = (ClientToken: string | undefined, InstanceType: _InstanceType = 't3.micro') =>
      ec2.send(new RunInstancesCommand({ ImageId: ami, InstanceType, MinCount: 1, MaxCount: 1, ClientToken }));
    const first = await run('token-1');
    const again = await run('token-1');
    assert.equal(again.ReservationId, first.ReservationId);
    assert.equal(again.Instances![0]!.InstanceId, first.Instances![0]!.InstanceId);
    assert.equal(again.Instances![0]!.ClientToken, 'token-1');
    assert.equal(await errorCode(run('token-1', 't3.small')), 'IdempotentParameterMismatch');
    assert.equal(await errorCode(run('x'.repeat(65))), 'InvalidParameterValue');
    // A DryRun with a fresh token creates nothing and does not spend the token.
    const dry = await errorCode(ec2.send(new RunInstancesCommand({ ImageId: ami, MinCount: 1, MaxCount: 1, ClientToken: 'token-2', DryRun: true })));
    assert.equal(dry, 'DryRunOperation');
    const second = await run('token-2');
    assert.notEqual(second.Instances![0]!.InstanceId, first.Instances![0]!.InstanceId);
    // boto3 fills a fresh uuid token into every call that gives none: two calls, two instances.
    const launched = nimbus.boto3(`
ids = [ec2.run_instances(ImageId="${ami}", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"] for _ in range(2)]
result = ids
`, { region: 'ap-south-1' }) as string[];
    assert.equal(new Set(launched).size, 2);
    const all = (await ec2.send(new DescribeInstancesCommand({}))).Reservations!.flatMap((r) => r.Instances!);
    assert.equal(all.length, 4);
  });

  it('answers requests that are not valid HTTP, or whose target is no URL, with an error body and stays up', async () => {
    const { port } = new URL(nimbus.url);
    const raw = (text: string) =>
      new Promise<RawResponse>((resolve, reject) => {
        const socket = net.connect(Number(port), '127.0.0.1', () => socket.end(text));
        let out = '';
        socket.on('data', (d: Buffer) => (out += d.toString()));
        socket.on('error', reject);
        socket.on('close', () => {
          const body = out.slice(out.indexOf('\r\n\r\n') + 4);
          resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(out)?.[1]), body, code: /<Code>([^<]*)/.exec(body)?.[1] });
        });
      });
    assertError(await raw('GET http://[ HTTP/1.1\r\nHost: x\r\n\r\n'), 'MalformedQueryString');
    assertError(await raw('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'), 'MalformedQueryString');
    assertError(await raw('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'), 'MalformedQueryString');
    assert.equal((await call('DescribeRegions')).status, 200);
  });

  it('answers a signed request to a path that is not valid percent-encoding with SignatureDoesNotMatch', async () => {
    const req = await signPost(nimbus.url, queryBody('DescribeRegions'));
    const r = await send(`${nimbus.url}/%zz`, req);
    assertError(r, 'SignatureDoesNotMatch', 403);
  });

  it('does not read a body that is not form-encoded as parameters', async () => {
    const r = await signedCall(nimbus.url, '{"Action":"DescribeRegions"}', { headers: { 'content-type': 'application/json' } });
    assertError(r, 'MissingAction');
  });
});
