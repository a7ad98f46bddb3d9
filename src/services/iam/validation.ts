/** IAM's input rules: names, paths, policy documents, tags and MaxItems, with IAM's messages. */
import type { Tag } from '../../store/store.js';
import { constraintViolation, invalidInput, limitExceeded, malformedPolicyDocument } from './errors.js';

const NAME = /^[\w+=,.@-]+$/;
const PATH = /^(\/|\/[\u0021-\u007E]+\/)$/;
const MAX_TAGS = 50;

function checkLength(value: string, member: string, min: number, max: number): void {
  if (value.length < min) throw constraintViolation(value, member, `Member must have length greater than or equal to ${min}`);
  if (value.length > max) throw constraintViolation(value, member, `Member must have length less than or equal to ${max}`);
}

/** Role, instance profile and policy names: `[\w+=,.@-]+`, up to `max` characters. */
export function checkName(value: string, member: string, max: number): void {
  checkLength(value, member, 1, max);
  if (!NAME.test(value)) throw constraintViolation(value, member, 'Member must satisfy regular expression pattern: [\\w+=,.@-]+');
}

/** A path: `/` or `/a/b/`, defaulting to `/`. */
export function checkPath(value: string | undefined, member = 'path'): string {
  if (value === undefined) return '/';
  checkLength(value, member, 1, 512);
  if (!PATH.test(value)) {
    throw constraintViolation(value, member, 'Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)');
  }
  return value;
}

/** A path prefix of List* calls: a path without the trailing `/` rule. */
export function checkPathPrefix(value: string | undefined): string {
  if (value === undefined) return '/';
  checkLength(value, 'pathPrefix', 1, 512);
  if (!/^\/[\u0021-\u007E]*$/.test(value)) {
    throw constraintViolation(value, 'pathPrefix', 'Member must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*');
  }
  return value;
}

/**
 * A policy document must be a JSON object with a Statement (one or a list); IAM answers anything
 * else with MalformedPolicyDocument.
 */
export function checkPolicyDocument(text: string, member: string): void {
  checkLength(text, member, 1, 131072);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw malformedPolicyDocument('This policy contains invalid Json');
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw malformedPolicyDocument('This policy contains invalid Json');
  const statement = (doc as { Statement?: unknown }).Statement;
  if (!statement || typeof statement !== 'object') throw malformedPolicyDocument('Syntax errors in policy.');
  const version = (doc as { Version?: unknown }).Version;
  if (version !== undefined && version !== '2012-10-17' && version !== '2008-10-17') {
    throw malformedPolicyDocument('The policy failed legacy parsing');
  }
}

export function checkTags(tags: readonly Tag[] | undefined): Tag[] {
  const list = tags ?? [];
  if (list.length > MAX_TAGS) throw limitExceeded(`The number of tags has reached the maximum limit of ${MAX_TAGS}.`);
  const seen = new Set<string>();
  for (const t of list) {
    checkLength(t.Key, 'tags.member.key', 1, 128);
    checkLength(t.Value, 'tags.member.value', 0, 256);
    const key = t.Key.toLowerCase();
    if (seen.has(key)) throw invalidInput('Duplicate tag keys found. Please note that Tag keys are case insensitive.');
    seen.add(key);
  }
  return list.map((t) => ({ Key: t.Key, Value: t.Value }));
}

export function checkMaxSessionDuration(v: number | undefined): number {
  if (v === undefined) return 3600;
  if (v < 3600) throw constraintViolation(v, 'maxSessionDuration', 'Member must have value greater than or equal to 3600');
  if (v > 43200) throw constraintViolation(v, 'maxSessionDuration', 'Member must have value less than or equal to 43200');
  return v;
}
