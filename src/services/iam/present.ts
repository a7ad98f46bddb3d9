/** IAM resources as the API shows them. Policy documents go out URL-encoded, as IAM sends them. */
import type { InstanceProfileRecord, RoleRecord } from './records.js';

export function presentRole(r: RoleRecord, opts: { tags?: boolean } = {}): Record<string, unknown> {
  return {
    Path: r.Path,
    RoleName: r.RoleName,
    RoleId: r.RoleId,
    Arn: r.Arn,
    CreateDate: r.CreateDate,
    AssumeRolePolicyDocument: encodeURIComponent(r.AssumeRolePolicyDocument),
    Description: r.Description,
    MaxSessionDuration: r.MaxSessionDuration,
    Tags: opts.tags && r.Tags.length ? r.Tags : undefined,
    RoleLastUsed: opts.tags ? {} : undefined,
  };
}

export function presentInstanceProfile(p: InstanceProfileRecord, role: RoleRecord | undefined, opts: { tags?: boolean } = {}): Record<string, unknown> {
  return {
    Path: p.Path,
    InstanceProfileName: p.InstanceProfileName,
    InstanceProfileId: p.InstanceProfileId,
    Arn: p.Arn,
    CreateDate: p.CreateDate,
    Roles: role ? [presentRole(role)] : [],
    Tags: opts.tags && p.Tags.length ? p.Tags : undefined,
  };
}
