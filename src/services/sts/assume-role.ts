/**
 * AssumeRole: temporary credentials for a role whose trust policy lets the caller in. A role of
 * the caller's own account trusts the account; another account's role must name the caller's
 * account (or its ARN) as an `AWS` principal of an Allow statement for `sts:AssumeRole`.
 */
import type { AssumeRoleRequest, AssumeRoleResponse } from '@aws-sdk/client-sts';
import { ApiError } from '../../protocol/errors.js';
import type { Handler, RequestContext } from '../context.js';
import { constraintViolation } from '../iam/errors.js';
import { getRole, type RoleRecord } from '../iam/records.js';
import { issueRoleSession } from '../iam/sessions.js';

const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]+)$/;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
const MIN_DURATION_S = 900;
const DEFAULT_DURATION_S = 3600;

const accessDenied = (ctx: RequestContext, roleArn: string) =>
  new ApiError('AccessDenied', `User: ${ctx.principalArn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`, 403);

interface Statement {
  Effect?: string;
  Principal?: { AWS?: string | string[] } | string;
  Action?: string | string[];
}

/** Whether the role's trust policy admits the caller. */
function trusts(role: RoleRecord, roleAccount: string, ctx: RequestContext): boolean {
  if (roleAccount === ctx.accountId) return true;
  const doc = JSON.parse(role.AssumeRolePolicyDocument) as { Statement?: Statement | Statement[] };
  const statements = [doc.Statement ?? []].flat();
  const callers = new Set([ctx.accountId, `arn:aws:iam::${ctx.accountId}:root`, ctx.principalArn]);
  return statements.some((s) => {
    if (s.Effect !== 'Allow') return false;
    if (![s.Action ?? []].flat().some((a) => a === 'sts:AssumeRole' || a === 'sts:*' || a === '*')) return false;
    if (s.Principal === '*') return true;
    const principals = typeof s.Principal === 'object' ? [s.Principal.AWS ?? []].flat() : [];
    return principals.some((p) => p === '*' || callers.has(p));
  });
}

const assumeRole: Handler = async (input: AssumeRoleRequest, ctx): Promise<AssumeRoleResponse> => {
  const roleArn = input.RoleArn!;
  const sessionName = input.RoleSessionName!;
  if (!SESSION_NAME.test(sessionName)) {
    throw constraintViolation(sessionName, 'roleSessionName', 'Member must satisfy regular expression pattern: [\\w+=,.@-]* and length 2 to 64');
  }
  const m = ROLE_ARN.exec(roleArn);
  if (!m) throw constraintViolation(roleArn, 'roleArn', 'Member must satisfy regular expression pattern: arn:aws:iam::ACCOUNT:role/NAME');
  const [, account, name] = m as unknown as [string, string, string];
  const role = await getRole(ctx.store, account, name);
  // An unknown role and one that does not trust the caller look the same from outside.
  if (!role || role.Arn !== roleArn || !trusts(role, account, ctx)) throw accessDenied(ctx, roleArn);
  const seconds = input.DurationSeconds ?? DEFAULT_DURATION_S;
  if (seconds < MIN_DURATION_S) throw constraintViolation(seconds, 'durationSeconds', `Member must have value greater than or equal to ${MIN_DURATION_S}`);
  if (seconds > role.MaxSessionDuration) {
    throw new ApiError('ValidationError', `The requested DurationSeconds exceeds the MaxSessionDuration set for this role.`);
  }
  const cred = await issueRoleSession(ctx.store, account, role, sessionName, ctx.now(), seconds);
  return {
    Credentials: {
      AccessKeyId: cred.accessKeyId,
      SecretAccessKey: cred.secretAccessKey,
      SessionToken: cred.sessionToken,
      Expiration: new Date(cred.expiresAt),
    },
    AssumedRoleUser: { AssumedRoleId: `${role.RoleId}:${sessionName}`, Arn: cred.principalArn },
  };
};

export const handlers: Record<string, Handler> = { AssumeRole: assumeRole };
