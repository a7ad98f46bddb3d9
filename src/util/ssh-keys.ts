/**
 * SSH key encodings (RFC 4251 wire format, RFC 4253 public key blobs, OpenSSH's `authorized_keys`
 * lines and its `openssh-key-v1` private key container) over node:crypto KeyObjects.
 * Only the key types EC2 supports are handled: RSA and Ed25519.
 */
import { createPublicKey, randomBytes, type KeyObject } from 'node:crypto';

export type SshKeyType = 'rsa' | 'ed25519';

export const SSH_ALGORITHM: Record<SshKeyType, string> = { rsa: 'ssh-rsa', ed25519: 'ssh-ed25519' };

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

/** RFC 4251 `string`: a uint32 length and the bytes. */
export function sshString(data: Buffer | string): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return Buffer.concat([u32(b.length), b]);
}

/** RFC 4251 `mpint` of a non-negative big-endian magnitude: no leading zeros, a 0x00 when the top bit is set. */
export function sshMpint(magnitude: Buffer): Buffer {
  let i = 0;
  while (i < magnitude.length && magnitude[i] === 0) i++;
  let b = magnitude.subarray(i);
  if (b.length > 0 && b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return sshString(b);
}

/** Reads RFC 4251 fields in order; throws on truncated input. */
export class SshReader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  string(): Buffer {
    if (this.pos + 4 > this.buf.length) throw new Error('truncated SSH data');
    const len = this.buf.readUInt32BE(this.pos);
    const start = this.pos + 4;
    if (start + len > this.buf.length) throw new Error('truncated SSH data');
    this.pos = start + len;
    return this.buf.subarray(start, start + len);
  }

  /** An mpint as an unsigned big-endian magnitude (negative values are refused). */
  mpint(): Buffer {
    const b = this.string();
    if (b.length > 0 && b[0]! & 0x80) throw new Error('negative mpint');
    let i = 0;
    while (i < b.length && b[i] === 0) i++;
    return b.subarray(i);
  }

  get done(): boolean {
    return this.pos === this.buf.length;
  }
}

const b64u = (s: string | undefined) => Buffer.from(s ?? '', 'base64url');

export function sshKeyType(key: KeyObject): SshKeyType | undefined {
  const t = key.asymmetricKeyType;
  return t === 'rsa' || t === 'ed25519' ? t : undefined;
}

/** The RFC 4253 public key blob (`string "ssh-rsa", mpint e, mpint n` / `string "ssh-ed25519", string key`). */
export function publicKeyBlob(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = pub.export({ format: 'jwk' });
  switch (sshKeyType(pub)) {
    case 'rsa':
      return Buffer.concat([sshString('ssh-rsa'), sshMpint(b64u(jwk.e)), sshMpint(b64u(jwk.n))]);
    case 'ed25519':
      return Buffer.concat([sshString('ssh-ed25519'), sshString(b64u(jwk.x))]);
    default:
      throw new Error(`unsupported key type ${pub.asymmetricKeyType}`);
  }
}

/** The public key a blob encodes; throws for malformed blobs and for types other than RSA and Ed25519. */
export function publicKeyFromBlob(blob: Buffer): KeyObject {
  const r = new SshReader(blob);
  const algorithm = r.string().toString('latin1');
  let key: KeyObject;
  if (algorithm === 'ssh-rsa') {
    const e = r.mpint();
    const n = r.mpint();
    if (e.length === 0 || n.length === 0) throw new Error('empty RSA parameter');
    key = createPublicKey({ key: { kty: 'RSA', e: e.toString('base64url'), n: n.toString('base64url') }, format: 'jwk' });
  } else if (algorithm === 'ssh-ed25519') {
    const x = r.string();
    if (x.length !== 32) throw new Error('bad Ed25519 key length');
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: x.toString('base64url') }, format: 'jwk' });
  } else {
    throw new Error(`unsupported SSH key algorithm ${algorithm}`);
  }
  if (!r.done) throw new Error('trailing data after SSH public key');
  return key;
}

/** An `authorized_keys` line: `ssh-rsa AAAA… comment`. */
export function openSshPublicKeyLine(key: KeyObject, comment?: string): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const line = `${SSH_ALGORITHM[sshKeyType(pub)!]} ${publicKeyBlob(pub).toString('base64')}`;
  return comment ? `${line} ${comment}` : line;
}

/** Bit length of an RSA modulus. */
export function rsaModulusBits(key: KeyObject): number {
  return key.asymmetricKeyDetails?.modulusLength ?? 0;
}

/** Wraps DER or binary data in PEM armour with lines of `width` characters. */
export function pemArmor(label: string, data: Buffer, width = 64): string {
  const b64 = data.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += width) lines.push(b64.slice(i, i + width));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * An unencrypted Ed25519 private key in OpenSSH's `openssh-key-v1` format (PROTOCOL.key), as
 * `ssh-keygen -t ed25519` writes it: what `ssh`, `ssh-keygen -y` and `ssh-add` read.
 */
export function openSshEd25519PrivateKey(privateKey: KeyObject, comment: string): string {
  const jwk = privateKey.export({ format: 'jwk' });
  const seed = b64u(jwk.d);
  const pub = b64u(jwk.x);
  const blob = publicKeyBlob(privateKey);
  const check = randomBytes(4);
  let section = Buffer.concat([
    check,
    check,
    sshString('ssh-ed25519'),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ]);
  // The cipher "none" has a block size of 8; padding bytes are 1, 2, 3, …
  const pad = (8 - (section.length % 8)) % 8;
  section = Buffer.concat([section, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    u32(1),
    sshString(blob),
    sshString(section),
  ]);
  return pemArmor('OPENSSH PRIVATE KEY', body, 70);
}
