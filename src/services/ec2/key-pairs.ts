/** CreateKeyPair, ImportKeyPair, DescribeKeyPairs, DeleteKeyPair. */
import type { Handler, RequestContext } from '../context.js';

/** A key pair as stored (the private key is never stored). */
export interface KeyPairRecord {
  KeyPairId: string;
  KeyName: string;
  KeyFingerprint: string;
  KeyType: 'rsa' | 'ed25519';
  /** OpenSSH public key line (`ssh-rsa AAAA… name`), installed into instances. */
  PublicKey: string;
  CreateTime: string;
}

export async function findKeyPair(ctx: RequestContext, keyName: string): Promise<KeyPairRecord | undefined> {
  void ctx;
  void keyName;
  return undefined;
}

export const handlers: Record<string, Handler> = {};
