/**
 * DescribeImages, DescribeImageAttribute and the image lookups other operations use. The images a
 * caller sees are the region's public catalogue plus the caller's own images, which CreateImage and
 * RegisterImage store under the kind 'image' (as SDK `Image` documents, with their launch
 * permissions beside them).
 */
import type {
  DescribeImageAttributeRequest,
  DescribeImagesRequest,
  DescribeImagesResult,
  Image,
  ImageAttribute,
  LaunchPermission,
} from '@aws-sdk/client-ec2';
import { publicImage, publicImages } from '../../catalog/images.js';
import { ApiError, invalidParameterValue } from '../../protocol/errors.js';
import type { Tag } from '../../store/store.js';
import type { Handler, RequestContext } from '../context.js';
import { checkIds, notFound } from './common/errors.js';
import { applyFilters, checkFilterNames, type Filter, type FilterFields } from './common/filters.js';
import { paginate } from './common/pagination.js';
import { tagSets } from './common/tagging.js';

/** An image the caller owns, as stored: the SDK shape plus who else may launch it. */
export type StoredImage = Image & { LaunchPermissions?: LaunchPermission[] };

export const IMAGE_KIND = 'image';

/** An image the caller may launch (public, or its own), or undefined. Public images cost O(1). */
export async function findImage(ctx: RequestContext, imageId: string): Promise<Image | undefined> {
  return publicImage(ctx.region, imageId) ?? withoutPermissions(await ctx.store.get<StoredImage>(IMAGE_KIND, ctx.scope, imageId));
}

function withoutPermissions(image: StoredImage | undefined): Image | undefined {
  if (!image) return undefined;
  const { LaunchPermissions: _lp, ...rest } = image;
  return rest;
}

const bdm = (read: (ebs: NonNullable<NonNullable<Image['BlockDeviceMappings']>[number]['Ebs']>) => unknown) => (i: Image) =>
  (i.BlockDeviceMappings ?? []).map((m) => (m.Ebs ? read(m.Ebs) : undefined)) as (string | number | boolean | undefined)[];

const imageFields: FilterFields<Image> = {
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
  'source-image-id': (i) => (i as { SourceImageId?: string }).SourceImageId,
  'source-image-region': (i) => (i as { SourceImageRegion?: string }).SourceImageRegion,
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

/** The images named by id, public or the caller's; every id must exist. */
async function imagesById(ctx: RequestContext, ids: readonly string[]): Promise<StoredImage[]> {
  const unique = [...new Set(ids)];
  const out: StoredImage[] = [];
  const privateIds: string[] = [];
  for (const id of unique) {
    const p = publicImage(ctx.region, id);
    if (p) out.push(p);
    else privateIds.push(id);
  }
  const stored = privateIds.length ? await ctx.store.getMany<StoredImage>(IMAGE_KIND, ctx.scope, privateIds) : [];
  out.push(...stored);
  const found = new Set(out.map((i) => i.ImageId));
  const missing = unique.filter((id) => !found.has(id));
  // EC2 lists the unknown AMI ids in brackets: "The image id '[ami-…]' does not exist".
  if (missing.length) throw notFound('image', [`[${missing.join(', ')}]`]);
  return out.sort((a, b) => (a.ImageId! < b.ImageId! ? -1 : 1));
}

/** Every image the caller can see: the region's catalogue and its own, by ImageId. */
async function visibleImages(ctx: RequestContext): Promise<StoredImage[]> {
  const own = await ctx.store.list<StoredImage>(IMAGE_KIND, ctx.scope);
  if (own.length === 0) return publicImages(ctx.region) as StoredImage[];
  return [...publicImages(ctx.region), ...own].sort((a, b) => (a.ImageId! < b.ImageId! ? -1 : 1));
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
  let images = byId ? await imagesById(ctx, input.ImageIds!) : await visibleImages(ctx);
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
      return { ...withoutPermissions(i), ...(t?.length ? { Tags: t } : {}) };
    }),
    NextToken: page.nextToken,
  };
}

const IMAGE_ATTRIBUTES = [
  'description',
  'kernel',
  'ramdisk',
  'launchPermission',
  'productCodes',
  'blockDeviceMapping',
  'sriovNetSupport',
  'bootMode',
  'tpmSupport',
  'uefiData',
  'lastLaunchedTime',
  'imdsSupport',
  'deregistrationProtection',
] as const;

const value = (v: string | undefined) => (v === undefined ? undefined : { Value: v });

async function describeImageAttribute(input: DescribeImageAttributeRequest, ctx: RequestContext): Promise<ImageAttribute> {
  const attribute = input.Attribute as string;
  if (!(IMAGE_ATTRIBUTES as readonly string[]).includes(attribute)) {
    throw invalidParameterValue(`Value (${attribute}) for parameter attribute is invalid. Unknown attribute.`);
  }
  checkIds('image', [input.ImageId!]);
  const [image] = await imagesById(ctx, [input.ImageId!]);
  const out: ImageAttribute = { ImageId: image!.ImageId };
  switch (attribute as (typeof IMAGE_ATTRIBUTES)[number]) {
    case 'description':
      out.Description = value(image!.Description);
      break;
    case 'kernel':
      out.KernelId = value(image!.KernelId);
      break;
    case 'ramdisk':
      out.RamdiskId = value(image!.RamdiskId);
      break;
    case 'launchPermission':
      // Only the owner may read who else can launch an image.
      if (image!.OwnerId !== ctx.accountId) throw new ApiError('AuthFailure', `Not authorized for image:${image!.ImageId}`);
      out.LaunchPermissions = [...(image!.Public ? [{ Group: 'all' as const }] : []), ...(image!.LaunchPermissions ?? [])];
      break;
    case 'productCodes':
      out.ProductCodes = image!.ProductCodes ?? [];
      break;
    case 'blockDeviceMapping':
      out.BlockDeviceMappings = image!.BlockDeviceMappings ?? [];
      break;
    case 'sriovNetSupport':
      out.SriovNetSupport = value(image!.SriovNetSupport);
      break;
    case 'bootMode':
      out.BootMode = value(image!.BootMode);
      break;
    case 'tpmSupport':
      out.TpmSupport = value(image!.TpmSupport);
      break;
    case 'uefiData':
      break;
    case 'lastLaunchedTime':
      out.LastLaunchedTime = value(image!.LastLaunchedTime);
      break;
    case 'imdsSupport':
      out.ImdsSupport = value(image!.ImdsSupport);
      break;
    case 'deregistrationProtection':
      out.DeregistrationProtection = value(image!.DeregistrationProtection ?? 'disabled');
      break;
  }
  return out;
}

export const handlers: Record<string, Handler> = {
  DescribeImages: describeImages,
  DescribeImageAttribute: describeImageAttribute,
};
