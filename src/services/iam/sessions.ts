/** Role sessions: temporary credentials (ASIA… key, secret, session token) that act as a role until they expire. */
import { randomBytes } from 'node:crypto';
import type { Store } from '../../store/store.js';
import { newAccessKeyId, newSecretAccessKey } from '../../util/ids.js';
import { assumedRoleArn, type RoleRecord } from './records.js';

export interface SessionCredential {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** ISO 8601 without milliseconds, as STS and the metadata service write it. */
  issuedAt: string;
  expiresAt: string;
  /** `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION` */
  principalArn: string;
}

/** Issues and stores credentials for a session of `role` (in `account`) named `sessionName`. */
export async function issueRoleSession(
  store: Store, account: string, role: RoleRecord, sessionName: string, now: Date, seconds: number,
): Promise<SessionCredential> {
  const cred: SessionCredential = {
    accessKeyId: newAccessKeyId('ASIA'),
    secretAccessKey: newSecretAccessKey(),
    sessionToken: randomBytes(192).toString('base64'),
    issuedAt: isoSeconds(now),
    expiresAt: isoSeconds(new Date(now.getTime() + seconds * 1000)),
    principalArn: assumedRoleArn(account, role.RoleName, sessionName),
  };
  await store.putCredential({
    accessKeyId: cred.accessKeyId,
    secretAccessKey: cred.secretAccessKey,
    accountId: account,
    sessionToken: cred.sessionToken,
    expiresAt: cred.expiresAt,
    principalArn: cred.principalArn,
  });
  return cred;
}

const isoSeconds = (d: Date): string => `${d.toISOString().slice(0, 19)}Z`;
