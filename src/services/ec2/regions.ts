/** DescribeRegions, DescribeAvailabilityZones. */
import type {
  AvailabilityZone,
  DescribeAvailabilityZonesRequest,
  DescribeAvailabilityZonesResult,
  DescribeRegionsRequest,
  DescribeRegionsResult,
  Region,
} from '@aws-sdk/client-ec2';
import { REGIONS, regionInfo, type RegionInfo } from '../../catalog/regions.js';
import { invalidParameterValue } from '../../protocol/errors.js';
import type { Handler } from '../context.js';
import { applyFilters, type FilterFields } from './common/filters.js';

const regionFields: FilterFields<Region> = {
  endpoint: (r) => r.Endpoint,
  'region-name': (r) => r.RegionName,
  'opt-in-status': (r) => r.OptInStatus,
};

const zoneFields: FilterFields<AvailabilityZone> = {
  'group-long-name': (z) => z.GroupLongName,
  'group-name': (z) => z.GroupName,
  message: (z) => z.Messages?.map((m) => m.Message),
  'opt-in-status': (z) => z.OptInStatus,
  'parent-zone-id': (z) => z.ParentZoneId,
  'parent-zone-name': (z) => z.ParentZoneName,
  'region-name': (z) => z.RegionName,
  state: (z) => z.State,
  'zone-id': (z) => z.ZoneId,
  'zone-name': (z) => z.ZoneName,
  'zone-type': (z) => z.ZoneType,
};

const describeRegion = (r: RegionInfo): Region => ({
  RegionName: r.name,
  Endpoint: `ec2.${r.name}.amazonaws.com`,
  OptInStatus: r.optIn ? 'not-opted-in' : 'opt-in-not-required',
});

/** An availability zone as EC2 describes it; its zone group is the region's first (`us-east-1-zg-1`). */
const describeZone = (r: RegionInfo, zone: { name: string; id: string }): AvailabilityZone => ({
  ZoneName: zone.name,
  ZoneId: zone.id,
  RegionName: r.name,
  State: 'available',
  OptInStatus: 'opt-in-not-required',
  Messages: [],
  GroupName: `${r.name}-zg-1`,
  GroupLongName: `${r.longName} 1`,
  NetworkBorderGroup: r.name,
  ZoneType: 'availability-zone',
});

export const handlers: Record<string, Handler> = {
  DescribeRegions(input: DescribeRegionsRequest): DescribeRegionsResult {
    const named = input.RegionNames ?? [];
    const unknown = named.filter((n) => !regionInfo(n));
    if (unknown.length) throw invalidParameterValue(`Invalid region: [${unknown.join(', ')}]`);
    // A region asked for by name is described whether or not the account enabled it.
    const selected = named.length
      ? REGIONS.filter((r) => named.includes(r.name))
      : REGIONS.filter((r) => input.AllRegions || !r.optIn);
    return { Regions: applyFilters(selected.map(describeRegion), input.Filters, regionFields) };
  },

  DescribeAvailabilityZones(input: DescribeAvailabilityZonesRequest, ctx): DescribeAvailabilityZonesResult {
    const region = regionInfo(ctx.region);
    // Only availability zones exist here (no Local or Wavelength Zones), so AllAvailabilityZones adds none.
    const zones = region ? region.zones.map((z) => describeZone(region, z)) : [];
    const names = input.ZoneNames ?? [];
    const ids = input.ZoneIds ?? [];
    const unknownNames = names.filter((n) => !zones.some((z) => z.ZoneName === n));
    if (unknownNames.length) throw invalidParameterValue(`Invalid availability zone: [${unknownNames.join(', ')}]`);
    const unknownIds = ids.filter((id) => !zones.some((z) => z.ZoneId === id));
    if (unknownIds.length) throw invalidParameterValue(`Invalid availability zone ID: [${unknownIds.join(', ')}]`);
    const selected =
      names.length || ids.length ? zones.filter((z) => names.includes(z.ZoneName!) || ids.includes(z.ZoneId!)) : zones;
    return { AvailabilityZones: applyFilters(selected, input.Filters, zoneFields) };
  },
};
