/**
 * ImportKeyPair's PublicKeyMaterial, in the formats EC2 accepts: an OpenSSH public key line
 * (`ssh-rsa AAAA… comment`), an RFC 4716 SSH2 public key block, or base64-encoded DER
 * (SubjectPublicKeyInfo or PKCS#1; raw DER bytes are taken too). Only RSA (1024 to 4096 bits)
 * and Ed25519 are accepted; DSA and ECDSA get InvalidKey.Format, as in EC2.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { ApiError } from '../../../protocol/errors.js';
import { publicKeyFromBlob, rsaModulusBits, sshKeyType } from '../../../util/ssh-keys.js';

const MIN_RSA_BITS = 1024;
const MAX_RSA_BITS = 4096;

export const invalidKeyFormat = () => new ApiError('InvalidKey.Format', 'Key is not in valid OpenSSH public key format');

const DER_SEQUENCE = 0x30;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function fromOpenSshLine(text: string): KeyObject | undefined {
  const m = /^(ssh-rsa|ssh-ed25519|ssh-dss|ecdsa-sha2-\S+)\s+(\S+)(?:\s.*)?$/s.exec(text);
  if (!m) return undefined;
  const blob = Buffer.from(m[2]!, 'base64');
  const key = publicKeyFromBlob(blob);
  // The line's algorithm must agree with the blob's.
  if ((m[1] === 'ssh-rsa') !== (key.asymmetricKeyType === 'rsa')) throw new Error('algorithm mismatch');
  return key;
}

/** RFC 4716: `---- BEGIN SSH2 PUBLIC KEY ----`, headers (`Tag: value`, `\` continuations), base64, END line. */
function fromRfc4716(text: string): KeyObject | undefined {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const begin = lines.indexOf('---- BEGIN SSH2 PUBLIC KEY ----');
  if (begin < 0) return undefined;
  const end = lines.indexOf('---- END SSH2 PUBLIC KEY ----', begin);
  if (end < 0) throw new Error('RFC 4716 key without END line');
  let body = '';
  let continued = false;
  for (const line of lines.slice(begin + 1, end)) {
    if (continued || /^[^:\s]+:/.test(line)) {
      continued = line.endsWith('\\');
      continue;
    }
    body += line;
  }
  if (!BASE64.test(body)) throw new Error('bad base64');
  return publicKeyFromBlob(Buffer.from(body, 'base64'));
}

function fromBase64Der(text: string): KeyObject | undefined {
  const compact = text.replace(/\s+/g, '');
  if (!BASE64.test(compact)) return undefined;
  return fromDer(Buffer.from(compact, 'base64'));
}

function fromDer(der: Buffer): KeyObject {
  try {
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    return createPublicKey({ key: der, format: 'der', type: 'pkcs1' });
  }
}

/** The public key in `material`; EC2's InvalidKey.Format for anything else. */
export function parsePublicKeyMaterial(material: Buffer | string): KeyObject {
  const bytes = typeof material === 'string' ? Buffer.from(material, 'utf8') : Buffer.from(material);
  const text = bytes.toString('utf8').trim();
  let key: KeyObject | undefined;
  try {
    // A DER SEQUENCE sent as raw bytes rather than base64 text is accepted too.
    key = bytes[0] === DER_SEQUENCE ? fromDer(bytes) : (fromOpenSshLine(text) ?? fromRfc4716(text) ?? fromBase64Der(text));
  } catch {
    throw invalidKeyFormat();
  }
  const type = key && sshKeyType(key);
  if (!key || !type) throw invalidKeyFormat();
  if (type === 'rsa') {
    const bits = rsaModulusBits(key);
    if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) throw invalidKeyFormat();
  }
  return key;
}
