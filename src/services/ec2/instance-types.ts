/** DescribeInstanceTypes, DescribeInstanceTypeOfferings. */
import type {
  DescribeInstanceTypeOfferingsRequest,
  DescribeInstanceTypeOfferingsResult,
  DescribeInstanceTypesRequest,
  DescribeInstanceTypesResult,
  InstanceTypeInfo,
  InstanceTypeOffering,
} from '@aws-sdk/client-ec2';
import { instanceType, instanceTypes, zonesOffering } from '../../catalog/instance-types.js';
import { regionInfo } from '../../catalog/regions.js';
import { ApiError, invalidParameterValue } from '../../protocol/errors.js';
import type { Handler, RequestContext } from '../context.js';
import { applyFilters, type FilterFields } from './common/filters.js';
import { paginate } from './common/pagination.js';

/** A speed as written either way: 3 GHz matches `3` and `3.0`. */
const clockSpeeds = (ghz: number | undefined) => (ghz === undefined ? undefined : [String(ghz), ghz.toFixed(1)]);

/** The filters EC2 documents for DescribeInstanceTypes, each reading its member of InstanceTypeInfo. */
const typeFields: FilterFields<InstanceTypeInfo> = {
  'auto-recovery-supported': (t) => t.AutoRecoverySupported,
  'bare-metal': (t) => t.BareMetal,
  'burstable-performance-supported': (t) => t.BurstablePerformanceSupported,
  'current-generation': (t) => t.CurrentGeneration,
  'dedicated-hosts-supported': (t) => t.DedicatedHostsSupported,
  'ebs-info.attachment-limit-type': (t) => t.EbsInfo?.AttachmentLimitType,
  'ebs-info.maximum-ebs-attachments': (t) => t.EbsInfo?.MaximumEbsAttachments,
  'ebs-info.ebs-optimized-info.baseline-bandwidth-in-mbps': (t) => t.EbsInfo?.EbsOptimizedInfo?.BaselineBandwidthInMbps,
  'ebs-info.ebs-optimized-info.baseline-iops': (t) => t.EbsInfo?.EbsOptimizedInfo?.BaselineIops,
  'ebs-info.ebs-optimized-info.baseline-throughput-in-mbps': (t) => t.EbsInfo?.EbsOptimizedInfo?.BaselineThroughputInMBps,
  'ebs-info.ebs-optimized-info.maximum-bandwidth-in-mbps': (t) => t.EbsInfo?.EbsOptimizedInfo?.MaximumBandwidthInMbps,
  'ebs-info.ebs-optimized-info.maximum-iops': (t) => t.EbsInfo?.EbsOptimizedInfo?.MaximumIops,
  'ebs-info.ebs-optimized-info.maximum-throughput-in-mbps': (t) => t.EbsInfo?.EbsOptimizedInfo?.MaximumThroughputInMBps,
  'ebs-info.ebs-optimized-support': (t) => t.EbsInfo?.EbsOptimizedSupport,
  'ebs-info.encryption-support': (t) => t.EbsInfo?.EncryptionSupport,
  'ebs-info.nvme-support': (t) => t.EbsInfo?.NvmeSupport,
  'free-tier-eligible': (t) => t.FreeTierEligible,
  'hibernation-supported': (t) => t.HibernationSupported,
  hypervisor: (t) => t.Hypervisor,
  'instance-storage-info.disk.count': (t) => t.InstanceStorageInfo?.Disks?.map((d) => d.Count),
  'instance-storage-info.disk.size-in-gb': (t) => t.InstanceStorageInfo?.Disks?.map((d) => d.SizeInGB),
  'instance-storage-info.disk.type': (t) => t.InstanceStorageInfo?.Disks?.map((d) => d.Type),
  'instance-storage-info.encryption-support': (t) => t.InstanceStorageInfo?.EncryptionSupport,
  'instance-storage-info.nvme-support': (t) => t.InstanceStorageInfo?.NvmeSupport,
  'instance-storage-info.total-size-in-gb': (t) => t.InstanceStorageInfo?.TotalSizeInGB,
  'instance-storage-supported': (t) => t.InstanceStorageSupported,
  'instance-type': (t) => t.InstanceType,
  'memory-info.size-in-mib': (t) => t.MemoryInfo?.SizeInMiB,
  'network-info.bandwidth-weightings': (t) => t.NetworkInfo?.BandwidthWeightings,
  'network-info.efa-info.maximum-efa-interfaces': (t) => t.NetworkInfo?.EfaInfo?.MaximumEfaInterfaces,
  'network-info.efa-supported': (t) => t.NetworkInfo?.EfaSupported,
  'network-info.ena-support': (t) => t.NetworkInfo?.EnaSupport,
  'network-info.flexible-ena-queues-support': (t) => t.NetworkInfo?.FlexibleEnaQueuesSupport,
  'network-info.encryption-in-transit-supported': (t) => t.NetworkInfo?.EncryptionInTransitSupported,
  'network-info.ipv4-addresses-per-interface': (t) => t.NetworkInfo?.Ipv4AddressesPerInterface,
  'network-info.ipv6-addresses-per-interface': (t) => t.NetworkInfo?.Ipv6AddressesPerInterface,
  'network-info.ipv6-supported': (t) => t.NetworkInfo?.Ipv6Supported,
  'network-info.maximum-network-cards': (t) => t.NetworkInfo?.MaximumNetworkCards,
  'network-info.maximum-network-interfaces': (t) => t.NetworkInfo?.MaximumNetworkInterfaces,
  'network-info.network-performance': (t) => t.NetworkInfo?.NetworkPerformance,
  'nitro-enclaves-support': (t) => t.NitroEnclavesSupport,
  'nitro-tpm-support': (t) => t.NitroTpmSupport,
  'nitro-tpm-info.supported-versions': (t) => t.NitroTpmInfo?.SupportedVersions,
  'processor-info.supported-architecture': (t) => t.ProcessorInfo?.SupportedArchitectures,
  'processor-info.sustained-clock-speed-in-ghz': (t) => clockSpeeds(t.ProcessorInfo?.SustainedClockSpeedInGhz),
  'processor-info.supported-features': (t) => t.ProcessorInfo?.SupportedFeatures,
  'reboot-migration-support': (t) => t.RebootMigrationSupport,
  'supported-boot-mode': (t) => t.SupportedBootModes,
  'supported-root-device-type': (t) => t.SupportedRootDeviceTypes,
  'supported-usage-class': (t) => t.SupportedUsageClasses,
  'supported-virtualization-type': (t) => t.SupportedVirtualizationTypes,
  'vcpu-info.default-cores': (t) => t.VCpuInfo?.DefaultCores,
  'vcpu-info.default-threads-per-core': (t) => t.VCpuInfo?.DefaultThreadsPerCore,
  'vcpu-info.default-vcpus': (t) => t.VCpuInfo?.DefaultVCpus,
  'vcpu-info.valid-cores': (t) => t.VCpuInfo?.ValidCores,
  'vcpu-info.valid-threads-per-core': (t) => t.VCpuInfo?.ValidThreadsPerCore,
};

