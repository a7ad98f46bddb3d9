/** DescribeInstances: reservations of the caller's instances, filtered and paged. */
import type { DescribeInstancesRequest, DescribeInstancesResult, Instance, Reservation } from '@aws-sdk/client-ec2';
import { invalidParameterCombination } from '../../../protocol/errors.js';
import type { Scope, Tag } from '../../../store/store.js';
import type { RequestContext } from '../../context.js';
import { applyFilters, applyRecordFilters, checkFilterNames, isPattern, type Filter, type FilterFields } from '../common/filters.js';
import { narrowed, tagCandidates } from '../common/tag-candidates.js';
import { checkMaxResults, decodeToken, encodeToken, presentedPage, sortByKey, type Page } from '../common/pagination.js';
import { tagSets } from '../common/tagging.js';
import { allInstances, isVisible, readInstances } from './lookup.js';
import { presentInstance } from './present.js';
import { ENI_KIND, primaryAddress, type NetworkInterfaceRecord } from '../network-interfaces/record.js';
import { INSTANCE_KIND, privateDnsName, STATE_CODES, type InstanceRecord } from './record.js';

/**
 * An instance as filters see it: the stored record, its tags and its presented form. The presented
 * form is built only when a filter asks for it; the answer presents each instance again as it is
 * written (see PresentedInstances), so a large answer never holds every presented instance at once.
 */
export class InstanceView {
  private presented?: Instance;

  constructor(
    private readonly scope: Scope,
    readonly rec: InstanceRecord,
    readonly tags: Tag[],
    private readonly enis: readonly NetworkInterfaceRecord[],
  ) {}

  get inst(): Instance {
    return (this.presented ??= this.present());
  }

  /** The presented form, without keeping it. */
  present(): Instance {
    return this.presented ?? presentInstance(this.scope, this.rec, this.tags, this.enis);
  }
}

/**
 * A reservation's instances, presented one by one as the XML serializer iterates them (it walks
 * any iterable list), so that each is garbage as soon as it is written.
 */
class PresentedInstances implements Iterable<Instance> {
  constructor(private readonly views: readonly InstanceView[]) {}

  *[Symbol.iterator](): Iterator<Instance> {
    for (const v of this.views) yield v.present();
  }

  toJSON(): Instance[] {
    return [...this];
  }
}

const nics = (v: InstanceView) => v.inst.NetworkInterfaces ?? [];
const groups = (v: InstanceView) => v.inst.SecurityGroups ?? [];
const devices = (v: InstanceView) => v.inst.BlockDeviceMappings ?? [];

/** What a terminated instance no longer shows (its subnet, VPC and private address). */
const unlessGone = <T>(r: InstanceRecord, value: T) => (r.state === 'terminated' ? undefined : value);
/** The block devices an instance shows: none once it is terminated. */
const attachedDevices = (r: InstanceRecord) => (r.state === 'terminated' ? [] : r.BlockDeviceMappings);

/**
 * The filters that the stored record answers as the presented instance would: applied to every
 * candidate first (applyRecordFilters), so that only the instances they keep have their tags and
 * interfaces read (instance-state-name=pending over 5,000 instances presented all 5,000).
 */
