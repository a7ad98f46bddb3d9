/**
 * The block device mappings of new images (CreateImage, RegisterImage): EC2's rules for EBS
 * devices, and the shape common to every image an account makes.
 */
import type { BlockDeviceMapping, EbsBlockDevice } from '@aws-sdk/client-ec2';
import { ApiError, invalidParameterValue } from '../../../protocol/errors.js';
import { newId } from '../../../util/ids.js';
import type { RequestContext } from '../../context.js';
import type { StoredImage } from './record.js';

const MAX_VOLUME_GIB = 16384;
const VOLUME_TYPES = ['standard', 'gp2', 'gp3', 'io1', 'io2', 'st1', 'sc1'];

export const invalidMapping = (message: string) => new ApiError('InvalidBlockDeviceMapping', message);

/**
 * An EBS device of a new image: a snapshot (of `snapshotSize` GiB, when given) or an empty volume of
 * VolumeSize; a size below the snapshot's is refused.
 */
export function ebsDevice(deviceName: string, ebs: EbsBlockDevice, snapshotSize: number | undefined): EbsBlockDevice {
  const size = ebs.VolumeSize ?? snapshotSize;
  if (size === undefined) throw invalidMapping(`Either snapshot ID or volume size must be provided for: ${deviceName}`);
  if (size < 1 || size > MAX_VOLUME_GIB) {
    throw invalidParameterValue(`Volume of size ${size}GB is not within the allowed range of 1 to ${MAX_VOLUME_GIB} GB.`);
  }
  if (snapshotSize !== undefined && size < snapshotSize) {
    throw invalidParameterValue(`Volume of ${size}GiB is smaller than snapshot '${ebs.SnapshotId}', expect size >= ${snapshotSize}GiB`);
  }
  const type = ebs.VolumeType ?? 'gp2';
  if (!VOLUME_TYPES.includes(type)) throw invalidParameterValue(`Value (${type}) for parameter volumeType is invalid.`);
  return {
    DeleteOnTermination: ebs.DeleteOnTermination ?? true,
    SnapshotId: ebs.SnapshotId,
    VolumeSize: size,
    VolumeType: type as EbsBlockDevice['VolumeType'],
    Encrypted: ebs.Encrypted ?? false,
    ...(ebs.Iops !== undefined ? { Iops: ebs.Iops } : type === 'gp3' ? { Iops: 3000 } : {}),
    ...(ebs.Throughput !== undefined ? { Throughput: ebs.Throughput } : type === 'gp3' ? { Throughput: 125 } : {}),
  };
}

/** An instance-store (ephemeralN) or NoDevice mapping, kept as given. */
export function otherDevice(m: BlockDeviceMapping): BlockDeviceMapping {
  if (m.VirtualName !== undefined && !/^ephemeral\d+$/.test(m.VirtualName)) {
    throw invalidMapping(`Invalid virtual name: ${m.VirtualName}`);
  }
  return { DeviceName: m.DeviceName, VirtualName: m.VirtualName, ...(m.NoDevice !== undefined ? { NoDevice: '' } : {}) };
}

export function checkDeviceNames(mappings: readonly BlockDeviceMapping[]): void {
  const seen = new Set<string>();
  for (const m of mappings) {
    if (!m.DeviceName) throw new ApiError('MissingParameter', 'The request must contain the parameter BlockDeviceMapping.DeviceName');
    if (seen.has(m.DeviceName)) throw invalidMapping(`The device '${m.DeviceName}' is used in more than one block-device mapping`);
    seen.add(m.DeviceName);
  }
}

/** What every image an account makes shares: a new id, its owner, private, an EBS root. */
export function newOwnedImage(ctx: RequestContext, name: string, description: string | undefined): StoredImage {
  return {
    ImageId: newId('ami'),
    ImageLocation: `${ctx.accountId}/${name}`,
    OwnerId: ctx.accountId,
    CreationDate: ctx.now().toISOString(),
    Public: false,
    ImageType: 'machine',
    Name: name,
    Description: description,
    RootDeviceType: 'ebs',
    Hypervisor: 'xen',
    LaunchPermissions: [],
  };
}
