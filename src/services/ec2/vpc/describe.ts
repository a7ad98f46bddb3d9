/**
 * The shape every VPC Describe* call shares: the records asked for by id (each must exist) or all
 * of them, EC2's filters (tag filters included), then MaxResults/NextToken pages in id order.
 */
import type { Tag } from '../../../store/store.js';
import type { RequestContext } from '../../context.js';
import type { ResourceKind } from '../common/errors.js';
import { applyFilters, checkFilterNames, type Filter, type FilterFields } from '../common/filters.js';
import { paginate } from '../common/pagination.js';
import { tagSets } from '../common/tagging.js';
import { ensureDefaultVpc } from './default-vpc.js';
import { requireAll } from './records.js';

export interface DescribeRequest {
  ids?: readonly string[];
  Filters?: Filter[];
  MaxResults?: number;
  NextToken?: string;
}

export interface Described<T> {
  items: { record: T; tags: Tag[] }[];
  nextToken?: string;
}

export async function describe<T>(
  ctx: RequestContext,
  kind: ResourceKind,
  idOf: (record: T) => string,
  fields: FilterFields<T>,
  req: DescribeRequest,
  pageBounds: { min: number; max: number } = { min: 5, max: 1000 },
): Promise<Described<T>> {
  checkFilterNames(req.Filters, fields as FilterFields<never>);
  await ensureDefaultVpc(ctx);
  const records = req.ids && req.ids.length > 0 ? await requireAll<T>(ctx, kind, req.ids) : await ctx.store.list<T>(kind, ctx.scope);
  const tags = await tagSets(ctx, records.map(idOf));
  const matched = applyFilters(records, req.Filters, fields, (r) => tags.get(idOf(r)));
  const page = paginate(matched, { maxResults: req.MaxResults, nextToken: req.NextToken, ...pageBounds, key: idOf });
  return { items: page.items.map((record) => ({ record, tags: tags.get(idOf(record)) ?? [] })), nextToken: page.nextToken };
}

/** Tags as Describe* answers carry them: absent when there are none. */
export const tagsOrUndefined = (tags: readonly Tag[]): Tag[] | undefined => (tags.length > 0 ? [...tags] : undefined);
