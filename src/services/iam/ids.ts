/** IAM's unique ids: a four-letter type prefix and 17 upper-case base32 characters (`AROA…`, `AIPA…`). */
import { randomBytes } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function newIamId(prefix: 'AROA' | 'AIPA'): string {
  return prefix + Array.from(randomBytes(17), (b) => BASE32[b % 32]).join('');
}