const RECORD_FILTERS: FilterFields<InstanceRecord> = {
  'architecture': (r) => r.Architecture,
  'availability-zone': (r) => r.AvailabilityZone,
  'block-device-mapping.delete-on-termination': (r) => attachedDevices(r).map((d) => d.DeleteOnTermination),
  'block-device-mapping.device-name': (r) => attachedDevices(r).map((d) => d.DeviceName),
  'block-device-mapping.status': (r) => attachedDevices(r).map(() => 'attached'),
  'block-device-mapping.volume-id': (r) => attachedDevices(r).map((d) => d.VolumeId),
  'client-token': (r) => r.ClientToken ?? '',
  'ebs-optimized': (r) => r.EbsOptimized,
  'ena-support': (r) => r.EnaSupport,
  'hypervisor': (r) => r.Hypervisor,
  'iam-instance-profile.arn': (r) => r.IamInstanceProfile?.Arn,
  'image-id': (r) => r.ImageId,
  'instance-id': (r) => r.InstanceId,
  'instance-state-code': (r) => STATE_CODES[r.state],
  'instance-state-name': (r) => r.state,
  'instance-type': (r) => r.InstanceType,
  'kernel-id': (r) => r.KernelId,
  'key-name': (r) => r.KeyName,
  'launch-index': (r) => r.AmiLaunchIndex,
  'launch-time': (r) => r.LaunchTime,
  'metadata-options.http-tokens': (r) => r.MetadataOptions?.HttpTokens,
  'monitoring-state': (r) => r.Monitoring,
  'owner-id': (r) => r.OwnerId,
  'placement-group-name': (r) => r.PlacementGroupName ?? '',
  'platform': (r) => r.Platform,
  'platform-details': (r) => r.PlatformDetails,
  'private-ip-address': (r) => unlessGone(r, r.PrivateIpAddress),
  'ramdisk-id': (r) => r.RamdiskId,
  'reason': (r) => r.StateTransitionReason,
  'reservation-id': (r) => r.ReservationId,
  'root-device-name': (r) => r.RootDeviceName,
  'root-device-type': (r) => r.RootDeviceType,
  'state-reason-code': (r) => r.StateReason?.Code,
  'subnet-id': (r) => unlessGone(r, r.SubnetId),
  'tenancy': (r) => r.Tenancy,
  'usage-operation': (r) => r.UsageOperation,
  'virtualization-type': (r) => r.VirtualizationType,
  'vpc-id': (r) => unlessGone(r, r.VpcId),
};

/** The record filters that need the region: the private DNS name is made from it. */
const regionalFilters = (region: string): FilterFields<InstanceRecord> => ({
  'private-dns-name': (r) => (r.state === 'terminated' ? '' : privateDnsName(region, r)),
});

/** An instance's record with its attached interfaces' records, the primary first. */
interface WiredRecord {
  rec: InstanceRecord;
  enis: readonly NetworkInterfaceRecord[];
}

/** The interfaces a presented instance shows: none once it is terminated. */
const shown = (w: WiredRecord) => (w.rec.state === 'terminated' ? [] : w.enis);
/** The instance's primary interface, whose groups, addresses and source/dest check it shows. */
const primaryOf = (w: WiredRecord) => shown(w).find((e) => e.NetworkInterfaceId === w.rec.NetworkInterfaceId);
const instanceGroups = (w: WiredRecord) => primaryOf(w)?.Groups ?? [];

/**
 * The filters that the records of an instance's interfaces answer as the presented instance would
 * (see RECORD_FILTERS): a security group or subnet that few instances use no longer presents all.
 */
