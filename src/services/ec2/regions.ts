/** DescribeRegions, DescribeAvailabilityZones. */
import type {
  DescribeAvailabilityZonesRequest,
  DescribeAvailabilityZonesResult,
  DescribeRegionsRequest,
  DescribeRegionsResult,
  Region,
} from '@aws-sdk/client-ec2';
import { REGIONS } from '../../catalog/regions.js';
import type { Handler } from '../context.js';
import { applyFilters, type FilterFields } from './common/filters.js';

const regionFields: FilterFields<Region> = {
  endpoint: (r) => r.Endpoint,
  'region-name': (r) => r.RegionName,
  'opt-in-status': (r) => r.OptInStatus,
};

export const handlers: Record<string, Handler> = {
  DescribeRegions(input: DescribeRegionsRequest): DescribeRegionsResult {
    let regions: Region[] = REGIONS.filter((r) => input.AllRegions || !r.optIn).map((r) => ({
      RegionName: r.name,
      Endpoint: `ec2.${r.name}.amazonaws.com`,
      OptInStatus: r.optIn ? 'not-opted-in' : 'opt-in-not-required',
    }));
    if (input.RegionNames?.length) regions = regions.filter((r) => input.RegionNames!.includes(r.RegionName!));
    return { Regions: applyFilters(regions, input.Filters, regionFields) };
  },
};
export type { DescribeAvailabilityZonesRequest, DescribeAvailabilityZonesResult };
