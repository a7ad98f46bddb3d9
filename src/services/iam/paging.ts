/** IAM's Marker/MaxItems paging: at most 100 items by default, IsTruncated and an opaque Marker. */
import { decodeToken, encodeToken } from '../ec2/common/pagination.js';
import { constraintViolation, validationError } from './errors.js';

const DEFAULT_MAX_ITEMS = 100;

export interface MarkerPage<T> {
  items: T[];
  IsTruncated: boolean;
  Marker?: string;
}

/** Pages `items` (sorted by `key`, which must be unique) after `marker`. */
export function pageByMarker<T>(items: readonly T[], key: (item: T) => string, maxItems: number | undefined, marker: string | undefined): MarkerPage<T> {
  if (maxItems !== undefined && maxItems < 1) throw constraintViolation(maxItems, 'maxItems', 'Member must have value greater than or equal to 1');
  if (maxItems !== undefined && maxItems > 1000) throw constraintViolation(maxItems, 'maxItems', 'Member must have value less than or equal to 1000');
  let start = 0;
  if (marker !== undefined) {
    let after: string;
    try {
      after = decodeToken(marker);
    } catch {
      throw validationError('Invalid Marker.');
    }
    start = items.findIndex((item) => key(item) > after);
    if (start < 0) start = items.length;
  }
  const size = maxItems ?? DEFAULT_MAX_ITEMS;
  const page = items.slice(start, start + size);
  const truncated = start + size < items.length;
  return { items: page, IsTruncated: truncated, Marker: truncated ? encodeToken(key(page[page.length - 1]!)) : undefined };
}
