#!/usr/bin/env node
/**
 * Boot benchmark of the ns driver (not a test): starts `bin/nimbus serve --driver ns` on a fresh
 * data directory and measures, through the JavaScript SDK,
 *
 *   1. the time from RunInstances returning to the user data's first line running, over
 *      sequential launches and over concurrent ones. The first line of the user data prints a
 *      marker; the benchmark watches each instance's console log with inotify (fs.watch) and
 *      takes the time the marker arrives. As a cross-check, that line also prints the instance's
 *      /proc/uptime (10 ms resolution, the same clock as the host's: there is no time namespace);
 *   2. how many minimal instances run at once (launched in batches until the target, the host
 *      running short of memory, or a launch failing);
 *   3. the host memory each idle instance costs: its memory cgroup's usage, the PSS of its
 *      processes, and the fall of the host's MemAvailable per instance.
 *
 * Every instance is terminated at the end and the data directory and cgroups are removed.
 *
 * Usage: npx tsc -p . && node bench/boot.mjs [--sequential 20] [--concurrent 50] [--fleet 200]
 *        [--batch 25] [--write]      (--write puts the figures into bench/BOOT-RESULTS.md)
 * Needs root and what the ns driver needs (scripts/setup-host.sh).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, watch, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import {
  DescribeImagesCommand, DescribeInstancesCommand, EC2Client, RunInstancesCommand, TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';

const ROOT = new URL('..', import.meta.url).pathname;
const { values: opts } = parseArgs({
  options: {
    sequential: { type: 'string', default: '20' },
    concurrent: { type: 'string', default: '50' },
    fleet: { type: 'string', default: '200' },
    batch: { type: 'string', default: '25' },
    write: { type: 'boolean', default: false },
  },
});
const SEQUENTIAL = Number(opts.sequential);
const CONCURRENT = Number(opts.concurrent);
const FLEET = Number(opts.fleet);
const BATCH = Number(opts.batch);
/** Launching stops when the host has less than this available. */
const MEMORY_RESERVE = 1024 * 1024 * 1024;
const MARKER = 'bench-first-line';
const USER_DATA = Buffer.from(`#!/bin/sh\nread up idle < /proc/uptime; echo "${MARKER} $up"\n`).toString('base64');

const { NsDriver } = await import(join(ROOT, 'dist/src/compute/ns/driver.js'));
const { cgroupDirs, detectCgroups } = await import(join(ROOT, 'dist/src/compute/ns/cgroups.js'));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hostUptime = () => Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
const memAvailable = () => Number(/^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))[1]) * 1024;
const ms = (v) => `${v.toFixed(1)} ms`;
const mib = (v) => `${(v / 1024 / 1024).toFixed(2)} MiB`;

function stats(values) {
  const s = [...values].sort((a, b) => a - b);
  const at = (q) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
  return { n: s.length, median: at(0.5), p95: at(0.95), min: s[0], max: s[s.length - 1] };
}

// ---- the server -------------------------------------------------------------------------------

const loadBefore = loadavg();
const dataDir = mkdtempSync(join(tmpdir(), 'nimbus-boot-bench-'));
const cgroupParent = `nimbus-bench-${randomBytes(4).toString('hex')}`;
const server = spawn(join(ROOT, 'bin/nimbus'), ['serve', '--port', '0', '--data-dir', dataDir, '--driver', 'ns',
  '--instance-limit', String(Math.max(FLEET, SEQUENTIAL, CONCURRENT) + 50), '--ns-cgroup-parent', cgroupParent], { stdio: ['ignore', 'pipe', 'pipe'] });
