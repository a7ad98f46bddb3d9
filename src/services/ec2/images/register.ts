/**
 * RegisterImage (EBS-backed images from snapshots the caller owns or may use; instance-store images
 * from an S3 manifest are refused, there is no S3 here) and DeregisterImage (the owner's only; the
 * image's snapshots stay, as in EC2).
 */
import type { BlockDeviceMapping, DeregisterImageRequest, RegisterImageRequest, RegisterImageResult } from '@aws-sdk/client-ec2';
import { ApiError, invalidParameterValue } from '../../../protocol/errors.js';
import type { RequestContext } from '../../context.js';
import { addTags, tagsFromSpecifications } from '../common/tagging.js';
import { COMPLETING_MS } from '../snapshots/record.js';
import { requestedDevice } from './create.js';
import { checkDeviceNames, invalidMapping, newOwnedImage } from './devices.js';
import { checkImageName, ownImage, removeImage, saveImage, type StoredImage } from './record.js';

const ARCHITECTURES = ['i386', 'x86_64', 'arm64', 'x86_64_mac', 'arm64_mac'];
const VIRTUALIZATION_TYPES = ['hvm', 'paravirtual'];
const BOOT_MODES = ['legacy-bios', 'uefi', 'uefi-preferred'];

function oneOf(parameter: string, value: string | undefined, allowed: readonly string[]): void {
  if (value !== undefined && !allowed.includes(value)) {
    throw invalidParameterValue(`Value (${value}) for parameter ${parameter} is invalid. Valid values: ${allowed.join(', ')}.`);
  }
}

export async function registerImage(input: RegisterImageRequest, ctx: RequestContext): Promise<RegisterImageResult> {
  const tags = tagsFromSpecifications(input.TagSpecifications, ['image'], 'image');
  if (input.ImageLocation !== undefined) {
    throw new ApiError(
      'InvalidManifest',
      `The manifest '${input.ImageLocation}' cannot be read: instance-store images (S3 bundles) are not supported. ` +
        'Register an EBS-backed image from snapshots (BlockDeviceMappings with Ebs.SnapshotId).',
    );
  }
  const name = await checkImageName(ctx, input.Name);
  const requested = input.BlockDeviceMappings ?? [];
  if (requested.length === 0) throw new ApiError('MissingParameter', 'The request must contain the parameter BlockDeviceMapping');
  const root = input.RootDeviceName;
  if (!root) throw new ApiError('MissingParameter', 'The request must contain the parameter rootDeviceName');
  checkDeviceNames(requested);
  if (!requested.some((m) => m.DeviceName === root && m.Ebs?.SnapshotId !== undefined)) {
    throw invalidMapping(`The root device '${root}' must be an EBS device with a snapshot in the block device mapping.`);
  }
  oneOf('architecture', input.Architecture, ARCHITECTURES);
  oneOf('virtualizationType', input.VirtualizationType, VIRTUALIZATION_TYPES);
  oneOf('bootMode', input.BootMode, BOOT_MODES);
  oneOf('imdsSupport', input.ImdsSupport, ['v2.0']);
  oneOf('tpmSupport', input.TpmSupport, ['v2.0']);
  oneOf('sriovNetSupport', input.SriovNetSupport, ['simple']);

  const now = ctx.now().getTime();
  let availableAt = now;
  const mappings: BlockDeviceMapping[] = [];
  for (const m of requested) {
    const { mapping, snapshot } = await requestedDevice(ctx, m);
    mappings.push(mapping);
    // The image is pending until the last of its snapshots completes.
    if (snapshot) availableAt = Math.max(availableAt, Date.parse(snapshot.StartTime) + COMPLETING_MS);
  }
  const image: StoredImage = {
    ...newOwnedImage(ctx, name, input.Description),
    Architecture: (input.Architecture ?? 'x86_64') as StoredImage['Architecture'],
    RootDeviceName: root,
    BlockDeviceMappings: mappings,
    // EC2's default for registered images.
    VirtualizationType: (input.VirtualizationType ?? 'paravirtual') as StoredImage['VirtualizationType'],
    EnaSupport: input.EnaSupport,
    SriovNetSupport: input.SriovNetSupport,
    BootMode: input.BootMode as StoredImage['BootMode'],
    TpmSupport: input.TpmSupport as StoredImage['TpmSupport'],
    ImdsSupport: input.ImdsSupport as StoredImage['ImdsSupport'],
    KernelId: input.KernelId,
    RamdiskId: input.RamdiskId,
    PlatformDetails: 'Linux/UNIX',
    UsageOperation: 'RunInstances',
    availableAt: new Date(availableAt).toISOString(),
  };
  await saveImage(ctx, image);
  await addTags(ctx, image.ImageId!, 'image', tags);
  return { ImageId: image.ImageId };
}

export async function deregisterImage(input: DeregisterImageRequest, ctx: RequestContext): Promise<object> {
  const image = await ownImage(ctx, input.ImageId!);
  await removeImage(ctx, image);
  return {};
}
