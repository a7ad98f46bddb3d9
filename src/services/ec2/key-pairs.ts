/** CreateKeyPair, ImportKeyPair, DescribeKeyPairs, DeleteKeyPair, and the lookup RunInstances uses. */
import type {
  CreateKeyPairRequest,
  DeleteKeyPairRequest,
  DeleteKeyPairResult,
  DescribeKeyPairsRequest,
  DescribeKeyPairsResult,
  ImportKeyPairRequest,
  ImportKeyPairResult,
  KeyPair,
  KeyPairInfo,
} from '@aws-sdk/client-ec2';
import type { KeyObject } from 'node:crypto';
import { ApiError, invalidParameterValue } from '../../protocol/errors.js';
import type { Tag } from '../../store/store.js';
import { newId } from '../../util/ids.js';
import { openSshPublicKeyLine, sshKeyType } from '../../util/ssh-keys.js';
import type { Handler, RequestContext } from '../context.js';
import { checkIds, notFound } from './common/errors.js';
import { applyFilters, type FilterFields } from './common/filters.js';
import { addTags, tagSets, tagsFromSpecifications } from './common/tagging.js';
import { createdKeyFingerprint, importedKeyFingerprint } from './key-pairs/fingerprint.js';
import { generatePrivateKey, privateKeyMaterial, type KeyFormat } from './key-pairs/material.js';
import { parsePublicKeyMaterial } from './key-pairs/public-key-material.js';
import { storedTime } from '../../util/stored-time.js';

/** A key pair as stored (the private key is never stored). */
export interface KeyPairRecord {
  KeyPairId: string;
  KeyName: string;
  KeyFingerprint: string;
  KeyType: 'rsa' | 'ed25519';
  /** OpenSSH public key line (`ssh-rsa AAAA… name`), installed into instances. */
  PublicKey: string;
  CreateTime: string;
}

const KIND = 'key-pair';
const RESOURCE_TYPE = 'key-pair';
/** Secondary index: key name → key pair id, so lookups by name (RunInstances, Describe) do not scan. */
const NAME_INDEX_KIND = 'key-pair-name';
const MAX_NAME_LENGTH = 255;

interface NameIndexEntry {
  KeyPairId: string;
}

/** The caller's key pair with this name, or undefined. */
export async function findKeyPair(ctx: RequestContext, keyName: string): Promise<KeyPairRecord | undefined> {
  const entry = await ctx.store.get<NameIndexEntry>(NAME_INDEX_KIND, ctx.scope, keyName);
  return entry && ctx.store.get<KeyPairRecord>(KIND, ctx.scope, entry.KeyPairId);
}

function checkKeyName(name: string): void {
  if (name === '') throw invalidParameterValue('Invalid value for parameter keyName: the key name must not be empty.');
  if ([...name].some((c) => c.codePointAt(0)! > 0x7f)) {
    throw invalidParameterValue(`Value (${name}) for parameter keyName is invalid. Character sets beyond ASCII are not supported.`);
  }
  if (name.length > MAX_NAME_LENGTH) {
    throw invalidParameterValue(`Value (${name}) for parameter keyName is invalid. Length exceeds maximum of ${MAX_NAME_LENGTH} characters.`);
  }
}

function oneOf<T extends string>(param: string, value: string | undefined, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw invalidParameterValue(`Value (${value}) for parameter ${param} is invalid. Valid values: ${allowed.join(', ')}.`);
}

async function checkNameFree(ctx: RequestContext, keyName: string): Promise<void> {
  if (await ctx.store.get(NAME_INDEX_KIND, ctx.scope, keyName)) {
    throw new ApiError('InvalidKeyPair.Duplicate', `The keypair '${keyName}' already exists.`);
  }
}

/** Stores a new key pair (its name checked free) with its TagSpecifications tags. */
async function storeKeyPair(
  ctx: RequestContext,
  keyName: string,
  key: KeyObject,
  fingerprint: string,
  tags: Tag[],
): Promise<KeyPairRecord> {
  const record: KeyPairRecord = {
    KeyPairId: newId('key'),
    KeyName: keyName,
    KeyFingerprint: fingerprint,
    KeyType: sshKeyType(key)!,
    PublicKey: openSshPublicKeyLine(key, keyName),
    CreateTime: ctx.now().toISOString(),
  };
  await ctx.store.put(KIND, ctx.scope, record.KeyPairId, record);
  await ctx.store.put<NameIndexEntry>(NAME_INDEX_KIND, ctx.scope, keyName, { KeyPairId: record.KeyPairId });
  await addTags(ctx, record.KeyPairId, RESOURCE_TYPE, tags);
  return record;
}

const keyPairFields: FilterFields<KeyPairRecord> = {
  'key-pair-id': (k) => k.KeyPairId,
  'key-name': (k) => k.KeyName,
  fingerprint: (k) => k.KeyFingerprint,
  'key-type': (k) => k.KeyType,
};

