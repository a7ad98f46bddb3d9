/**
 * AWS's commercial regions and their availability zones, with real zone IDs. `optIn` regions are
 * those that AWS launched after March 2019 and that an account must enable.
 */
export interface RegionInfo {
  name: string;
  /** Zone letters in order; zone IDs are `<zoneIdPrefix>-az<N>`. */
  zones: { name: string; id: string }[];
  optIn: boolean;
}

const region = (name: string, zoneIdPrefix: string, letters: string, azNumbers: number[], optIn = false): RegionInfo => ({
  name,
  zones: [...letters].map((l, i) => ({ name: `${name}${l}`, id: `${zoneIdPrefix}-az${azNumbers[i]}` })),
  optIn,
});

export const REGIONS: readonly RegionInfo[] = [
  region('us-east-1', 'use1', 'abcdef', [6, 1, 2, 4, 3, 5]),
  region('us-east-2', 'use2', 'abc', [1, 2, 3]),
  region('us-west-1', 'usw1', 'ac', [3, 1]),
  region('us-west-2', 'usw2', 'abcd', [2, 1, 3, 4]),
  region('af-south-1', 'afs1', 'abc', [1, 2, 3], true),
  region('ap-east-1', 'ape1', 'abc', [1, 2, 3], true),
  region('ap-south-1', 'aps1', 'abc', [1, 3, 2]),
  region('ap-south-2', 'aps2', 'abc', [1, 2, 3], true),
  region('ap-southeast-1', 'apse1', 'abc', [1, 2, 3]),
  region('ap-southeast-2', 'apse2', 'abc', [3, 1, 2]),
  region('ap-southeast-3', 'apse3', 'abc', [1, 2, 3], true),
  region('ap-southeast-4', 'apse4', 'abc', [1, 2, 3], true),
  region('ap-southeast-5', 'apse5', 'abc', [1, 2, 3], true),
  region('ap-southeast-7', 'apse7', 'abc', [1, 2, 3], true),
  region('ap-northeast-1', 'apne1', 'acd', [4, 1, 2]),
  region('ap-northeast-2', 'apne2', 'abcd', [1, 2, 3, 4]),
  region('ap-northeast-3', 'apne3', 'abc', [3, 1, 2]),
  region('ca-central-1', 'cac1', 'abd', [1, 2, 4]),
  region('ca-west-1', 'caw1', 'abc', [1, 2, 3], true),
  region('eu-central-1', 'euc1', 'abc', [1, 2, 3]),
  region('eu-central-2', 'euc2', 'abc', [1, 2, 3], true),
  region('eu-west-1', 'euw1', 'abc', [1, 2, 3]),
  region('eu-west-2', 'euw2', 'abc', [2, 3, 1]),
  region('eu-west-3', 'euw3', 'abc', [1, 2, 3]),
  region('eu-south-1', 'eus1', 'abc', [1, 2, 3], true),
  region('eu-south-2', 'eus2', 'abc', [1, 2, 3], true),
  region('eu-north-1', 'eun1', 'abc', [1, 2, 3]),
  region('il-central-1', 'ilc1', 'abc', [1, 2, 3], true),
  region('me-south-1', 'mes1', 'abc', [1, 2, 3], true),
  region('me-central-1', 'mec1', 'abc', [1, 2, 3], true),
  region('mx-central-1', 'mxc1', 'abc', [1, 2, 3], true),
  region('sa-east-1', 'sae1', 'abc', [1, 2, 3]),
];

export const REGION_NAMES: ReadonlySet<string> = new Set(REGIONS.map((r) => r.name));

export function regionInfo(name: string): RegionInfo | undefined {
  return REGIONS.find((r) => r.name === name);
}
