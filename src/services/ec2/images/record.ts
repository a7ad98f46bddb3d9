/**
 * The stored form of the images accounts own (CreateImage, RegisterImage, CopyImage) and how they
 * are found. An image is an SDK `Image` document in its owner's scope under the kind 'image', with
 * hidden fields beside it that no answer shows (see HIDDEN_FIELDS). Its state is not stored but
 * computed when read (imagesNow): `pending` until `availableAt` on the plane's clock and while its
 * snapshots are, then `available`.
 *
 * Who else may launch an image is kept twice, in one transaction: as `LaunchPermissions` on the
 * image (what DescribeImageAttribute answers) and as a grant document in each grantee's scope (the
 * group `all` being the grantee account `all`), so that finding the images shared with an account
 * reads its grants, never every account's images.
 */
import type { Image, LaunchPermission } from '@aws-sdk/client-ec2';
import { publicImage } from '../../../catalog/images.js';
import { ApiError } from '../../../protocol/errors.js';
import type { Scope } from '../../../store/store.js';
import type { RequestContext } from '../../context.js';
import { checkIds, notFound } from '../common/errors.js';
import { SNAPSHOT_KIND, snapshotProgress, type SnapshotRecord } from '../snapshots/record.js';

export const IMAGE_KIND = 'image';
/** A grant of launch permission, stored in the grantee's scope under the image's id. */
export const IMAGE_GRANT_KIND = 'image-launch-grant';
/** What is left of a deregistered image in its owner's scope: a second DeregisterImage is Unavailable. */
export const DEREGISTERED_KIND = 'image-deregistered';
/** The grantee "account" under which grants to the group `all` (public images) are kept. */
const EVERYONE = 'all';

/** An image an account owns, as stored: the SDK shape plus fields only the control plane reads. */
export type StoredImage = Image & {
  /** Accounts (UserId) that may launch it besides the owner; `Public` says whether the group `all` may. */
  LaunchPermissions?: LaunchPermission[];
  /** CopyImage: the image, and its region, that this one copies. */
  SourceImageId?: string;
  SourceImageRegion?: string;
  /** ISO 8601: `pending` until then. Absent on catalogue images, which are always `available`. */
  availableAt?: string;
};

export interface ImageGrant {
  ImageId: string;
  OwnerId: string;
}

const HIDDEN_FIELDS = ['LaunchPermissions', 'SourceImageId', 'SourceImageRegion', 'availableAt'] as const;

/**
 * The images as they are now, hidden fields kept (for filters): an image of an account is
 * `pending` until its `availableAt` and while any of its snapshots (in its owner's scope) is not
 * completed, e.g. while the storage data plane has not taken their data; then `available`. One
 * read per owner.
 */
export async function imagesNow(ctx: RequestContext, images: readonly StoredImage[], region = ctx.region): Promise<StoredImage[]> {
  const now = ctx.now();
  const snapshotsByOwner = new Map<string, Set<string>>();
  for (const i of images) {
    if (i.availableAt === undefined) continue;
    for (const m of i.BlockDeviceMappings ?? []) {
      if (m.Ebs?.SnapshotId) snapshotsByOwner.set(i.OwnerId!, (snapshotsByOwner.get(i.OwnerId!) ?? new Set()).add(m.Ebs.SnapshotId));
    }
  }
  const incomplete = new Set<string>();
  for (const [owner, ids] of snapshotsByOwner) {
    for (const snap of await ctx.store.getMany<SnapshotRecord>(SNAPSHOT_KIND, { account: owner, region }, [...ids])) {
      if (snapshotProgress(snap, now).State !== 'completed') incomplete.add(snap.SnapshotId);
    }
  }
  return images.map((i) => {
    if (i.availableAt === undefined) return i;
    const pending = now.getTime() < Date.parse(i.availableAt) || (i.BlockDeviceMappings ?? []).some((m) => incomplete.has(m.Ebs?.SnapshotId ?? ''));
    return { ...i, State: pending ? 'pending' : 'available' };
  });
}

/** What clients see of an image (its state computed by imagesNow): none of the hidden fields. */
export function presentImage(image: StoredImage): Image {
  const out: Record<string, unknown> = { ...image };
  for (const f of HIDDEN_FIELDS) delete out[f];
  return out as Image;
}

/** Whether `account` may launch the image (and so see it). */
export function launchableBy(image: StoredImage, account: string): boolean {
  return image.OwnerId === account || image.Public === true || (image.LaunchPermissions ?? []).some((p) => p.UserId === account);
}

export interface LocatedImage {
  image: StoredImage;
  /** The owner's scope; undefined for catalogue images. */
  scope?: Scope;
}

/**
 * An image of `region` (default the caller's) that the caller may launch: the public catalogue,
 * its own, or one shared with it or made public by another account. O(1) reads.
 */
export async function locateImage(ctx: RequestContext, imageId: string, region = ctx.region): Promise<LocatedImage | undefined> {
  const catalogued = publicImage(region, imageId);
  if (catalogued) return { image: catalogued };
  const own: Scope = { account: ctx.accountId, region };
  const mine = await ctx.store.get<StoredImage>(IMAGE_KIND, own, imageId);
  if (mine) return { image: mine, scope: own };
  for (const grantee of [ctx.accountId, EVERYONE]) {
    const grant = await ctx.store.get<ImageGrant>(IMAGE_GRANT_KIND, { account: grantee, region }, imageId);
    if (!grant) continue;
    const scope: Scope = { account: grant.OwnerId, region };
    const image = await ctx.store.get<StoredImage>(IMAGE_KIND, scope, imageId);
    if (image && launchableBy(image, ctx.accountId)) return { image, scope };
  }
  return undefined;
}

