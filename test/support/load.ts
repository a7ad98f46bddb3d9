/**
 * The mixed load workload (run, describe, tag, stop, start, terminate) from many concurrent SDK v3
 * clients, shared by test/load.test.ts (a short run in CI) and bench/load.ts (the full run whose
 * figures go into bench/LOAD-RESULTS.md). Each client works on its own instances and keeps a
 * ledger of what its successful calls did, so the store can be checked against it at the end.
 */
import { readFileSync } from 'node:fs';
import {
  CreateTagsCommand, DescribeInstancesCommand, RunInstancesCommand, StartInstancesCommand, StopInstancesCommand,
  TerminateInstancesCommand, type EC2Client,
} from '@aws-sdk/client-ec2';
import { x86Image } from './fixtures.js';
import { allInstances, duplicates } from './inventory.js';
import type { NimbusProcess } from './server.js';

/**
 * The server the workload runs against: quick sim transitions, no instance or interface limit in the way, and
 * terminated instances forgotten after 5 s (EC2: about an hour), so that the fleet, and with it
 * the memory the server may rightly use, stays the same size however long the run.
 */
export const LOAD_SERVER_ARGS = [
  '--sim-delay-ms', '100', '--instance-limit', '100000', '--limit', 'networkInterfacesPerRegion=100000', '--terminated-retention-ms', '5000',
];

export const OPERATIONS = ['run', 'describe', 'tag', 'stop', 'start', 'terminate'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** Errors a client may rightly get: a stop of an instance still pending, a start of one still stopping. */
const EXPECTED_ERRORS = new Set(['IncorrectInstanceState']);
/** Instances each client keeps alive at most; past it, it terminates rather than launches. */
const LIVE_PER_CLIENT = 6;

export interface LoadOptions {
  clients: number;
  seconds: number;
  /** How often the server's VmRSS is sampled. */
  sampleEveryMs: number;
}

export interface OperationFigures {
  calls: number;
  /** Answers with an error, by code (4xx; 5xx and dropped calls are in `failures`). */
  errors: Record<string, number>;
  latenciesMs: number[];
}

/** What one client's successful calls did to one instance. */
interface LedgerEntry {
  client: number;
  reservationId: string;
  tags: Record<string, string>;
  terminated: boolean;
}

export interface LoadResult {
  options: LoadOptions;
  elapsedMs: number;
  operations: Record<Operation, OperationFigures>;
  /** Calls answered with a 5xx or not answered at all. */
  failures: { operation: Operation; status?: number; error: string }[];
  /** 4xx codes that the workload does not expect. */
  unexpected: { operation: Operation; code: string; message?: string }[];
  rss: { atMs: number; kib: number }[];
  ledger: Map<string, LedgerEntry>;
}

export interface Discrepancies {
  lost: string[];
  duplicated: string[];
  stray: string[];
  wrongTags: string[];
  wrongState: string[];
  wrongReservation: string[];
}

export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** Runs the workload against a started server; resolves when every client has stopped. */
export async function runLoad(nimbus: NimbusProcess, options: LoadOptions): Promise<LoadResult> {
  const ami = await x86Image(nimbus.ec2());
  const operations = Object.fromEntries(OPERATIONS.map((op) => [op, { calls: 0, errors: {}, latenciesMs: [] }])) as unknown as Record<Operation, OperationFigures>;
  const result: LoadResult = { options, elapsedMs: 0, operations, failures: [], unexpected: [], rss: [], ledger: new Map() };
  const started = Date.now();
  const deadline = started + options.seconds * 1000;
  const sample = () => result.rss.push({ atMs: Date.now() - started, kib: rssKiB(nimbus.pid!) });
  sample();
  const sampler = setInterval(sample, options.sampleEveryMs);
  try {
    await Promise.all(Array.from({ length: options.clients }, (_, k) => client(nimbus.ec2(), k, ami, deadline, result)));
  } finally {
    clearInterval(sampler);
  }
  result.elapsedMs = Date.now() - started;
  return result;
}

async function client(ec2: EC2Client, k: number, ami: string, deadline: number, result: LoadResult): Promise<void> {
  const live: string[] = [];
  const rand = seeded(k + 1);
  const any = () => live[Math.floor(rand() * live.length)]!;
  for (let n = 0; Date.now() < deadline; n++) {
    const op = choose(rand(), live.length);
    const figures = result.operations[op];
    const t0 = performance.now();
    try {
      switch (op) {
        case 'run': {
          const out = await ec2.send(new RunInstancesCommand({
            ImageId: ami, InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, ClientToken: `load-${k}-${n}`,
            TagSpecifications: [{ ResourceType: 'instance', Tags: [{ Key: 'owner', Value: `client-${k}` }] }],
          }));
          const id = out.Instances![0]!.InstanceId!;
          result.ledger.set(id, { client: k, reservationId: out.ReservationId!, tags: { owner: `client-${k}` }, terminated: false });
          live.push(id);
          break;
        }
        case 'describe': {
          if (rand() < 0.5) {
            const ids = [...new Set([any(), any(), any()])];
            const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }));
            const got = out.Reservations!.flatMap((r) => r.Instances!.map((i) => i.InstanceId!));
            if (got.length !== ids.length || ids.some((id) => !got.includes(id))) {
              result.unexpected.push({ operation: op, code: 'WrongAnswer', message: `asked for ${ids.join(',')}, got ${got.join(',')}` });
            }
          } else {
            await ec2.send(new DescribeInstancesCommand({
              Filters: [{ Name: 'tag:owner', Values: [`client-${k}`] }, { Name: 'instance-state-name', Values: ['pending', 'running', 'stopped'] }],
            }));
          }
          break;
        }
        case 'tag': {
          const id = any();
          const key = `k${n % 3}`;
          const value = `v${n}`;
          await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: key, Value: value }] }));
          result.ledger.get(id)!.tags[key] = value;
          break;
        }
        case 'stop':
          await ec2.send(new StopInstancesCommand({ InstanceIds: [any()] }));
          break;
        case 'start':
          await ec2.send(new StartInstancesCommand({ InstanceIds: [any()] }));
          break;
        case 'terminate': {
          const id = any();
          await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
          result.ledger.get(id)!.terminated = true;
          live.splice(live.indexOf(id), 1);
          break;
        }
      }
    } catch (err) {
      const e = err as { $metadata?: { httpStatusCode?: number }; name?: string; message?: string };
      const status = e.$metadata?.httpStatusCode;
      if (status === undefined || status >= 500) result.failures.push({ operation: op, status, error: `${e.name}: ${e.message}` });
      else {
        figures.errors[e.name!] = (figures.errors[e.name!] ?? 0) + 1;
        if (!EXPECTED_ERRORS.has(e.name!)) result.unexpected.push({ operation: op, code: e.name!, message: e.message });
      }
    }
    figures.calls++;
    figures.latenciesMs.push(performance.now() - t0);
  }
  ec2.destroy();
}