const INTERFACE_FILTERS: FilterFields<WiredRecord> = {
  'group-id': (w) => instanceGroups(w).map((g) => g.GroupId),
  'group-name': (w) => instanceGroups(w).map((g) => g.GroupName),
  'instance.group-id': (w) => instanceGroups(w).map((g) => g.GroupId),
  'instance.group-name': (w) => instanceGroups(w).map((g) => g.GroupName),
  'ip-address': (w) => { const p = primaryOf(w); return p && primaryAddress(p).association?.PublicIp; },
  'ipv6-address': (w) => primaryOf(w)?.Ipv6Addresses[0],
  'network-interface.addresses.association.public-ip': (w) => shown(w).flatMap((n) => n.PrivateIpAddresses.map((a) => a.association?.PublicIp)),
  'network-interface.association.public-ip': (w) => shown(w).map((n) => primaryAddress(n).association?.PublicIp),
  'network-interface.addresses.primary': (w) => shown(w).flatMap((n) => n.PrivateIpAddresses.map((a) => a.Primary)),
  'network-interface.addresses.private-ip-address': (w) => shown(w).flatMap((n) => n.PrivateIpAddresses.map((a) => a.PrivateIpAddress)),
  'network-interface.attachment.attachment-id': (w) => shown(w).map((n) => n.Attachment?.AttachmentId),
  'network-interface.attachment.delete-on-termination': (w) => shown(w).map((n) => n.Attachment?.DeleteOnTermination),
  'network-interface.attachment.device-index': (w) => shown(w).map((n) => n.Attachment?.DeviceIndex),
  'network-interface.description': (w) => shown(w).map((n) => n.Description),
  'network-interface.group-id': (w) => shown(w).flatMap((n) => n.Groups.map((g) => g.GroupId)),
  'network-interface.group-name': (w) => shown(w).flatMap((n) => n.Groups.map((g) => g.GroupName)),
  'network-interface.ipv6-addresses.ipv6-address': (w) => shown(w).flatMap((n) => n.Ipv6Addresses),
  'network-interface.mac-address': (w) => shown(w).map((n) => n.MacAddress),
  'network-interface.network-interface-id': (w) => shown(w).map((n) => n.NetworkInterfaceId),
  'network-interface.owner-id': (w) => shown(w).map((n) => n.OwnerId),
  'network-interface.private-ip-address': (w) => shown(w).map((n) => primaryAddress(n).PrivateIpAddress),
  'network-interface.source-dest-check': (w) => shown(w).map((n) => n.SourceDestCheck),
  'network-interface.subnet-id': (w) => shown(w).map((n) => n.SubnetId),
  'network-interface.vpc-id': (w) => shown(w).map((n) => n.VpcId),
  'source-dest-check': (w) => primaryOf(w)?.SourceDestCheck,
};

const onRecord = Object.fromEntries(
  Object.entries(RECORD_FILTERS).map(([name, field]) => [name, (v: InstanceView) => field(v.rec)]),
) as FilterFields<InstanceView>;

