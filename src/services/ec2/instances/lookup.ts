/** Finding an account's instances by id, with EC2's Malformed and NotFound errors. */
import type { RequestContext } from '../../context.js';
import { checkIds, notFound } from '../common/errors.js';
import { INSTANCE_KIND, type InstanceRecord } from './record.js';

/**
 * Whether the instance is still visible: terminated ones stay for the retention period, then
 * disappear (the reconciler deletes them; until it has, they are hidden already).
 */
export function isVisible(ctx: RequestContext, rec: InstanceRecord): boolean {
  if (rec.state !== 'terminated' || !rec.terminatedAt) return true;
  return ctx.now().getTime() < Date.parse(rec.terminatedAt) + ctx.plane.config.terminatedRetentionMs;
}

/** The caller's instances with these ids, in the order asked; any unknown id fails the whole call. */
export async function loadInstances(ctx: RequestContext, ids: readonly string[]): Promise<InstanceRecord[]> {
  return byIds(ctx, ids, (unique) => ctx.store.getMany<InstanceRecord>(INSTANCE_KIND, ctx.scope, unique));
}

/** The same as loadInstances, as the store's shared, frozen records: to read only (describes). */
export async function readInstances(ctx: RequestContext, ids: readonly string[]): Promise<InstanceRecord[]> {
  return byIds(ctx, ids, (unique) => ctx.store.getManyShared<InstanceRecord>(INSTANCE_KIND, ctx.scope, unique));
}

async function byIds(
  ctx: RequestContext, ids: readonly string[], read: (unique: string[]) => Promise<readonly InstanceRecord[]>,
): Promise<InstanceRecord[]> {
  checkIds('instance', ids);
  const unique = [...new Set(ids)];
  const found = new Map((await read(unique)).filter((r) => isVisible(ctx, r)).map((r) => [r.InstanceId, r]));
  const missing = unique.filter((id) => !found.has(id));
  if (missing.length) throw notFound('instance', missing);
  return unique.map((id) => found.get(id)!);
}

export async function loadInstance(ctx: RequestContext, id: string): Promise<InstanceRecord> {
  return (await loadInstances(ctx, [id]))[0]!;
}

/** Every visible instance of the caller, in id order: the store's shared, frozen records, to read only. */
export async function allInstances(ctx: RequestContext): Promise<InstanceRecord[]> {
  return (await ctx.store.listShared<InstanceRecord>(INSTANCE_KIND, ctx.scope)).filter((r) => isVisible(ctx, r));
}
