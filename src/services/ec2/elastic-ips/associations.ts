/**
 * AssociateAddress and DisassociateAddress. The association is recorded on both sides in one
 * transaction: on the Elastic IP and on the interface's private address it maps to, which is what
 * the data plane reads (PrivateIpAddresses[].association.PublicIp).
 */
import type { AssociateAddressRequest, AssociateAddressResult, DisassociateAddressRequest } from '@aws-sdk/client-ec2';
import { ApiError, invalidParameterCombination, invalidParameterValue } from '../../../protocol/errors.js';
import { newId } from '../../../util/ids.js';
import type { RequestContext } from '../../context.js';
import { checkIds, notFound } from '../common/errors.js';
import { loadInstance } from '../instances/lookup.js';
import { releasePublicIp } from '../network-interfaces/addresses.js';
import { assignPublicAddresses } from '../network-interfaces/lifecycle.js';
import { INSTANCE_KIND, type InstanceRecord } from '../instances/record.js';
import { loadInterface, saveInterface } from '../network-interfaces/lookup.js';
import { ENI_KIND, primaryAddress, type NetworkInterfaceRecord } from '../network-interfaces/record.js';
import { KINDS, type InternetGatewayRecord } from '../vpc/records.js';
import { addressesByIp, allAddresses, loadAddress, saveAddress } from './lookup.js';
import { ELASTIC_IP_KIND, endAssociation, type ElasticIpRecord } from './record.js';

/** The interface an association targets: the one named, or the instance's primary interface. */
async function targetInterface(ctx: RequestContext, input: AssociateAddressRequest): Promise<NetworkInterfaceRecord> {
  if (input.NetworkInterfaceId !== undefined) {
    const eni = await loadInterface(ctx, input.NetworkInterfaceId);
    if (input.InstanceId !== undefined && eni.Attachment?.InstanceId !== input.InstanceId) {
      throw invalidParameterCombination(`Network interface '${eni.NetworkInterfaceId}' is not attached to instance '${input.InstanceId}'.`);
    }
    return eni;
  }
  if (input.InstanceId === undefined) {
    throw new ApiError('MissingParameter', 'The request must contain the parameter InstanceId or NetworkInterfaceId');
  }
  const rec = await loadInstance(ctx, input.InstanceId);
  if (rec.state === 'terminated' || rec.state === 'shutting-down') {
    throw new ApiError('IncorrectInstanceState', `The instance '${rec.InstanceId}' is not in a valid state for this operation.`);
  }
  return loadInterface(ctx, rec.NetworkInterfaceId);
}

/** Clears the association's mapping on the interface side (if the interface still exists). */
async function unmapFromInterface(ctx: RequestContext, eip: ElasticIpRecord): Promise<void> {
  const a = eip.association;
  if (!a) return;
  const eni = await ctx.store.get<NetworkInterfaceRecord>(ENI_KIND, ctx.scope, a.NetworkInterfaceId);
  const entry = eni?.PrivateIpAddresses.find((p) => p.PrivateIpAddress === a.PrivateIpAddress);
  if (!eni || entry?.association?.AllocationId !== eip.AllocationId) return;
  entry.association = undefined;
  await saveInterface(ctx, eni);
  // As in EC2, an instance launched with a public IP gets a new one from the pool once the
  // Elastic IP that took its place is gone (a stopped one gets it when it starts).
  const instanceId = eni.Attachment?.InstanceId;
  const rec = instanceId ? await ctx.store.get<InstanceRecord>(INSTANCE_KIND, ctx.scope, instanceId) : undefined;
  if (rec && (rec.state === 'pending' || rec.state === 'running')) await assignPublicAddresses(ctx.store, ctx.scope, rec, ctx.plane.config.publicPool);
}

/** Public addresses reach a VPC only through its internet gateway: EC2 refuses an association without one. */
async function checkGateway(ctx: RequestContext, vpcId: string): Promise<void> {
  const gateways = await ctx.store.list<InternetGatewayRecord>(KINDS.internetGateway, ctx.scope);
  if (!gateways.some((g) => g.Attachments?.some((a) => a.VpcId === vpcId))) {
    throw new ApiError('Gateway.NotAttached', `Network ${vpcId} is not attached to any internet gateway`);
  }
}

