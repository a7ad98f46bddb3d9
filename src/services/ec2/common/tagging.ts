/** Tag rules shared by CreateTags and every TagSpecifications member. */
import { ApiError, invalidParameterValue } from '../../../protocol/errors.js';
import type { Tag } from '../../../store/store.js';
import type { RequestContext } from '../../context.js';

export const MAX_TAGS_PER_RESOURCE = 50;
const MAX_KEY = 128;
const MAX_VALUE = 256;

export interface TagSpecification {
  ResourceType?: string;
  Tags?: { Key?: string; Value?: string }[];
}

/** Validates tags as given by a client; returns them with values defaulted to ''. */
export function validateTags(tags: readonly { Key?: string; Value?: string }[] | undefined): Tag[] {
  const out: Tag[] = [];
  for (const t of tags ?? []) {
    const key = t.Key;
    if (key === undefined || key === '') throw invalidParameterValue('Tag key must not be empty');
    if ([...key].length > MAX_KEY) {
      throw invalidParameterValue(`Tag key exceeds the maximum length of ${MAX_KEY} characters`);
    }
    const value = t.Value ?? '';
    if ([...value].length > MAX_VALUE) {
      throw invalidParameterValue(`Tag value exceeds the maximum length of ${MAX_VALUE} characters`);
    }
    if (key.toLowerCase().startsWith('aws:')) {
      throw invalidParameterValue(`Tag keys starting with 'aws:' are reserved for internal use`);
    }
    out.push({ Key: key, Value: value });
  }
  return out;
}

/**
 * The tags that TagSpecifications give to resources of `resourceType`. Specifications for types
 * the operation cannot tag are EC2's InvalidParameterValue.
 */
export function tagsFromSpecifications(
  specs: readonly TagSpecification[] | undefined,
  allowedTypes: readonly string[],
  resourceType: string,
): Tag[] {
  const out: Tag[] = [];
  for (const spec of specs ?? []) {
    const type = spec.ResourceType;
    if (!type) throw new ApiError('InvalidParameterValue', 'TagSpecification must have a ResourceType');
    if (!allowedTypes.includes(type)) {
      throw invalidParameterValue(`'${type}' is not a valid taggable resource type for this operation.`);
    }
    if (type === resourceType) out.push(...validateTags(spec.Tags));
  }
  if (new Set(out.map((t) => t.Key)).size > MAX_TAGS_PER_RESOURCE) throw tagLimitExceeded();
  return out;
}

export const tagLimitExceeded = () =>
  new ApiError('TagLimitExceeded', `The maximum number of Tags for a resource has been reached (${MAX_TAGS_PER_RESOURCE}).`);

/** Adds or overwrites tags on one resource, enforcing the per-resource limit. */
export async function addTags(ctx: RequestContext, resourceId: string, resourceType: string, tags: readonly Tag[]): Promise<void> {
  if (tags.length === 0) return;
  const existing = (await ctx.store.tagsOf(ctx.scope, [resourceId])).get(resourceId) ?? [];
  const keys = new Set(existing.map((t) => t.Key));
  for (const t of tags) keys.add(t.Key);
  if (keys.size > MAX_TAGS_PER_RESOURCE) throw tagLimitExceeded();
  await ctx.store.setTags(ctx.scope, resourceId, resourceType, tags);
}

/** Tags of many resources at once, for Describe* answers (`tagSet`). */
export async function tagSets(ctx: RequestContext, ids: readonly string[]): Promise<Map<string, Tag[]>> {
  return ctx.store.tagsOf(ctx.scope, ids);
}