/** The key pairs DescribeKeyPairs names (all when it names none); unknown names or ids fail. */
async function selectKeyPairs(ctx: RequestContext, names: string[], ids: string[]): Promise<KeyPairRecord[]> {
  if (names.length === 0 && ids.length === 0) return ctx.store.list<KeyPairRecord>(KIND, ctx.scope);
  const found = new Map<string, KeyPairRecord>();
  const missingNames: string[] = [];
  for (const name of names) {
    const k = await findKeyPair(ctx, name);
    if (k) found.set(k.KeyPairId, k);
    else missingNames.push(name);
  }
  if (missingNames.length) throw notFound('key-pair', missingNames);
  const byId = await ctx.store.getMany<KeyPairRecord>(KIND, ctx.scope, ids);
  const missingIds = ids.filter((id) => !byId.some((k) => k.KeyPairId === id));
  if (missingIds.length) throw notFound('key-pair', missingIds);
  for (const k of byId) found.set(k.KeyPairId, k);
  return [...found.values()].sort((a, b) => (a.KeyPairId < b.KeyPairId ? -1 : 1));
}

export const handlers: Record<string, Handler> = {
  async CreateKeyPair(input: CreateKeyPairRequest, ctx): Promise<KeyPair> {
    const keyName = input.KeyName!;
    checkKeyName(keyName);
    const type = oneOf('keyType', input.KeyType, ['rsa', 'ed25519'] as const, 'rsa');
    const format = oneOf<KeyFormat>('keyFormat', input.KeyFormat, ['pem', 'ppk'], 'pem');
    const tags = tagsFromSpecifications(input.TagSpecifications, [RESOURCE_TYPE], RESOURCE_TYPE);
    await checkNameFree(ctx, keyName);
    const privateKey = generatePrivateKey(type);
    const record = await storeKeyPair(ctx, keyName, privateKey, createdKeyFingerprint(privateKey), tags);
    return {
      KeyFingerprint: record.KeyFingerprint,
      KeyMaterial: privateKeyMaterial(privateKey, format, keyName),
      KeyName: record.KeyName,
      KeyPairId: record.KeyPairId,
      Tags: tags.length ? tags : undefined,
    };
  },

  async ImportKeyPair(input: ImportKeyPairRequest, ctx): Promise<ImportKeyPairResult> {
    const keyName = input.KeyName!;
    checkKeyName(keyName);
    const tags = tagsFromSpecifications(input.TagSpecifications, [RESOURCE_TYPE], RESOURCE_TYPE);
    await checkNameFree(ctx, keyName);
    const publicKey = parsePublicKeyMaterial(Buffer.from(input.PublicKeyMaterial ?? []));
    const record = await storeKeyPair(ctx, keyName, publicKey, importedKeyFingerprint(publicKey), tags);
    return {
      KeyFingerprint: record.KeyFingerprint,
      KeyName: record.KeyName,
      KeyPairId: record.KeyPairId,
      Tags: tags.length ? tags : undefined,
    };
  },

  async DescribeKeyPairs(input: DescribeKeyPairsRequest, ctx): Promise<DescribeKeyPairsResult> {
    const ids = input.KeyPairIds ?? [];
    checkIds('key-pair', ids);
    const selected = await selectKeyPairs(ctx, input.KeyNames ?? [], ids);
    const tags = await tagSets(ctx, selected.map((k) => k.KeyPairId));
    const matching = applyFilters(selected, input.Filters, keyPairFields, (k) => tags.get(k.KeyPairId));
    return {
      KeyPairs: matching.map(
        (k): KeyPairInfo => ({
          KeyPairId: k.KeyPairId,
          KeyType: k.KeyType,
          Tags: tags.get(k.KeyPairId) ?? [],
          PublicKey: input.IncludePublicKey ? k.PublicKey : undefined,
          CreateTime: storedTime(k.CreateTime),
          KeyName: k.KeyName,
          KeyFingerprint: k.KeyFingerprint,
        }),
      ),
    };
  },

  /** Deleting a key pair that does not exist succeeds, as in EC2. */
  async DeleteKeyPair(input: DeleteKeyPairRequest, ctx): Promise<DeleteKeyPairResult> {
    if (input.KeyName === undefined && input.KeyPairId === undefined) {
      throw new ApiError('MissingParameter', 'The request must contain the parameter KeyName or KeyPairId');
    }
    if (input.KeyPairId !== undefined) checkIds('key-pair', [input.KeyPairId]);
    const record =
      input.KeyPairId !== undefined
        ? await ctx.store.get<KeyPairRecord>(KIND, ctx.scope, input.KeyPairId)
        : await findKeyPair(ctx, input.KeyName!);
    if (!record || (input.KeyName !== undefined && record.KeyName !== input.KeyName)) return { Return: true };
    await ctx.store.remove(KIND, ctx.scope, record.KeyPairId);
    await ctx.store.remove(NAME_INDEX_KIND, ctx.scope, record.KeyName);
    await ctx.store.deleteAllTags(ctx.scope, record.KeyPairId);
    return { Return: true, KeyPairId: record.KeyPairId };
  },
};
