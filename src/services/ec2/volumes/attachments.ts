/**
 * AttachVolume and DetachVolume. The instance's block device mapping and the volume's attachment
 * change together; the attachment then passes through attaching (or detaching) on the clock.
 */
import type { AttachVolumeRequest, DetachVolumeRequest, VolumeAttachment } from '@aws-sdk/client-ec2';
import { ApiError, invalidParameterValue } from '../../../protocol/errors.js';
import type { RequestContext } from '../../context.js';
import { incorrectInstanceState } from '../common/errors.js';
import { loadInstance } from '../instances/lookup.js';
import { saveInstance } from '../instances/record.js';
import { ATTACHING_MS, attachmentsOf, DETACHING_MS, loadVolume, saveVolume, volumeState, type VolumeRecord } from './record.js';
import { storedTime } from '../../../util/stored-time.js';

/** Linux device names EC2 accepts: /dev/sd[a-z], /dev/xvd[a-z] (one or two letters, an optional partition), and Windows' xvd[a-z]. */
const DEVICE_RE = /^(\/dev\/(sd|xvd)[a-z]{1,2}\d{0,2}|xvd[a-z]{1,2})$/;

function checkDevice(device: string): void {
  if (!DEVICE_RE.test(device)) {
    throw invalidParameterValue(`Value (${device}) for parameter device is invalid. ${device} is not a valid EBS device name.`);
  }
}

export async function attachVolume(input: AttachVolumeRequest, ctx: RequestContext): Promise<VolumeAttachment> {
  const device = input.Device!;
  checkDevice(device);
  const vol = await loadVolume(ctx, input.VolumeId!);
  const inst = await loadInstance(ctx, input.InstanceId!);
  const now = ctx.now();
  if (inst.state !== 'running' && inst.state !== 'stopped') throw incorrectInstanceState(inst.InstanceId, inst.state, 'attached to');
  if (vol.AvailabilityZone !== inst.AvailabilityZone) {
    throw new ApiError(
      'InvalidVolume.ZoneMismatch',
      `The volume '${vol.VolumeId}' is not in the same availability zone as instance '${inst.InstanceId}'`,
    );
  }
  const state = volumeState(vol, now);
  if (state === 'creating') throw new ApiError('IncorrectState', `vol '${vol.VolumeId}' is not 'available'.`);
  const current = attachmentsOf(vol, now);
  if (current.some((a) => a.InstanceId === inst.InstanceId) || (current.length > 0 && !vol.MultiAttachEnabled)) {
    throw new ApiError('VolumeInUse', `${vol.VolumeId} is already attached to an instance`);
  }
  if (inst.BlockDeviceMappings.some((d) => d.DeviceName === device)) {
    throw invalidParameterValue(`Invalid value '${device}' for unixDevice. Attachment point ${device} is already in use`);
  }
  const attachTime = now.toISOString();
  vol.Attachments.push({
    InstanceId: inst.InstanceId, Device: device, AttachTime: attachTime, attachedAt: new Date(now.getTime() + ATTACHING_MS).toISOString(),
  });
  inst.BlockDeviceMappings.push({ DeviceName: device, VolumeId: vol.VolumeId, AttachTime: attachTime, DeleteOnTermination: false });
  await saveVolume(ctx.store, ctx.scope, vol);
  await saveInstance(ctx.store, ctx.scope, inst);
  return { AttachTime: now, Device: device, InstanceId: inst.InstanceId, State: 'attaching', VolumeId: vol.VolumeId, DeleteOnTermination: false };
}

export async function detachVolume(input: DetachVolumeRequest, ctx: RequestContext): Promise<VolumeAttachment> {
  const vol = await loadVolume(ctx, input.VolumeId!);
  const now = ctx.now();
  const current = attachmentsOf(vol, now).filter((a) => a.State !== 'detaching');
  if (current.length === 0) throw new ApiError('IncorrectState', `Volume '${vol.VolumeId}' is in the '${volumeState(vol, now)}' state.`);
  if (current.length > 1 && input.InstanceId === undefined) {
    throw new ApiError('InvalidParameterCombination', `Volume '${vol.VolumeId}' is attached to more than one instance: specify the instance.`);
  }
  const attachment = input.InstanceId === undefined ? current[0]! : current.find((a) => a.InstanceId === input.InstanceId);
  if (!attachment || (input.Device !== undefined && input.Device !== attachment.Device)) {
    throw new ApiError(
      'InvalidAttachment.NotFound',
      `The volume ${vol.VolumeId} is not attached to instance ${input.InstanceId ?? attachment?.InstanceId} as device ${input.Device ?? attachment?.Device}`,
    );
  }
  const inst = await loadInstance(ctx, attachment.InstanceId);
  if (attachment.Device === inst.RootDeviceName && inst.state !== 'stopped') {
    throw new ApiError('OperationNotPermitted', `Unable to detach root volume '${vol.VolumeId}' from instance '${inst.InstanceId}'`);
  }
  markDetaching(vol, inst.InstanceId, now);
  inst.BlockDeviceMappings = inst.BlockDeviceMappings.filter((d) => d.VolumeId !== vol.VolumeId);
  await saveVolume(ctx.store, ctx.scope, vol);
  await saveInstance(ctx.store, ctx.scope, inst);
  return {
    AttachTime: storedTime(attachment.AttachTime), Device: attachment.Device, InstanceId: inst.InstanceId, State: 'detaching', VolumeId: vol.VolumeId,
    DeleteOnTermination: false,
  };
}

function markDetaching(vol: VolumeRecord, instanceId: string, now: Date): void {
  const a = vol.Attachments.find((x) => x.InstanceId === instanceId && x.detachedAt === undefined)!;
  a.detachedAt = new Date(now.getTime() + DETACHING_MS).toISOString();
}
