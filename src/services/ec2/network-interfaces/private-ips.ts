/**
 * AssignPrivateIpAddresses and UnassignPrivateIpAddresses: secondary addresses of an interface.
 * With AllowReassignment an address that another interface of the subnet holds moves here, with
 * any Elastic IP associated with it, as in EC2.
 */
import type {
  AssignPrivateIpAddressesRequest, AssignPrivateIpAddressesResult, UnassignPrivateIpAddressesRequest,
} from '@aws-sdk/client-ec2';
import { ApiError, invalidParameterCombination, invalidParameterValue } from '../../../protocol/errors.js';
import type { RequestContext } from '../../context.js';
import { ELASTIC_IP_KIND, endAssociation, type ElasticIpRecord } from '../elastic-ips/record.js';
import { KINDS, type SubnetRecord } from '../vpc/records.js';
import { allocatePrivateIp, isIpv4, privateIpHolder, releasePrivateIp, transferPrivateIp } from './addresses.js';
import { checkAddressCount, maxAddressesOfAnyType, maxAddressesPerInterface } from './limits.js';
import { attachedInstanceType, loadInterface, saveInterface } from './lookup.js';
import { ENI_KIND, type NetworkInterfaceRecord, type StoredPrivateIp } from './record.js';

/** The most addresses the interface may have: its instance type's limit, or any type's while unattached. */
async function addressLimit(ctx: RequestContext, eni: NetworkInterfaceRecord): Promise<number> {
  const typeName = await attachedInstanceType(ctx, eni);
  return typeName ? maxAddressesPerInterface(typeName) : maxAddressesOfAnyType();
}

/** Takes `ip` from the interface of the subnet that holds it; a primary address never moves. */
async function takeFrom(ctx: RequestContext, holderId: string, eni: NetworkInterfaceRecord, ip: string): Promise<StoredPrivateIp> {
  const holder = await ctx.store.get<NetworkInterfaceRecord>(ENI_KIND, ctx.scope, holderId);
  const entry = holder?.PrivateIpAddresses.find((a) => a.PrivateIpAddress === ip);
  if (!holder || !entry) throw new ApiError('InvalidIPAddress.InUse', `Address ${ip} is in use.`);
  if (entry.Primary) {
    throw invalidParameterValue(`Address ${ip} is the primary private IP address of ${holder.NetworkInterfaceId} and cannot be reassigned.`);
  }
  holder.PrivateIpAddresses = holder.PrivateIpAddresses.filter((a) => a !== entry);
  await saveInterface(ctx, holder);
  await transferPrivateIp(ctx.store, ctx.scope, eni.SubnetId, ip, eni.NetworkInterfaceId);
  const allocationId = entry.association?.AllocationId;
  if (allocationId) {
    const eip = await ctx.store.get<ElasticIpRecord>(ELASTIC_IP_KIND, ctx.scope, allocationId);
    if (eip?.association) {
      eip.association.NetworkInterfaceId = eni.NetworkInterfaceId;
      eip.association.InstanceId = eni.Attachment?.InstanceId;
      await ctx.store.put(ELASTIC_IP_KIND, ctx.scope, eip.AllocationId, eip);
    }
  }
  return { PrivateIpAddress: ip, Primary: false, association: entry.association };
}

