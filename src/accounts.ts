/** Accounts: each has its own id and root access key. */
import type { Store } from './store/store.js';
import { newAccessKeyId, newAccountId, newSecretAccessKey } from './util/ids.js';

export interface CreatedAccount {
  accountId: string;
  name: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export async function createAccount(store: Store, name: string): Promise<CreatedAccount> {
  return store.transaction(async () => {
    let accountId = newAccountId();
    while (accountId === '000000000000' || (await store.getAccount(accountId))) accountId = newAccountId();
    const accessKeyId = newAccessKeyId();
    const secretAccessKey = newSecretAccessKey();
    await store.createAccount({ accountId, name, createdAt: new Date().toISOString() });
    await store.putCredential({ accessKeyId, secretAccessKey, accountId, principalArn: `arn:aws:iam::${accountId}:root` });
    return { accountId, name, accessKeyId, secretAccessKey };
  });
}
