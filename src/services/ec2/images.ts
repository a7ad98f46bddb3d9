/**
 * The images a caller sees and the lookups other operations use: the region's public catalogue,
 * the caller's own images and those other accounts share with it (images/record.ts), and
 * DescribeImages over them. The lifecycle operations live in images/.
 */
import type { DescribeImagesRequest, DescribeImagesResult, Image } from '@aws-sdk/client-ec2';
import { publicImages } from '../../catalog/images.js';
import { ApiError } from '../../protocol/errors.js';
import type { Tag } from '../../store/store.js';
import type { Handler, RequestContext } from '../context.js';
import { checkIds, notFound } from './common/errors.js';
import { applyFilters, checkFilterNames, type Filter, type FilterFields } from './common/filters.js';
import { paginate } from './common/pagination.js';
import { tagSets } from './common/tagging.js';
import { describeImageAttribute, modifyImageAttribute, resetImageAttribute } from './images/attributes.js';
import { copyImage } from './images/copy.js';
import { createImage } from './images/create.js';
import { IMAGE_KIND, imagesNow, locateImage, presentImage, sharedImages, type StoredImage } from './images/record.js';
import { deregisterImage, registerImage } from './images/register.js';

export { IMAGE_KIND, type StoredImage } from './images/record.js';

/**
 * An image of `region` (default the caller's) that the caller may launch: public, its own, or
 * shared with it; as clients see it, its state now. Catalogue images cost O(1).
 */
export async function findImage(ctx: RequestContext, imageId: string, region = ctx.region): Promise<Image | undefined> {
  const located = await locateImage(ctx, imageId, region);
  return located && presentImage((await imagesNow(ctx, [located.image], region))[0]!);
}

const bdm = (read: (ebs: NonNullable<NonNullable<Image['BlockDeviceMappings']>[number]['Ebs']>) => unknown) => (i: Image) =>
  (i.BlockDeviceMappings ?? []).map((m) => (m.Ebs ? read(m.Ebs) : undefined)) as (string | number | boolean | undefined)[];

const imageFields: FilterFields<StoredImage> = {
  architecture: (i) => i.Architecture,
  'block-device-mapping.delete-on-termination': bdm((e) => e.DeleteOnTermination),
  'block-device-mapping.device-name': (i) => (i.BlockDeviceMappings ?? []).map((m) => m.DeviceName),
  'block-device-mapping.encrypted': bdm((e) => e.Encrypted),
  'block-device-mapping.snapshot-id': bdm((e) => e.SnapshotId),
  'block-device-mapping.volume-size': bdm((e) => e.VolumeSize),
  'block-device-mapping.volume-type': bdm((e) => e.VolumeType),
  'creation-date': (i) => i.CreationDate,
  description: (i) => i.Description,
  'ena-support': (i) => i.EnaSupport,
  hypervisor: (i) => i.Hypervisor,
  'image-id': (i) => i.ImageId,
  'image-type': (i) => i.ImageType,
  'imds-support': (i) => i.ImdsSupport,
  'is-public': (i) => i.Public,
  'kernel-id': (i) => i.KernelId,
  'manifest-location': (i) => i.ImageLocation,
  name: (i) => i.Name,
  'owner-alias': (i) => i.ImageOwnerAlias,
  'owner-id': (i) => i.OwnerId,
  platform: (i) => i.Platform,
  'platform-details': (i) => i.PlatformDetails,
  'product-code': (i) => (i.ProductCodes ?? []).map((p) => p.ProductCodeId),
  'product-code.type': (i) => (i.ProductCodes ?? []).map((p) => p.ProductCodeType),
  'ramdisk-id': (i) => i.RamdiskId,
  'root-device-name': (i) => i.RootDeviceName,
  'root-device-type': (i) => i.RootDeviceType,
  'source-image-id': (i) => i.SourceImageId,
  'source-image-region': (i) => i.SourceImageRegion,
  'source-instance-id': (i) => i.SourceInstanceId,
  state: (i) => i.State,
  'state-reason-code': (i) => i.StateReason?.Code,
  'state-reason-message': (i) => i.StateReason?.Message,
  'sriov-net-support': (i) => i.SriovNetSupport,
  'usage-operation': (i) => i.UsageOperation,
  'virtualization-type': (i) => i.VirtualizationType,
};

const OWNER_KEYWORDS = ['self', 'amazon', 'aws-marketplace', 'aws-backup-vault'];
const ACCOUNT_ID = /^\d{12}$/;

const malformedUser = (value: string) => new ApiError('InvalidUserID.Malformed', `Invalid user id: "${value}"`);

function checkUsers(values: readonly string[] | undefined, keywords: readonly string[]): void {
  for (const v of values ?? []) if (!keywords.includes(v) && !ACCOUNT_ID.test(v)) throw malformedUser(v);
}

