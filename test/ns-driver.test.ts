/**
 * The ns driver, at the driver level (the API-level tests come with its wiring): the minimal image
 * builds in seconds; an instance boots from it under crun as a real isolated system — user data
 * runs once, as root, in its own pid namespace and with its own hostname; its memory limit is
 * enforced inside it; its root volume keeps files across stop/start (memory does not); poweroff
 * inside stops it; destroy leaves nothing on the host. Needs root (CI runs as root).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ActualState, InstanceSpec } from '../src/compute/driver.js';
import { cgroupDirs, oomKills } from '../src/compute/ns/cgroups.js';
import { containerId, NsDriver, nsSupport } from '../src/compute/ns/driver.js';
import { FIRST_ID_BASE, IDS_PER_INSTANCE } from '../src/compute/ns/id-ranges.js';
import { mountsUnder } from '../src/compute/ns/volume.js';
import { buildMinimalImage } from '../src/images/minimal.js';
import { ImageStore } from '../src/images/store.js';

const ROOT = new URL('../..', import.meta.url).pathname;

function setUpHost(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  const r = spawnSync('sh', [join(ROOT, 'scripts/setup-host.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) return `scripts/setup-host.sh failed (${r.status})`;
  return undefined;
}

const skip = setUpHost();
const newId = () => `i-${randomBytes(9).toString('hex').slice(0, 17)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const count = (text: string, needle: string) => text.split(needle).length - 1;

describe('ns driver', { skip, timeout: 120_000 }, () => {
  let dataDir: string;
  let driver: NsDriver;
  const started: string[] = [];
  const cgroupParent = `nimbus-test-${randomBytes(4).toString('hex')}`;

  const spec = (over: Partial<InstanceSpec>): InstanceSpec => {
    const instanceId = over.instanceId ?? newId();
    started.push(instanceId);
    return {
      instanceId, account: '000000000000', region: 'us-east-1', imageId: 'minimal', instanceType: 't3.micro',
      vcpus: 1, memoryMiB: 128, hostname: 'ip-172-31-0-10', ...over,
    };
  };
  const stateOf = (id: string, want: ActualState) => until(`${id} ${want}`, async () => (await driver.inspect(id)) === want);
  const consoleHas = (id: string, text: string, times = 1) =>
    until(`console of ${id} to show ${JSON.stringify(text)} ×${times}`, async () => {
      const out = await driver.consoleOutput(id);
      return count(out, text) >= times ? out : undefined;
    });

  /** Everything of an instance the host could still hold. */
  async function traces(id: string): Promise<string[]> {
    const found: string[] = [];
    const dir = driver.files(id).dir;
    if (existsSync(dir)) found.push(`directory ${dir}`);
    for (const m of mountsUnder(dataDir)) found.push(`mount ${m}`);
    if ((await driver.crun.list()).some((c) => c.id === containerId(id))) found.push(`crun container ${containerId(id)}`);
    for (const d of cgroupDirs(driver.cgroups, driver.cgroupPath(id))) if (existsSync(d)) found.push(`cgroup ${d}`);
    if ((await driver.list()).includes(id)) found.push('listed by the driver');
    return found;
  }

  before(async () => {
    const support = await nsSupport();
    assert.ok(support.ok, `ns driver unsupported here: ${support.ok ? '' : support.reason}`);
    dataDir = mkdtempSync(join(tmpdir(), 'nimbus-ns-'));
    // A cgroup parent of its own, removed at the end, so the test leaves no cgroup behind at all.
    driver = new NsDriver({ dataDir, stopTimeoutMs: 5000, cgroupParent });
  });

  after(async () => {
    if (!driver) return;
    for (const id of started) await driver.destroy(id).catch(() => {});
    await driver.close();
    for (const d of cgroupDirs(driver.cgroups, cgroupParent)) if (existsSync(d)) rmdirSync(d);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('builds the minimal image in seconds from the host packages', async () => {
    const t0 = Date.now();
    const manifest = await buildMinimalImage(dataDir);
    const ms = Date.now() - t0;
    assert.ok(ms < 10_000, `built in ${ms} ms`);
    assert.equal(manifest.name, 'minimal');
    assert.deepEqual(manifest.init, ['/sbin/init']);
    assert.ok(manifest.packages['busybox-static'] && manifest.packages['dropbear-bin'], JSON.stringify(manifest.packages));
    const rootfs = new ImageStore(dataDir).rootfs('minimal');
    for (const f of ['sbin/init', 'bin/busybox', 'bin/sh', 'usr/sbin/dropbear', 'usr/bin/dropbearkey', 'lib64/ld-linux-x86-64.so.2', 'etc/passwd']) {
      if (f.startsWith('lib64') && process.arch !== 'x64') continue;
      assert.ok(existsSync(join(rootfs, f)), `${f} in the image`);
    }
    assert.match(readFileSync(join(rootfs, 'sbin/init'), 'utf8'), /^#!\/bin\/sh/);
    assert.deepEqual(new ImageStore(dataDir).list().map((m) => m.name), ['minimal']);
  });

  it('refuses an image it has no root filesystem for, naming those it can run', async () => {
    await assert.rejects(driver.start(spec({ imageId: 'ami-0123456789abcdef0' })), /ami-0123456789abcdef0.*images that can run: minimal/);
  });

  describe('an instance', () => {
    let id: string;

    it('boots; user data runs as root, in its own pid namespace, with its own hostname', async () => {
      const s = spec({ hostname: 'ip-172-31-7-42', userData: Buffer.from('#!/bin/sh\necho hello from $(hostname) pid $$; ps\n') });
      id = s.instanceId;
      const t0 = Date.now();
      await driver.start(s);
      const startMs = Date.now() - t0;
      assert.equal(await driver.inspect(id), 'running');
      assert.ok((await driver.list()).includes(id));
      await driver.start(s); // idempotent: still the same instance
      const out = await consoleHas(id, 'user data finished');
      const hello = /hello from (\S+) pid (\d+)/.exec(out);
      assert.ok(hello, out);
      assert.equal(hello[1], 'ip-172-31-7-42');
      assert.notEqual(hostname(), 'ip-172-31-7-42');
      // ps inside: init is pid 1, the user data's shell runs as root, and not one host process is there.
      const ps = out.slice(out.indexOf('PID   USER'), out.indexOf('[nimbus-init] user data finished'));
      const rows = ps.split('\n').slice(1).filter((l) => /^\s*\d+\s/.test(l)).map((l) => l.trim().split(/\s+/));
      assert.ok(rows.length >= 3 && rows.length < 12, ps);
      assert.deepEqual(rows[0]!.slice(0, 2), ['1', 'root'], ps);
      assert.ok(rows.some((r) => r[0] === hello[2] && r[1] === 'root' && r.join(' ').includes('user-data')), `user data shell as root in:\n${ps}`);
      assert.ok(rows.every((r) => r[1] === 'root' && Number(r[0]) < 1000), ps);
      assert.ok(!/node|crun|process_api/.test(ps), `host processes visible:\n${ps}`);
      // …and the host sees it as another pid entirely.
      const hostPid = (await driver.crun.state(containerId(id)))!.pid;
      assert.ok(hostPid > 1 && existsSync(`/proc/${hostPid}`));
      assert.ok(startMs < 5000, `start took ${startMs} ms`);
    });

    it('has loopback only, limits from its type, and no mount on the host', async () => {
      const net = await driver.exec(id, ['cat', '/proc/net/dev']);
      const ifaces = net.stdout.split('\n').slice(2).map((l) => l.split(':')[0]!.trim()).filter(Boolean);
      assert.deepEqual(ifaces, ['lo']);
      assert.deepEqual(mountsUnder(dataDir), []);
      const config = JSON.parse(readFileSync(driver.files(id).config, 'utf8'));
      assert.equal(config.linux.resources.memory.limit, 128 * 1024 * 1024);
      assert.equal(config.linux.resources.cpu.quota, config.linux.resources.cpu.period);
      assert.ok(config.linux.resources.pids.limit > 0);
      assert.deepEqual(config.linux.namespaces.map((n: { type: string }) => n.type).sort(), ['ipc', 'mount', 'network', 'pid', 'user', 'uts']);
    });

    it('runs in a user namespace of its own: root inside is an unprivileged host user that owns what it writes', async () => {
      const { idBase } = JSON.parse(readFileSync(driver.files(id).record, 'utf8')) as { idBase: number };
      assert.ok(idBase >= FIRST_ID_BASE, String(idBase));
      const inside = await driver.exec(id, ['sh', '-c', 'cat /proc/self/uid_map /proc/self/gid_map; id -u; stat -c %u:%g /bin/busybox; echo x > /owned-by-root; chown 1000:1000 /tmp']);
      assert.equal(inside.code, 0, inside.stderr);
      const [uidMap, gidMap, uid, imageOwner] = inside.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
      assert.equal(uidMap, `0 ${idBase} ${IDS_PER_INSTANCE}`);
      assert.equal(gidMap, `0 ${idBase} ${IDS_PER_INSTANCE}`);
      assert.equal(uid, '0');
      assert.equal(imageOwner, '0:0', 'the image is root\'s inside, though host root owns it on disk');
      assert.equal(statSync(join(new ImageStore(dataDir).rootfs('minimal'), 'bin/busybox')).uid, 0);
      // On the host: its init runs as the range's first id, and the file it wrote is that id's.
      const hostPid = (await driver.crun.state(containerId(id)))!.pid;
      const hostUids = /^Uid:\s+(.*)$/m.exec(readFileSync(`/proc/${hostPid}/status`, 'utf8'))![1]!.split(/\s+/).map(Number);
      assert.deepEqual(hostUids, [idBase, idBase, idBase, idBase]);
      const written = statSync(join(driver.files(id).upper, 'owned-by-root'));
      assert.deepEqual([written.uid, written.gid], [idBase, idBase]);
      // A second instance gets a range of its own.
      const other = spec({});
      await driver.start(other);
      const otherBase = (JSON.parse(readFileSync(driver.files(other.instanceId).record, 'utf8')) as { idBase: number }).idBase;
      assert.ok(Math.abs(otherBase - idBase) >= IDS_PER_INSTANCE, `${otherBase} vs ${idBase}`);
      await driver.destroy(other.instanceId);
    });

    it('keeps files written to / across stop and start, not memory, and runs user data only once', async () => {
      let r = await driver.exec(id, ['sh', '-c', 'echo kept > /root-file && echo gone > /tmp/tmp-file && sync']);
      assert.equal(r.code, 0, r.stderr);
      await driver.stop(id, { force: false });
      assert.ok(['stopping', 'stopped'].includes(await driver.inspect(id)));
      await stateOf(id, 'stopped');
      const out = await driver.consoleOutput(id);
      assert.match(out, /poweroff: shutting down/);
      assert.match(out, /reached power-off/);
      assert.equal((await driver.crun.list()).some((c) => c.id === containerId(id)), false, 'container deleted');
      for (const d of cgroupDirs(driver.cgroups, driver.cgroupPath(id))) assert.equal(existsSync(d), false, d);
      assert.ok((await driver.list()).includes(id), 'a stopped instance is still listed');

      await driver.start(spec({ instanceId: id, hostname: 'ip-172-31-7-42', userData: Buffer.from('#!/bin/sh\necho hello from $(hostname) pid $$; ps\n') }));
      await consoleHas(id, '[nimbus-init] boot finished', 2);
      r = await driver.exec(id, ['cat', '/root-file']);
      assert.equal(r.stdout, 'kept\n');
      r = await driver.exec(id, ['sh', '-c', 'test -e /tmp/tmp-file; echo $?']);
      assert.equal(r.stdout, '1\n');
      await sleep(300);
      const again = await driver.consoleOutput(id);
      assert.equal(count(again, 'hello from'), 1, again);
      assert.equal(count(again, '[nimbus-init] running user data'), 1, again);
    });

    it('reboots in place', async () => {
      const before = (await driver.crun.state(containerId(id)))!.pid;
      await driver.reboot(id);
      assert.equal(await driver.inspect(id), 'running');
      await consoleHas(id, '[nimbus-init] boot finished', 3);
      assert.notEqual((await driver.crun.state(containerId(id)))!.pid, before);
      assert.equal((await driver.exec(id, ['cat', '/root-file'])).stdout, 'kept\n');
      assert.equal(count(await driver.consoleOutput(id), 'hello from'), 1);
    });

    it('stops on poweroff inside, and force-stops at once', async () => {
      await driver.exec(id, ['poweroff']);
      await stateOf(id, 'stopped');
      assert.match(await driver.consoleOutput(id), /poweroff: shutting down/);
      await driver.start(spec({ instanceId: id }));
      await consoleHas(id, '[nimbus-init] boot finished', 4);
      // A process that ignores SIGTERM does not hold a forced stop up.
      await driver.exec(id, ['sh', '-c', "trap '' TERM; sleep 1000 >/dev/null 2>&1 & exit 0"]);
      const t0 = Date.now();
      await driver.stop(id, { force: true });
      assert.equal(await driver.inspect(id), 'stopped');
      assert.ok(Date.now() - t0 < 3000);
    });

    it('leaves nothing behind when destroyed', async () => {
      await driver.start(spec({ instanceId: id }));
      assert.equal(await driver.inspect(id), 'running');
      await driver.destroy(id);
      assert.equal(await driver.inspect(id), 'absent');
      assert.deepEqual(await traces(id), []);
      await driver.destroy(id); // idempotent
      assert.equal(await driver.consoleOutput(id), '');
    });
  });

  it('enforces the memory limit inside the instance: the allocating process is OOM-killed, the instance lives on', async () => {
    const s = spec({
      memoryMiB: 32,
      userData: Buffer.from('#!/bin/sh\ndd if=/dev/zero of=/dev/null bs=96M count=1\necho "dd exit status $?"\n'),
    });
    await driver.start(s);
    const out = await consoleHas(s.instanceId, 'dd exit status');
    assert.match(out, /dd exit status 137/); // SIGKILL
    assert.ok((oomKills(driver.cgroups, driver.cgroupPath(s.instanceId)) ?? 0) >= 1, 'the kernel counted an OOM kill in its cgroup');
    assert.equal(await driver.inspect(s.instanceId), 'running');
    assert.equal((await driver.exec(s.instanceId, ['echo', 'alive'])).stdout, 'alive\n');
    await driver.destroy(s.instanceId);
    assert.deepEqual(await traces(s.instanceId), []);
  });

  it('kills an instance that does not shut down within the stop timeout', async () => {
    const impatient = new NsDriver({ dataDir, stopTimeoutMs: 300, cgroupParent });
    const s = spec({});
    await impatient.start(s);
    await consoleHas(s.instanceId, '[nimbus-init] boot finished');
    // init waits 3 s for processes that ignore SIGTERM; the driver does not wait that long.
    await impatient.exec(s.instanceId, ['sh', '-c', "trap '' TERM; sleep 1000 >/dev/null 2>&1 & exit 0"]);
    const t0 = Date.now();
    await impatient.stop(s.instanceId, { force: false });
    assert.equal(await impatient.inspect(s.instanceId), 'stopping');
    await until('stopped', async () => (await impatient.inspect(s.instanceId)) === 'stopped');
    const ms = Date.now() - t0;
    assert.ok(ms < 2500, `stopped after ${ms} ms`);
    const out = await impatient.consoleOutput(s.instanceId);
    assert.match(out, /poweroff: shutting down/);
    assert.doesNotMatch(out, /reached power-off/);
    await impatient.destroy(s.instanceId);
    await impatient.close();
    assert.deepEqual(await traces(s.instanceId), []);
  });

  it('lists only its own instances and outlives a new driver on the same data directory', async () => {
    const s = spec({});
    await driver.start(s);
    const other = new NsDriver({ dataDir, cgroupParent });
    assert.equal(await other.inspect(s.instanceId), 'running');
    assert.ok((await other.list()).includes(s.instanceId));
    await other.close();
    await driver.destroy(s.instanceId);
    assert.deepEqual(await traces(s.instanceId), []);
  });
});
