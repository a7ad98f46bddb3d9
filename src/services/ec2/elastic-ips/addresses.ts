/**
 * AllocateAddress, ReleaseAddress and DescribeAddresses. An Elastic IP comes from the same public
 * pool as auto-assigned public addresses (network-interfaces/addresses.ts), so no address is ever
 * held twice; the account keeps it, associated or not, across stop and start, until it releases it.
 */
import type {
  AllocateAddressRequest, AllocateAddressResult, DescribeAddressesRequest, DescribeAddressesResult, ReleaseAddressRequest,
} from '@aws-sdk/client-ec2';
import { ApiError, invalidParameterValue } from '../../../protocol/errors.js';
import { newId } from '../../../util/ids.js';
import type { RequestContext } from '../../context.js';
import { applyFilters, checkFilterNames, type FilterFields } from '../common/filters.js';
import { addTags, tagSets, tagsFromSpecifications } from '../common/tagging.js';
import { allocatePublicIp, claimPublicIp, releasePublicIp } from '../network-interfaces/addresses.js';
import { checkLimit } from '../vpc/limits.js';
import { addressesByAllocation, addressesByIp, addressNotFound, allAddresses, loadAddress, saveAddress } from './lookup.js';
import { ELASTIC_IP_KIND, presentAddress, type ElasticIpRecord } from './record.js';

function checkBorderGroup(ctx: RequestContext, group: string | undefined): void {
  if (group !== undefined && group !== ctx.region) {
    throw invalidParameterValue(`Invalid value '${group}' for NetworkBorderGroup. The network border group of ${ctx.region} is ${ctx.region}.`);
  }
}

async function allocateAddress(input: AllocateAddressRequest, ctx: RequestContext): Promise<AllocateAddressResult> {
  const tags = tagsFromSpecifications(input.TagSpecifications, ['elastic-ip'], 'elastic-ip');
  if (input.Domain !== undefined && input.Domain !== 'vpc') {
    throw invalidParameterValue(`Invalid value '${input.Domain}' for domain. Elastic IP addresses are for use in a VPC: specify vpc.`);
  }
  if (input.PublicIpv4Pool !== undefined && input.PublicIpv4Pool !== 'amazon') {
    throw new ApiError('InvalidPublicIpv4PoolID.NotFound', `The pool ID '${input.PublicIpv4Pool}' does not exist`);
  }
  checkBorderGroup(ctx, input.NetworkBorderGroup);
  checkLimit(ctx, 'elasticIpsPerRegion', await ctx.store.count(ELASTIC_IP_KIND, ctx.scope));
  const id = newId('eipalloc');
  // `Address` recovers a specific address, which must be free in the pool.
  const ip = input.Address !== undefined ? await claimPublicIp(ctx.store, ctx.plane.config.publicPool, id, input.Address) : await allocatePublicIp(ctx.store, ctx.plane.config.publicPool, id);
  if (ip === undefined) throw addressNotFound([input.Address!]);
  const eip: ElasticIpRecord = { AllocationId: id, PublicIp: ip, Domain: 'vpc', NetworkBorderGroup: ctx.region, PublicIpv4Pool: 'amazon' };
  await saveAddress(ctx, eip);
  await addTags(ctx, id, 'elastic-ip', tags);
  return { AllocationId: id, PublicIp: ip, Domain: 'vpc', PublicIpv4Pool: 'amazon', NetworkBorderGroup: ctx.region };
}

async function releaseAddress(input: ReleaseAddressRequest, ctx: RequestContext): Promise<object> {
  const eip = await loadAddress(ctx, input.AllocationId, input.PublicIp);
  checkBorderGroup(ctx, input.NetworkBorderGroup);
  if (eip.association) throw new ApiError('InvalidIPAddress.InUse', `Address ${eip.PublicIp} is in use.`);
  await releasePublicIp(ctx.store, eip.PublicIp);
  await ctx.store.remove(ELASTIC_IP_KIND, ctx.scope, eip.AllocationId);
  await ctx.store.deleteAllTags(ctx.scope, eip.AllocationId);
  return {};
}

/** DescribeAddresses' filters; interfaces are always the caller's own. */
const fieldsFor = (accountId: string): FilterFields<ElasticIpRecord> => ({
  'allocation-id': (e) => e.AllocationId,
  'association-id': (e) => e.association?.AssociationId,
  domain: (e) => e.Domain,
  'instance-id': (e) => e.association?.InstanceId,
  'network-border-group': (e) => e.NetworkBorderGroup,
  'network-interface-id': (e) => e.association?.NetworkInterfaceId,
  'network-interface-owner-id': (e) => (e.association ? accountId : undefined),
  'private-ip-address': (e) => e.association?.PrivateIpAddress,
  'public-ip': (e) => e.PublicIp,
  'public-ipv4-pool': (e) => e.PublicIpv4Pool,
});

async function describeAddresses(input: DescribeAddressesRequest, ctx: RequestContext): Promise<DescribeAddressesResult> {
  const fields = fieldsFor(ctx.accountId);
  checkFilterNames(input.Filters, fields as FilterFields<never>);
  let records = await allAddresses(ctx);
  if (input.AllocationIds?.length) {
    const ids = new Set((await addressesByAllocation(ctx, input.AllocationIds)).map((e) => e.AllocationId));
    records = records.filter((e) => ids.has(e.AllocationId));
  }
  if (input.PublicIps?.length) {
    const ips = new Set((await addressesByIp(ctx, input.PublicIps)).map((e) => e.PublicIp));
    records = records.filter((e) => ips.has(e.PublicIp));
  }
  const tags = await tagSets(ctx, records.map((e) => e.AllocationId));
  const matched = applyFilters(records, input.Filters, fields, (e) => tags.get(e.AllocationId));
  return { Addresses: matched.map((e) => presentAddress(e, ctx.accountId, tags.get(e.AllocationId) ?? [])) };
}

export const handlers = {
  AllocateAddress: allocateAddress,
  ReleaseAddress: releaseAddress,
  DescribeAddresses: describeAddresses,
};
