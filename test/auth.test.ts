/**
 * SigV4 authentication: header and presigned forms, the time window, tampering, unknown keys and
 * scopes, and the rule that test/test works only while the server listens on loopback.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DescribeRegionsCommand } from '@aws-sdk/client-ec2';
import { createAccount, errorCode, startServer, type NimbusProcess } from './support/server.js';
import { parse, presignGet, queryBody, send, signedCall, signPost } from './support/signed-request.js';

const DESCRIBE_REGIONS = { Action: 'DescribeRegions', Version: '2016-11-15' };
const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000);

/** Asserts an EC2 error body with the given code and status. */
function assertError(r: { status: number; body: string; code?: string }, code: string, status: number): void {
  assert.equal(r.code, code, r.body);
  assert.equal(r.status, status, r.body);
  assert.match(r.body, /^<\?xml[^>]*>\s*<Response><Errors><Error><Code>[^<]+<\/Code><Message>[^<]*<\/Message><\/Error><\/Errors><RequestID>[0-9a-f-]{36}<\/RequestID><\/Response>$/);
}

describe('SigV4 authentication', () => {
  let nimbus: NimbusProcess;
  before(async () => {
    nimbus = await startServer();
  });
  after(() => nimbus.dispose());

  it('accepts a presigned GET URL', async () => {
    const url = await presignGet(nimbus.url, DESCRIBE_REGIONS, 60);
    assert.match(url, /X-Amz-Signature=[0-9a-f]{64}/);
    const r = await parse(await fetch(url));
    assert.equal(r.status, 200, r.body);
    assert.match(r.body, /<DescribeRegionsResponse xmlns="http:\/\/ec2.amazonaws.com\/doc\/2016-11-15\/">/);
    assert.match(r.body, /<regionName>us-east-1<\/regionName>/);
  });

  it('refuses a presigned URL one second past its X-Amz-Expires with RequestExpired', async () => {
    const url = await presignGet(nimbus.url, DESCRIBE_REGIONS, 30, { signingDate: new Date(Date.now() - 31_000) });
    assertError(await parse(await fetch(url)), 'RequestExpired', 400);
  });

  it('refuses a presigned URL whose query was changed after signing', async () => {
    const url = await presignGet(nimbus.url, { ...DESCRIBE_REGIONS, 'RegionName.1': 'us-east-1' }, 60);
    const r = await parse(await fetch(url.replace('RegionName.1=us-east-1', 'RegionName.1=eu-west-1')));
    assertError(r, 'SignatureDoesNotMatch', 403);
  });

  it('agrees with the official signers on the canonical request: encoded and ordered query, folded header spaces', async () => {
    // Names that sort differently as text than as numbers, and a value with every character
    // SigV4 encodes differently from encodeURIComponent, a multi-byte letter and reserved ones.
    const odd = "a b*~'()!ü&=+/";
    const query = {
      ...DESCRIBE_REGIONS,
      'RegionName.1': 'us-east-1',
      'RegionName.10': 'eu-west-1',
      'RegionName.2': 'us-west-2',
      'Filter.1.Name': 'region-name',
      'Filter.1.Value.1': odd,
    };
    const presigned = await parse(await fetch(await presignGet(nimbus.url, query, 60)));
    assert.equal(presigned.status, 200, presigned.body);

    const spaced = await signPost(nimbus.url, queryBody('DescribeRegions'), { headers: { 'x-nimbus-trace': 'one   two \t three' } });
    assert.equal((await send(nimbus.url, spaced)).status, 200);

    // botocore signs its own presigned URL (its encoder, its ordering). It signs the operation's
    // own method, POST for EC2, so the URL is sent with POST and an empty body.
    const url = nimbus.boto3(`
result = ec2.generate_presigned_url('describe_regions', ExpiresIn=60, Params={
  'RegionNames': ['us-east-1', 'eu-west-1'],
  'Filters': [{'Name': 'region-name', 'Values': [${JSON.stringify(odd)}, 'us-east-1']}]})
`) as string;
    const r = await parse(await fetch(url, { method: 'POST' }));
    assert.equal(r.status, 200, r.body);
    assert.match(r.body, /<regionName>us-east-1<\/regionName>/);
    assert.doesNotMatch(r.body, /eu-west-1/);
  });

  it('accepts a request signed a few minutes ago, refuses one signed 20 minutes ago (RequestExpired)', async () => {
    const recent = await signedCall(nimbus.url, queryBody('DescribeRegions'), { signingDate: minutesAgo(4) });
    assert.equal(recent.status, 200, recent.body);
    const old = await signedCall(nimbus.url, queryBody('DescribeRegions'), { signingDate: minutesAgo(20) });
    assertError(old, 'RequestExpired', 400);
    const future = await signedCall(nimbus.url, queryBody('DescribeRegions'), { signingDate: minutesAgo(-20) });
    assertError(future, 'RequestExpired', 400);
  });

  it('refuses a wrong secret with SignatureDoesNotMatch (403), through every client', async () => {
    const wrong = { accessKeyId: 'test', secretAccessKey: 'not-the-secret' };
    assertError(await signedCall(nimbus.url, queryBody('DescribeRegions'), { credentials: wrong }), 'SignatureDoesNotMatch', 403);
    assert.equal(await errorCode(nimbus.ec2({ credentials: wrong }).send(new DescribeRegionsCommand({}))), 'SignatureDoesNotMatch');
    const code = nimbus.boto3(`
try:
    ec2.describe_regions()
    result = "no error"
except botocore.exceptions.ClientError as e:
    result = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
`, { credentials: wrong });
    assert.deepEqual(code, ['SignatureDoesNotMatch', 403]);
  });

  it('refuses a body changed after signing', async () => {
    const req = await signPost(nimbus.url, queryBody('DescribeRegions', { 'RegionName.1': 'us-east-1' }));
    req.body = queryBody('DescribeRegions', { 'RegionName.1': 'us-west-2' });
    assertError(await send(nimbus.url, req), 'SignatureDoesNotMatch', 403);
  });

  it('refuses a signed header changed after signing', async () => {
    const req = await signPost(nimbus.url, queryBody('DescribeRegions'), { headers: { 'x-nimbus-trace': 'one' } });
    assert.match(req.headers.authorization!, /SignedHeaders=[^,]*x-nimbus-trace/);
    req.headers['x-nimbus-trace'] = 'two';
    assertError(await send(nimbus.url, req), 'SignatureDoesNotMatch', 403);
    // An unsigned header may change freely.
    const ok = await signPost(nimbus.url, queryBody('DescribeRegions'));
    ok.headers['x-unsigned'] = 'anything';
    assert.equal((await send(nimbus.url, ok)).status, 200);
  });

  it('refuses an unknown access key with AuthFailure (401)', async () => {
    const stranger = { accessKeyId: 'AKIAUNKNOWNUNKNOWN12', secretAccessKey: 'whatever' };
    assertError(await signedCall(nimbus.url, queryBody('DescribeRegions'), { credentials: stranger }), 'AuthFailure', 401);
    const cli = nimbus.aws(['ec2', 'describe-regions'], { credentials: stranger });
    assert.match(cli.stderr, /\(AuthFailure\)/);
  });

  it('refuses an unsigned request with MissingAuthenticationToken (401)', async () => {
    const r = await send(nimbus.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: queryBody('DescribeRegions'),
    });
    assertError(r, 'MissingAuthenticationToken', 401);
    assertError(await parse(await fetch(`${nimbus.url}/?Action=DescribeRegions&Version=2016-11-15`)), 'MissingAuthenticationToken', 401);
  });

  it('refuses a malformed Authorization header with IncompleteSignature', async () => {
    const r = await send(nimbus.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'AWS4-HMAC-SHA256 Credential=test/garbage' },
      body: queryBody('DescribeRegions'),
    });
    assertError(r, 'IncompleteSignature', 400);
  });

  it('refuses an X-Amz-Date that is no time (day 99, 24:60) with IncompleteSignature', async () => {
    for (const date of ['20261299T120000Z', '20261201T246000Z']) {
      const r = await send(nimbus.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-amz-date': date,
          authorization: `AWS4-HMAC-SHA256 Credential=test/${date.slice(0, 8)}/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
        },
        body: queryBody('DescribeRegions'),
      });
      assertError(r, 'IncompleteSignature', 400);
    }
  });

  it('answers an unknown region or service in the credential scope with an auth error, never a 500', async () => {
    const region = await signedCall(nimbus.url, queryBody('DescribeRegions'), { region: 'mars-north-1' });
    assertError(region, 'AuthFailure', 401);
    assert.match(region.body, /mars-north-1/);
    const service = await signedCall(nimbus.url, queryBody('DescribeRegions'), { service: 'teleport' });
    assertError(service, 'InvalidClientTokenId', 403);
    assert.match(service.body, /teleport/);
  });
});

describe('default credentials off loopback', () => {
  let nimbus: NimbusProcess;
  before(async () => {
    nimbus = await startServer({ host: '0.0.0.0' });
    // Listening on every interface; the test reaches it over loopback only.
    nimbus.url = nimbus.url.replace('0.0.0.0', '127.0.0.1');
  });
  after(() => nimbus.dispose());

  it('refuses test/test with AuthFailure while a created account key works', async () => {
    assert.equal(await errorCode(nimbus.ec2().send(new DescribeRegionsCommand({}))), 'AuthFailure');
    assertError(await signedCall(nimbus.url, queryBody('DescribeRegions')), 'AuthFailure', 401);
    const account = createAccount(nimbus.dataDir, 'remote');
    const out = await nimbus.ec2({ credentials: account }).send(new DescribeRegionsCommand({}));
    assert.ok(out.Regions!.length > 10);
    const cli = nimbus.aws(['ec2', 'describe-regions', '--region-names', 'eu-west-1'], { credentials: account });
    assert.equal(cli.status, 0, cli.stderr);
  });
});
