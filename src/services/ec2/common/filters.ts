/**
 * EC2's Filter.N.Name / Filter.N.Value.M semantics: values of one filter are ORed, filters are
 * ANDed, `*` and `?` are wildcards (`\` escapes them), and `tag:Key`, `tag-key`, `tag-value` work on
 * every taggable resource. An unknown filter name is EC2's InvalidParameterValue.
 */
import { invalidParameterValue } from '../../../protocol/errors.js';
import type { Tag } from '../../../store/store.js';

export interface Filter {
  Name?: string;
  Values?: string[];
}

type Scalar = string | number | boolean | undefined | null;
export type FilterValue = Scalar | readonly Scalar[];

/** For each filter name, how to read the values it matches from an item. */
export type FilterFields<T> = Record<string, (item: T) => FilterValue>;

const patternCache = new Map<string, RegExp | string>();

/** Whether a filter value is a pattern: it has a wildcard or an escape. */
export const isPattern = (value: string) => /[*?\\]/.test(value);

/** A compiled wildcard pattern, or the literal itself when it has no wildcard. */
function compile(pattern: string): RegExp | string {
  let p = patternCache.get(pattern);
  if (p !== undefined) return p;
  if (!isPattern(pattern)) p = pattern;
  else {
    let re = '';
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern[i]!;
      if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
      else if (c === '*') re += '[\\s\\S]*';
      else if (c === '?') re += '[\\s\\S]';
      else re += escapeRe(c);
    }
    p = new RegExp(`^${re}$`);
  }
  if (patternCache.size > 10_000) patternCache.clear();
  patternCache.set(pattern, p);
  return p;
}

const escapeRe = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

export function wildcardMatch(pattern: string, value: string): boolean {
  const p = compile(pattern);
  return typeof p === 'string' ? p === value : p.test(value);
}

/** What every value that `pattern` matches begins with: its text up to the first wildcard, escapes undone. */
export function literalPrefix(pattern: string): string {
  let prefix = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' || c === '?') break;
    prefix += c === '\\' && i + 1 < pattern.length ? pattern[++i]! : c;
  }
  return prefix;
}

function matchesAny(patterns: readonly string[], value: FilterValue): boolean {
  const values = Array.isArray(value) ? value : [value];
  for (const v of values) {
    if (v === undefined || v === null) continue;
    const s = String(v);
    for (const p of patterns) if (wildcardMatch(p, s)) return true;
  }
  return false;
}

/** Checks every filter name up front, so that a bad one fails even when nothing would match. */
export function checkFilterNames(filters: readonly Filter[] | undefined, fields: FilterFields<never>, taggable = true): void {
  for (const f of filters ?? []) {
    const name = f.Name ?? '';
    if (Object.hasOwn(fields, name)) continue;
    if (taggable && (name.startsWith('tag:') || name === 'tag-key' || name === 'tag-value')) continue;
    throw invalidParameterValue(`The filter '${name}' is invalid`);
  }
}

export function applyFilters<T>(
  items: readonly T[],
  filters: readonly Filter[] | undefined,
  fields: FilterFields<T>,
  tagsOf?: (item: T) => readonly Tag[] | undefined,
): T[] {
  checkFilterNames(filters, fields as FilterFields<never>, tagsOf !== undefined);
  if (!filters || filters.length === 0) return [...items];
  return items.filter((item) => filters.every((f) => matches(item, f, fields, tagsOf)));
}

/**
 * Applies only the filters that `fields` names, to a cheaper view of the items (their stored
 * records), before the full view is built for the rest: a filter on a field the record holds then
 * costs no presenting of what it drops. Each field must keep every item that the full view's
 * filter of that name keeps; `applyFilters` on the full view still decides.
 */
export function applyRecordFilters<T>(items: T[], filters: readonly Filter[] | undefined, fields: FilterFields<T>): T[] {
  const own = filters?.filter((f) => Object.hasOwn(fields, f.Name ?? ''));
  return own?.length ? applyFilters(items, own, fields) : items;
}

function matches<T>(item: T, f: Filter, fields: FilterFields<T>, tagsOf?: (item: T) => readonly Tag[] | undefined): boolean {
  const name = f.Name!;
  const patterns = f.Values ?? [];
  if (Object.hasOwn(fields, name)) return matchesAny(patterns, fields[name]!(item));
  const tags = tagsOf?.(item) ?? [];
  if (name.startsWith('tag:')) {
    const key = name.slice(4);
    return tags.some((t) => t.Key === key && matchesAny(patterns, t.Value));
  }
  if (name === 'tag-key') return tags.some((t) => matchesAny(patterns, t.Key));
  if (name === 'tag-value') return tags.some((t) => matchesAny(patterns, t.Value));
  return false;
}