export const INSTANCE_FILTERS: FilterFields<InstanceView> = {
  ...onRecord,
  'affinity': () => undefined,
  'block-device-mapping.attach-time': (v) => devices(v).map((d) => d.Ebs?.AttachTime?.toISOString()),
  'block-device-mapping.delete-on-termination': (v) => devices(v).map((d) => d.Ebs?.DeleteOnTermination),
  'block-device-mapping.device-name': (v) => devices(v).map((d) => d.DeviceName),
  'block-device-mapping.status': (v) => devices(v).map((d) => d.Ebs?.Status),
  'block-device-mapping.volume-id': (v) => devices(v).map((d) => d.Ebs?.VolumeId),
  'boot-mode': (v) => v.inst.BootMode,
  'client-token': (v) => v.inst.ClientToken,
  'cpu-options.core-count': (v) => v.inst.CpuOptions?.CoreCount,
  'cpu-options.threads-per-core': (v) => v.inst.CpuOptions?.ThreadsPerCore,
  'current-instance-boot-mode': (v) => v.inst.CurrentInstanceBootMode,
  'dns-name': (v) => v.inst.PublicDnsName,
  'ebs-optimized': (v) => v.inst.EbsOptimized,
  'ena-support': (v) => v.inst.EnaSupport,
  'enclave-options.enabled': (v) => v.inst.EnclaveOptions?.Enabled,
  'group-id': (v) => groups(v).map((g) => g.GroupId),
  'group-name': (v) => groups(v).map((g) => g.GroupName),
  'hibernation-options.configured': (v) => v.inst.HibernationOptions?.Configured,
  'host-id': () => undefined,
  'hypervisor': (v) => v.inst.Hypervisor,
  'iam-instance-profile.arn': (v) => v.inst.IamInstanceProfile?.Arn,
  'iam-instance-profile.id': (v) => v.inst.IamInstanceProfile?.Id,
  'instance-lifecycle': (v) => v.inst.InstanceLifecycle,
  'instance.group-id': (v) => groups(v).map((g) => g.GroupId),
  'instance.group-name': (v) => groups(v).map((g) => g.GroupName),
  'ip-address': (v) => v.inst.PublicIpAddress,
  'ipv6-address': (v) => v.inst.Ipv6Address,
  'kernel-id': (v) => v.inst.KernelId,
  'launch-index': (v) => v.inst.AmiLaunchIndex,
  'metadata-options.http-endpoint': (v) => v.inst.MetadataOptions?.HttpEndpoint,
  'metadata-options.http-protocol-ipv6': (v) => v.inst.MetadataOptions?.HttpProtocolIpv6,
  'metadata-options.http-put-response-hop-limit': (v) => v.inst.MetadataOptions?.HttpPutResponseHopLimit,
  'metadata-options.http-tokens': (v) => v.inst.MetadataOptions?.HttpTokens,
  'metadata-options.instance-metadata-tags': (v) => v.inst.MetadataOptions?.InstanceMetadataTags,
  'metadata-options.state': (v) => v.inst.MetadataOptions?.State,
  'monitoring-state': (v) => v.inst.Monitoring?.State,
  'network-interface.addresses.association.public-ip': (v) =>
    nics(v).flatMap((n) => (n.PrivateIpAddresses ?? []).map((a) => a.Association?.PublicIp)),
  'network-interface.addresses.primary': (v) => nics(v).flatMap((n) => (n.PrivateIpAddresses ?? []).map((a) => a.Primary)),
  'network-interface.addresses.private-ip-address': (v) =>
    nics(v).flatMap((n) => (n.PrivateIpAddresses ?? []).map((a) => a.PrivateIpAddress)),
  'network-interface.association.public-ip': (v) => nics(v).map((n) => n.Association?.PublicIp),
  'network-interface.association.ip-owner-id': (v) => nics(v).map((n) => n.Association?.IpOwnerId),
  'network-interface.attachment.attach-time': (v) => nics(v).map((n) => n.Attachment?.AttachTime?.toISOString()),
  'network-interface.attachment.attachment-id': (v) => nics(v).map((n) => n.Attachment?.AttachmentId),
  'network-interface.attachment.delete-on-termination': (v) => nics(v).map((n) => n.Attachment?.DeleteOnTermination),
  'network-interface.attachment.device-index': (v) => nics(v).map((n) => n.Attachment?.DeviceIndex),
  'network-interface.attachment.instance-id': (v) => nics(v).map(() => v.inst.InstanceId),
  'network-interface.attachment.instance-owner-id': (v) => nics(v).map(() => v.rec.OwnerId),
  'network-interface.attachment.status': (v) => nics(v).map((n) => n.Attachment?.Status),
  'network-interface.description': (v) => nics(v).map((n) => n.Description),
  'network-interface.group-id': (v) => nics(v).flatMap((n) => (n.Groups ?? []).map((g) => g.GroupId)),
  'network-interface.group-name': (v) => nics(v).flatMap((n) => (n.Groups ?? []).map((g) => g.GroupName)),
  'network-interface.ipv6-addresses.ipv6-address': (v) => nics(v).flatMap((n) => (n.Ipv6Addresses ?? []).map((a) => a.Ipv6Address)),
  'network-interface.mac-address': (v) => nics(v).map((n) => n.MacAddress),
  'network-interface.network-interface-id': (v) => nics(v).map((n) => n.NetworkInterfaceId),
  'network-interface.owner-id': (v) => nics(v).map((n) => n.OwnerId),
  'network-interface.private-dns-name': (v) => nics(v).map((n) => n.PrivateDnsName),
  'network-interface.private-ip-address': (v) => nics(v).map((n) => n.PrivateIpAddress),
  'network-interface.source-dest-check': (v) => nics(v).map((n) => n.SourceDestCheck),
  'network-interface.status': (v) => nics(v).map((n) => n.Status),
  'network-interface.subnet-id': (v) => nics(v).map((n) => n.SubnetId),
  'network-interface.vpc-id': (v) => nics(v).map((n) => n.VpcId),
  'placement-group-name': (v) => v.inst.Placement?.GroupName,
  'platform': (v) => v.inst.Platform,
  'platform-details': (v) => v.inst.PlatformDetails,
  'private-dns-name': (v) => v.inst.PrivateDnsName,
  'product-code': () => undefined,
  'ramdisk-id': (v) => v.inst.RamdiskId,
  'reason': (v) => v.inst.StateTransitionReason,
  'requester-id': () => undefined,
  'root-device-name': (v) => v.inst.RootDeviceName,
  'root-device-type': (v) => v.inst.RootDeviceType,
  'source-dest-check': (v) => v.inst.SourceDestCheck,
  'state-reason-code': (v) => v.inst.StateReason?.Code,
  'state-reason-message': (v) => v.inst.StateReason?.Message,
  'tenancy': (v) => v.inst.Placement?.Tenancy,
  'usage-operation': (v) => v.inst.UsageOperation,
  'virtualization-type': (v) => v.inst.VirtualizationType,
};

