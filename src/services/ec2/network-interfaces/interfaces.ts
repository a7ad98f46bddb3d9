/** CreateNetworkInterface, DescribeNetworkInterfaces and DeleteNetworkInterface. */
import type {
  CreateNetworkInterfaceRequest, CreateNetworkInterfaceResult, DeleteNetworkInterfaceRequest, DescribeNetworkInterfacesRequest,
  DescribeNetworkInterfacesResult, NetworkInterface,
} from '@aws-sdk/client-ec2';
import { ApiError, invalidParameterCombination, invalidParameterValue } from '../../../protocol/errors.js';
import type { RequestContext } from '../../context.js';
import { applyFilters, applyRecordFilters, checkFilterNames, type FilterFields } from '../common/filters.js';
import { amongCandidates, tagCandidates } from '../common/tag-candidates.js';
import { presentedPage, sortByKey } from '../common/pagination.js';
import { addTags, tagSets, tagsFromSpecifications } from '../common/tagging.js';
import { ensureDefaultVpc, launchGroups } from '../vpc/index.js';
import { requireOne, type SubnetRecord } from '../vpc/records.js';
import { addressCount, createInterface, requestedAddresses } from './create.js';
import { deleteInterface } from './lifecycle.js';
import { ipv6Total, requestedIpv6Addresses } from './ipv6.js';
import { checkAddressCount, checkInterfaceQuota, checkIpv6Count, maxAddressesOfAnyType, maxIpv6OfAnyType } from './limits.js';
import { dnsNameIn, loadInterface, loadInterfaces } from './lookup.js';
import { ENI_KIND, presentNetworkInterface, primaryAddress, type NetworkInterfaceRecord } from './record.js';

async function createNetworkInterface(input: CreateNetworkInterfaceRequest, ctx: RequestContext): Promise<CreateNetworkInterfaceResult> {
  const tags = tagsFromSpecifications(input.TagSpecifications, ['network-interface'], 'network-interface');
  if (input.InterfaceType !== undefined) {
    throw invalidParameterValue(`Value (${input.InterfaceType}) for parameter interfaceType is invalid. Only standard interfaces can be created here.`);
  }
  await ensureDefaultVpc(ctx);
  const subnet = await requireOne<SubnetRecord>(ctx, 'subnet', input.SubnetId!);
  const addresses = requestedAddresses(input.PrivateIpAddress, input.PrivateIpAddresses, input.SecondaryPrivateIpAddressCount);
  checkAddressCount(addressCount(addresses), maxAddressesOfAnyType());
  const ipv6 = requestedIpv6Addresses(subnet, input.Ipv6Addresses?.map((a) => a.Ipv6Address ?? ''), input.Ipv6AddressCount);
  checkIpv6Count(ipv6Total(ipv6), maxIpv6OfAnyType());
  const groups = await launchGroups(ctx, subnet.VpcId, input.Groups, undefined);
  await checkInterfaceQuota(ctx, 1);
  const eni = await createInterface(ctx, { subnet, groups, description: input.Description, ...addresses, ipv6, publicIp: false });
  await addTags(ctx, eni.NetworkInterfaceId, 'network-interface', tags);
  ctx.plane.kick();
  return { NetworkInterface: presentNetworkInterface(eni, tags, dnsNameIn(ctx)), ClientToken: input.ClientToken };
}

async function deleteNetworkInterface(input: DeleteNetworkInterfaceRequest, ctx: RequestContext): Promise<object> {
  const eni = await loadInterface(ctx, input.NetworkInterfaceId!);
  if (eni.Attachment) {
    throw new ApiError('InvalidNetworkInterface.InUse', `Network interface '${eni.NetworkInterfaceId}' is currently in use.`);
  }
  await deleteInterface(ctx.store, ctx.scope, eni);
  ctx.plane.kick();
  return {};
}

const addresses = (n: NetworkInterface) => n.PrivateIpAddresses ?? [];

/** DescribeNetworkInterfaces' filters, as EC2 documents them, over the presented interface. */
const FIELDS: FilterFields<NetworkInterface> = {
  'addresses.private-ip-address': (n) => addresses(n).map((a) => a.PrivateIpAddress),
  'addresses.primary': (n) => addresses(n).map((a) => a.Primary),
  'addresses.association.public-ip': (n) => addresses(n).map((a) => a.Association?.PublicIp),
  'addresses.association.owner-id': (n) => addresses(n).map((a) => a.Association?.IpOwnerId),
  'association.association-id': (n) => n.Association?.AssociationId,
  'association.allocation-id': (n) => n.Association?.AllocationId,
  'association.ip-owner-id': (n) => n.Association?.IpOwnerId,
  'association.public-ip': (n) => n.Association?.PublicIp,
  'association.public-dns-name': (n) => n.Association?.PublicDnsName,
  'attachment.attachment-id': (n) => n.Attachment?.AttachmentId,
  'attachment.attach-time': (n) => n.Attachment?.AttachTime?.toISOString(),
  'attachment.delete-on-termination': (n) => n.Attachment?.DeleteOnTermination,
  'attachment.device-index': (n) => n.Attachment?.DeviceIndex,
  'attachment.instance-id': (n) => n.Attachment?.InstanceId,
  'attachment.instance-owner-id': (n) => n.Attachment?.InstanceOwnerId,
  'attachment.network-card-index': (n) => n.Attachment?.NetworkCardIndex,
  'attachment.status': (n) => n.Attachment?.Status,
  'availability-zone': (n) => n.AvailabilityZone,
  description: (n) => n.Description,
  'group-id': (n) => (n.Groups ?? []).map((g) => g.GroupId),
  'group-name': (n) => (n.Groups ?? []).map((g) => g.GroupName),
  'interface-type': (n) => n.InterfaceType,
  'ipv6-addresses.ipv6-address': (n) => (n.Ipv6Addresses ?? []).map((a) => a.Ipv6Address),
  'mac-address': (n) => n.MacAddress,
  'network-interface-id': (n) => n.NetworkInterfaceId,
  'owner-id': (n) => n.OwnerId,
  'private-dns-name': (n) => n.PrivateDnsName,
  'private-ip-address': (n) => n.PrivateIpAddress,
  'requester-managed': (n) => n.RequesterManaged,
  'source-dest-check': (n) => n.SourceDestCheck,
  status: (n) => n.Status,
  'subnet-id': (n) => n.SubnetId,
  'vpc-id': (n) => n.VpcId,
};

