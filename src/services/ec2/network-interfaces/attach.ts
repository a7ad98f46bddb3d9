/**
 * AttachNetworkInterface and DetachNetworkInterface. An attachment lives on the interface record;
 * the instance's `networkInterfaceIds` index is kept in step in the same transaction, and the
 * Elastic IPs of the interface follow it to (and away from) the instance.
 */
import type {
  AttachNetworkInterfaceRequest, AttachNetworkInterfaceResult, DetachNetworkInterfaceRequest,
} from '@aws-sdk/client-ec2';
import { ApiError, invalidParameterCombination, invalidParameterValue } from '../../../protocol/errors.js';
import { newId } from '../../../util/ids.js';
import type { RequestContext } from '../../context.js';
import { loadInstance } from '../instances/lookup.js';
import { saveInstance, type InstanceRecord } from '../instances/record.js';
import { attachedInterfaces, updateElasticIps } from './lifecycle.js';
import { checkAddressCount, checkInterfaceCount, checkIpv6Count, maxAddressesPerInterface, maxIpv6PerInterface } from './limits.js';
import { interfaceByAttachment, loadInterface, saveInterface } from './lookup.js';
import type { NetworkInterfaceRecord } from './record.js';

/** States of an instance in which interfaces may be attached or detached. */
const ATTACHABLE_STATES = new Set(['running', 'stopped']);

export const zoneMismatch = () =>
  invalidParameterCombination('You may not attach a network interface to an instance if they are not in the same availability zone');

export const interfaceInUse = (id: string) => new ApiError('InvalidNetworkInterface.InUse', `Interface: [${id}] in use.`);

const incorrectState = (rec: InstanceRecord) =>
  new ApiError('IncorrectInstanceState', `Instance '${rec.InstanceId}' is not 'running' or 'stopped'.`);

/**
 * Checks that `eni` can go on `rec` at `deviceIndex` beside `attached` (the instance's interfaces):
 * free, in the instance's zone, at a free index, within the type's interface and address (IPv4 and IPv6) limits.
 */
export function checkAttachable(rec: InstanceRecord, attached: readonly NetworkInterfaceRecord[], eni: NetworkInterfaceRecord, deviceIndex: number): void {
  if (eni.Attachment) throw interfaceInUse(eni.NetworkInterfaceId);
  if (eni.AvailabilityZone !== rec.AvailabilityZone) throw zoneMismatch();
  if (!Number.isInteger(deviceIndex) || deviceIndex < 0) {
    throw invalidParameterValue(`Value (${deviceIndex}) for parameter deviceIndex is invalid.`);
  }
  if (attached.some((e) => e.Attachment?.DeviceIndex === deviceIndex)) {
    throw invalidParameterValue(`Instance '${rec.InstanceId}' already has an interface attached at device index '${deviceIndex}'.`);
  }
  checkInterfaceCount(rec.InstanceType, attached.length + 1);
  checkAddressCount(eni.PrivateIpAddresses.length, maxAddressesPerInterface(rec.InstanceType));
  checkIpv6Count(eni.Ipv6Addresses.length, maxIpv6PerInterface(rec.InstanceType));
}

/**
 * Records the attachment on the interface and its Elastic IPs; the caller adds the interface to
 * the instance's `networkInterfaceIds` and saves the instance.
 */
export async function attach(
  ctx: RequestContext, instanceId: string, eni: NetworkInterfaceRecord, deviceIndex: number, deleteOnTermination: boolean,
): Promise<string> {
  eni.Attachment = {
    AttachmentId: newId('eni-attach'),
    InstanceId: instanceId,
    InstanceOwnerId: ctx.accountId,
    DeviceIndex: deviceIndex,
    AttachTime: ctx.now().toISOString(),
    DeleteOnTermination: deleteOnTermination,
  };
  await saveInterface(ctx, eni);
  await updateElasticIps(ctx.store, ctx.scope, eni, (a) => { a.InstanceId = instanceId; });
  return eni.Attachment.AttachmentId;
}

async function attachNetworkInterface(input: AttachNetworkInterfaceRequest, ctx: RequestContext): Promise<AttachNetworkInterfaceResult> {
  const eni = await loadInterface(ctx, input.NetworkInterfaceId!);
  const rec = await loadInstance(ctx, input.InstanceId!);
  if (input.NetworkCardIndex !== undefined && input.NetworkCardIndex !== 0) {
    throw invalidParameterValue(`Value (${input.NetworkCardIndex}) for parameter networkCardIndex is invalid. ${rec.InstanceType} has 1 network card.`);
  }
  if (!ATTACHABLE_STATES.has(rec.state)) throw incorrectState(rec);
  checkAttachable(rec, await attachedInterfaces(ctx.store, ctx.scope, rec), eni, input.DeviceIndex!);
  // An interface attached after launch is kept when the instance terminates, as in EC2.
  const attachmentId = await attach(ctx, rec.InstanceId, eni, input.DeviceIndex!, false);
  rec.networkInterfaceIds = [...rec.networkInterfaceIds, eni.NetworkInterfaceId];
  await saveInstance(ctx.store, ctx.scope, rec);
  ctx.plane.kick();
  return { AttachmentId: attachmentId, NetworkCardIndex: 0 };
}

async function detachNetworkInterface(input: DetachNetworkInterfaceRequest, ctx: RequestContext): Promise<object> {
  const eni = await interfaceByAttachment(ctx, input.AttachmentId!);
  const att = eni.Attachment!;
  if (att.DeviceIndex === 0) {
    throw new ApiError('OperationNotPermitted', 'The network interface at device index 0 and networkCard index 0 cannot be detached.');
  }
  const rec = await loadInstance(ctx, att.InstanceId);
  // Force detaches whatever the instance is doing, as EC2's forced detachment does.
  if (!input.Force && !ATTACHABLE_STATES.has(rec.state)) throw incorrectState(rec);
  eni.Attachment = undefined;
  await saveInterface(ctx, eni);
  rec.networkInterfaceIds = rec.networkInterfaceIds.filter((id) => id !== eni.NetworkInterfaceId);
  await saveInstance(ctx.store, ctx.scope, rec);
  await updateElasticIps(ctx.store, ctx.scope, eni, (a) => { a.InstanceId = undefined; });
  ctx.plane.kick();
  return {};
}

export const handlers = {
  AttachNetworkInterface: attachNetworkInterface,
  DetachNetworkInterface: detachNetworkInterface,
};
