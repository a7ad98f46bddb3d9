/**
 * Key fingerprints exactly as EC2 computes them (CreateKeyPair / ImportKeyPair `keyFingerprint`):
 * RSA keys EC2 created: SHA-1 of the DER PKCS#8 private key; RSA keys imported: MD5 of the DER
 * public key (SubjectPublicKeyInfo); Ed25519 keys: base64 SHA-256 of the SSH public key blob.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { publicKeyBlob } from '../../../util/ssh-keys.js';

const colonHex = (digest: Buffer) => digest.toString('hex').match(/../g)!.join(':');

/** Fingerprint of a key pair EC2 generated (it has the private key). */
export function createdKeyFingerprint(privateKey: KeyObject): string {
  if (privateKey.asymmetricKeyType === 'ed25519') return ed25519Fingerprint(privateKey);
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  return colonHex(createHash('sha1').update(der).digest());
}

/** Fingerprint of an imported public key. */
export function importedKeyFingerprint(publicKey: KeyObject): string {
  if (publicKey.asymmetricKeyType === 'ed25519') return ed25519Fingerprint(publicKey);
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return colonHex(createHash('md5').update(der).digest());
}

/** `ssh-keygen -l` prints this after `SHA256:`, without the `=` padding EC2 keeps. */
function ed25519Fingerprint(key: KeyObject): string {
  return createHash('sha256').update(publicKeyBlob(key)).digest('base64');
}
