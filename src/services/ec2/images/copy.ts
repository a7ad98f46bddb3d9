/**
 * CopyImage: runs in the destination region (the caller's) and copies an image of SourceRegion
 * that the caller may launch there. Each EBS snapshot of the source is copied into this region as
 * CopySnapshot copies one, and the new image names the copies. Copying another account's image
 * needs read access to its snapshots as well (createVolumePermission), as in EC2.
 */
import type { BlockDeviceMapping, CopyImageRequest, CopyImageResult } from '@aws-sdk/client-ec2';
import { REGION_NAMES } from '../../../catalog/regions.js';
import { ApiError, invalidParameterValue } from '../../../protocol/errors.js';
import type { RequestContext } from '../../context.js';
import { checkIds, notFound } from '../common/errors.js';
import { addTags, tagsFromSpecifications } from '../common/tagging.js';
import { COMPLETING_MS, restorableBy, SNAPSHOT_KIND, type SnapshotRecord } from '../snapshots/record.js';
import { copySnapshotRecord } from '../snapshots/snapshots.js';
import { newOwnedImage } from './devices.js';
import { checkImageName, imagesNow, locateImage, saveImage, type LocatedImage, type StoredImage } from './record.js';

export async function copyImage(input: CopyImageRequest, ctx: RequestContext): Promise<CopyImageResult> {
  const region = input.SourceRegion!;
  if (!REGION_NAMES.has(region)) throw invalidParameterValue(`Value (${region}) for parameter sourceRegion is invalid.`);
  const tags = tagsFromSpecifications(input.TagSpecifications, ['image', 'snapshot'], 'image');
  const snapshotTags = tagsFromSpecifications(input.TagSpecifications, ['image', 'snapshot'], 'snapshot');
  checkIds('image', [input.SourceImageId!]);
  const located = await locateImage(ctx, input.SourceImageId!, region);
  if (!located) throw notFound('image', [`[${input.SourceImageId}]`]);
  const [source] = await imagesNow(ctx, [located.image], region);
  if (source.State !== 'available') {
    throw new ApiError('IncorrectState', `Image ${source.ImageId} is in state ${source.State}, which is not available.`);
  }
  const name = await checkImageName(ctx, input.Name);
  const image: StoredImage = {
    ...newOwnedImage(ctx, name, input.Description ?? source.Description),
    Architecture: source.Architecture,
    Platform: source.Platform,
    PlatformDetails: source.PlatformDetails,
    UsageOperation: source.UsageOperation,
    RootDeviceName: source.RootDeviceName,
    VirtualizationType: source.VirtualizationType,
    EnaSupport: source.EnaSupport,
    SriovNetSupport: source.SriovNetSupport,
    BootMode: source.BootMode,
    TpmSupport: source.TpmSupport,
    ImdsSupport: source.ImdsSupport,
    KernelId: source.KernelId,
    RamdiskId: source.RamdiskId,
    SourceImageId: source.ImageId,
    SourceImageRegion: region,
    // Available when the snapshot copies are: they all start now.
    availableAt: new Date(ctx.now().getTime() + COMPLETING_MS).toISOString(),
  };
  const mappings: BlockDeviceMapping[] = [];
  const copies: string[] = [];
  for (const m of source.BlockDeviceMappings ?? []) {
    if (!m.Ebs?.SnapshotId) {
      mappings.push(m);
      continue;
    }
    const snapshot = await sourceSnapshot(ctx, located, m, region);
    const copy = await copySnapshotRecord(ctx, snapshot, region, {
      Description: `Copied for DestinationAmi ${image.ImageId} from SourceAmi ${source.ImageId} for SourceSnapshot ${snapshot.SnapshotId}`,
      Encrypted: input.Encrypted,
      KmsKeyId: input.KmsKeyId,
    });
    if (!located.scope) {
      // A catalogue snapshot has no data in the snapshot store for the data plane to copy: the copy is complete as recorded.
      delete copy.dataPending;
      await ctx.store.put(SNAPSHOT_KIND, ctx.scope, copy.SnapshotId, copy);
    }
    copies.push(copy.SnapshotId);
    mappings.push({ ...m, Ebs: { ...m.Ebs, SnapshotId: copy.SnapshotId, Encrypted: copy.Encrypted, KmsKeyId: copy.KmsKeyId } });
  }
  image.BlockDeviceMappings = mappings;
  await saveImage(ctx, image);
  const copiedTags = input.CopyImageTags ? await sourceTags(ctx, source.ImageId!, region) : [];
  await addTags(ctx, image.ImageId!, 'image', [...copiedTags.filter((t) => !tags.some((o) => o.Key === t.Key)), ...tags]);
  for (const id of copies) await addTags(ctx, id, 'snapshot', snapshotTags);
  return { ImageId: image.ImageId };
}

/**
 * The snapshot behind one device of the source image. A catalogue image's snapshots are public and
 * not stored: their facts come from the mapping. Another account's must be readable by the caller.
 */
async function sourceSnapshot(ctx: RequestContext, located: LocatedImage, m: BlockDeviceMapping, region: string): Promise<SnapshotRecord> {
  const id = m.Ebs!.SnapshotId!;
  if (!located.scope) {
    return {
      SnapshotId: id, OwnerId: located.image.OwnerId!, VolumeId: 'vol-ffffffff', VolumeSize: m.Ebs!.VolumeSize ?? 8, Description: '',
      StartTime: located.image.CreationDate!, Encrypted: m.Ebs!.Encrypted ?? false, createVolumePermission: { userIds: [], public: true },
    };
  }
  const snapshot = await ctx.store.get<SnapshotRecord>(SNAPSHOT_KIND, { account: located.image.OwnerId!, region }, id);
  if (!snapshot || !restorableBy(snapshot, ctx.accountId)) throw notFound('snapshot', [id]);
  return snapshot;
}

/** The caller's own tags on the source image, in the source region. */
async function sourceTags(ctx: RequestContext, imageId: string, region: string) {
  return (await ctx.store.tagsOf({ account: ctx.accountId, region }, [imageId])).get(imageId) ?? [];
}
