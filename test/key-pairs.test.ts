import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, createHmac, createPrivateKey, createPublicKey } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CreateKeyPairCommand,
  DeleteKeyPairCommand,
  DescribeKeyPairsCommand,
  ImportKeyPairCommand,
  type EC2Client,
  type KeyPairInfo,
} from '@aws-sdk/client-ec2';
import { cliErrorCode, errorCode, startServer, type NimbusProcess } from './support/server.js';

const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { encoding: 'utf8' }).trim();
const hasPuttygen = spawnSync('sh', ['-c', 'command -v puttygen']).status === 0;

/** `ssh-keygen -l` fingerprint of a public key file, as EC2 prints it: the SHA256 base64 with `=` padding. */
const sshKeygenSha256 = (pubFile: string) => {
  const b64 = /SHA256:(\S+)/.exec(sh(`ssh-keygen -l -E sha256 -f ${pubFile}`))![1]!;
  return b64 + '='.repeat((4 - (b64.length % 4)) % 4);
};

/**
 * Proves that a private key file really belongs to a public key: ssh-keygen signs with the file and
 * verifies the signature against the public key line alone.
 */
function assertSignsFor(privateKeyFile: string, publicKeyLine: string): void {
  const msg = `${privateKeyFile}.msg`;
  writeFileSync(msg, 'nimbus');
  // For PEM keys ssh-keygen wants the public half beside the private one; it derives it here.
  sh(`ssh-keygen -y -f ${privateKeyFile} > ${privateKeyFile}.pub && ssh-keygen -q -Y sign -f ${privateKeyFile} -n test ${msg}`);
  writeFileSync(`${msg}.allowed`, `signer ${keyPart(publicKeyLine)}\n`);
  sh(`ssh-keygen -Y verify -f ${msg}.allowed -I signer -n test -s ${msg}.sig < ${msg}`);
}

/** The first two fields of an OpenSSH public key line (algorithm and base64 blob). */
const keyPart = (line: string) => line.trim().split(/\s+/).slice(0, 2).join(' ');

/** Reads a PuTTY .ppk file into its header fields and base64 sections. */
function parsePpk(text: string) {
  const lines = text.trim().split(/\r?\n/);
  const header = /^PuTTY-User-Key-File-(\d+): (\S+)$/.exec(lines[0]!)!;
  const fields = new Map<string, string>();
  const sections = new Map<string, Buffer>();
  for (let i = 1; i < lines.length; i++) {
    const [name, value] = [lines[i]!.slice(0, lines[i]!.indexOf(': ')), lines[i]!.slice(lines[i]!.indexOf(': ') + 2)];
    if (name.endsWith('-Lines')) {
      const n = Number(value);
      sections.set(name.slice(0, -'-Lines'.length), Buffer.from(lines.slice(i + 1, i + 1 + n).join(''), 'base64'));
      i += n;
    } else fields.set(name, value);
  }
  return { version: header[1], algorithm: header[2]!, fields, publicBlob: sections.get('Public')!, privateBlob: sections.get('Private')! };
}

/** RFC 4251 strings/mpints of a blob, in order. */
function sshFields(blob: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 0; pos < blob.length; ) {
    const len = blob.readUInt32BE(pos);
    out.push(blob.subarray(pos + 4, pos + 4 + len));
    pos += 4 + len;
  }
  return out;
}
const big = (b: Buffer) => BigInt(`0x${b.toString('hex') || '0'}`);