const offeringFields: FilterFields<InstanceTypeOffering> = {
  'instance-type': (o) => o.InstanceType,
  location: (o) => o.Location,
};

const LOCATION_TYPES = ['region', 'availability-zone', 'availability-zone-id', 'outpost'] as const;
type LocationType = (typeof LOCATION_TYPES)[number];

function requestedTypes(names: readonly string[]): InstanceTypeInfo[] {
  const unknown = names.filter((n) => !instanceType(n));
  if (unknown.length) {
    throw new ApiError('InvalidInstanceType', `The following supplied instance types do not exist: [${unknown.join(', ')}]`);
  }
  // Name order, without duplicates, as the catalogue lists them.
  const wanted = new Set(names);
  return instanceTypes().filter((t) => wanted.has(t.InstanceType!));
}

/** Offerings are fixed facts: computed once per region and location type. */
const offeringsCache = new Map<string, readonly InstanceTypeOffering[]>();

/** Every offering of the request's region for a location type, in instance type then location order. */
function offerings(ctx: RequestContext, locationType: LocationType): readonly InstanceTypeOffering[] {
  const cacheKey = `${ctx.region}/${locationType}`;
  let list = offeringsCache.get(cacheKey);
  if (!list) offeringsCache.set(cacheKey, (list = computeOfferings(ctx.region, locationType)));
  return list;
}

function computeOfferings(regionName: string, locationType: LocationType): InstanceTypeOffering[] {
  const region = regionInfo(regionName);
  const types = instanceTypes();
  if (locationType === 'outpost' || !region) return [];
  if (locationType === 'region') {
    return types.map((t) => ({ InstanceType: t.InstanceType, LocationType: 'region', Location: region.name }));
  }
  return types.flatMap((t) =>
    zonesOffering(t.InstanceType!, region.zones)
      .map((z) => (locationType === 'availability-zone' ? z.name : z.id))
      .sort()
      .map((location) => ({ InstanceType: t.InstanceType, LocationType: locationType, Location: location })),
  );
}

export const handlers: Record<string, Handler> = {
  DescribeInstanceTypes(input: DescribeInstanceTypesRequest): DescribeInstanceTypesResult {
    const candidates = input.InstanceTypes?.length ? requestedTypes(input.InstanceTypes) : instanceTypes();
    const matching = applyFilters(candidates, input.Filters, typeFields);
    const page = paginate(matching, {
      maxResults: input.MaxResults,
      nextToken: input.NextToken,
      min: 5,
      max: 100,
      defaultSize: 100,
      key: (t) => t.InstanceType!,
    });
    return { InstanceTypes: page.items, NextToken: page.nextToken };
  },

  DescribeInstanceTypeOfferings(input: DescribeInstanceTypeOfferingsRequest, ctx): DescribeInstanceTypeOfferingsResult {
    const locationType = (input.LocationType ?? 'region') as LocationType;
    if (!LOCATION_TYPES.includes(locationType)) {
      throw invalidParameterValue(
        `Value ( ${locationType} ) for parameter locationType is invalid. Valid values are: ${LOCATION_TYPES.join(', ')}`,
      );
    }
    const matching = applyFilters(offerings(ctx, locationType), input.Filters, offeringFields);
    const page = paginate(matching, {
      maxResults: input.MaxResults,
      nextToken: input.NextToken,
      min: 5,
      max: 1000,
      defaultSize: 1000,
      // Instance type names hold no NUL, so this key sorts as (type, location).
      key: (o) => `${o.InstanceType}\u0000${o.Location}`,
    });
    return { InstanceTypeOfferings: page.items, NextToken: page.nextToken };
  },
};
