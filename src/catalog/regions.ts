/**
 * AWS's commercial regions and their availability zones, with real zone IDs. `optIn` regions are
 * those that AWS launched after March 2019 and that an account must enable.
 *
 * Zone letters map to zone IDs differently in every AWS account; the mapping here is the one moto
 * uses (an account's real mapping), where its regions have an unusual one (fewer or more zones,
 * ids out of order).
 */
export interface ZoneInfo {
  /** e.g. `us-east-1a`. */
  name: string;
  /** e.g. `use1-az6`. */
  id: string;
}

export interface RegionInfo {
  name: string;
  /** The region's display name, e.g. `US East (N. Virginia)`. */
  longName: string;
  /** In letter order. */
  zones: readonly ZoneInfo[];
  optIn: boolean;
}

/** `letters[i]` is the zone whose id is `<zoneIdPrefix>-az<azNumbers[i]>`. */
const region = (
  name: string,
  longName: string,
  zoneIdPrefix: string,
  letters: string,
  azNumbers: number[],
  optIn = false,
): RegionInfo => ({
  name,
  longName,
  zones: [...letters].map((l, i) => ({ name: `${name}${l}`, id: `${zoneIdPrefix}-az${azNumbers[i]}` })),
  optIn,
});

export const REGIONS: readonly RegionInfo[] = [
  region('us-east-1', 'US East (N. Virginia)', 'use1', 'abcdef', [6, 1, 2, 4, 3, 5]),
  region('us-east-2', 'US East (Ohio)', 'use2', 'abc', [1, 2, 3]),
  region('us-west-1', 'US West (N. California)', 'usw1', 'bc', [3, 1]),
  region('us-west-2', 'US West (Oregon)', 'usw2', 'abcd', [2, 1, 3, 4]),
  region('af-south-1', 'Africa (Cape Town)', 'afs1', 'abc', [1, 2, 3], true),
  region('ap-east-1', 'Asia Pacific (Hong Kong)', 'ape1', 'abc', [1, 2, 3], true),
  region('ap-east-2', 'Asia Pacific (Taipei)', 'ape2', 'abc', [1, 2, 3], true),
  region('ap-south-1', 'Asia Pacific (Mumbai)', 'aps1', 'abc', [1, 3, 2]),
  region('ap-south-2', 'Asia Pacific (Hyderabad)', 'aps2', 'abc', [1, 2, 3], true),
  region('ap-southeast-1', 'Asia Pacific (Singapore)', 'apse1', 'abc', [1, 2, 3]),
  region('ap-southeast-2', 'Asia Pacific (Sydney)', 'apse2', 'abc', [1, 3, 2]),
  region('ap-southeast-3', 'Asia Pacific (Jakarta)', 'apse3', 'abc', [1, 2, 3], true),
  region('ap-southeast-4', 'Asia Pacific (Melbourne)', 'apse4', 'abc', [1, 2, 3], true),
  region('ap-southeast-5', 'Asia Pacific (Malaysia)', 'apse5', 'abc', [1, 2, 3], true),
  region('ap-southeast-6', 'Asia Pacific (New Zealand)', 'apse6', 'abc', [1, 2, 3], true),
  region('ap-southeast-7', 'Asia Pacific (Thailand)', 'apse7', 'abc', [1, 2, 3], true),
  region('ap-northeast-1', 'Asia Pacific (Tokyo)', 'apne1', 'acd', [4, 1, 2]),
  region('ap-northeast-2', 'Asia Pacific (Seoul)', 'apne2', 'abcd', [1, 2, 3, 4]),
  region('ap-northeast-3', 'Asia Pacific (Osaka)', 'apne3', 'abc', [1, 2, 3]),
  region('ca-central-1', 'Canada (Central)', 'cac1', 'abd', [1, 2, 4]),
  region('ca-west-1', 'Canada West (Calgary)', 'caw1', 'abc', [1, 2, 3], true),
  region('eu-central-1', 'Europe (Frankfurt)', 'euc1', 'abc', [1, 2, 3]),
  region('eu-central-2', 'Europe (Zurich)', 'euc2', 'abc', [1, 2, 3], true),
  region('eu-west-1', 'Europe (Ireland)', 'euw1', 'abc', [3, 1, 2]),
  region('eu-west-2', 'Europe (London)', 'euw2', 'abc', [2, 3, 1]),
  region('eu-west-3', 'Europe (Paris)', 'euw3', 'abc', [1, 2, 3]),
  region('eu-south-1', 'Europe (Milan)', 'eus1', 'abc', [1, 2, 3], true),
  region('eu-south-2', 'Europe (Spain)', 'eus2', 'abc', [1, 2, 3], true),
  region('eu-north-1', 'Europe (Stockholm)', 'eun1', 'abc', [1, 2, 3]),
  region('il-central-1', 'Israel (Tel Aviv)', 'ilc1', 'abc', [1, 2, 3], true),
  region('me-south-1', 'Middle East (Bahrain)', 'mes1', 'abc', [1, 2, 3], true),
  region('me-central-1', 'Middle East (UAE)', 'mec1', 'abc', [1, 2, 3], true),
  region('mx-central-1', 'Mexico (Central)', 'mxc1', 'abc', [1, 2, 3], true),
  region('sa-east-1', 'South America (Sao Paulo)', 'sae1', 'abc', [1, 2, 3]),
];

const byName: ReadonlyMap<string, RegionInfo> = new Map(REGIONS.map((r) => [r.name, r]));

export const REGION_NAMES: ReadonlySet<string> = new Set(byName.keys());

export function regionInfo(name: string): RegionInfo | undefined {
  return byName.get(name);
}
