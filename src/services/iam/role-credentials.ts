/**
 * The temporary credentials of an instance's role, as the metadata service hands them out at
 * `iam/security-credentials/ROLE`: issued on first ask, reused while more than 15 minutes remain,
 * then replaced by fresh ones (the old ones stay valid until they expire, as on EC2). Works outside
 * any request: the caller gives the store (inside a transaction it opened), the instance's scope
 * and the time.
 */
import type { Scope, Store } from '../../store/store.js';
import { INSTANCE_KIND, type InstanceRecord } from '../ec2/instances/record.js';
import { getInstanceProfileByArn, roleOfProfile, type RoleRecord } from './records.js';
import { issueRoleSession } from './sessions.js';

/** What EC2's metadata service serves for a role. */
export interface RoleCredentials {
  RoleName: string;
  AccessKeyId: string;
  SecretAccessKey: string;
  Token: string;
  Expiration: string;
  LastUpdated: string;
}

/** The current session of an instance's role, kept in the instance's scope under its id. */
interface RoleSession {
  accessKeyId: string;
  roleId: string;
  issuedAt: string;
  expiresAt: string;
}

const SESSION_KIND = 'iam-role-session';
const SESSION_LIFETIME_S = 6 * 3600;
const REFRESH_BEFORE_MS = 15 * 60_000;

export interface RoleCredentialOptions {
  /** Issue fresh credentials with this lifetime instead of the usual 6 hours (an operator's tool; never reused). */
  durationSeconds?: number;
  /** The lifetime of the reusable sessions the metadata service hands out (default 6 hours); renewed in its last quarter, or last 15 minutes. */
  lifetimeSeconds?: number;
}

/** The role an instance acts as now: through its associated profile, if that still holds a role. */
export async function roleOfInstance(store: Store, scope: Scope, instanceId: string): Promise<RoleRecord | undefined> {
  const inst = await store.get<InstanceRecord>(INSTANCE_KIND, scope, instanceId);
  if (!inst?.IamInstanceProfile || inst.state === 'terminated') return undefined;
  const profile = await getInstanceProfileByArn(store, scope.account, inst.IamInstanceProfile.Arn);
  // A profile deleted and made again under the same name is another profile: the association is gone.
  if (!profile || profile.InstanceProfileId !== inst.IamInstanceProfile.Id) return undefined;
  return roleOfProfile(store, scope.account, profile);
}

export async function currentRoleCredentials(
  store: Store,
  scope: Scope,
  instanceId: string,
  now: Date,
  opts: RoleCredentialOptions = {},
): Promise<RoleCredentials | undefined> {
  const role = await roleOfInstance(store, scope, instanceId);
  if (!role) return undefined;
  const session = await store.get<RoleSession>(SESSION_KIND, scope, instanceId);
  const lifetime = opts.lifetimeSeconds ?? SESSION_LIFETIME_S;
  const refreshBefore = Math.min(REFRESH_BEFORE_MS, (lifetime * 1000) / 4);
  if (session && session.roleId === role.RoleId && opts.durationSeconds === undefined
    && Date.parse(session.expiresAt) - now.getTime() > refreshBefore) {
    const cred = await store.getCredential(session.accessKeyId);
    if (cred?.sessionToken) return format(role, session, cred.secretAccessKey, cred.sessionToken);
  }
  return issue(store, scope, instanceId, role, now, opts.durationSeconds ?? lifetime);
}

async function issue(store: Store, scope: Scope, instanceId: string, role: RoleRecord, now: Date, seconds: number): Promise<RoleCredentials> {
  // The session is named after the instance, as EC2 names it: `assumed-role/ROLE/i-…`.
  const cred = await issueRoleSession(store, scope.account, role, instanceId, now, seconds);
  const session: RoleSession = { accessKeyId: cred.accessKeyId, roleId: role.RoleId, issuedAt: cred.issuedAt, expiresAt: cred.expiresAt };
  await store.put(SESSION_KIND, scope, instanceId, session);
  return format(role, session, cred.secretAccessKey, cred.sessionToken);
}

const format = (role: RoleRecord, s: RoleSession, secret: string, token: string): RoleCredentials => ({
  RoleName: role.RoleName,
  AccessKeyId: s.accessKeyId,
  SecretAccessKey: secret,
  Token: token,
  Expiration: s.expiresAt,
  LastUpdated: s.issuedAt,
});
