#!/usr/bin/env node
// Regenerates src/catalog/data/instance-types.jsonl from moto's copy of AWS's describe-instance-types
// data. Only members of InstanceTypeInfo in EC2's own model are kept (botocore's copy: the newest on
// the machine, the one the AWS CLI and boto3 read responses with). One type per line, keys sorted,
// so that a regeneration diffs line by line.
//
// It also summarises moto's per-zone offerings (AWS's describe-instance-type-offerings of some
// account) into src/catalog/data/instance-type-zone-share.json: for each type, the average share
// of a region's zones that offer it, in the regions that offer it at all. Nimbus spreads each type
// over that share of the zones of any region, which keeps the data small and every region covered.
//
//   node scripts/gen-instance-types.mjs      (uses the moto and botocore that python3 imports)
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

const root = new URL('..', import.meta.url).pathname;
const packageDir = (name) =>
  execFileSync('python3', ['-c', `import ${name}, os; print(os.path.dirname(${name}.__file__))`], { encoding: 'utf8' }).trim();
const readGzJson = (path) => JSON.parse(gunzipSync(readFileSync(path)).toString('utf8'));

const raw = readGzJson(join(packageDir('moto'), 'ec2/resources/instance_types.json.gz'));
const model = readGzJson(join(packageDir('botocore'), 'data/ec2/2016-11-15/service-2.json.gz'));
const resolve = (ref) => (ref.shape ? model.shapes[ref.shape] : ref);
const infoShape = model.shapes.InstanceTypeInfo;

/** Keeps what the shape describes, recursively; drops unknown members and empty values. */
function prune(value, shape) {
  const s = resolve(shape);
  if (s.type === 'structure') {
    const out = {};
    for (const key of Object.keys(value).sort()) {
      const member = s.members[key];
      if (!member) continue;
      const v = prune(value[key], member);
      if (v !== undefined) out[key] = v;
    }
    return Object.keys(out).length ? out : undefined;
  }
  if (s.type === 'list') return value.map((v) => prune(v, s.member));
  return value;
}

/** type → average over regions of (zones offering it / zones of the region). */
function zoneShares(offeringsDir) {
  const shares = new Map();
  for (const file of readdirSync(offeringsDir).filter((f) => f.endsWith('.json.gz'))) {
    const offerings = readGzJson(join(offeringsDir, file));
    const zoneCount = new Set(offerings.map((o) => o.Location)).size;
    const zonesByType = new Map();
    for (const o of offerings) zonesByType.set(o.InstanceType, (zonesByType.get(o.InstanceType) ?? 0) + 1);
    for (const [type, n] of zonesByType) shares.set(type, [...(shares.get(type) ?? []), n / zoneCount]);
  }
  return shares;
}

const names = Object.keys(raw).sort();
const dataDir = join(root, 'src/catalog/data');
mkdirSync(dataDir, { recursive: true });
const lines = names.map((name) => JSON.stringify(prune(raw[name], infoShape)));
writeFileSync(join(dataDir, 'instance-types.jsonl'), lines.join('\n') + '\n');

const shares = zoneShares(join(packageDir('moto'), 'ec2/resources/instance_type_offerings/availability-zone'));
const zoneShare = {};
for (const name of names) {
  const s = shares.get(name);
  // A type missing from the offering data is taken as offered everywhere.
  zoneShare[name] = s ? Math.round((s.reduce((a, b) => a + b, 0) / s.length) * 100) / 100 : 1;
}
writeFileSync(join(dataDir, 'instance-type-zone-share.json'), JSON.stringify(zoneShare, null, 0).replace(/,"/g, ',\n"') + '\n');
console.log(`${names.length} instance types written`);