describe('key pairs', () => {
  let nimbus: NimbusProcess;
  let ec2: EC2Client;
  let dir: string;
  before(async () => {
    nimbus = await startServer();
    ec2 = nimbus.ec2();
    dir = mkdtempSync(join(tmpdir(), 'nimbus-keys-'));
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await nimbus.dispose();
  });

  const describeOne = async (keyName: string, includePublicKey = false): Promise<KeyPairInfo> =>
    (await ec2.send(new DescribeKeyPairsCommand({ KeyNames: [keyName], IncludePublicKey: includePublicKey }))).KeyPairs![0]!;

  it('creates a 2048-bit RSA key pair with the AWS CLI, fingerprinted as EC2 documents', async () => {
    const r = nimbus.aws(['ec2', 'create-key-pair', '--key-name', 'cli-rsa']);
    assert.equal(r.status, 0, r.stderr);
    const kp = r.json as { KeyMaterial: string; KeyFingerprint: string; KeyName: string; KeyPairId: string };
    assert.equal(kp.KeyName, 'cli-rsa');
    assert.match(kp.KeyPairId, /^key-[0-9a-f]{17}$/);
    assert.match(kp.KeyMaterial, /^-----BEGIN RSA PRIVATE KEY-----\n[\s\S]+\n-----END RSA PRIVATE KEY-----$/);
    const pem = join(dir, 'cli-rsa.pem');
    writeFileSync(pem, `${kp.KeyMaterial}\n`);
    chmodSync(pem, 0o600);
    assert.equal(sh(`openssl rsa -in ${pem} -noout -text | head -1`), 'Private-Key: (2048 bit, 2 primes)');
    const sha1 = sh(`openssl pkcs8 -in ${pem} -inform PEM -outform DER -topk8 -nocrypt | openssl sha1 -c`).split('= ')[1];
    assert.equal(kp.KeyFingerprint, sha1);

    const info = await describeOne('cli-rsa', true);
    assert.equal(info.KeyType, 'rsa');
    assert.equal(info.KeyFingerprint, sha1);
    assert.equal(info.KeyPairId, kp.KeyPairId);
    assert.ok(info.CreateTime instanceof Date);
    assert.equal(keyPart(info.PublicKey!), keyPart(sh(`ssh-keygen -y -f ${pem}`)));
    assertSignsFor(pem, info.PublicKey!);
    assert.equal((await describeOne('cli-rsa')).PublicKey, undefined, 'PublicKey only with IncludePublicKey');
  });

  it('creates an ed25519 key pair with boto3 in OpenSSH format that ssh-keygen reads', async () => {
    const kp = nimbus.boto3(`
result = ec2.create_key_pair(KeyName="boto-ed", KeyType="ed25519",
    TagSpecifications=[{"ResourceType": "key-pair", "Tags": [{"Key": "Team", "Value": "blue"}]}])
del result["ResponseMetadata"]
`) as { KeyMaterial: string; KeyFingerprint: string; Tags: { Key: string; Value: string }[] };
    assert.match(kp.KeyMaterial, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    assert.deepEqual(kp.Tags, [{ Key: 'Team', Value: 'blue' }]);
    const key = join(dir, 'boto-ed');
    writeFileSync(key, kp.KeyMaterial.endsWith('\n') ? kp.KeyMaterial : `${kp.KeyMaterial}\n`);
    chmodSync(key, 0o600);
    writeFileSync(`${key}.pub`, `${sh(`ssh-keygen -y -f ${key}`)}\n`);
    assert.equal(kp.KeyFingerprint, sshKeygenSha256(`${key}.pub`));
    assert.match(kp.KeyFingerprint, /^[A-Za-z0-9+/]{43}=$/);
    const info = await describeOne('boto-ed', true);
    assert.equal(info.KeyType, 'ed25519');
    assert.equal(keyPart(info.PublicKey!), keyPart(readFileSync(`${key}.pub`, 'utf8')));
    assertSignsFor(key, info.PublicKey!);
    assert.deepEqual(info.Tags, [{ Key: 'Team', Value: 'blue' }]);
  });

  it('imports ssh-keygen RSA and ed25519 public keys with SDK v3, in every format EC2 accepts', async () => {
    sh(`ssh-keygen -q -t rsa -b 3072 -N '' -C me@host -f ${dir}/imp-rsa && ssh-keygen -q -t ed25519 -N '' -f ${dir}/imp-ed`);
    const md5 = sh(`ssh-keygen -ef ${dir}/imp-rsa.pub -m PEM | openssl rsa -RSAPublicKey_in -outform DER 2>/dev/null | openssl md5 -c`).split('= ')[1];
    const formats: Record<string, string> = {
      openssh: readFileSync(`${dir}/imp-rsa.pub`, 'utf8'),
      rfc4716: sh(`ssh-keygen -e -f ${dir}/imp-rsa.pub`),
      der: sh(`ssh-keygen -e -m PKCS8 -f ${dir}/imp-rsa.pub | grep -v -- -----`),
    };
    for (const [format, material] of Object.entries(formats)) {
      const out = await ec2.send(new ImportKeyPairCommand({
        KeyName: `imp-rsa-${format}`,
        PublicKeyMaterial: Buffer.from(material),
        TagSpecifications: [{ ResourceType: 'key-pair', Tags: [{ Key: 'format', Value: format }] }],
      }));
      assert.equal(out.KeyFingerprint, md5, format);
      assert.match(out.KeyPairId!, /^key-[0-9a-f]{17}$/);
      assert.deepEqual(out.Tags, [{ Key: 'format', Value: format }]);
      const info = await describeOne(`imp-rsa-${format}`, true);
      assert.equal(info.KeyType, 'rsa');
      assert.equal(keyPart(info.PublicKey!), keyPart(formats.openssh!), format);
    }
    const ed = await ec2.send(new ImportKeyPairCommand({ KeyName: 'imp-ed', PublicKeyMaterial: readFileSync(`${dir}/imp-ed.pub`) }));
    assert.equal(ed.KeyFingerprint, sshKeygenSha256(`${dir}/imp-ed.pub`));
    assert.equal((await describeOne('imp-ed')).KeyType, 'ed25519');
  });

  it('returns PuTTY .ppk files (format 2) whose MAC and key parts check out', async () => {
    for (const type of ['rsa', 'ed25519'] as const) {
      const name = `ppk-${type}`;
      const kp = await ec2.send(new CreateKeyPairCommand({ KeyName: name, KeyType: type, KeyFormat: 'ppk' }));
      const ppk = parsePpk(kp.KeyMaterial!);
      const algorithm = type === 'rsa' ? 'ssh-rsa' : 'ssh-ed25519';
      assert.equal(ppk.version, '2');
      assert.equal(ppk.algorithm, algorithm);
      assert.equal(ppk.fields.get('Encryption'), 'none');
      assert.equal(ppk.fields.get('Comment'), name);
      // Private-MAC: HMAC-SHA-1 keyed by SHA-1("putty-private-key-file-mac-key") over the five strings.
      const str = (b: Buffer | string) => {
        const buf = Buffer.from(b);
        const len = Buffer.alloc(4);
        len.writeUInt32BE(buf.length);
        return Buffer.concat([len, buf]);
      };
      const macKey = createHash('sha1').update('putty-private-key-file-mac-key').digest();
      const mac = createHmac('sha1', macKey)
        .update(Buffer.concat([str(algorithm), str('none'), str(name), str(ppk.publicBlob), str(ppk.privateBlob)]))
        .digest('hex');
      assert.equal(ppk.fields.get('Private-MAC'), mac);

      const info = await describeOne(name, true);
      assert.deepEqual(ppk.publicBlob, Buffer.from(info.PublicKey!.split(' ')[1]!, 'base64'));
      const pub = sshFields(ppk.publicBlob);
      const priv = sshFields(ppk.privateBlob);
      if (type === 'rsa') {
        const [e, n] = [big(pub[1]!), big(pub[2]!)];
        const [d, p, q, iqmp] = priv.map(big) as [bigint, bigint, bigint, bigint];
        assert.equal(p * q, n);
        assert.equal((iqmp * q) % p, 1n);
        assert.equal((e * d) % ((p - 1n) * (q - 1n) / gcd(p - 1n, q - 1n)), 1n);
      } else {
        // PuTTY stores the 32-byte seed as a string, as puttygen -t ed25519 does.
        const full = priv[0]!;
        assert.equal(full.length, 32);
        // PKCS#8 wrapping of a raw Ed25519 seed (RFC 8410), so node derives the public key itself.
        const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), full]);
        const derived = createPublicKey(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }));
        assert.deepEqual(Buffer.from(derived.export({ format: 'jwk' }).x!, 'base64url'), pub[1]);
      }
      if (hasPuttygen) {
        // puttygen checks the MAC when it loads the private key.
        const file = join(dir, `${name}.ppk`);
        writeFileSync(file, kp.KeyMaterial!);
        sh(`puttygen ${file} -O private-openssh -o ${file}.pem && chmod 600 ${file}.pem`);
        assertSignsFor(`${file}.pem`, info.PublicKey!);
      }
    }
  });

  it('describes by name, id and filters (with wildcards and tags)', async () => {
    const all = (await ec2.send(new DescribeKeyPairsCommand({}))).KeyPairs!;
    const names = (filters: { Name: string; Values: string[] }[]) =>
      ec2.send(new DescribeKeyPairsCommand({ Filters: filters })).then((r) => r.KeyPairs!.map((k) => k.KeyName).sort());
    assert.deepEqual(await names([{ Name: 'key-name', Values: ['imp-rsa-*'] }]), ['imp-rsa-der', 'imp-rsa-openssh', 'imp-rsa-rfc4716']);
    assert.deepEqual(await names([{ Name: 'key-type', Values: ['ed25519'] }]), ['boto-ed', 'imp-ed', 'ppk-ed25519']);
    assert.deepEqual(await names([{ Name: 'tag:Team', Values: ['bl?e'] }]), ['boto-ed']);
    assert.deepEqual(await names([{ Name: 'tag-key', Values: ['format'] }, { Name: 'tag-value', Values: ['der', 'rfc4716'] }]), ['imp-rsa-der', 'imp-rsa-rfc4716']);
    const rsa = all.find((k) => k.KeyName === 'cli-rsa')!;
    assert.deepEqual(await names([{ Name: 'fingerprint', Values: [rsa.KeyFingerprint!] }]), ['cli-rsa']);
    assert.deepEqual(await names([{ Name: 'key-pair-id', Values: [rsa.KeyPairId!] }]), ['cli-rsa']);
    const byId = await ec2.send(new DescribeKeyPairsCommand({ KeyPairIds: [rsa.KeyPairId!] }));
    assert.deepEqual(byId.KeyPairs!.map((k) => k.KeyName), ['cli-rsa']);
    assert.equal(await errorCode(ec2.send(new DescribeKeyPairsCommand({ Filters: [{ Name: 'colour', Values: ['x'] }] }))), 'InvalidParameterValue');
  });

  it('refuses unknown names and ids with InvalidKeyPair.NotFound', async () => {
    const r = nimbus.aws(['ec2', 'describe-key-pairs', '--key-names', 'cli-rsa', 'nope']);
    assert.equal(cliErrorCode(r), 'InvalidKeyPair.NotFound');
    assert.match(r.stderr, /The key pair 'nope' does not exist/);
    assert.equal(await errorCode(ec2.send(new DescribeKeyPairsCommand({ KeyPairIds: ['key-0123456789abcdef0'] }))), 'InvalidKeyPair.NotFound');
    assert.equal(await errorCode(ec2.send(new DescribeKeyPairsCommand({ KeyPairIds: ['kp-123'] }))), 'InvalidKeyPair.Malformed');
  });

  it('refuses duplicate names, bad names and bad key material with EC2 error codes', async () => {
    const dup = nimbus.aws(['ec2', 'create-key-pair', '--key-name', 'cli-rsa']);
    assert.equal(cliErrorCode(dup), 'InvalidKeyPair.Duplicate');
    assert.match(dup.stderr, /The keypair 'cli-rsa' already exists\./);
    const pub = readFileSync(`${dir}/imp-ed.pub`);
    assert.equal(await errorCode(ec2.send(new ImportKeyPairCommand({ KeyName: 'boto-ed', PublicKeyMaterial: pub }))), 'InvalidKeyPair.Duplicate');
    assert.equal(await errorCode(ec2.send(new CreateKeyPairCommand({ KeyName: 'x'.repeat(256) }))), 'InvalidParameterValue');
    assert.equal(await errorCode(ec2.send(new CreateKeyPairCommand({ KeyName: 'clé' }))), 'InvalidParameterValue');
    assert.equal(await errorCode(ec2.send(new CreateKeyPairCommand({ KeyName: 'k', KeyType: 'dsa' as 'rsa' }))), 'InvalidParameterValue');
    assert.ok((await ec2.send(new CreateKeyPairCommand({ KeyName: 'y'.repeat(255), KeyType: 'ed25519' }))).KeyPairId);

    sh(`ssh-keygen -q -t ecdsa -N '' -f ${dir}/ec && openssl genrsa -out ${dir}/small.pem 768 2>/dev/null`);
    const bad: Record<string, Buffer> = {
      garbage: Buffer.from('not a key at all'),
      ecdsa: readFileSync(`${dir}/ec.pub`),
      truncated: Buffer.from(readFileSync(`${dir}/imp-rsa.pub`, 'utf8').slice(0, 200)),
      'rsa-768': Buffer.from(sh(`openssl rsa -in ${dir}/small.pem -pubout -outform DER 2>/dev/null | base64 -w0`)),
    };
    for (const [what, material] of Object.entries(bad)) {
      const code = await errorCode(ec2.send(new ImportKeyPairCommand({ KeyName: `bad-${what}`, PublicKeyMaterial: material })));
      assert.equal(code, 'InvalidKey.Format', what);
    }
  });

  it('honours DryRun without creating anything', async () => {
    assert.equal(await errorCode(ec2.send(new CreateKeyPairCommand({ KeyName: 'dry', DryRun: true }))), 'DryRunOperation');
    assert.equal(await errorCode(ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['dry'] }))), 'InvalidKeyPair.NotFound');
  });

  it('deletes by name and by id, and succeeds for unknown names', async () => {
    const byName = nimbus.aws(['ec2', 'delete-key-pair', '--key-name', 'cli-rsa']);
    assert.equal(byName.status, 0, byName.stderr);
    assert.equal((byName.json as { Return: boolean }).Return, true);
    assert.match((byName.json as { KeyPairId: string }).KeyPairId, /^key-[0-9a-f]{17}$/);
    assert.equal(await errorCode(ec2.send(new DescribeKeyPairsCommand({ KeyNames: ['cli-rsa'] }))), 'InvalidKeyPair.NotFound');

    const id = (await describeOne('boto-ed')).KeyPairId!;
    const byId = await ec2.send(new DeleteKeyPairCommand({ KeyPairId: id }));
    assert.deepEqual([byId.Return, byId.KeyPairId], [true, id]);
    assert.equal(await errorCode(ec2.send(new DescribeKeyPairsCommand({ KeyPairIds: [id] }))), 'InvalidKeyPair.NotFound');

    // The name is free again, and the new key pair does not inherit the old one's tags.
    const again = await ec2.send(new CreateKeyPairCommand({ KeyName: 'boto-ed', KeyType: 'ed25519' }));
    assert.notEqual(again.KeyPairId, id);
    assert.deepEqual((await describeOne('boto-ed')).Tags, []);

    const unknown = await ec2.send(new DeleteKeyPairCommand({ KeyName: 'never-existed' }));
    assert.equal(unknown.Return, true);
    assert.equal(unknown.KeyPairId, undefined);
    assert.equal(await errorCode(ec2.send(new DeleteKeyPairCommand({ KeyPairId: 'bogus' }))), 'InvalidKeyPair.Malformed');
  });
});

function gcd(a: bigint, b: bigint): bigint {
  while (b) [a, b] = [b, a % b];
  return a;
}