/**
 * Filters the stored interface answers as the presented one would (see applyRecordFilters and
 * presentNetworkInterface): a filter on addresses, groups or the MAC presents only what it keeps.
 * The DNS names and the attach time are left to the presented form, which formats them.
 */
const RECORD_FIELDS: FilterFields<NetworkInterfaceRecord> = {
  'addresses.private-ip-address': (n) => n.PrivateIpAddresses.map((a) => a.PrivateIpAddress),
  'addresses.primary': (n) => n.PrivateIpAddresses.map((a) => a.Primary),
  'addresses.association.public-ip': (n) => n.PrivateIpAddresses.map((a) => a.association?.PublicIp),
  'addresses.association.owner-id': (n) => n.PrivateIpAddresses.map((a) => a.association?.IpOwnerId),
  'association.association-id': (n) => primaryAddress(n).association?.AssociationId,
  'association.allocation-id': (n) => primaryAddress(n).association?.AllocationId,
  'association.ip-owner-id': (n) => primaryAddress(n).association?.IpOwnerId,
  'association.public-ip': (n) => primaryAddress(n).association?.PublicIp,
  'attachment.attachment-id': (n) => n.Attachment?.AttachmentId,
  'attachment.delete-on-termination': (n) => n.Attachment?.DeleteOnTermination,
  'attachment.device-index': (n) => n.Attachment?.DeviceIndex,
  'attachment.instance-id': (n) => n.Attachment?.InstanceId,
  'attachment.instance-owner-id': (n) => n.Attachment?.InstanceOwnerId,
  'availability-zone': (n) => n.AvailabilityZone,
  description: (n) => n.Description,
  'group-id': (n) => n.Groups.map((g) => g.GroupId),
  'group-name': (n) => n.Groups.map((g) => g.GroupName),
  'ipv6-addresses.ipv6-address': (n) => n.Ipv6Addresses,
  'mac-address': (n) => n.MacAddress,
  'network-interface-id': (n) => n.NetworkInterfaceId,
  'owner-id': (n) => n.OwnerId,
  'private-ip-address': (n) => primaryAddress(n).PrivateIpAddress,
  'source-dest-check': (n) => n.SourceDestCheck,
  status: (n) => (n.Attachment ? 'in-use' : 'available'),
  'subnet-id': (n) => n.SubnetId,
  'vpc-id': (n) => n.VpcId,
};

async function describeNetworkInterfaces(input: DescribeNetworkInterfacesRequest, ctx: RequestContext): Promise<DescribeNetworkInterfacesResult> {
  checkFilterNames(input.Filters, FIELDS as FilterFields<never>);
  const ids = input.NetworkInterfaceIds ?? [];
  if (ids.length > 0 && input.MaxResults !== undefined) {
    throw invalidParameterCombination('The parameter NetworkInterfaceIds cannot be used with the parameter MaxResults');
  }
  // All of them as the store's shared records, read only (presenting copies what it shows).
  const all = ids.length > 0 ? await loadInterfaces(ctx, ids) : await ctx.store.listShared<NetworkInterfaceRecord>(ENI_KIND, ctx.scope);
  const candidates = amongCandidates(all, await tagCandidates(ctx.store, ctx.scope, input.Filters), (n) => n.NetworkInterfaceId);
  const records = applyRecordFilters(candidates, input.Filters, RECORD_FIELDS);
  sortByKey(records, (e) => e.NetworkInterfaceId);
  const dns = dnsNameIn(ctx);
  const page = await presentedPage(
    records,
    { maxResults: input.MaxResults, nextToken: input.NextToken, min: 5, max: 1000, key: (r) => r.NetworkInterfaceId },
    async (recs) => {
      const tags = await tagSets(ctx, recs.map((r) => r.NetworkInterfaceId));
      const presented = recs.map((r) => presentNetworkInterface(r, tags.get(r.NetworkInterfaceId) ?? [], dns));
      return applyFilters(presented, input.Filters, FIELDS, (n) => tags.get(n.NetworkInterfaceId!));
    },
  );
  return { NetworkInterfaces: page.items, NextToken: page.nextToken };
}

export const handlers = {
  CreateNetworkInterface: createNetworkInterface,
  DescribeNetworkInterfaces: describeNetworkInterfaces,
  DeleteNetworkInterface: deleteNetworkInterface,
};
