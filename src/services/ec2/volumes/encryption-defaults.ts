/**
 * EBS encryption by default, per account and region: Enable/Disable/GetEbsEncryptionByDefault and
 * the default KMS key (Get/Modify/ResetEbsDefaultKmsKeyId). While it is on, every new volume (made
 * by CreateVolume or at launch) is encrypted, whatever the request says.
 */
import type {
  GetEbsDefaultKmsKeyIdResult, GetEbsEncryptionByDefaultResult, ModifyEbsDefaultKmsKeyIdRequest, ModifyEbsDefaultKmsKeyIdResult,
} from '@aws-sdk/client-ec2';
import { invalidParameterValue } from '../../../protocol/errors.js';
import type { Scope, Store } from '../../../store/store.js';
import type { RequestContext } from '../../context.js';

const SETTINGS_KIND = 'ebs-defaults';
const SETTINGS_ID = 'ebs';

export interface EbsDefaults {
  encryptionByDefault: boolean;
  /** The customer key chosen for default encryption; none: the AWS managed key alias/aws/ebs. */
  kmsKeyId?: string;
}

export async function ebsDefaults(store: Pick<Store, 'get'>, scope: Scope): Promise<EbsDefaults> {
  return (await store.get<EbsDefaults>(SETTINGS_KIND, scope, SETTINGS_ID)) ?? { encryptionByDefault: false };
}

const save = (ctx: RequestContext, d: EbsDefaults) => ctx.store.put(SETTINGS_KIND, ctx.scope, SETTINGS_ID, d);

/** The AWS managed key for EBS of an account in a region. */
const managedKeyOf = (region: string, account: string) => `arn:aws:kms:${region}:${account}:alias/aws/ebs`;

export const managedKey = (ctx: RequestContext) => managedKeyOf(ctx.region, ctx.accountId);

/** The key a volume of the scope encrypted without a key of its own is encrypted with. */
export async function defaultKeyOf(store: Pick<Store, 'get'>, scope: Scope): Promise<string> {
  return (await ebsDefaults(store, scope)).kmsKeyId ?? managedKeyOf(scope.region, scope.account);
}

export const defaultKey = (ctx: RequestContext) => defaultKeyOf(ctx.store, ctx.scope);

const KEY_FORMS = [
  /^arn:aws:kms:[a-z0-9-]+:\d{12}:(key\/[0-9a-f-]{36}|alias\/[\w/-]+)$/,
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
  /^alias\/[\w/-]+$/,
];

async function setEncryption(ctx: RequestContext, on: boolean): Promise<GetEbsEncryptionByDefaultResult> {
  const d = await ebsDefaults(ctx.store, ctx.scope);
  await save(ctx, { ...d, encryptionByDefault: on });
  return { EbsEncryptionByDefault: on };
}

export const handlers = {
  EnableEbsEncryptionByDefault: (_input: object, ctx: RequestContext) => setEncryption(ctx, true),
  DisableEbsEncryptionByDefault: (_input: object, ctx: RequestContext) => setEncryption(ctx, false),
  async GetEbsEncryptionByDefault(_input: object, ctx: RequestContext): Promise<GetEbsEncryptionByDefaultResult> {
    return { EbsEncryptionByDefault: (await ebsDefaults(ctx.store, ctx.scope)).encryptionByDefault, SseType: 'sse-ebs' };
  },
  async GetEbsDefaultKmsKeyId(_input: object, ctx: RequestContext): Promise<GetEbsDefaultKmsKeyIdResult> {
    return { KmsKeyId: await defaultKey(ctx) };
  },
  async ModifyEbsDefaultKmsKeyId(input: ModifyEbsDefaultKmsKeyIdRequest, ctx: RequestContext): Promise<ModifyEbsDefaultKmsKeyIdResult> {
    const key = input.KmsKeyId!;
    if (!KEY_FORMS.some((f) => f.test(key))) throw invalidParameterValue(`Invalid id: "${key}" (expecting "arn:aws:kms:..." or a key id or alias)`);
    await save(ctx, { ...(await ebsDefaults(ctx.store, ctx.scope)), kmsKeyId: key });
    return { KmsKeyId: key };
  },
  async ResetEbsDefaultKmsKeyId(_input: object, ctx: RequestContext): Promise<ModifyEbsDefaultKmsKeyIdResult> {
    const { kmsKeyId: _gone, ...rest } = await ebsDefaults(ctx.store, ctx.scope);
    await save(ctx, rest);
    return { KmsKeyId: managedKey(ctx) };
  },
};
