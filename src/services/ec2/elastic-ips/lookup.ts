/** Finding the caller's Elastic IPs by allocation id or by address, with EC2's errors. */
import { ApiError } from '../../../protocol/errors.js';
import type { RequestContext } from '../../context.js';
import { checkIds, notFound } from '../common/errors.js';
import { ELASTIC_IP_KIND, type ElasticIpRecord } from './record.js';

export const addressNotFound = (ips: readonly string[]) =>
  new ApiError('InvalidAddress.NotFound', ips.length === 1 ? `Address '${ips[0]}' not found.` : `Addresses '${ips.join(', ')}' not found.`);

export async function allAddresses(ctx: RequestContext): Promise<ElasticIpRecord[]> {
  return ctx.store.list<ElasticIpRecord>(ELASTIC_IP_KIND, ctx.scope);
}

export async function addressesByAllocation(ctx: RequestContext, ids: readonly string[]): Promise<ElasticIpRecord[]> {
  checkIds('elastic-ip', ids);
  const unique = [...new Set(ids)];
  const found = await ctx.store.getMany<ElasticIpRecord>(ELASTIC_IP_KIND, ctx.scope, unique);
  const have = new Set(found.map((e) => e.AllocationId));
  const missing = unique.filter((id) => !have.has(id));
  if (missing.length) throw notFound('elastic-ip', missing);
  return found;
}

export async function addressesByIp(ctx: RequestContext, ips: readonly string[]): Promise<ElasticIpRecord[]> {
  const wanted = new Set(ips);
  const found = (await allAddresses(ctx)).filter((e) => wanted.has(e.PublicIp));
  const missing = [...wanted].filter((ip) => !found.some((e) => e.PublicIp === ip));
  if (missing.length) throw addressNotFound(missing);
  return found;
}

/** The address an operation names by AllocationId or (the older way) by PublicIp. */
export async function loadAddress(ctx: RequestContext, allocationId: string | undefined, publicIp: string | undefined): Promise<ElasticIpRecord> {
  if (allocationId !== undefined) return (await addressesByAllocation(ctx, [allocationId]))[0]!;
  if (publicIp !== undefined) return (await addressesByIp(ctx, [publicIp]))[0]!;
  throw new ApiError('MissingParameter', 'The request must contain the parameter AllocationId');
}

export async function saveAddress(ctx: RequestContext, eip: ElasticIpRecord): Promise<void> {
  await ctx.store.put(ELASTIC_IP_KIND, ctx.scope, eip.AllocationId, eip);
}