/** The images of the caller's region that other accounts shared with it or made public. */
export async function sharedImages(ctx: RequestContext): Promise<StoredImage[]> {
  const grants = [
    ...(await ctx.store.list<ImageGrant>(IMAGE_GRANT_KIND, ctx.scope)),
    ...(await ctx.store.list<ImageGrant>(IMAGE_GRANT_KIND, { account: EVERYONE, region: ctx.region })),
  ].filter((g) => g.OwnerId !== ctx.accountId);
  const byOwner = new Map<string, Set<string>>();
  for (const g of grants) byOwner.set(g.OwnerId, (byOwner.get(g.OwnerId) ?? new Set()).add(g.ImageId));
  const out: StoredImage[] = [];
  for (const [owner, ids] of byOwner) {
    out.push(...(await ctx.store.getMany<StoredImage>(IMAGE_KIND, { account: owner, region: ctx.region }, [...ids])));
  }
  return out.filter((i) => launchableBy(i, ctx.accountId));
}

/**
 * The caller's own image, for the operations only an owner may perform: an image the caller can
 * see but does not own is AuthFailure (catalogue images included), a deregistered one Unavailable,
 * any other NotFound.
 */
export async function ownImage(ctx: RequestContext, imageId: string): Promise<StoredImage> {
  checkIds('image', [imageId]);
  const located = await locateImage(ctx, imageId);
  if (located && located.image.OwnerId === ctx.accountId && located.scope) return located.image;
  if (located) throw new ApiError('AuthFailure', `Not authorized for image:${imageId}`);
  if (await ctx.store.get(DEREGISTERED_KIND, ctx.scope, imageId)) {
    throw new ApiError('InvalidAMIID.Unavailable', `The image id '[${imageId}]' is no longer available`);
  }
  throw notFound('image', [`[${imageId}]`]);
}

export const saveImage = (ctx: RequestContext, image: StoredImage) => ctx.store.put(IMAGE_KIND, ctx.scope, image.ImageId!, image);

/**
 * Sets who may launch the caller's image: the accounts `users` and, when `everyone`, the group
 * `all`. Grants follow in the grantees' scopes; the image is saved.
 */
export async function setLaunchPermissions(ctx: RequestContext, image: StoredImage, users: readonly string[], everyone: boolean): Promise<void> {
  const region = ctx.region;
  const before = new Set([...(image.LaunchPermissions ?? []).map((p) => p.UserId!), ...(image.Public ? [EVERYONE] : [])]);
  const after = new Set([...users, ...(everyone ? [EVERYONE] : [])]);
  const grant: ImageGrant = { ImageId: image.ImageId!, OwnerId: image.OwnerId! };
  for (const g of before) if (!after.has(g)) await ctx.store.remove(IMAGE_GRANT_KIND, { account: g, region }, grant.ImageId);
  for (const g of after) if (!before.has(g)) await ctx.store.put(IMAGE_GRANT_KIND, { account: g, region }, grant.ImageId, grant);
  image.LaunchPermissions = [...users].sort().map((UserId) => ({ UserId }));
  image.Public = everyone;
  await saveImage(ctx, image);
}

/** Removes the caller's image and its grants and tags, leaving the mark that it was deregistered. */
export async function removeImage(ctx: RequestContext, image: StoredImage): Promise<void> {
  await setLaunchPermissions(ctx, image, [], false);
  await ctx.store.remove(IMAGE_KIND, ctx.scope, image.ImageId!);
  await ctx.store.deleteAllTags(ctx.scope, image.ImageId!);
  await ctx.store.put(DEREGISTERED_KIND, ctx.scope, image.ImageId!, { ImageId: image.ImageId, deregisteredAt: ctx.now().toISOString() });
}

// EC2's rule for AMI names: 3 to 128 of these characters.
const NAME_RE = /^[A-Za-z0-9()[\] ./\-'@_]{3,128}$/;

/** A name for a new image of the caller: well formed and not used by another of its images in the region. */
export async function checkImageName(ctx: RequestContext, name: string | undefined): Promise<string> {
  if (name === undefined || name === '') throw new ApiError('MissingParameter', 'The request must contain the parameter name');
  if (!NAME_RE.test(name)) {
    throw new ApiError(
      'InvalidAMIName.Malformed',
      "AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/' and '_'",
    );
  }
  const taken = (await ctx.store.list<StoredImage>(IMAGE_KIND, ctx.scope)).find((i) => i.Name === name);
  if (taken) throw new ApiError('InvalidAMIName.Duplicate', `AMI name ${name} is already in use by AMI ${taken.ImageId}`);
  return name;
}

/** An image the caller may see, by id; EC2's InvalidAMIID.Malformed or .NotFound otherwise. */
export async function visibleImage(ctx: RequestContext, imageId: string): Promise<StoredImage> {
  checkIds('image', [imageId]);
  const located = await locateImage(ctx, imageId);
  // EC2 lists the unknown AMI ids in brackets: "The image id '[ami-…]' does not exist".
  if (!located) throw notFound('image', [`[${imageId}]`]);
  return (await imagesNow(ctx, [located.image]))[0]!;
}