/** `Owners`: self, an owner alias (amazon, aws-marketplace, …) or an account id. */
function ownedBy(image: Image, owners: readonly string[], caller: string): boolean {
  return owners.some((o) => (o === 'self' ? image.OwnerId === caller : ACCOUNT_ID.test(o) ? image.OwnerId === o : image.ImageOwnerAlias === o));
}

/** `ExecutableUsers`: all (public images), self or an account id (explicit launch permission; owners always may). */
function executableBy(image: StoredImage, users: readonly string[], caller: string): boolean {
  return users.some((u) => {
    if (u === 'all') return image.Public === true;
    const account = u === 'self' ? caller : u;
    return image.OwnerId === account || (image.LaunchPermissions ?? []).some((p) => p.UserId === account);
  });
}

const isDeprecated = (image: Image, now: Date) => image.DeprecationTime !== undefined && new Date(image.DeprecationTime) <= now;

/** The images named by id that the caller may see; every id must exist. */
async function imagesById(ctx: RequestContext, ids: readonly string[]): Promise<StoredImage[]> {
  const unique = [...new Set(ids)];
  const out: StoredImage[] = [];
  const missing: string[] = [];
  for (const id of unique) {
    const located = await locateImage(ctx, id);
    if (located) out.push(located.image);
    else missing.push(id);
  }
  // EC2 lists the unknown AMI ids in brackets: "The image id '[ami-…]' does not exist".
  if (missing.length) throw notFound('image', [`[${missing.join(', ')}]`]);
  return out.sort((a, b) => (a.ImageId! < b.ImageId! ? -1 : 1));
}

/** Every image the caller can see: the region's catalogue, its own and those shared with it, by ImageId. */
async function visibleImages(ctx: RequestContext, owners: readonly string[]): Promise<StoredImage[]> {
  const catalogue = publicImages(ctx.region) as StoredImage[];
  // Owners=amazon (the common case) reads nothing from the store: no account's image has an alias.
  if (owners.length > 0 && owners.every((o) => o !== 'self' && !ACCOUNT_ID.test(o))) return catalogue;
  const own = await ctx.store.list<StoredImage>(IMAGE_KIND, ctx.scope);
  const shared = owners.length > 0 && owners.every((o) => o === 'self') ? [] : await sharedImages(ctx);
  if (own.length === 0 && shared.length === 0) return catalogue;
  return [...catalogue, ...own, ...shared].sort((a, b) => (a.ImageId! < b.ImageId! ? -1 : 1));
}

const usesTags = (filters: readonly Filter[] | undefined) =>
  (filters ?? []).some((f) => f.Name?.startsWith('tag:') || f.Name === 'tag-key' || f.Name === 'tag-value');

async function describeImages(input: DescribeImagesRequest, ctx: RequestContext): Promise<DescribeImagesResult> {
  checkIds('image', input.ImageIds);
  checkUsers(input.Owners, OWNER_KEYWORDS);
  checkUsers(input.ExecutableUsers, ['self', 'all']);
  checkFilterNames(input.Filters, imageFields as FilterFields<never>);
  const byId = (input.ImageIds?.length ?? 0) > 0;
  const now = ctx.now();
  const owners = input.Owners ?? [];
  const users = input.ExecutableUsers ?? [];
  let images = await imagesNow(ctx, byId ? await imagesById(ctx, input.ImageIds!) : await visibleImages(ctx, owners));
  images = images.filter(
    (i) =>
      (owners.length === 0 || ownedBy(i, owners, ctx.accountId)) &&
      (users.length === 0 || executableBy(i, users, ctx.accountId)) &&
      // Deprecated and disabled images stay visible to their owner and to lookups by id.
      (byId || input.IncludeDeprecated === true || i.OwnerId === ctx.accountId || !isDeprecated(i, now)) &&
      (byId || input.IncludeDisabled === true || i.State !== 'disabled'),
  );
  let tags = new Map<string, Tag[]>();
  if (usesTags(input.Filters)) tags = await tagSets(ctx, images.map((i) => i.ImageId!));
  const matched = applyFilters(images, input.Filters, imageFields, (i) => tags.get(i.ImageId!));
  const page = paginate(matched, { maxResults: input.MaxResults, nextToken: input.NextToken, min: 1, max: 1000, key: (i) => i.ImageId! });
  if (!usesTags(input.Filters)) tags = await tagSets(ctx, page.items.map((i) => i.ImageId!));
  return {
    Images: page.items.map((i) => {
      const t = tags.get(i.ImageId!);
      return { ...presentImage(i), ...(t?.length ? { Tags: t } : {}) };
    }),
    NextToken: page.nextToken,
  };
}

export const handlers: Record<string, Handler> = {
  DescribeImages: describeImages,
  DescribeImageAttribute: describeImageAttribute,
  ModifyImageAttribute: modifyImageAttribute,
  ResetImageAttribute: resetImageAttribute,
  CreateImage: createImage,
  RegisterImage: registerImage,
  DeregisterImage: deregisterImage,
  CopyImage: copyImage,
};
