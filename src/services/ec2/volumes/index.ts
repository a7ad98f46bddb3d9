/** The EBS volume operations. */
import type { Handler } from '../../context.js';
import { attachVolume, detachVolume } from './attachments.js';
import { describeVolumesModifications, modifyVolume } from './modify.js';
import { createVolume, deleteVolume, describeVolumes, describeVolumeStatus } from './volumes.js';
import { handlers as encryptionDefaults } from './encryption-defaults.js';

export const handlers: Record<string, Handler> = {
  CreateVolume: createVolume,
  DescribeVolumes: describeVolumes,
  DescribeVolumeStatus: describeVolumeStatus,
  DeleteVolume: deleteVolume,
  AttachVolume: attachVolume,
  DetachVolume: detachVolume,
  ModifyVolume: modifyVolume,
  DescribeVolumesModifications: describeVolumesModifications,
  ...encryptionDefaults,
};