async function associateAddress(input: AssociateAddressRequest, ctx: RequestContext): Promise<AssociateAddressResult> {
  const eip = await loadAddress(ctx, input.AllocationId, input.PublicIp);
  const eni = await targetInterface(ctx, input);
  const privateIp = input.PrivateIpAddress ?? primaryAddress(eni).PrivateIpAddress;
  const entry = eni.PrivateIpAddresses.find((a) => a.PrivateIpAddress === privateIp);
  if (!entry) {
    throw invalidParameterValue(`The private IP address ${privateIp} is not assigned to network interface ${eni.NetworkInterfaceId}.`);
  }
  const current = eip.association;
  if (current && current.NetworkInterfaceId === eni.NetworkInterfaceId && current.PrivateIpAddress === privateIp) {
    return { AssociationId: current.AssociationId };
  }
  if (current && !input.AllowReassociation) {
    throw new ApiError('Resource.AlreadyAssociated', `resource ${eip.AllocationId} is already associated with associate-id ${current.AssociationId}`);
  }
  await checkGateway(ctx, eni.VpcId);
  // Moving: the address leaves its old place in this same call.
  if (current) {
    await unmapFromInterface(ctx, eip);
    endAssociation(eip);
  }
  // What the private address mapped to before goes: another Elastic IP stays allocated, an auto-assigned address returns to the pool.
  const previous = entry.association;
  if (previous?.AllocationId) {
    const other = await ctx.store.get<ElasticIpRecord>(ELASTIC_IP_KIND, ctx.scope, previous.AllocationId);
    if (other) {
      endAssociation(other);
      await saveAddress(ctx, other);
    }
  } else if (previous) {
    await releasePublicIp(ctx.store, previous.PublicIp);
  }
  // The interface record may have been rewritten by unmapFromInterface when the address moves within it.
  const target = await loadInterface(ctx, eni.NetworkInterfaceId);
  const slot = target.PrivateIpAddresses.find((a) => a.PrivateIpAddress === privateIp)!;
  const associationId = newId('eipassoc');
  slot.association = { PublicIp: eip.PublicIp, IpOwnerId: ctx.accountId, AllocationId: eip.AllocationId, AssociationId: associationId };
  await saveInterface(ctx, target);
  eip.association = {
    AssociationId: associationId, NetworkInterfaceId: target.NetworkInterfaceId, PrivateIpAddress: privateIp,
    InstanceId: target.Attachment?.InstanceId,
  };
  await saveAddress(ctx, eip);
  ctx.plane.kick();
  return { AssociationId: associationId };
}

async function disassociateAddress(input: DisassociateAddressRequest, ctx: RequestContext): Promise<object> {
  let eip: ElasticIpRecord | undefined;
  if (input.AssociationId !== undefined) {
    checkIds('elastic-ip-association', [input.AssociationId]);
    const all = await allAddresses(ctx);
    eip = all.find((e) => e.association?.AssociationId === input.AssociationId);
    // Idempotent: an association that already ended is no error; one that never existed is.
    if (!eip && !all.some((e) => e.endedAssociationIds?.includes(input.AssociationId!))) {
      throw notFound('elastic-ip-association', [input.AssociationId]);
    }
  } else if (input.PublicIp !== undefined) {
    eip = (await addressesByIp(ctx, [input.PublicIp]))[0];
  } else {
    throw new ApiError('MissingParameter', 'The request must contain the parameter AssociationId');
  }
  if (eip?.association) {
    await unmapFromInterface(ctx, eip);
    endAssociation(eip);
    await saveAddress(ctx, eip);
    ctx.plane.kick();
  }
  return {};
}

export const handlers = {
  AssociateAddress: associateAddress,
  DisassociateAddress: disassociateAddress,
};
