/** Resource ids in EC2's form: a prefix and 17 lowercase hex digits. */
import { randomBytes, randomFillSync } from 'node:crypto';

/** Random bytes drawn from the kernel in blocks: one getrandom call per few hundred ids, not one per id. */
const pool = Buffer.alloc(4096);
let poolUsed = pool.length;

/** `bytes` random bytes from the pool, as a view that the next draws will overwrite. */
export function randomPooled(bytes: number): Buffer {
  if (poolUsed + bytes > pool.length) {
    randomFillSync(pool);
    poolUsed = 0;
  }
  poolUsed += bytes;
  return pool.subarray(poolUsed - bytes, poolUsed);
}

function randomHex(bytes: number): string {
  return randomPooled(bytes).toString('hex');
}

export function newId(prefix: string): string {
  return `${prefix}-${randomHex(9).slice(0, 17)}`;
}

const ID_RE = /^([a-z]+(?:-[a-z]+)*)-([0-9a-f]{8}|[0-9a-f]{17})$/;

/** True when `id` has the given prefix and 8 or 17 lowercase hex digits. */
export function isWellFormedId(id: string, prefix: string): boolean {
  const m = ID_RE.exec(id);
  return m !== null && m[1] === prefix;
}

export function newRequestId(): string {
  return crypto.randomUUID();
}

/** A 12-digit AWS account id. */
export function newAccountId(): string {
  const n = randomBytes(6).readUIntBE(0, 6) % 1e12;
  return String(n).padStart(12, '0');
}

/** Access key ids look like AWS's: AKIA + 16 upper-case base32 characters. */
export function newAccessKeyId(prefix = 'AKIA'): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes = randomBytes(16);
  return prefix + Array.from(bytes, (b) => alphabet[b % 32]).join('');
}

export function newSecretAccessKey(): string {
  return randomBytes(30).toString('base64').replace(/[+/]/g, (c) => (c === '+' ? 'A' : 'z')).slice(0, 40);
}
