/** IAM instance profiles: containers for the one role an EC2 instance acts as. */
import type { Handler, RequestContext } from '../context.js';
import { deleteConflict, entityAlreadyExists, limitExceeded, noSuchEntity, noSuchInstanceProfile } from './errors.js';
import { newIamId } from './ids.js';
import { pageByMarker } from './paging.js';
import { presentInstanceProfile } from './present.js';
import {
  getInstanceProfile, iamScope, INSTANCE_PROFILE_KIND, instanceProfileArn, nameKey, roleOfProfile, type InstanceProfileRecord,
} from './records.js';
import { loadRole, profilesOfRole } from './roles.js';
import { checkName, checkPath, checkPathPrefix, checkTags } from './validation.js';

const PROFILE_NAME_MAX = 128;

async function loadProfile(ctx: RequestContext, name: string): Promise<InstanceProfileRecord> {
  checkName(name, 'instanceProfileName', PROFILE_NAME_MAX);
  const profile = await getInstanceProfile(ctx.store, ctx.accountId, name);
  if (!profile) throw noSuchInstanceProfile(name);
  return profile;
}

const saveProfile = (ctx: RequestContext, p: InstanceProfileRecord) =>
  ctx.store.put(INSTANCE_PROFILE_KIND, iamScope(ctx.accountId), nameKey(p.InstanceProfileName), p);

async function present(ctx: RequestContext, p: InstanceProfileRecord, opts: { tags?: boolean } = {}): Promise<Record<string, unknown>> {
  return presentInstanceProfile(p, await roleOfProfile(ctx.store, ctx.accountId, p), opts);
}

const createInstanceProfile: Handler = async (input: { InstanceProfileName: string; Path?: string; Tags?: { Key: string; Value: string }[] }, ctx) => {
  checkName(input.InstanceProfileName, 'instanceProfileName', PROFILE_NAME_MAX);
  const path = checkPath(input.Path);
  const tags = checkTags(input.Tags);
  if (await getInstanceProfile(ctx.store, ctx.accountId, input.InstanceProfileName)) {
    throw entityAlreadyExists(`Instance Profile ${input.InstanceProfileName} already exists.`);
  }
  const profile: InstanceProfileRecord = {
    Path: path,
    InstanceProfileName: input.InstanceProfileName,
    InstanceProfileId: newIamId('AIPA'),
    Arn: instanceProfileArn(ctx.accountId, path, input.InstanceProfileName),
    CreateDate: ctx.now().toISOString(),
    Tags: tags,
  };
  await saveProfile(ctx, profile);
  return { InstanceProfile: presentInstanceProfile(profile, undefined, { tags: true }) };
};

const getInstanceProfileOp: Handler = async (input: { InstanceProfileName: string }, ctx) => ({
  InstanceProfile: await present(ctx, await loadProfile(ctx, input.InstanceProfileName), { tags: true }),
});

async function presentPage(ctx: RequestContext, profiles: InstanceProfileRecord[], maxItems?: number, marker?: string) {
  const page = pageByMarker(profiles, (p) => nameKey(p.InstanceProfileName), maxItems, marker);
  const items = [];
  for (const p of page.items) items.push(await present(ctx, p));
  return { InstanceProfiles: items, IsTruncated: page.IsTruncated, Marker: page.Marker };
}

const listInstanceProfiles: Handler = async (input: { PathPrefix?: string; Marker?: string; MaxItems?: number }, ctx) => {
  const prefix = checkPathPrefix(input.PathPrefix);
  const all = await ctx.store.list<InstanceProfileRecord>(INSTANCE_PROFILE_KIND, iamScope(ctx.accountId));
  return presentPage(ctx, all.filter((p) => p.Path.startsWith(prefix)), input.MaxItems, input.Marker);
};

const listInstanceProfilesForRole: Handler = async (input: { RoleName: string; Marker?: string; MaxItems?: number }, ctx) => {
  const role = await loadRole(ctx, input.RoleName);
  return presentPage(ctx, await profilesOfRole(ctx, role), input.MaxItems, input.Marker);
};

const deleteInstanceProfile: Handler = async (input: { InstanceProfileName: string }, ctx) => {
  const profile = await loadProfile(ctx, input.InstanceProfileName);
  if (profile.roleKey !== undefined) throw deleteConflict('Cannot delete entity, must remove roles from instance profile first.');
  await ctx.store.remove(INSTANCE_PROFILE_KIND, iamScope(ctx.accountId), nameKey(profile.InstanceProfileName));
};

const addRoleToInstanceProfile: Handler = async (input: { InstanceProfileName: string; RoleName: string }, ctx) => {
  const profile = await loadProfile(ctx, input.InstanceProfileName);
  const role = await loadRole(ctx, input.RoleName);
  if (profile.roleKey !== undefined) {
    throw limitExceeded('Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1');
  }
  await saveProfile(ctx, { ...profile, roleKey: nameKey(role.RoleName) });
  // Instances with this profile now act as the role: the metadata service and its consumers look again.
  ctx.plane.kick();
};

const removeRoleFromInstanceProfile: Handler = async (input: { InstanceProfileName: string; RoleName: string }, ctx) => {
  const profile = await loadProfile(ctx, input.InstanceProfileName);
  const role = await loadRole(ctx, input.RoleName);
  if (profile.roleKey !== nameKey(role.RoleName)) {
    throw noSuchEntity(`The role with name ${role.RoleName} cannot be found.`);
  }
  const { roleKey: _removed, ...rest } = profile;
  await saveProfile(ctx, rest);
  ctx.plane.kick();
};

export const handlers: Record<string, Handler> = {
  CreateInstanceProfile: createInstanceProfile,
  GetInstanceProfile: getInstanceProfileOp,
  ListInstanceProfiles: listInstanceProfiles,
  ListInstanceProfilesForRole: listInstanceProfilesForRole,
  DeleteInstanceProfile: deleteInstanceProfile,
  AddRoleToInstanceProfile: addRoleToInstanceProfile,
  RemoveRoleFromInstanceProfile: removeRoleFromInstanceProfile,
};
