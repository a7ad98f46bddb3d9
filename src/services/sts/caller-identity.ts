/** GetCallerIdentity: who the request's credentials act as. */
import type { GetCallerIdentityResponse } from '@aws-sdk/client-sts';
import type { Handler, RequestContext } from '../context.js';
import { getRole } from '../iam/records.js';

const ASSUMED_ROLE = /^arn:aws[a-z-]*:sts::\d{12}:assumed-role\/([^/]+)\/(.+)$/;

/** IAM's UserId: the account for its root, `ROLEID:SESSION` for a role session. */
async function userIdOf(ctx: RequestContext): Promise<string> {
  const m = ASSUMED_ROLE.exec(ctx.principalArn);
  if (!m) return ctx.accountId;
  const role = await getRole(ctx.store, ctx.accountId, m[1]!);
  // A session outlives the deletion of its role (until it expires); then only its name is left to show.
  return role ? `${role.RoleId}:${m[2]}` : m[2]!;
}

const getCallerIdentity: Handler = async (_input: object, ctx): Promise<GetCallerIdentityResponse> => ({
  UserId: await userIdOf(ctx),
  Account: ctx.accountId,
  Arn: ctx.principalArn,
});

export const handlers: Record<string, Handler> = { GetCallerIdentity: getCallerIdentity };