/** An instance's attached interfaces, read in one batch for many instances (interfacesOf). */
type InterfacesOf = (rec: InstanceRecord) => NetworkInterfaceRecord[];

/**
 * Records of the given ids (all visible ones when none are given) that the indexes and the record
 * filters keep, in id order, and their interfaces when the interface filters read them already.
 */
async function instanceRecords(
  ctx: RequestContext, ids: readonly string[] | undefined, filters?: readonly Filter[],
): Promise<{ recs: InstanceRecord[]; enis?: InterfacesOf }> {
  let recs: InstanceRecord[];
  if (ids?.length) recs = await readInstances(ctx, ids);
  else {
    const candidates = await indexedCandidates(ctx, filters);
    recs = candidates ? await loadCandidates(ctx, candidates) : await allInstances(ctx);
  }
  recs = applyRecordFilters(recs, filters, RECORD_FILTERS);
  recs = applyRecordFilters(recs, filters, regionalFilters(ctx.region));
  let enis: InterfacesOf | undefined;
  if (filters?.some((f) => Object.hasOwn(INTERFACE_FILTERS, f.Name ?? ''))) {
    const read = await interfacesOf(ctx, recs);
    recs = applyRecordFilters(recs.map((rec) => ({ rec, enis: read(rec) })), filters, INTERFACE_FILTERS).map((w) => w.rec);
    enis = read;
  }
  return { recs: sortByKey(recs, (r) => r.InstanceId), enis };
}

/** Records presented with their tags and interfaces, each read in one batch (the interfaces unless given). */
async function viewsOf(ctx: RequestContext, recs: readonly InstanceRecord[], read?: InterfacesOf): Promise<InstanceView[]> {
  const tags = await tagSets(ctx, recs.map((r) => r.InstanceId));
  const enis = read ?? await interfacesOf(ctx, recs);
  return recs.map((rec) => new InstanceView(ctx.scope, rec, tags.get(rec.InstanceId) ?? [], enis(rec)));
}

/**
 * One page of every visible instance, read from the store as a page: without ids or filters,
 * each page costs its own size, not the fleet's (a paginator over N instances reads N, not N²/page).
 */
async function unfilteredPage(ctx: RequestContext, size: number, nextToken: string | undefined): Promise<Page<InstanceView>> {
  let after = nextToken ? decodeToken(nextToken) : undefined;
  const recs: InstanceRecord[] = [];
  let more = false;
  // Hidden (long-terminated, not yet forgotten) instances are skipped; a page is read until full.
  for (;;) {
    const chunk = await ctx.store.listAfter<InstanceRecord>(INSTANCE_KIND, ctx.scope, after, size + 1);
    for (const r of chunk) {
      if (!isVisible(ctx, r)) continue;
      if (recs.length === size) {
        more = true;
        break;
      }
      recs.push(r);
    }
    if (more || chunk.length < size + 1) break;
    after = chunk[chunk.length - 1]!.InstanceId;
  }
  const last = recs[recs.length - 1];
  return { items: await viewsOf(ctx, recs), nextToken: more && last ? encodeToken(last.InstanceId) : undefined };
}

/**
 * Whether `n` records of a kind are better read from the store's shared records of the whole kind
 * than by id: when they are most of the scope's (a describe of all), that scan costs about half of
 * looking each one up.
 */
const mostOfKind = async (ctx: RequestContext, kind: string, n: number) =>
  n > 100 && n * 2 > (await ctx.store.count(kind, ctx.scope));