let serverLog = '';
const url = await new Promise((resolve, reject) => {
  const onData = (chunk) => {
    serverLog += chunk;
    const m = /listening on (http:\/\/\S+)/.exec(serverLog);
    if (m) resolve(m[1]);
  };
  server.stdout.on('data', onData);
  server.stderr.on('data', onData);
  server.once('exit', (code) => reject(new Error(`server exited (${code}):\n${serverLog}`)));
});
const ec2 = new EC2Client({ endpoint: url, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
const images = await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'], Filters: [{ Name: 'name', Values: ['nimbus-minimal-*'] }] }));
const imageId = images.Images[0].ImageId;

// ---- first-line watching ------------------------------------------------------------------------

const instancesDir = join(dataDir, 'instances');
/** instance id → { at: performance.now() when the marker arrived, uptime: the instance's /proc/uptime then } */
const firstLines = new Map();
const waiting = new Map();
const watchers = new Map();

function checkConsole(id) {
  if (firstLines.has(id)) return;
  let text;
  try {
    text = readFileSync(join(instancesDir, id, 'console.log'), 'utf8');
  } catch {
    return;
  }
  const m = new RegExp(`${MARKER} ([0-9.]+)`).exec(text);
  if (!m) return;
  firstLines.set(id, { at: performance.now(), uptime: Number(m[1]) });
  watchers.get(id)?.close();
  watchers.delete(id);
  waiting.get(id)?.();
}

function watchInstanceDir(id) {
  if (watchers.has(id) || firstLines.has(id) || !/^i-[0-9a-f]+$/.test(id)) return;
  try {
    const w = watch(join(instancesDir, id), (_event, name) => { if (name === 'console.log') checkConsole(id); });
    watchers.set(id, w);
    checkConsole(id);
  } catch { /* removed meanwhile */ }
}

const ready = () => new Promise((resolve) => {
  const poll = () => (existsSync(instancesDir) ? resolve() : setTimeout(poll, 5));
  poll();
});
// The driver makes <dataDir>/instances with the first instance: watch it from then on.
let topWatcher;
async function ensureTopWatcher() {
  if (topWatcher) return;
  await ready();
  topWatcher ??= watch(instancesDir, (_event, name) => name && watchInstanceDir(name));
  for (const id of readdirSync(instancesDir)) watchInstanceDir(id);
}

function firstLineOf(id, timeoutMs = 60_000) {
  if (firstLines.has(id)) return Promise.resolve(firstLines.get(id));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${id}: no first line of user data within ${timeoutMs} ms`)), timeoutMs);
    waiting.set(id, () => { clearTimeout(timer); waiting.delete(id); resolve(firstLines.get(id)); });
    watchInstanceDir(id);
    checkConsole(id);
  });
}

/** Launches one instance; resolves with the time from RunInstances returning to its user data's first line. */
async function timedLaunch(userData = USER_DATA) {
  const r = await ec2.send(new RunInstancesCommand({ ImageId: imageId, InstanceType: 't3.nano', MinCount: 1, MaxCount: 1, UserData: userData }));
  const returned = performance.now();
  const returnedUptime = hostUptime();
  const id = r.Instances[0].InstanceId;
  const first = await firstLineOf(id);
  return { id, ms: first.at - returned, uptimeMs: (first.uptime - returnedUptime) * 1000 };
}

async function waitAll(ids, state, timeoutMs = 300_000) {
  const end = Date.now() + timeoutMs;
  const left = new Set(ids);
  while (left.size > 0) {
    const chunk = [...left].slice(0, 200);
    const r = await ec2.send(new DescribeInstancesCommand({ InstanceIds: chunk }));
    for (const res of r.Reservations ?? []) for (const i of res.Instances ?? []) if (i.State?.Name === state) left.delete(i.InstanceId);
    if (left.size === 0) break;
    if (Date.now() > end) throw new Error(`${left.size} instances never ${state}`);
    await sleep(200);
  }
}

async function terminateAll(ids) {
  for (let i = 0; i < ids.length; i += 100) await ec2.send(new TerminateInstancesCommand({ InstanceIds: ids.slice(i, i + 100) }));
  await waitAll(ids, 'terminated');
}

// ---- memory of idle instances ---------------------------------------------------------------------

const cgroups = detectCgroups();
function cgroupFile(id, ...names) {
  for (const d of cgroupDirs(cgroups, `/${cgroupParent}/nimbus-${id}`)) {
    for (const n of names) if (existsSync(join(d, n))) return join(d, n);
  }
  return undefined;
}

/** Memory cgroup usage (page cache it touched included), and its resident anonymous memory. */
function cgroupMemory(id) {
  const usage = Number(readFileSync(cgroupFile(id, 'memory.usage_in_bytes', 'memory.current'), 'utf8'));
  const stat = readFileSync(cgroupFile(id, 'memory.stat'), 'utf8');
  const anon = Number((/^(?:total_rss|anon) (\d+)$/m.exec(stat) ?? [])[1] ?? 0);
  return { usage, anon };
}

/** Sum of the PSS of the instance's processes. */
function pssOf(id) {
  const procs = readFileSync(cgroupFile(id, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
  let kb = 0;
  for (const pid of procs) {
    try {
      kb += Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))[1]);
    } catch { /* exited */ }
  }
  return { bytes: kb * 1024, processes: procs.length };
}

// ---- the runs --------------------------------------------------------------------------------------

const results = {};
const all = [];
try {
  const watching = ensureTopWatcher();
  // One launch first, so the driver has made its directories and the page cache holds the image.
  const warm = await timedLaunch();
  await watching;
  await terminateAll([warm.id]);

  console.log(`sequential: ${SEQUENTIAL} launches, one after the other`);
  const seq = [];
  for (let i = 0; i < SEQUENTIAL; i++) seq.push(await timedLaunch());
  all.push(...seq.map((s) => s.id));
  results.sequential = { inotify: stats(seq.map((s) => s.ms)), uptime: stats(seq.map((s) => s.uptimeMs)) };
  console.log(`  median ${ms(results.sequential.inotify.median)}, p95 ${ms(results.sequential.inotify.p95)}`);
  await terminateAll(seq.map((s) => s.id));

  console.log(`concurrent: ${CONCURRENT} launches at once`);
  const t0 = performance.now();
  const conc = await Promise.all(Array.from({ length: CONCURRENT }, () => timedLaunch()));
  const concWall = performance.now() - t0;
  all.push(...conc.map((s) => s.id));
  results.concurrent = { inotify: stats(conc.map((s) => s.ms)), uptime: stats(conc.map((s) => s.uptimeMs)), wallMs: concWall };
  console.log(`  median ${ms(results.concurrent.inotify.median)}, p95 ${ms(results.concurrent.inotify.p95)}, all ${CONCURRENT} in ${ms(concWall)}`);
  await terminateAll(conc.map((s) => s.id));

  console.log(`fleet: up to ${FLEET} idle instances, in batches of ${BATCH}`);
  await sleep(1000);
  const before = memAvailable();
  const fleet = [];
  let stoppedBecause = 'target reached';
  const fleetT0 = performance.now();
  while (fleet.length < FLEET) {
    if (memAvailable() < MEMORY_RESERVE) { stoppedBecause = 'host short of memory'; break; }
    const n = Math.min(BATCH, FLEET - fleet.length);
    let r;
    try {
      r = await ec2.send(new RunInstancesCommand({ ImageId: imageId, InstanceType: 't3.nano', MinCount: n, MaxCount: n }));
    } catch (err) {
      stoppedBecause = `RunInstances failed: ${err.name}: ${err.message}`;
      break;
    }
    const ids = r.Instances.map((i) => i.InstanceId);
    fleet.push(...ids);
    all.push(...ids);
    await waitAll(ids, 'running');
    console.log(`  ${fleet.length} running`);
  }
  const fleetMs = performance.now() - fleetT0;
  await sleep(3000); // let every init settle into its idle wait
  let running = 0;
  for (const id of fleet) {
    const pid = Number(readFileSync(join(instancesDir, id, 'init.pid'), 'utf8'));
    if (existsSync(`/proc/${pid}`)) running++;
  }
  const after = memAvailable();
  const mem = fleet.map(cgroupMemory);
  const pss = fleet.map(pssOf);
  results.fleet = {
    asked: FLEET, running, stoppedBecause, launchMs: fleetMs,
    cgroupUsage: stats(mem.map((m) => m.usage)), cgroupAnon: stats(mem.map((m) => m.anon)),
    pss: stats(pss.map((p) => p.bytes)), processes: stats(pss.map((p) => p.processes)),
    memAvailableDeltaPerInstance: (before - after) / Math.max(1, fleet.length),
  };
  console.log(`  ${running} running at once; per instance: cgroup ${mib(results.fleet.cgroupUsage.median)}, PSS ${mib(results.fleet.pss.median)}, MemAvailable −${mib(results.fleet.memAvailableDeltaPerInstance)}`);
  await terminateAll(fleet);
} finally {
  for (const w of watchers.values()) w.close();
  topWatcher?.close();
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  await exited;
  // Whatever is left (a failed run) goes, and the cgroup parent and data directory with it.
  const driver = new NsDriver({ dataDir, cgroupParent });
  for (const id of await driver.list()) await driver.destroy(id).catch((err) => console.error(err));
  await driver.close();
  for (const d of cgroupDirs(cgroups, cgroupParent)) if (existsSync(d)) rmdirSync(d);
  rmSync(dataDir, { recursive: true, force: true });
}

// ---- the report ------------------------------------------------------------------------------------

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const row = (label, s, f) => `| ${label} | ${s.n} | ${f(s.median)} | ${f(s.p95)} | ${f(s.min)} | ${f(s.max)} |`;
const report = [
  `Run on ${new Date().toISOString().slice(0, 10)} on \`${hostname()}\`: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${release()}, cgroups ${cgroups.mode}, Node ${process.version}; load average ${loadBefore.map((l) => l.toFixed(1)).join(' ')} at the start.`,
  '',
  '**RunInstances returned → first line of user data running** (t3.nano, minimal image; console watched with inotify; the /proc/uptime columns are the cross-check at 10 ms resolution)',
  '',
  '| launches | n | median | p95 | min | max |',
  '|---|---|---|---|---|---|',
  row('sequential', results.sequential.inotify, ms),
  row('sequential (uptime)', results.sequential.uptime, ms),
  row('concurrent', results.concurrent.inotify, ms),
  row('concurrent (uptime)', results.concurrent.uptime, ms),
  '',
  `All ${CONCURRENT} concurrent launches had run their first line ${ms(results.concurrent.wallMs)} after the first RunInstances was sent.`,
  '',
  `**Instances running at once:** ${results.fleet.running} of ${results.fleet.asked} asked (${results.fleet.stoppedBecause}); launched in batches of ${BATCH} in ${(results.fleet.launchMs / 1000).toFixed(1)} s.`,
  '',
  '**Host memory per idle instance** (over the whole fleet)',
  '',
  '| measure | n | median | p95 | min | max |',
  '|---|---|---|---|---|---|',
  row('memory cgroup usage (page cache it touched included)', results.fleet.cgroupUsage, mib),
  row('memory cgroup anonymous (rss)', results.fleet.cgroupAnon, mib),
  row('PSS of its processes', results.fleet.pss, mib),
  row('processes', results.fleet.processes, (v) => String(v)),
  '',
  results.fleet.memAvailableDeltaPerInstance >= 0
    ? `Host MemAvailable fell by ${mib(results.fleet.memAvailableDeltaPerInstance)} per instance (kernel memory for namespaces, mounts and cgroups included).`
    : `Host MemAvailable rose by ${mib(-results.fleet.memAvailableDeltaPerInstance)} per instance while the fleet ran: other work on the host freed memory meanwhile, so that measure says nothing on this run.`,
].join('\n');
console.log(`\n${report}`);
if (opts.write) {
  const file = join(ROOT, 'bench/BOOT-RESULTS.md');
  const text = readFileSync(file, 'utf8');
  const start = '<!-- figures -->';
  const end = '<!-- /figures -->';
  writeFileSync(file, `${text.slice(0, text.indexOf(start) + start.length)}\n${report}\n${text.slice(text.indexOf(end))}`);
  console.log(`written to ${file}`);
}