async function assignPrivateIpAddresses(input: AssignPrivateIpAddressesRequest, ctx: RequestContext): Promise<AssignPrivateIpAddressesResult> {
  const eni = await loadInterface(ctx, input.NetworkInterfaceId!);
  const wanted = input.PrivateIpAddresses ?? [];
  const count = input.SecondaryPrivateIpAddressCount;
  if (wanted.length > 0 && count !== undefined) {
    throw invalidParameterCombination('Specify either PrivateIpAddresses or SecondaryPrivateIpAddressCount, not both.');
  }
  if (wanted.length === 0 && count === undefined) {
    throw new ApiError('MissingParameter', 'The request must contain the parameter PrivateIpAddresses or SecondaryPrivateIpAddressCount');
  }
  if (count !== undefined && (!Number.isInteger(count) || count < 1)) {
    throw invalidParameterValue(`Value (${count}) for parameter secondaryPrivateIpAddressCount is invalid. Expected a value greater than 0.`);
  }
  checkAddressCount(eni.PrivateIpAddresses.length + (count ?? new Set(wanted).size), await addressLimit(ctx, eni));
  const subnet = await ctx.store.get<SubnetRecord>(KINDS.subnet, ctx.scope, eni.SubnetId);
  if (!subnet) throw new ApiError('InvalidSubnetID.NotFound', `The subnet ID '${eni.SubnetId}' does not exist`);

  const added: StoredPrivateIp[] = [];
  for (const ip of new Set(wanted)) {
    if (!isIpv4(ip)) throw invalidParameterValue(`Invalid value '${ip}' for PrivateIpAddresses.`);
    const holder = await privateIpHolder(ctx.store, ctx.scope, eni.SubnetId, ip);
    if (holder === eni.NetworkInterfaceId) {
      throw invalidParameterValue(`Address ${ip} is already assigned to ${eni.NetworkInterfaceId}.`);
    }
    if (holder !== undefined && input.AllowReassignment) added.push(await takeFrom(ctx, holder, eni, ip));
    else added.push({ PrivateIpAddress: await allocatePrivateIp(ctx.store, ctx.scope, subnet, eni.NetworkInterfaceId, ip), Primary: false });
  }
  for (let i = 0; i < (count ?? 0); i++) {
    added.push({ PrivateIpAddress: await allocatePrivateIp(ctx.store, ctx.scope, subnet, eni.NetworkInterfaceId), Primary: false });
  }
  eni.PrivateIpAddresses.push(...added);
  await saveInterface(ctx, eni);
  ctx.plane.kick();
  return {
    NetworkInterfaceId: eni.NetworkInterfaceId,
    AssignedPrivateIpAddresses: added.map((a) => ({ PrivateIpAddress: a.PrivateIpAddress })),
    AssignedIpv4Prefixes: [],
  };
}

async function unassignPrivateIpAddresses(input: UnassignPrivateIpAddressesRequest, ctx: RequestContext): Promise<object> {
  const eni = await loadInterface(ctx, input.NetworkInterfaceId!);
  const ips = [...new Set(input.PrivateIpAddresses ?? [])];
  if (ips.length === 0) throw new ApiError('MissingParameter', 'The request must contain the parameter PrivateIpAddresses');
  const entries = ips.map((ip) => eni.PrivateIpAddresses.find((a) => a.PrivateIpAddress === ip));
  if (entries.some((e) => !e)) {
    throw invalidParameterValue(`Some of the specified addresses are not assigned to interface ${eni.NetworkInterfaceId}`);
  }
  const primary = entries.find((e) => e!.Primary);
  if (primary) {
    throw invalidParameterValue(`The primary private IP address ${primary.PrivateIpAddress} of ${eni.NetworkInterfaceId} cannot be unassigned.`);
  }
  for (const e of entries) {
    await releasePrivateIp(ctx.store, ctx.scope, eni.SubnetId, e!.PrivateIpAddress);
    // An Elastic IP associated with the address is disassociated, and stays allocated.
    const allocationId = e!.association?.AllocationId;
    const eip = allocationId ? await ctx.store.get<ElasticIpRecord>(ELASTIC_IP_KIND, ctx.scope, allocationId) : undefined;
    if (eip) {
      endAssociation(eip);
      await ctx.store.put(ELASTIC_IP_KIND, ctx.scope, eip.AllocationId, eip);
    }
  }
  eni.PrivateIpAddresses = eni.PrivateIpAddresses.filter((a) => !ips.includes(a.PrivateIpAddress));
  await saveInterface(ctx, eni);
  ctx.plane.kick();
  return {};
}

export const handlers = {
  AssignPrivateIpAddresses: assignPrivateIpAddresses,
  UnassignPrivateIpAddresses: unassignPrivateIpAddresses,
};
