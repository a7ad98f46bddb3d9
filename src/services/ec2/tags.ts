/**
 * CreateTags, DeleteTags, DescribeTags: user tags on any resource of the caller's account and
 * region. Tags live in the store's tags table, scoped like everything else, so an account never
 * sees another's tags — even on a public AMI that both can see (EC2: tags on public or shared
 * resources are visible only to the account that assigned them).
 */
import type {
  CreateTagsRequest,
  DeleteTagsRequest,
  DescribeTagsRequest,
  DescribeTagsResult,
  TagDescription,
} from '@aws-sdk/client-ec2';
import { ApiError } from '../../protocol/errors.js';
import type { Tag, TagQuery, TagRow } from '../../store/store.js';
import type { Handler, RequestContext } from '../context.js';
import { checkIds, notFound, RESOURCES, type ResourceKind } from './common/errors.js';
import { applyFilters, type Filter, type FilterFields } from './common/filters.js';
import { paginate } from './common/pagination.js';
import { resourceTypeOf } from './common/resources.js';
import { addTags, validateTags } from './common/tagging.js';
import { findImage } from './images.js';
import { ensureDefaultVpc } from './vpc/index.js';

interface TaggableResource {
  id: string;
  resourceType: string;
}

const invalidId = (id: string) => new ApiError('InvalidID', `The ID '${id}' is not valid`);

/**
 * The resources named by `ids`, each checked for form (its kind's Malformed code, or InvalidID for
 * ids of no taggable kind) and then for existence in the caller's scope (its kind's NotFound).
 */
async function resolveResources(ctx: RequestContext, ids: readonly string[]): Promise<TaggableResource[]> {
  const resources = new Map<string, TaggableResource & { kind: ResourceKind }>();
  for (const id of ids) {
    const type = resourceTypeOf(id);
    if (!type || !Object.hasOwn(RESOURCES, type.kind)) throw invalidId(id);
    const kind = type.kind as ResourceKind;
    checkIds(kind, [id]);
    resources.set(id, { id, resourceType: type.resourceType, kind });
  }
  // A fresh account's default VPC (and its subnets, group, …) is stored on first use: tagging is one.
  await ensureDefaultVpc(ctx);
  const kinds = new Set([...resources.values()].map((r) => r.kind));
  for (const kind of kinds) {
    const kindIds = [...resources.values()].filter((r) => r.kind === kind).map((r) => r.id);
    const missing: string[] = [];
    for (const id of kindIds) if (!(await exists(ctx, kind, id))) missing.push(id);
    if (missing.length > 0) throw notFound(kind, missing);
  }
  return [...resources.values()].map(({ id, resourceType }) => ({ id, resourceType }));
}

/** Whether the caller can see the resource `id` of `kind`. */
async function exists(ctx: RequestContext, kind: ResourceKind, id: string): Promise<boolean> {
  // Public catalogue images are outside the caller's scope, yet the caller may tag them.
  if (kind === 'image') return (await findImage(ctx, id)) !== undefined;
  return (await ctx.store.get(kind, ctx.scope, id)) !== undefined;
}

/** Tags with the reserved `aws:` prefix are AWS's own: users cannot set or remove them. */
const isReserved = (key: string) => key.toLowerCase().startsWith('aws:');

async function createTags(input: CreateTagsRequest, ctx: RequestContext): Promise<object> {
  const resources = await resolveResources(ctx, input.Resources ?? []);
  const tags = validateTags(input.Tags);
  // Within one request a repeated key takes its last value, as EC2 does.
  const merged = [...new Map(tags.map((t) => [t.Key, t])).values()];
  // A failure on any resource rolls the whole request back (the dispatcher's transaction).
  for (const r of resources) await addTags(ctx, r.id, r.resourceType, merged);
  return {};
}

async function deleteTags(input: DeleteTagsRequest, ctx: RequestContext): Promise<object> {
  const resources = await resolveResources(ctx, input.Resources ?? []);
  validateTags(input.Tags); // the same key rules as CreateTags, `aws:` included
  // Key alone deletes the tag whatever its value; Key and Value (even '') only when the value matches.
  const wanted = input.Tags?.map((t) => ({ Key: t.Key!, Value: t.Value }));
  const all = wanted ? undefined : await ctx.store.tagsOf(ctx.scope, resources.map((r) => r.id));
  for (const r of resources) {
    // No Tags at all: every user tag of the resource goes.
    const doomed = wanted ?? (all!.get(r.id) ?? []).filter((t) => !isReserved(t.Key)).map((t) => ({ Key: t.Key }));
    await ctx.store.deleteTags(ctx.scope, r.id, doomed);
  }
  return {};
}

const tagFields: FilterFields<TagRow> = {
  key: (t) => t.Key,
  value: (t) => t.Value,
  'resource-id': (t) => t.resourceId,
  'resource-type': (t) => t.resourceType,
};

/** Narrows the store query by the filters whose values are all literal, so that lookups use the index. */
function indexedQuery(filters: readonly Filter[] | undefined): TagQuery {
  const q: TagQuery = {};
  const columns: Record<string, keyof TagQuery> = { key: 'keys', value: 'values', 'resource-id': 'resourceIds', 'resource-type': 'resourceTypes' };
  for (const f of filters ?? []) {
    const column = Object.hasOwn(columns, f.Name ?? '') ? columns[f.Name!]! : undefined;
    if (!column || q[column] || !f.Values || f.Values.some((v) => /[*?\\]/.test(v))) continue;
    q[column] = f.Values;
  }
  return q;
}

/** A unique key of a tag row that sorts rows by resource id, then tag key. */
const rowKey = (t: TagRow) => JSON.stringify([t.resourceId, t.Key]);

async function describeTags(input: DescribeTagsRequest, ctx: RequestContext): Promise<DescribeTagsResult> {
  const rows = await ctx.store.queryTags(ctx.scope, indexedQuery(input.Filters));
  // `tag:Key` filters select the tags of resources that carry the given tag.
  const needResourceTags = (input.Filters ?? []).some((f) => f.Name?.startsWith('tag:') || f.Name === 'tag-key' || f.Name === 'tag-value');
  const resourceTags: Map<string, Tag[]> = needResourceTags
    ? await ctx.store.tagsOf(ctx.scope, [...new Set(rows.map((r) => r.resourceId))])
    : new Map();
  const matched = applyFilters(rows, input.Filters, tagFields, (row) => resourceTags.get(row.resourceId))
    .map((row) => ({ key: rowKey(row), row }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const page = paginate(matched, { maxResults: input.MaxResults, nextToken: input.NextToken, min: 5, max: 1000, key: (m) => m.key });
  const Tags: TagDescription[] = page.items.map(({ row }) => ({
    ResourceId: row.resourceId,
    ResourceType: row.resourceType as TagDescription['ResourceType'],
    Key: row.Key,
    Value: row.Value,
  }));
  return { Tags, NextToken: page.nextToken };
}

export const handlers: Record<string, Handler> = {
  CreateTags: createTags,
  DeleteTags: deleteTags,
  DescribeTags: describeTags,
};
