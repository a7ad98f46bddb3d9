/** MaxResults/NextToken paging with opaque tokens that resume after the last key returned. */
import { ApiError, invalidParameterValue } from '../../../protocol/errors.js';

export interface PageOptions<T> {
  maxResults?: number;
  nextToken?: string;
  /** Bounds of MaxResults for this operation, as EC2 documents them. */
  min?: number;
  max?: number;
  /** Page size when MaxResults is absent; undefined returns everything. */
  defaultSize?: number;
  /** A unique, sortable key of each item; items must be sorted by it. */
  key: (item: T) => string;
}

export interface Page<T> {
  items: T[];
  nextToken?: string;
}

const invalidToken = () => new ApiError('InvalidPaginationToken', 'The specified pagination token is not valid or is expired.');

export function encodeToken(after: string): string {
  return Buffer.from(JSON.stringify({ v: 1, after })).toString('base64url');
}

export function decodeToken(token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { v?: number; after?: unknown };
    if (parsed.v !== 1 || typeof parsed.after !== 'string') throw invalidToken();
    return parsed.after;
  } catch {
    throw invalidToken();
  }
}

export function checkMaxResults(maxResults: number | undefined, min = 1, max = 1000): void {
  if (maxResults === undefined) return;
  if (maxResults < min || maxResults > max) {
    throw invalidParameterValue(
      `Value ( ${maxResults} ) for parameter maxResults is invalid. Expecting a value between ${min} and ${max}.`,
    );
  }
}

/** Sorts `items` in place in the order of their page key (what PageOptions.key needs), and returns them. */
export function sortByKey<T>(items: T[], key: (item: T) => string): T[] {
  return items.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

export function paginate<T>(items: readonly T[], opts: PageOptions<T>): Page<T> {
  checkMaxResults(opts.maxResults, opts.min, opts.max);
  let start = 0;
  if (opts.nextToken !== undefined && opts.nextToken !== '') {
    const after = decodeToken(opts.nextToken);
    start = items.findIndex((item) => opts.key(item) > after);
    if (start < 0) start = items.length;
  }
  const size = opts.maxResults ?? opts.defaultSize;
  if (size === undefined) return { items: items.slice(start) };
  const page = items.slice(start, start + size);
  const more = start + size < items.length;
  return { items: page, nextToken: more && page.length > 0 ? encodeToken(opts.key(page[page.length - 1]!)) : undefined };
}

/**
 * A page cut from records that are cheap to hold and costly to present (sorted by `opts.key`):
 * only the page's records are presented and filtered by `present`, so a page costs its own size,
 * not that of every record, and paging through N records costs N, not N²/page. A filter that
 * drops some of a page's records leaves it short, as EC2's filtered pages may be: fewer items than
 * MaxResults, even none, with a NextToken while records remain.
 */
export async function presentedPage<R, V>(records: readonly R[], opts: PageOptions<R>, present: (page: R[]) => Promise<V[]>): Promise<Page<V>> {
  const page = paginate(records, opts);
  return { items: await present(page.items), nextToken: page.nextToken };
}
