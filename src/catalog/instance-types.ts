/**
 * AWS instance types and their facts (vCPUs, memory, storage, networking, …), as EC2's
 * DescribeInstanceTypes returns them. The data is AWS's own, taken from moto by
 * scripts/gen-instance-types.mjs into src/catalog/data/instance-types.jsonl (one type per line),
 * with the share of zones that offer each type in instance-type-zone-share.json.
 */
import type { InstanceTypeInfo } from '@aws-sdk/client-ec2';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { projectPath } from '../util/project-root.js';
import type { ZoneInfo } from './regions.js';

const DATA_FILE = 'instance-types.jsonl';
const ZONE_SHARE_FILE = 'instance-type-zone-share.json';

/** tsc emits only code: the data is read from the source tree. */
function dataPath(file = DATA_FILE): string {
  return projectPath('src/catalog/data', file);
}

/**
 * Parsed, the catalogue is 2.5 MB of heap, and a launch needs only its own type. So what stays is
 * an index of each type's line in the file; a type is parsed when first asked for and kept, and
 * the whole list while callers that walk it (DescribeInstanceTypes and its kin) go on asking.
 * releaseInstanceTypes gives back all but the index (the server calls it when it goes quiet).
 */
interface Line {
  at: number;
  length: number;
}

interface Index {
  file: string;
  /** Each type's line in the file, in name order. */
  lines: ReadonlyMap<string, Line>;
}

let index: Index | undefined;
const parsed = new Map<string, InstanceTypeInfo>();
let all: readonly InstanceTypeInfo[] | undefined;

const parseType = (text: string) => JSON.parse(text) as InstanceTypeInfo;

/** Every type in the catalogue file's contents, parsed, with its line, in name order. */
function parseAll(data: Buffer): { info: InstanceTypeInfo; line: Line }[] {
  const found: { info: InstanceTypeInfo; line: Line }[] = [];
  for (let at = 0; at < data.length; ) {
    let end = data.indexOf(0x0a, at);
    if (end === -1) end = data.length;
    const text = data.toString('utf8', at, end);
    if (text.trim() !== '') found.push({ info: parseType(text), line: { at, length: end - at } });
    at = end + 1;
  }
  return found.sort((a, b) => (a.info.InstanceType! < b.info.InstanceType! ? -1 : a.info.InstanceType! > b.info.InstanceType! ? 1 : 0));
}

const buildIndex = (file: string, types: ReturnType<typeof parseAll>): Index =>
  ({ file, lines: new Map(types.map(({ info, line }) => [info.InstanceType!, line])) });

function loadIndex(): Index {
  if (index) return index;
  const file = dataPath();
  index = buildIndex(file, parseAll(readFileSync(file)));
  return index;
}

function readType(idx: Index, line: Line): InstanceTypeInfo {
  const buf = Buffer.alloc(line.length);
  const fd = openSync(idx.file, 'r');
  try {
    readSync(fd, buf, 0, line.length, line.at);
  } finally {
    closeSync(fd);
  }
  return parseType(buf.toString('utf8'));
}

/** Every instance type Nimbus knows, in name order. Shared objects: callers must not mutate them. */
export function instanceTypes(): readonly InstanceTypeInfo[] {
  if (all) return all;
  // One read and parse of the file serves the list and, on a first use, the index too.
  const file = index?.file ?? dataPath();
  const types = parseAll(readFileSync(file));
  index ??= buildIndex(file, types);
  all = types.map(({ info }) => {
    const known = parsed.get(info.InstanceType!);
    if (known) return known;
    parsed.set(info.InstanceType!, info);
    return info;
  });
  return all;
}

export function instanceType(name: string): InstanceTypeInfo | undefined {
  const known = parsed.get(name);
  if (known) return known;
  const idx = loadIndex();
  const line = idx.lines.get(name);
  if (!line) return undefined;
  const info = readType(idx, line);
  parsed.set(name, info);
  return info;
}

/** Forgets every parsed type; the index stays, and types are parsed again as they are asked for. */
export function releaseInstanceTypes(): void {
  parsed.clear();
  all = undefined;
}

let zoneShares: Readonly<Record<string, number>> | undefined;

/** The share of a region's zones that offer a type (summarised from AWS's offerings; 1 if unknown). */
function zoneShare(name: string): number {
  zoneShares ??= JSON.parse(readFileSync(dataPath(ZONE_SHARE_FILE), 'utf8')) as Record<string, number>;
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
