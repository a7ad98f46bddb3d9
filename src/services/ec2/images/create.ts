/**
 * CreateImage: an image of one of the caller's EBS-backed instances. Each EBS volume of the
 * instance is snapshotted (ordinary snapshots of the caller) and the image's block devices name
 * the snapshots; it is `pending` while they complete. Without NoReboot a running instance is
 * rebooted, as EC2 does, so that its file systems are consistent.
 */
import type { BlockDeviceMapping, CreateImageRequest, CreateImageResult } from '@aws-sdk/client-ec2';
import { ApiError } from '../../../protocol/errors.js';
import type { RequestContext } from '../../context.js';
import { incorrectInstanceState } from '../common/errors.js';
import { addTags, tagsFromSpecifications } from '../common/tagging.js';
import { loadInstance } from '../instances/lookup.js';
import { saveInstance, type InstanceRecord } from '../instances/record.js';
import { COMPLETING_MS, findSnapshot, type SnapshotRecord } from '../snapshots/record.js';
import { snapshotVolume } from '../snapshots/snapshots.js';
import { loadVolume } from '../volumes/record.js';
import { checkDeviceNames, ebsDevice, newOwnedImage, otherDevice } from './devices.js';
import { checkImageName, locateImage, saveImage, type StoredImage } from './record.js';

const TAGGABLE = ['image', 'snapshot'];

export async function createImage(input: CreateImageRequest, ctx: RequestContext): Promise<CreateImageResult> {
  const imageTags = tagsFromSpecifications(input.TagSpecifications, TAGGABLE, 'image');
  const snapshotTags = tagsFromSpecifications(input.TagSpecifications, TAGGABLE, 'snapshot');
  const inst = await loadInstance(ctx, input.InstanceId!);
  if (inst.state !== 'running' && inst.state !== 'stopped') throw incorrectInstanceState(inst.InstanceId, inst.state, 'imaged');
  if (inst.RootDeviceType !== 'ebs') {
    throw new ApiError(
      'UnsupportedOperation',
      `The instance '${inst.InstanceId}' does not have an 'ebs' root device type and cannot be used to create an image.`,
    );
  }
  const name = await checkImageName(ctx, input.Name);
  const image = newOwnedImage(ctx, name, input.Description);
  const source = (await locateImage(ctx, inst.ImageId))?.image;
  Object.assign(image, {
    Architecture: inst.Architecture as StoredImage['Architecture'],
    Platform: inst.Platform as StoredImage['Platform'],
    PlatformDetails: inst.PlatformDetails,
    UsageOperation: inst.UsageOperation,
    RootDeviceName: inst.RootDeviceName,
    VirtualizationType: inst.VirtualizationType as StoredImage['VirtualizationType'],
    EnaSupport: inst.EnaSupport,
    BootMode: inst.BootMode as StoredImage['BootMode'],
    SriovNetSupport: source?.SriovNetSupport,
    TpmSupport: source?.TpmSupport,
    ImdsSupport: source?.ImdsSupport,
    SourceInstanceId: inst.InstanceId,
    // The image is available when its snapshots are: they all start now.
    availableAt: new Date(ctx.now().getTime() + COMPLETING_MS).toISOString(),
  } satisfies Partial<StoredImage>);
  const { mappings, snapshotIds } = await imageDevices(ctx, inst, image.ImageId!, input.BlockDeviceMappings ?? []);
  image.BlockDeviceMappings = mappings;
  await saveImage(ctx, image);
  await addTags(ctx, image.ImageId!, 'image', imageTags);
  for (const id of snapshotIds) await addTags(ctx, id, 'snapshot', snapshotTags);

  if (inst.state === 'running' && input.NoReboot !== true) {
    inst.rebootRequested = true;
    await saveInstance(ctx.store, ctx.scope, inst);
    ctx.plane.kick();
  }
  return { ImageId: image.ImageId };
}

/**
 * The image's devices: a snapshot of each EBS volume of the instance (a requested mapping of the
 * same device may change its size, type or DeleteOnTermination, or leave it out with NoDevice),
 * then the requested devices the instance does not have (empty volumes, snapshots, instance store).
 */
async function imageDevices(
  ctx: RequestContext, inst: InstanceRecord, imageId: string, requested: readonly BlockDeviceMapping[],
): Promise<{ mappings: BlockDeviceMapping[]; snapshotIds: string[] }> {
  checkDeviceNames(requested);
  const asked = new Map(requested.map((m) => [m.DeviceName!, m]));
  const mappings: BlockDeviceMapping[] = [];
  const snapshotIds: string[] = [];
  for (const d of inst.BlockDeviceMappings) {
    const change = asked.get(d.DeviceName);
    asked.delete(d.DeviceName);
    if (change?.NoDevice !== undefined) {
      if (d.DeviceName === inst.RootDeviceName) throw new ApiError('InvalidBlockDeviceMapping', 'The root device cannot be removed from the image.');
      continue;
    }
    const vol = await loadVolume(ctx, d.VolumeId);
    const snap = await snapshotVolume(ctx, vol, `Created by CreateImage(${inst.InstanceId}) for ${imageId} from ${vol.VolumeId}`);
    snapshotIds.push(snap.SnapshotId);
    const ebs = change?.Ebs ?? {};
    mappings.push({
      DeviceName: d.DeviceName,
      Ebs: ebsDevice(d.DeviceName, {
        DeleteOnTermination: ebs.DeleteOnTermination ?? d.DeleteOnTermination,
        SnapshotId: snap.SnapshotId,
        VolumeSize: ebs.VolumeSize,
        VolumeType: ebs.VolumeType ?? (vol.VolumeType as never),
        Iops: ebs.Iops ?? vol.Iops,
        Throughput: ebs.Throughput ?? vol.Throughput,
        Encrypted: vol.Encrypted,
      }, vol.Size),
    });
  }
  for (const m of asked.values()) mappings.push((await requestedDevice(ctx, m)).mapping);
  return { mappings, snapshotIds };
}

/** A device that only the request names: an EBS volume (from a snapshot the caller may use, or empty) or instance store. */
export async function requestedDevice(
  ctx: RequestContext, m: BlockDeviceMapping,
): Promise<{ mapping: BlockDeviceMapping; snapshot?: SnapshotRecord }> {
  if (!m.Ebs) return { mapping: otherDevice(m) };
  const snapshot = m.Ebs.SnapshotId === undefined ? undefined : (await findSnapshot(ctx, m.Ebs.SnapshotId)).snap;
  const ebs = ebsDevice(m.DeviceName!, { ...m.Ebs, Encrypted: snapshot?.Encrypted || (m.Ebs.Encrypted ?? false) }, snapshot?.VolumeSize);
  return { mapping: { DeviceName: m.DeviceName, Ebs: ebs }, snapshot };
}
