/**
 * IAM's stored resources. IAM is global: its roles and instance profiles live under the account
 * with the pseudo-region `global`, whichever region a request was signed for.
 */
import type { Scope, Store, Tag } from '../../store/store.js';

export const IAM_REGION = 'global';
export const ROLE_KIND = 'iam-role';
export const INSTANCE_PROFILE_KIND = 'iam-instance-profile';

export const iamScope = (account: string): Scope => ({ account, region: IAM_REGION });

export interface RoleRecord {
  Path: string;
  RoleName: string;
  RoleId: string;
  Arn: string;
  CreateDate: string;
  /** The trust policy as the caller sent it (JSON text). */
  AssumeRolePolicyDocument: string;
  Description?: string;
  MaxSessionDuration: number;
  Tags: Tag[];
  /** Inline policies: name -> JSON text. */
  inlinePolicies: Record<string, string>;
}

export interface InstanceProfileRecord {
  Path: string;
  InstanceProfileName: string;
  InstanceProfileId: string;
  Arn: string;
  CreateDate: string;
  Tags: Tag[];
  /** The one role in the profile (its store key), if any. */
  roleKey?: string;
}

/** IAM names are unique regardless of case: `MyRole` and `myrole` are the same role. */
export const nameKey = (name: string): string => name.toLowerCase();

export const roleArn = (account: string, path: string, name: string): string => `arn:aws:iam::${account}:role${path}${name}`;
export const instanceProfileArn = (account: string, path: string, name: string): string =>
  `arn:aws:iam::${account}:instance-profile${path}${name}`;
/** The ARN a role session acts as. */
export const assumedRoleArn = (account: string, roleName: string, session: string): string =>
  `arn:aws:sts::${account}:assumed-role/${roleName}/${session}`;

export function getRole(store: Store, account: string, name: string): Promise<RoleRecord | undefined> {
  return store.get<RoleRecord>(ROLE_KIND, iamScope(account), nameKey(name));
}

export function getInstanceProfile(store: Store, account: string, name: string): Promise<InstanceProfileRecord | undefined> {
  return store.get<InstanceProfileRecord>(INSTANCE_PROFILE_KIND, iamScope(account), nameKey(name));
}

const PROFILE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):instance-profile\/(?:.*\/)?([^/]+)$/;

/** The profile an ARN names, when it is one of `account`'s. */
export async function getInstanceProfileByArn(store: Store, account: string, arn: string): Promise<InstanceProfileRecord | undefined> {
  const m = PROFILE_ARN.exec(arn);
  if (!m || m[1] !== account) return undefined;
  const profile = await getInstanceProfile(store, account, m[2]!);
  return profile?.Arn === arn ? profile : undefined;
}

/** The role in an instance profile, if it has one. */
export async function roleOfProfile(store: Store, account: string, profile: InstanceProfileRecord): Promise<RoleRecord | undefined> {
  return profile.roleKey === undefined ? undefined : getRole(store, account, profile.roleKey);
}