/** The next operation: launches until a client has a few instances, terminates past its cap, else a mix. */
function choose(r: number, live: number): Operation {
  if (live < 2) return 'run';
  const weights: [Operation, number][] = [['run', 12], ['describe', 30], ['tag', 20], ['stop', 12], ['start', 12], ['terminate', 14]];
  let x = r * weights.reduce((s, [, w]) => s + w, 0);
  for (const [op, w] of weights) {
    if ((x -= w) < 0) return op === 'run' && live >= LIVE_PER_CLIENT ? 'terminate' : op;
  }
  return 'describe';
}

/** A small deterministic generator (mulberry32), so that each client's mix is reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Compares every instance the server has with the clients' ledgers. */
export async function checkAgainstLedger(nimbus: NimbusProcess, ledger: Map<string, LedgerEntry>): Promise<Discrepancies> {
  const instances = await allInstances(nimbus.ec2());
  const byId = new Map(instances.map((i) => [i.InstanceId!, i]));
  const out: Discrepancies = {
    // A terminated instance may have been forgotten already (its retention is short); any other is lost.
    lost: [...ledger].filter(([id, e]) => !e.terminated && !byId.has(id)).map(([id]) => id),
    duplicated: duplicates(instances.map((i) => i.InstanceId!)),
    stray: [...byId.keys()].filter((id) => !ledger.has(id)),
    wrongTags: [],
    wrongState: [],
    wrongReservation: [],
  };
  for (const [id, entry] of ledger) {
    const i = byId.get(id);
    if (!i) continue;
    const tags = Object.fromEntries((i.Tags ?? []).map((t) => [t.Key!, t.Value!]));
    if (JSON.stringify(sortKeys(tags)) !== JSON.stringify(sortKeys(entry.tags))) out.wrongTags.push(`${id}: ${JSON.stringify(tags)} ≠ ${JSON.stringify(entry.tags)}`);
    const gone = i.State!.Name === 'shutting-down' || i.State!.Name === 'terminated';
    if (gone !== entry.terminated) out.wrongState.push(`${id}: ${i.State!.Name}, terminated by its client: ${entry.terminated}`);
    if (i.ReservationId !== entry.reservationId) out.wrongReservation.push(`${id}: ${i.ReservationId} ≠ ${entry.reservationId}`);
  }
  return out;
}

const sortKeys = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const median = (values: readonly number[]) => percentile(values, 50);

/**
 * Memory after warm-up: the first half of the run is warm-up (the fleet fills up to its steady
 * size, V8's heap and SQLite's cache grow to theirs); the samples of the second half are split in
 * halves again, and the growth is the later quarter's median over the earlier's.
 */
export function memoryTrend(rss: LoadResult['rss'], elapsedMs: number): { firstKiB: number; secondKiB: number; growthKiB: number } {
  const warm = rss.filter((s) => s.atMs >= elapsedMs / 2);
  const mid = Math.floor(warm.length / 2);
  const firstKiB = median(warm.slice(0, mid).map((s) => s.kib));
  const secondKiB = median(warm.slice(mid).map((s) => s.kib));
  return { firstKiB, secondKiB, growthKiB: secondKiB - firstKiB };
}

/** Whether memory is flat: grown by at most 10 % or 16 MiB, whichever is more. */
export function memoryIsFlat(trend: ReturnType<typeof memoryTrend>): boolean {
  return trend.growthKiB <= Math.max(trend.firstKiB * 0.1, 16 * 1024);
}