/** The attached interfaces of many instances, read in one batch. */
async function interfacesOf(ctx: RequestContext, recs: readonly InstanceRecord[]): Promise<InterfacesOf> {
  const ids = recs.flatMap((r) => r.networkInterfaceIds);
  const all = await mostOfKind(ctx, ENI_KIND, ids.length)
    ? await ctx.store.listShared<NetworkInterfaceRecord>(ENI_KIND, ctx.scope)
    : await ctx.store.getManyShared<NetworkInterfaceRecord>(ENI_KIND, ctx.scope, ids);
  const byId = new Map(all.map((e) => [e.NetworkInterfaceId, e]));
  return (rec: InstanceRecord) => rec.networkInterfaceIds.flatMap((id) => byId.get(id) ?? []);
}

/**
 * The ids that filters on indexed attributes (tags, instance-id) narrow the answer to, or undefined
 * when none does: then every instance is a candidate. The filters still run on the candidates
 * afterwards, so this only saves reading instances that cannot match.
 */
async function indexedCandidates(ctx: RequestContext, filters: readonly Filter[] | undefined): Promise<Set<string> | undefined> {
  let ids = await tagCandidates(ctx.store, ctx.scope, filters);
  for (const f of filters ?? []) {
    if (f.Name === 'instance-id' && f.Values?.length && !f.Values.some(isPattern)) ids = narrowed(ids, f.Values);
  }
  return ids;
}

async function loadCandidates(ctx: RequestContext, ids: ReadonlySet<string>): Promise<InstanceRecord[]> {
  const instanceIds = [...ids].filter((id) => id.startsWith('i-'));
  if (await mostOfKind(ctx, INSTANCE_KIND, instanceIds.length)) return (await allInstances(ctx)).filter((r) => ids.has(r.InstanceId));
  const recs = await ctx.store.getManyShared<InstanceRecord>(INSTANCE_KIND, ctx.scope, instanceIds);
  return recs.filter((r) => isVisible(ctx, r));
}

export async function describeInstances(input: DescribeInstancesRequest, ctx: RequestContext): Promise<DescribeInstancesResult> {
  if (input.InstanceIds?.length && input.MaxResults !== undefined) {
    throw invalidParameterCombination('The parameter instancesSet cannot be used with the parameter maxResults');
  }
  checkFilterNames(input.Filters, INSTANCE_FILTERS as FilterFields<never>);
  let page: Page<InstanceView>;
  if (!input.InstanceIds?.length && !input.Filters?.length && input.MaxResults !== undefined) {
    checkMaxResults(input.MaxResults, 5, 1000);
    page = await unfilteredPage(ctx, input.MaxResults, input.NextToken || undefined);
  } else {
    const { recs, enis } = await instanceRecords(ctx, input.InstanceIds, input.Filters);
    page = await presentedPage(
      recs,
      { maxResults: input.MaxResults, nextToken: input.NextToken, min: 5, max: 1000, key: (r) => r.InstanceId },
      async (pageRecs) => applyFilters(await viewsOf(ctx, pageRecs, enis), input.Filters, INSTANCE_FILTERS, (v) => v.tags),
    );
  }
  return { Reservations: groupByReservation(page.items), NextToken: page.nextToken };
}

/** Reservations in order of their first instance, each with its instances in launch order. */
function groupByReservation(views: readonly InstanceView[]): Reservation[] {
  const byId = new Map<string, { first: InstanceRecord; views: InstanceView[] }>();
  for (const v of views) {
    const r = byId.get(v.rec.ReservationId);
    if (r) r.views.push(v);
    else byId.set(v.rec.ReservationId, { first: v.rec, views: [v] });
  }
  return [...byId.values()].map(({ first, views: members }) => {
    members.sort((a, b) => a.rec.AmiLaunchIndex - b.rec.AmiLaunchIndex);
    // The serializer iterates the list; the SDK's type says array.
    const instances = new PresentedInstances(members) as unknown as Instance[];
    return { ReservationId: first.ReservationId, OwnerId: first.OwnerId, Groups: [], Instances: instances };
  });
}
