/**
 * The Instance Metadata Service, asked from inside real instances (over SSH with the key pair)
 * on a server with `--driver ns`, its answers checked against DescribeInstances:
 * - the category tree and EC2's listing rules, user data, `ec2-metadata` in the minimal AMI;
 * - IMDSv2 tokens: TTL rules, X-Forwarded-For refused, a token is good for its instance only;
 *   HttpTokens=required, HttpEndpoint=disabled and the hop limit (the answers' IP TTL);
 * - values follow the instance: a new public IP after stop/start, a hot-attached interface, tags;
 * - the identity document, its signature and PKCS #7 verified with the published certificate;
 * - after a kill -9 of the server, the restarted one serves the same instances and applies changes.
 * Needs root (CI runs as root).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createVerify } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { installationTag, NetnsNames } from '../src/network/names.js';
import { NsApi, nsSkipReason, sleep } from './support/ns-api.js';
import { SshClient } from './support/ssh.js';

const skip = nsSkipReason();

interface HttpAnswer {
  status: number;
  headers: string;
  body: string;
}

describe('the instance metadata service, from inside instances', { skip, timeout: 300_000 }, () => {
  const api = new NsApi();
  const aws = (args: string[]) => api.aws(['ec2', ...args]);
  const launched: string[] = [];
  let ssh: SshClient;
  let sshGroup: string;
  let publicKey: string;

  /** How the last request that got no answer failed: ssh's status and what it wrote. */
  let lastFailure = '';
  /** One raw HTTP/1.0 request to 169.254.169.254 from inside the instance at `ip` (busybox nc). */
  const imds = (ip: string, method: string, path: string, headers: string[] = []): HttpAnswer | undefined => {
    const request = [`${method} ${path} HTTP/1.0`, 'Host: 169.254.169.254', ...headers, '', ''].join('\\r\\n');
    const r = ssh.run(ip, `printf '${request}' | nc -w 3 169.254.169.254 80`);
    if (!r.stdout) {
      lastFailure = `status ${r.status}: ${r.stderr}`;
      return undefined;
    }
    const [head, ...rest] = r.stdout.split('\r\n\r\n');
    return { status: Number(head!.split(' ')[1]), headers: head!, body: rest.join('\r\n\r\n') };
  };
  const get = (ip: string, path: string, token?: string) => imds(ip, 'GET', path, token ? [`X-aws-ec2-metadata-token: ${token}`] : []);
  const token = (ip: string, ttl = 300) => {
    const r = imds(ip, 'PUT', '/latest/api/token', [`X-aws-ec2-metadata-token-ttl-seconds: ${ttl}`]);
    assert.equal(r?.status, 200, `token: ${JSON.stringify(r)}`);
    return r!.body;
  };

  const launch = async (opts: { userData?: string; tags?: string; metadataOptions?: string } = {}) => {
    const args = ['run-instances', '--image-id', api.amiId, '--instance-type', 't3.micro', '--key-name', 'k1', '--security-group-ids', sshGroup];
    if (opts.userData) args.push('--user-data', opts.userData);
    if (opts.tags) args.push('--tag-specifications', opts.tags);
    if (opts.metadataOptions) args.push('--metadata-options', opts.metadataOptions);
    const id = aws(args).Instances[0].InstanceId as string;
    launched.push(id);
    await api.waitFor('running', id);
    const inst = await api.describe(id);
    await ssh.ready(inst.PublicIpAddress!);
    return { id, ip: inst.PublicIpAddress!, inst };
  };

  before(async () => {
    await api.start();
    const key = aws(['create-key-pair', '--key-name', 'k1']);
    ssh = new SshClient(key.KeyMaterial);
    publicKey = spawnSync('ssh-keygen', ['-y', '-f', ssh.keyFile], { encoding: 'utf8' }).stdout.trim();
    sshGroup = aws(['create-security-group', '--group-name', 'ssh', '--description', 'ssh']).GroupId;
    aws(['authorize-security-group-ingress', '--group-id', sshGroup, '--protocol', 'tcp', '--port', '22', '--cidr', '0.0.0.0/0']);
  });

  after(async () => {
    if (launched.length) await api.terminate(...launched).catch(() => {});
    await api.dispose();
    ssh?.dispose();
  });

  it('serves the category tree with EC2\'s listing rules, matching DescribeInstances', async () => {
    const { ip, inst } = await launch({ userData: '#!/bin/sh\necho user-data-ran\n' });
    const t = token(ip);
    const text = (path: string) => {
      const r = get(ip, path, t);
      assert.equal(r?.status, 200, `${path}: ${JSON.stringify(r)}`);
      return r!.body;
    };
    const root = text('/latest/meta-data/').split('\n');
    for (const entry of ['ami-id', 'instance-id', 'instance-type', 'local-ipv4', 'mac', 'network/', 'placement/', 'public-keys/', 'public-ipv4', 'block-device-mapping/', 'services/']) {
      assert.ok(root.includes(entry), `the root lists ${entry}: ${root.join(' ')}`);
    }
    assert.equal(text('/latest/meta-data/instance-id'), inst.InstanceId);
    assert.equal(text('/latest/meta-data/ami-id'), inst.ImageId);
    assert.equal(text('/latest/meta-data/instance-type'), 't3.micro');
    assert.equal(text('/latest/meta-data/local-ipv4'), inst.PrivateIpAddress);
    assert.equal(text('/latest/meta-data/public-ipv4'), inst.PublicIpAddress);
    assert.equal(text('/latest/meta-data/local-hostname'), inst.PrivateDnsName);
    assert.equal(text('/latest/meta-data/reservation-id'), (aws(['describe-instances', '--instance-ids', inst.InstanceId!]).Reservations[0].ReservationId));
    assert.equal(text('/latest/meta-data/placement/availability-zone'), inst.Placement!.AvailabilityZone);
    assert.match(text('/latest/meta-data/placement/availability-zone-id'), /^use1-az\d$/);
    assert.equal(text('/latest/meta-data/placement/region'), 'us-east-1');
    assert.equal(text('/latest/meta-data/security-groups'), 'ssh');
    assert.equal(text('/latest/meta-data/services/domain'), 'amazonaws.com');
    assert.equal(text('/latest/meta-data/public-keys/'), '0=k1');
    assert.equal(text('/latest/meta-data/public-keys/0/openssh-key').trim().split(' ').slice(0, 2).join(' '), publicKey.split(' ').slice(0, 2).join(' '));

    const nic = inst.NetworkInterfaces![0]!;
    const mac = text('/latest/meta-data/mac');
    assert.equal(mac, nic.MacAddress);
    assert.deepEqual(text('/latest/meta-data/network/interfaces/macs/').split('\n'), [`${mac}/`]);
    const at = (leaf: string) => text(`/latest/meta-data/network/interfaces/macs/${mac}/${leaf}`);
    assert.equal(at('interface-id'), nic.NetworkInterfaceId);
    assert.equal(at('device-number'), '0');
    assert.equal(at('local-ipv4s'), inst.PrivateIpAddress);
    assert.equal(at('public-ipv4s'), inst.PublicIpAddress);
    assert.equal(at('subnet-id'), inst.SubnetId);
    assert.equal(at('vpc-id'), inst.VpcId);
    assert.equal(at('security-group-ids'), sshGroup);
    assert.equal(at('vpc-ipv4-cidr-block'), '172.31.0.0/16');
    assert.match(at('subnet-ipv4-cidr-block'), /^172\.31\.\d+\.0\/20$/);

    assert.equal(get(ip, '/latest/meta-data/no-such-thing', t)?.status, 404, 'an unknown path is 404');
    assert.equal(text('/latest/user-data'), '#!/bin/sh\necho user-data-ran\n');
    assert.ok(text('/').split('\n').includes('latest'), 'the root lists the versions');

    const tool = ssh.run(ip, 'ec2-metadata -i -t -z -o -v');
    assert.equal(tool.status, 0, tool.stderr);
    assert.equal(tool.stdout, [
      `instance-id: ${inst.InstanceId}`, 'instance-type: t3.micro', `placement: ${inst.Placement!.AvailabilityZone}`,
      `local-ipv4: ${inst.PrivateIpAddress}`, `public-ipv4: ${inst.PublicIpAddress}`, '',
    ].join('\n'));
    const all = ssh.run(ip, 'ec2-metadata --all').stdout;
    assert.match(all, /^ami-id: ami-/m);
    assert.match(all, /^reservation-id: r-/m);
  });

  it('gives 404 for user data when there is none, and shows tags when metadata tags are on', async () => {
    const { ip } = await launch({
      tags: 'ResourceType=instance,Tags=[{Key=Name,Value=web-1},{Key=team,Value=blue}]',
      metadataOptions: 'InstanceMetadataTags=enabled',
    });
    const t = token(ip);
    assert.equal(get(ip, '/latest/user-data', t)?.status, 404);
    assert.deepEqual(get(ip, '/latest/meta-data/tags/instance/', t)?.body.split('\n').sort(), ['Name', 'team']);
    assert.equal(get(ip, '/latest/meta-data/tags/instance/Name', t)?.body, 'web-1');
  });

  it('keeps IMDSv2 tokens to their rules and their instance', async () => {
    const a = await launch();
    const b = await launch();
    const put = (ip: string, headers: string[]) => imds(ip, 'PUT', '/latest/api/token', headers)?.status;
    assert.equal(put(a.ip, []), 400, 'no TTL');
    assert.equal(put(a.ip, ['X-aws-ec2-metadata-token-ttl-seconds: 0']), 400, 'TTL 0');
    assert.equal(put(a.ip, ['X-aws-ec2-metadata-token-ttl-seconds: 21601']), 400, 'TTL past 6 hours');
    assert.equal(put(a.ip, ['X-aws-ec2-metadata-token-ttl-seconds: 60', 'X-Forwarded-For: 10.0.0.1']), 403, 'a forwarded PUT');
    const answer = imds(a.ip, 'PUT', '/latest/api/token', ['X-aws-ec2-metadata-token-ttl-seconds: 21600']);
    assert.match(answer!.headers, /X-Aws-Ec2-Metadata-Token-Ttl-Seconds: 21600/i);

    const ta = answer!.body;
    assert.equal(get(a.ip, '/latest/meta-data/instance-id', ta)?.body, a.id);
    assert.equal(get(b.ip, '/latest/meta-data/instance-id', ta)?.status, 401, 'A\'s token is no good to B');
    assert.equal(get(b.ip, '/latest/meta-data/instance-id', `${ta}x`)?.status, 401, 'a forged token');
    assert.equal(get(b.ip, '/latest/meta-data/instance-id')?.body, b.id, 'IMDSv1 answers B about B');
    const short = token(a.ip, 1);
    await sleep(2100);
    assert.equal(get(a.ip, '/latest/meta-data/instance-id', short)?.status, 401, 'an expired token');
  });

  it('enforces HttpTokens=required, HttpEndpoint=disabled and the hop limit', async () => {
    const a = await launch();
    aws(['modify-instance-metadata-options', '--instance-id', a.id, '--http-tokens', 'required']);
    await sleep(200);
    assert.equal(get(a.ip, '/latest/meta-data/instance-id')?.status, 401, 'IMDSv1 refused');
    assert.equal(get(a.ip, '/latest/meta-data/instance-id', token(a.ip))?.body, a.id, 'IMDSv2 answers');

    aws(['modify-instance-metadata-options', '--instance-id', a.id, '--http-endpoint', 'disabled']);
    await sleep(300);
    assert.equal(imds(a.ip, 'PUT', '/latest/api/token', ['X-aws-ec2-metadata-token-ttl-seconds: 60']), undefined, 'no answer at all');
    aws(['modify-instance-metadata-options', '--instance-id', a.id, '--http-endpoint', 'enabled']);
    await sleep(300);
    assert.equal(imds(a.ip, 'PUT', '/latest/api/token', ['X-aws-ec2-metadata-token-ttl-seconds: 60'])?.status, 200);

    // The answers reach the instance with the hop limit as their TTL: a counter in the instance's
    // namespace (set from the host) counts metadata packets by TTL.
    const netns = new NetnsNames(installationTag(api.dataDir)).instance(a.id);
    const nft = (script: string) => spawnSync('ip', ['netns', 'exec', netns, 'nft', '-f', '-'], { input: script, encoding: 'utf8' });
    const counted = (ttl: number) => {
      nft(['table ip probe', 'delete table ip probe', 'table ip probe {', '  chain in {', '    type filter hook input priority 0;',
        `    ip saddr 169.254.169.254 ip ttl ${ttl} counter`, '  }', '}', ''].join('\n'));
      token(a.ip);
      const listing = spawnSync('ip', ['netns', 'exec', netns, 'nft', 'list', 'table', 'ip', 'probe'], { encoding: 'utf8' }).stdout;
      nft('delete table ip probe\n');
      return Number(/packets (\d+)/.exec(listing)?.[1] ?? 0);
    };
    assert.ok(counted(1) > 0, 'hop limit 1: TTL 1');
    aws(['modify-instance-metadata-options', '--instance-id', a.id, '--http-put-response-hop-limit', '3']);
    await sleep(300);
    assert.equal(counted(1), 0, 'no longer TTL 1');
    assert.ok(counted(3) > 0, 'hop limit 3: TTL 3');
  });

  it('follows the instance: a new public IP after stop/start, a hot-attached interface', async () => {
    const a = await launch();
    aws(['stop-instances', '--instance-ids', a.id]);
    await api.waitFor('stopped', a.id);
    aws(['start-instances', '--instance-ids', a.id]);
    await api.waitFor('running', a.id);
    const now = await api.describe(a.id);
    assert.notEqual(now.PublicIpAddress, a.ip);
    await ssh.ready(now.PublicIpAddress!);
    const t = token(now.PublicIpAddress!);
    assert.equal(get(now.PublicIpAddress!, '/latest/meta-data/public-ipv4', t)?.body, now.PublicIpAddress);

    const eni = aws(['create-network-interface', '--subnet-id', now.SubnetId!]).NetworkInterface;
    aws(['attach-network-interface', '--network-interface-id', eni.NetworkInterfaceId, '--instance-id', a.id, '--device-index', '1']);
    const macs = get(now.PublicIpAddress!, '/latest/meta-data/network/interfaces/macs/', t)!.body.split('\n');
    assert.ok(macs.includes(`${eni.MacAddress}/`), `the new interface is listed: ${macs.join(' ')}`);
    const path = `/latest/meta-data/network/interfaces/macs/${eni.MacAddress}`;
    assert.equal(get(now.PublicIpAddress!, `${path}/device-number`, t)?.body, '1');
    assert.equal(get(now.PublicIpAddress!, `${path}/local-ipv4s`, t)?.body, eni.PrivateIpAddress);
  });

  it('serves again after a kill -9 of the server: the restarted server rebuilds the data plane from the store', async () => {
    const a = await launch();
    const before = token(a.ip);
    // An instance that asks the metadata service all along: across the restart each request is
    // refused or answered, never accepted and left hanging (the poll would stop counting).
    const request = `GET /latest/meta-data/instance-id HTTP/1.0\\r\\nX-aws-ec2-metadata-token: ${before}\\r\\n\\r\\n`;
    const poll = `while :; do printf '${request}' | nc -w 2 169.254.169.254 80 >/dev/null 2>&1; echo >> /tmp/polls.$i; done`;
    // Four at a time: the moment a socket is listening before it is served is short.
    assert.equal(ssh.run(a.ip, `for i in 1 2 3 4; do (${poll}) </dev/null >/dev/null 2>&1 & echo $! >> /tmp/pollers; done`).status, 0);
    const polls = () => ssh.run(a.ip, 'for i in 1 2 3 4; do wc -l < /tmp/polls.$i; done').stdout.trim().split('\n').map(Number);
    await api.nimbus.kill9();
    assert.equal(ssh.run(a.ip, 'true').status, 0, 'the data plane outlives the server: SSH still works');
    await api.startServer();
    // The first pass after the restart brings the listeners back; a pass that fails is retried
    // within seconds (twice as late each time), well inside this.
    const end = Date.now() + 20_000;
    let answer = get(a.ip, '/latest/meta-data/instance-id', before);
    while (answer?.status !== 200 && Date.now() < end) {
      await sleep(200);
      answer = get(a.ip, '/latest/meta-data/instance-id', before);
    }
    assert.equal(answer?.body, a.id, 'the metadata service answers again, and a token from before the crash is still good; ' +
      `the last try: ${lastFailure}; the server said:\n${api.nimbus.output.slice(-4000)}`);
    const counted = polls();
    await sleep(1_500);
    const now = polls();
    assert.ok(counted.length === 4 && counted.every((n, i) => now[i]! > n), `no request made across the restart was left unanswered: ${counted} then ${now}`);
    ssh.run(a.ip, 'kill $(cat /tmp/pollers)');
    // The restarted controller still applies changes: closing SSH to the world takes effect.
    aws(['revoke-security-group-ingress', '--group-id', sshGroup, '--protocol', 'tcp', '--port', '22', '--cidr', '0.0.0.0/0']);
    await sleep(500);
    assert.notEqual(ssh.run(a.ip, 'true').status, 0, 'SSH is closed after the revoke');
    aws(['authorize-security-group-ingress', '--group-id', sshGroup, '--protocol', 'tcp', '--port', '22', '--cidr', '0.0.0.0/0']);
    await ssh.ready(a.ip);
  });

  it('lets instances reach the API at the metadata address, never with the operator\'s test/test credentials', async () => {
    const a = await launch();
    // The host's AWS CLI run in the instance's network namespace: its requests come from the instance.
    const netns = new NetnsNames(installationTag(api.dataDir)).instance(a.id);
    const fromInstance = (env: Record<string, string>) => spawnSync('ip', ['netns', 'exec', netns, 'aws', '--endpoint-url', 'http://169.254.169.254:4566',
      '--region', 'us-east-1', 'ec2', 'describe-regions', '--output', 'json'], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
    const refused = fromInstance({ AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /AuthFailure/, refused.stderr);
    const mine = aws(['describe-regions']);
    assert.ok(mine.Regions.length > 0, 'the same credentials work from the host, on loopback');
  });

  it('signs the identity document with the key whose certificate Nimbus publishes', async () => {
    const { ip, inst } = await launch();
    const t = token(ip);
    const document = get(ip, '/latest/dynamic/instance-identity/document', t)!.body;
    const doc = JSON.parse(document) as Record<string, unknown>;
    assert.equal(doc.instanceId, inst.InstanceId);
    assert.equal(doc.accountId, '000000000000');
    assert.equal(doc.region, 'us-east-1');
    assert.equal(doc.availabilityZone, inst.Placement!.AvailabilityZone);
    assert.equal(doc.privateIp, inst.PrivateIpAddress);
    assert.equal(doc.imageId, inst.ImageId);
    assert.equal(doc.instanceType, 't3.micro');

    const certificate = await (await fetch(`${api.nimbus.url}/_nimbus/instance-identity/certificate`)).text();
    assert.match(certificate, /BEGIN CERTIFICATE/);
    const signature = get(ip, '/latest/dynamic/instance-identity/signature', t)!.body;
    assert.ok(createVerify('sha256').update(document).verify(certificate, signature, 'base64'), 'the signature verifies');
    assert.ok(!createVerify('sha256').update(document.replace(inst.InstanceId!, 'i-00000000000000000')).verify(certificate, signature, 'base64'));

    const pkcs7 = get(ip, '/latest/dynamic/instance-identity/rsa2048', t)!.body;
    const dir = ssh.dir;
    writeFileSync(join(dir, 'document'), document);
    writeFileSync(join(dir, 'cert.pem'), certificate);
    writeFileSync(join(dir, 'rsa2048.pem'), `-----BEGIN PKCS7-----\n${pkcs7}\n-----END PKCS7-----\n`);
    const verify = spawnSync('openssl', ['smime', '-verify', '-in', join(dir, 'rsa2048.pem'), '-inform', 'PEM', '-content', join(dir, 'document'),
      '-certfile', join(dir, 'cert.pem'), '-noverify'], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stderr);
    assert.equal(verify.stdout, readFileSync(join(dir, 'document'), 'utf8'));
  });
});
