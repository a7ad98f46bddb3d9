/** IAM roles and their inline policies. */
import type { Handler, RequestContext } from '../context.js';
import { deleteConflict, entityAlreadyExists, noSuchEntity, noSuchRole, validationError } from './errors.js';
import { newIamId } from './ids.js';
import { pageByMarker } from './paging.js';
import { presentRole } from './present.js';
import { getRole, iamScope, INSTANCE_PROFILE_KIND, nameKey, ROLE_KIND, roleArn, type InstanceProfileRecord, type RoleRecord } from './records.js';
import { checkMaxSessionDuration, checkName, checkPath, checkPathPrefix, checkPolicyDocument, checkTags } from './validation.js';

const ROLE_NAME_MAX = 64;
const POLICY_NAME_MAX = 128;

export async function loadRole(ctx: RequestContext, name: string): Promise<RoleRecord> {
  checkName(name, 'roleName', ROLE_NAME_MAX);
  const role = await getRole(ctx.store, ctx.accountId, name);
  if (!role) throw noSuchRole(name);
  return role;
}

const saveRole = (ctx: RequestContext, role: RoleRecord) => ctx.store.put(ROLE_KIND, iamScope(ctx.accountId), nameKey(role.RoleName), role);

/** The account's instance profiles that hold the role. */
export async function profilesOfRole(ctx: RequestContext, role: RoleRecord): Promise<InstanceProfileRecord[]> {
  const all = await ctx.store.list<InstanceProfileRecord>(INSTANCE_PROFILE_KIND, iamScope(ctx.accountId));
  return all.filter((p) => p.roleKey === nameKey(role.RoleName));
}

interface CreateRoleInput {
  RoleName: string;
  Path?: string;
  AssumeRolePolicyDocument: string;
  Description?: string;
  MaxSessionDuration?: number;
  PermissionsBoundary?: string;
  Tags?: { Key: string; Value: string }[];
}

const createRole: Handler = async (input: CreateRoleInput, ctx) => {
  checkName(input.RoleName, 'roleName', ROLE_NAME_MAX);
  const path = checkPath(input.Path);
  checkPolicyDocument(input.AssumeRolePolicyDocument, 'assumeRolePolicyDocument');
  if (input.Description !== undefined && input.Description.length > 1000) {
    throw validationError(`1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 1000`);
  }
  if (input.PermissionsBoundary !== undefined) {
    // Boundaries are managed policies, and this account has none: the ARN cannot name one.
    throw noSuchEntity(`Scope ARN: ${input.PermissionsBoundary} does not exist or is not attachable.`);
  }
  const maxSession = checkMaxSessionDuration(input.MaxSessionDuration);
  const tags = checkTags(input.Tags);
  if (await getRole(ctx.store, ctx.accountId, input.RoleName)) throw entityAlreadyExists(`Role with name ${input.RoleName} already exists.`);
  const role: RoleRecord = {
    Path: path,
    RoleName: input.RoleName,
    RoleId: newIamId('AROA'),
    Arn: roleArn(ctx.accountId, path, input.RoleName),
    CreateDate: ctx.now().toISOString(),
    AssumeRolePolicyDocument: input.AssumeRolePolicyDocument,
    Description: input.Description,
    MaxSessionDuration: maxSession,
    Tags: tags,
    inlinePolicies: {},
  };
  await saveRole(ctx, role);
  return { Role: presentRole(role, { tags: true }) };
};

const getRoleOp: Handler = async (input: { RoleName: string }, ctx) => ({ Role: presentRole(await loadRole(ctx, input.RoleName), { tags: true }) });

const listRoles: Handler = async (input: { PathPrefix?: string; Marker?: string; MaxItems?: number }, ctx) => {
  const prefix = checkPathPrefix(input.PathPrefix);
  const roles = (await ctx.store.list<RoleRecord>(ROLE_KIND, iamScope(ctx.accountId))).filter((r) => r.Path.startsWith(prefix));
  const page = pageByMarker(roles, (r) => nameKey(r.RoleName), input.MaxItems, input.Marker);
  return { Roles: page.items.map((r) => presentRole(r)), IsTruncated: page.IsTruncated, Marker: page.Marker };
};

const deleteRole: Handler = async (input: { RoleName: string }, ctx) => {
  const role = await loadRole(ctx, input.RoleName);
  if ((await profilesOfRole(ctx, role)).length > 0) throw deleteConflict('Cannot delete entity, must remove roles from instance profile first.');
  if (Object.keys(role.inlinePolicies).length > 0) throw deleteConflict('Cannot delete entity, must delete policies first.');
  await ctx.store.remove(ROLE_KIND, iamScope(ctx.accountId), nameKey(role.RoleName));
};

const updateAssumeRolePolicy: Handler = async (input: { RoleName: string; PolicyDocument: string }, ctx) => {
  const role = await loadRole(ctx, input.RoleName);
  checkPolicyDocument(input.PolicyDocument, 'policyDocument');
  await saveRole(ctx, { ...role, AssumeRolePolicyDocument: input.PolicyDocument });
};

const putRolePolicy: Handler = async (input: { RoleName: string; PolicyName: string; PolicyDocument: string }, ctx) => {
  const role = await loadRole(ctx, input.RoleName);
  checkName(input.PolicyName, 'policyName', POLICY_NAME_MAX);
  checkPolicyDocument(input.PolicyDocument, 'policyDocument');
  await saveRole(ctx, { ...role, inlinePolicies: { ...role.inlinePolicies, [input.PolicyName]: input.PolicyDocument } });
};

async function loadRolePolicy(ctx: RequestContext, roleName: string, policyName: string): Promise<{ role: RoleRecord; document: string }> {
  const role = await loadRole(ctx, roleName);
  checkName(policyName, 'policyName', POLICY_NAME_MAX);
  const document = Object.hasOwn(role.inlinePolicies, policyName) ? role.inlinePolicies[policyName] : undefined;
  if (document === undefined) throw noSuchEntity(`The role policy with name ${policyName} cannot be found.`);
  return { role, document };
}

const getRolePolicy: Handler = async (input: { RoleName: string; PolicyName: string }, ctx) => {
  const { role, document } = await loadRolePolicy(ctx, input.RoleName, input.PolicyName);
  return { RoleName: role.RoleName, PolicyName: input.PolicyName, PolicyDocument: encodeURIComponent(document) };
};

const deleteRolePolicy: Handler = async (input: { RoleName: string; PolicyName: string }, ctx) => {
  const { role } = await loadRolePolicy(ctx, input.RoleName, input.PolicyName);
  const { [input.PolicyName]: _gone, ...rest } = role.inlinePolicies;
  await saveRole(ctx, { ...role, inlinePolicies: rest });
};

const listRolePolicies: Handler = async (input: { RoleName: string; Marker?: string; MaxItems?: number }, ctx) => {
  const role = await loadRole(ctx, input.RoleName);
  const names = Object.keys(role.inlinePolicies).sort();
  const page = pageByMarker(names, (n) => n, input.MaxItems, input.Marker);
  return { PolicyNames: page.items, IsTruncated: page.IsTruncated, Marker: page.Marker };
};

export const handlers: Record<string, Handler> = {
  CreateRole: createRole,
  GetRole: getRoleOp,
  ListRoles: listRoles,
  DeleteRole: deleteRole,
  UpdateAssumeRolePolicy: updateAssumeRolePolicy,
  PutRolePolicy: putRolePolicy,
  GetRolePolicy: getRolePolicy,
  DeleteRolePolicy: deleteRolePolicy,
  ListRolePolicies: listRolePolicies,
};
