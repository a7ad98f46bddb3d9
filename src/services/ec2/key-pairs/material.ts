/** Key material for CreateKeyPair: a fresh key in the format the caller asked for. */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { openSshEd25519PrivateKey, type SshKeyType } from '../../../util/ssh-keys.js';
import { toPpk } from './ppk.js';

export type KeyFormat = 'pem' | 'ppk';

/** EC2 creates 2048-bit RSA keys. */
const RSA_BITS = 2048;

export function generatePrivateKey(type: SshKeyType): KeyObject {
  return type === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: RSA_BITS, publicExponent: 65537 }).privateKey
    : generateKeyPairSync('ed25519').privateKey;
}

/**
 * The private key as EC2 hands it out: RSA as unencrypted PKCS#1 PEM, Ed25519 in OpenSSH's own
 * format (PEM armour `OPENSSH PRIVATE KEY`), or either as a PuTTY .ppk file. The key name is
 * the comment, as in the files EC2 returns.
 */
export function privateKeyMaterial(privateKey: KeyObject, format: KeyFormat, keyName: string): string {
  if (format === 'ppk') return toPpk(privateKey, keyName);
  if (privateKey.asymmetricKeyType === 'ed25519') return openSshEd25519PrivateKey(privateKey, keyName);
  return (privateKey.export({ type: 'pkcs1', format: 'pem' }) as string).trimEnd();
}
