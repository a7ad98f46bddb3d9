/**
 * PuTTY's private key file, format version 2 (PuTTY manual, appendix C), unencrypted, as EC2
 * returns it for KeyFormat=ppk. Version 2 is read by every PuTTY release since 0.52, including
 * those that write version 3.
 */
import { createHash, createHmac, type KeyObject } from 'node:crypto';
import { publicKeyBlob, SSH_ALGORITHM, sshKeyType, sshMpint, sshString } from '../../../util/ssh-keys.js';

const LINE = 64;
const ENCRYPTION = 'none';

const b64u = (s: string | undefined) => Buffer.from(s ?? '', 'base64url');

/** The private half PuTTY stores: RSA `mpint d, p, q, iqmp`; Ed25519 `string seed` (its 32 bytes as they are). */
function privateBlob(privateKey: KeyObject): Buffer {
  const jwk = privateKey.export({ format: 'jwk' });
  if (sshKeyType(privateKey) === 'rsa') {
    return Buffer.concat([b64u(jwk.d), b64u(jwk.p), b64u(jwk.q), b64u(jwk.qi)].map(sshMpint));
  }
  return sshString(b64u(jwk.d));
}

/** The Private-MAC of a version 2 file: HMAC-SHA-1 keyed by SHA-1("putty-private-key-file-mac-key" + passphrase). */
export function ppkV2Mac(algorithm: string, encryption: string, comment: string, publicBlob: Buffer, privateBlob: Buffer, passphrase = ''): string {
  const key = createHash('sha1').update(`putty-private-key-file-mac-key${passphrase}`).digest();
  const data = Buffer.concat([sshString(algorithm), sshString(encryption), sshString(comment), sshString(publicBlob), sshString(privateBlob)]);
  return createHmac('sha1', key).update(data).digest('hex');
}

function lines(data: Buffer): string[] {
  const b64 = data.toString('base64');
  const out: string[] = [];
  for (let i = 0; i < b64.length; i += LINE) out.push(b64.slice(i, i + LINE));
  return out;
}

export function toPpk(privateKey: KeyObject, comment: string): string {
  const algorithm = SSH_ALGORITHM[sshKeyType(privateKey)!];
  const pub = publicKeyBlob(privateKey);
  const priv = privateBlob(privateKey);
  const pubLines = lines(pub);
  const privLines = lines(priv);
  return [
    `PuTTY-User-Key-File-2: ${algorithm}`,
    `Encryption: ${ENCRYPTION}`,
    `Comment: ${comment}`,
    `Public-Lines: ${pubLines.length}`,
    ...pubLines,
    `Private-Lines: ${privLines.length}`,
    ...privLines,
    `Private-MAC: ${ppkV2Mac(algorithm, ENCRYPTION, comment, pub, priv)}`,
    '',
  ].join('\n');
}
