/**
 * `iam/info` and `iam/security-credentials/ROLE`: the instance profile and temporary credentials
 * of the role the instance acts as, issued (and rotated before they expire) on demand.
 */
import { currentRoleCredentials } from '../services/iam/role-credentials.js';
import type { Store } from '../store/store.js';
import type { RoleSource } from './server.js';

const json = (value: object) => JSON.stringify(value, null, 2);

export function roleSource(store: Store, lifetimeSeconds: number): RoleSource {
  return (caller, now) =>
    store.transaction(async () => {
      const creds = await currentRoleCredentials(store, caller.scope, caller.instance.InstanceId, now, { lifetimeSeconds });
      const profile = caller.instance.IamInstanceProfile;
      if (!creds || !profile) return undefined;
      return {
        roleName: creds.RoleName,
        info: json({ Code: 'Success', LastUpdated: creds.LastUpdated, InstanceProfileArn: profile.Arn, InstanceProfileId: profile.Id }),
        credentials: json({
          Code: 'Success', LastUpdated: creds.LastUpdated, Type: 'AWS-HMAC',
          AccessKeyId: creds.AccessKeyId, SecretAccessKey: creds.SecretAccessKey, Token: creds.Token, Expiration: creds.Expiration,
        }),
      };
    });
}
