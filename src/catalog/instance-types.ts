/**
 * AWS instance types and their facts (vCPUs, memory, storage, networking, …), as EC2's
 * DescribeInstanceTypes returns them. The data is AWS's own, taken from moto by
 * scripts/gen-instance-types.mjs into src/catalog/data/instance-types.jsonl (one type per line),
 * with the share of zones that offer each type in instance-type-zone-share.json.
 */
import type { InstanceTypeInfo } from '@aws-sdk/client-ec2';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ZoneInfo } from './regions.js';

const DATA_FILE = 'instance-types.jsonl';
const ZONE_SHARE_FILE = 'instance-type-zone-share.json';

/** tsc emits only code: from dist/src/catalog/ the data is still read from the source tree. */
function dataPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'data', DATA_FILE), join(here, '../../../src/catalog/data', DATA_FILE)];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`instance type catalogue not found (looked in ${candidates.join(', ')})`);
  return found;
}

interface Catalogue {
  list: readonly InstanceTypeInfo[];
  byName: ReadonlyMap<string, InstanceTypeInfo>;
}

let catalogue: Catalogue | undefined;

/** Parsed on first use: 1,200-odd types, a couple of MB. */
function load(): Catalogue {
  if (catalogue) return catalogue;
  const list = readFileSync(dataPath(), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as InstanceTypeInfo)
    .sort((a, b) => (a.InstanceType! < b.InstanceType! ? -1 : a.InstanceType! > b.InstanceType! ? 1 : 0));
  catalogue = { list, byName: new Map(list.map((t) => [t.InstanceType!, t])) };
  return catalogue;
}

/** Every instance type Nimbus knows, in name order. Shared objects: callers must not mutate them. */
export function instanceTypes(): readonly InstanceTypeInfo[] {
  return load().list;
}

export function instanceType(name: string): InstanceTypeInfo | undefined {
  return load().byName.get(name);
}

let zoneShares: Readonly<Record<string, number>> | undefined;

/** The share of a region's zones that offer a type (summarised from AWS's offerings; 1 if unknown). */
function zoneShare(name: string): number {
  zoneShares ??= JSON.parse(readFileSync(join(dirname(dataPath()), ZONE_SHARE_FILE), 'utf8')) as Record<string, number>;
  return zoneShares[name] ?? 1;
}

/** FNV-1a: a stable spread of types over zones, the same in every process. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * The zones of a region that offer an instance type: every region offers every type, and each
 * type is in its share of the region's zones (at least one), a run of zones that starts at a
 * place fixed by the type's name. Common types (t3, m5, c5, …) are in every zone.
 */
export function zonesOffering(name: string, zones: readonly ZoneInfo[]): ZoneInfo[] {
  if (!instanceType(name) || zones.length === 0) return [];
  const count = Math.min(zones.length, Math.max(1, Math.round(zoneShare(name) * zones.length)));
  const start = hash(name) % zones.length;
  const picked = new Set(Array.from({ length: count }, (_, i) => (start + i) % zones.length));
  return zones.filter((_, i) => picked.has(i));
}
