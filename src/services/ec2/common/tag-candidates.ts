/**
 * A describe's tag filters answered from the store's tags index before anything is read or
 * presented, so that `tag:Name=web-*` over thousands of resources costs the resources it can match.
 */
import type { Scope, Store } from '../../../store/store.js';
import { isPattern, literalPrefix, type Filter } from './filters.js';

/**
 * The ids that every tag:Key, tag-key and tag-value filter allows, or undefined when none is given
 * (every resource is then a candidate). A superset: a value with wildcards allows the values that
 * begin with its text before the first wildcard, a tag-value any key's value that begins with its
 * text, a tag-key any key that begins with its text, and the filters still run on what is kept.
 */
export async function tagCandidates(store: Store, scope: Scope, filters: readonly Filter[] | undefined): Promise<Set<string> | undefined> {
  let ids: Set<string> | undefined;
  for (const f of filters ?? []) {
    const name = f.Name ?? '';
    const values = f.Values ?? [];
    if (values.length === 0) continue;
    let matching: string[][];
    if (name.startsWith('tag:')) {
      const key = name.slice(4);
      matching = await Promise.all(values.map((v) => isPattern(v)
        ? store.resourcesWithTagPrefix(scope, key, literalPrefix(v))
        : store.resourcesWithTag(scope, key, v)));
    } else if (name === 'tag-value') {
      matching = await Promise.all(values.map((v) => store.resourcesWithTagPrefix(scope, undefined, literalPrefix(v))));
    } else if (name === 'tag-key') {
      matching = await Promise.all(values.map((k) => isPattern(k)
        ? store.resourcesWithTagKeyPrefix(scope, literalPrefix(k))
        : store.resourcesWithTag(scope, k)));
    } else continue;
    ids = narrowed(ids, matching.flat());
  }
  return ids;
}

/** The ids in both: `ids` (undefined: any) and `matching`. */
export function narrowed(ids: ReadonlySet<string> | undefined, matching: readonly string[]): Set<string> {
  return new Set(ids ? matching.filter((id) => ids.has(id)) : matching);
}

/** The items whose id is among the candidates (every item when there are none). */
export function amongCandidates<T>(items: readonly T[], candidates: ReadonlySet<string> | undefined, idOf: (item: T) => string): T[] {
  return candidates ? items.filter((item) => candidates.has(idOf(item))) : [...items];
}
