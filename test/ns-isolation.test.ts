/**
 * Instance isolation with the ns driver, probed from inside: two instances of the minimal AMI run
 * user data (busybox sh) that tries to reach beyond the instance — host processes, the other
 * instance's files, the host's services, its own cgroup limits, the host's disks, and what root
 * could do to the host (modules, sysctl, sysrq, kcore, clock, reboot, namespaces, host files).
 * Each probe prints one `PROBE name=result` line to the console, read back with GetConsoleOutput;
 * then the host is checked to be as it was, and to see each instance's root as an unprivileged
 * user of a range of its own. Needs root (CI runs as root).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FIRST_ID_BASE } from '../src/compute/ns/id-ranges.js';
import { NsApi, nsSkipReason, sleep } from './support/ns-api.js';

const skip = nsSkipReason();

/** Capabilities root in an instance must not hold (bit numbers, linux/capability.h). */
const FORBIDDEN_CAPS: Record<string, number> = {
  CAP_DAC_READ_SEARCH: 2, CAP_SYS_MODULE: 16, CAP_SYS_RAWIO: 17, CAP_SYS_ADMIN: 21, CAP_SYS_TIME: 25,
  CAP_MAC_OVERRIDE: 32, CAP_MAC_ADMIN: 33, CAP_SYSLOG: 34, CAP_BPF: 39, CAP_PERFMON: 38,
};

/**
 * System calls busybox cannot make, made raw (x86-64, no C library, ~1 KiB static): keyrings,
 * open_by_handle_at through the host file bind-mounted at /var/lib/nimbus/hostname (the
 * "shocker" escape: a handle of inode 2 is the root of the host filesystem that file is on), a
 * user namespace by clone and unshare, bpf, kexec and the kernel log. EPERM is "blocked".
 */
const SYSCALL_PROBE_C = String.raw`
static long sc(long n, long a, long b, long c, long d, long e) {
  long r; register long r10 __asm__("r10") = d; register long r8 __asm__("r8") = e;
  __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
  return r;
}
static void out(const char *s) { long n = 0; while (s[n]) n++; sc(1, 1, (long)s, n, 0, 0); }
static void report(const char *name, long r) {
  char num[24]; int i = 23; long v = r < 0 ? -r : r;
  num[i] = 0;
  do { num[--i] = '0' + v % 10; v /= 10; } while (v);
  if (r < 0) num[--i] = '-';
  out("PROBE sys-"); out(name);
  if (r == -1) out("=blocked\n"); else { out("=OPEN:"); out(num + i); out("\n"); }
}
void _start(void) {
  struct { unsigned int bytes; int type; unsigned int ino, gen; } root = { 8, 1 /* FILEID_INO32_GEN */, 2, 0 };
  long fd = sc(2 /* open */, (long)"/var/lib/nimbus/hostname", 0, 0, 0, 0);
  report("open_by_handle_at", sc(304, fd, (long)&root, 0x10000 /* O_DIRECTORY */, 0, 0));
  report("keyctl", sc(250, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session keyring */, 1, 0, 0));
  report("add_key", sc(248, (long)"user", (long)"probe", (long)"x", 1, -3));
  long child = sc(56 /* clone */, 0x10000000 /* CLONE_NEWUSER */ | 17 /* SIGCHLD */, 0, 0, 0, 0);
  if (child == 0) sc(60, 0, 0, 0, 0, 0);
  report("clone-newuser", child);
  report("unshare-newuser", sc(272, 0x10000000, 0, 0, 0, 0));
  report("bpf", sc(321, 0, 0, 0, 0, 0));
  report("kexec_load", sc(246, 0, 0, 0, 0, 0));
  report("syslog", sc(103, 3 /* read all */, 0, 0, 0, 0));
  sc(60, 0, 0, 0, 0, 0);
}
`;
const SYSCALL_PROBES = ['open_by_handle_at', 'keyctl', 'add_key', 'clone-newuser', 'unshare-newuser', 'bpf', 'kexec_load', 'syslog'];

/** The syscall probe built for this host, base64; undefined where it cannot be (not x86-64, no gcc). */
function buildSyscallProbe(): string | undefined {
  if (process.arch !== 'x64') return undefined;
  const dir = mkdtempSync(join(tmpdir(), 'nimbus-syscall-probe-'));
  try {
    writeFileSync(join(dir, 'probe.c'), SYSCALL_PROBE_C);
    const r = spawnSync('gcc', ['-Os', '-static', '-nostdlib', '-ffreestanding', '-fno-builtin', '-fno-stack-protector',
      '-fno-asynchronous-unwind-tables', '-Wl,--build-id=none', '-s', '-o', join(dir, 'probe'), join(dir, 'probe.c')], { encoding: 'utf8' });
    return r.status === 0 ? readFileSync(join(dir, 'probe')).toString('base64') : undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Shell helpers every probe script starts with: `denied NAME CMD…` passes when CMD fails. */
const PRELUDE = `#!/bin/sh
p() { echo "PROBE $1=$2"; }
denied() { n=$1; shift; if "$@" >/tmp/probe.out 2>&1; then p "$n" "OPEN:$(head -c 120 /tmp/probe.out | tr '\\n' ' ')"; else p "$n" blocked; fi; }
mkdir -p /tmp/m /tmp/cg /tmp/p
`;

/** The probes both instances run; `$HOSTFILE`, `$PORT`, `$HOSTADDRS`, `$DISK`, `$SYSPROBE` are set before them. */
const COMMON_PROBES = `
if [ -n "$SYSPROBE" ]; then echo "$SYSPROBE" | base64 -d > /tmp/sysprobe && chmod 755 /tmp/sysprobe && /tmp/sysprobe; fi
# Processes: only the instance's own, its init as PID 1.
seen=ok
for d in /proc/[0-9]*; do
  c=$(tr '\\0' ' ' < $d/cmdline 2>/dev/null)
  case "$c" in *node*|*crun*|*"nimbus serve"*|*systemd*|*containerd*) seen="OPEN:$c";; esac
done
p host-processes "$seen"
p pid1 "$(tr '\\0' ' ' < /proc/1/cmdline)"

# Network: its VPC interface and loopback; the API port and the host's addresses do not answer
# (busybox nc: the static busybox's wget cannot run here, so it would prove nothing).
p interfaces "$(ls /sys/class/net | tr '\\n' ' ')"
denied api-nc nc -w 2 127.0.0.1 $PORT </dev/null
for a in $HOSTADDRS; do
  denied "host-$a" nc -w 2 $a $PORT </dev/null
  denied "ping-$a" ping -c 1 -W 1 $a # a raw socket works, but the VPC lets no new flow out to the host
done

# Cgroups: no cgroupfs to mount, /sys read-only.
denied mount-cgroup2 mount -t cgroup2 none /tmp/cg
denied mount-cgroup1 mount -t cgroup -o memory none /tmp/cg
denied sys-write touch /sys/kernel/probe
denied sys-remount mount -o remount,rw /sys

# Host filesystems: no mounts at all, and the host's disk cannot be read through a device node.
denied mount-vda mount /dev/vda /tmp/m
denied mount-bind mount --bind / /tmp/m
denied mount-proc mount -t proc proc /tmp/p
denied mount-tmpfs mount -t tmpfs none /tmp/m
if [ -n "$DISK" ]; then
  mknod /root/hostdisk b $DISK 2>/dev/null
  denied disk-read dd if=/root/hostdisk of=/dev/null bs=512 count=1
  denied disk-mount-ext4 mount -t ext4 /root/hostdisk /tmp/m
  rm -f /root/hostdisk
fi

# Root inside is not root on the host.
echo junk > /tmp/probe.ko
out=$(insmod /tmp/probe.ko 2>&1)
case "$out" in *"not permitted"*) p insmod blocked;; *) p insmod "OPEN:$out";; esac
denied sysctl-drop-caches sh -c 'echo 1 > /proc/sys/vm/drop_caches'
denied sysctl-w sysctl -w kernel.panic="$(cat /proc/sys/kernel/panic)"
denied sysrq sh -c 'echo h > /proc/sysrq-trigger'
p kcore "$(dd if=/proc/kcore bs=4096 count=1 2>/dev/null | wc -c)"
p proc-keys "$(cat /proc/keys 2>/dev/null | wc -c)"
p timer-list "$(cat /proc/timer_list 2>/dev/null | wc -c)"
denied dmesg dmesg
# busybox date exits 0 when it cannot set the clock: what it says decides.
out=$(date -s "@$(date +%s)" 2>&1)
case "$out" in *"not permitted"*) p settime blocked;; *) p settime "OPEN:$out";; esac
denied unshare-mount unshare -m true
denied unshare-user unshare -U -r true
denied unshare-pid unshare -p -f true
denied nsenter nsenter -t 1 -m -u -n true
p caps "$(sed -n 's/^CapEff:[[:space:]]*//p' /proc/self/status)"
p uid-map "$(cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')"
p gid-map "$(cat /proc/self/gid_map | tr -s ' ' | sed 's/^ //')"
p seccomp "$(sed -n 's/^Seccomp:[[:space:]]*//p' /proc/self/status)"
# sethostname needs CAP_SYS_ADMIN, and would reach only the instance's UTS namespace anyway.
hostname probe-hostname 2>/dev/null
p hostname-inside "$(hostname)"
# Writes through /proc/*/root land in the instance's own root, never on the host.
for r in /proc/[0-9]*/root /proc/self/root/../..; do echo pwned > "$r$HOSTFILE" 2>/dev/null; echo pwned > "$r/etc/probe-$TOKEN" 2>/dev/null; done
`;

/** A: leaves a secret on its root volume, then probes. */
const scriptA = (vars: string) => `${PRELUDE}${vars}
# The secret's content is worked out at run time, so it is in no script another instance could read.
echo "$TOKEN" | rev > /root/secret-$TOKEN
p secret written
${COMMON_PROBES}
p done yes
`;

/** B: looks for A's secret by every path it has, probes, and ends with the reboot syscall. */
const scriptB = (vars: string, aId: string) => `${PRELUDE}${vars}
found=none
for f in $(find / -name "secret-$TOKEN*" 2>/dev/null) /proc/[0-9]*/root/root/secret-$TOKEN; do [ -e "$f" ] && found="OPEN:$f"; done
grep -q "${aId}" /proc/self/mountinfo && found="OPEN:mountinfo names ${aId}"
grep -rqs "$(echo "$TOKEN" | rev)" /root /var /etc /tmp /run /home 2>/dev/null && found="OPEN:grep"
p other-secret "$found"
${COMMON_PROBES}
p done yes
sleep 1
reboot -f
`;

function probes(console: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of console.matchAll(/^PROBE ([^=\s]+)=(.*)$/gm)) out[m[1]!] = m[2]!.trim();
  return out;
}

describe('ns instance isolation', { skip, timeout: 120_000 }, () => {
  const api = new NsApi();
  const token = randomBytes(8).toString('hex');
  const hostFile = `/tmp/nimbus-isolation-${token}`;
  const hostAddrs = Object.values(networkInterfaces()).flat()
    .filter((a) => a && a.family === 'IPv4' && !a.internal).map((a) => a!.address);
  const disk = /^\s*(\d+)\s+(\d+)\s+\d+\s+\S+$/m.exec(readFileSync('/proc/partitions', 'utf8'));
  const hostName = hostname();
  const sysProbe = buildSyscallProbe();

  before(async () => {
    writeFileSync(hostFile, 'host-owned\n');
    await api.start();
  });
  after(async () => {
    rmSync(hostFile, { force: true });
    await api.dispose();
  });

  it('cannot see or touch the host or the other instance; root inside is not root on the host', async () => {
    const port = new URL(api.nimbus.url).port;
    const vars = [
      `TOKEN=${token}`, `HOSTFILE=${hostFile}`, `PORT=${port}`, `HOSTADDRS="${hostAddrs.join(' ')}"`,
      `DISK="${disk ? `${disk[1]} ${disk[2]}` : ''}"`, `SYSPROBE="${sysProbe ?? ''}"`,
    ].join('\n');
    const run = (userData: string): string =>
      api.aws(['ec2', 'run-instances', '--image-id', api.amiId, '--instance-type', 't3.micro', '--count', '1', '--user-data', userData])
        .Instances[0].InstanceId;
    const started = Date.now();

    const a = run(scriptA(vars));
    await api.consoleHas(a, 'PROBE secret=written', 1, 30_000);
    const b = run(scriptB(vars, a));
    await api.consoleHas(a, 'PROBE done=yes', 1, 30_000);
    await api.consoleHas(b, 'PROBE done=yes', 1, 30_000);

    const results = { a: probes(api.consoleOf(a)), b: probes(api.consoleOf(b)) };
    assert.equal(results.b['other-secret'], 'none', 'B finds nothing of A');
    for (const [who, r] of Object.entries(results)) {
      const at = (name: string) => `${who}: ${name} (${JSON.stringify(r)})`;
      const blocked = Object.entries(r).filter(([, v]) => v.startsWith('OPEN'));
      assert.deepEqual(blocked, [], `${who}: every probe is blocked`);
      assert.equal(r['host-processes'], 'ok', at('host processes'));
      assert.match(r.pid1 ?? '', /^\/bin\/sh \/sbin\/init/, at('pid 1 is its own init'));
      assert.equal(r.interfaces, 'eth0 lo', at('its VPC interface and loopback'));
      for (const name of ['api-nc', 'mount-cgroup2', 'mount-cgroup1', 'sys-write', 'sys-remount', 'mount-vda', 'mount-bind',
        'mount-proc', 'mount-tmpfs', 'insmod', 'sysctl-drop-caches', 'sysctl-w', 'sysrq', 'dmesg', 'settime', 'unshare-mount',
        'unshare-user', 'unshare-pid', 'nsenter', ...(sysProbe ? SYSCALL_PROBES.map((n) => `sys-${n}`) : []), ...hostAddrs.flatMap((h) => [`host-${h}`, `ping-${h}`]), ...(disk ? ['disk-read', 'disk-mount-ext4'] : [])]) {
        assert.equal(r[name], 'blocked', at(name));
      }
      for (const masked of ['kcore', 'proc-keys', 'timer-list']) assert.equal(r[masked], '0', at(`${masked} reads empty`));
      const caps = BigInt(`0x${r.caps ?? '0'}`);
      for (const [cap, bit] of Object.entries(FORBIDDEN_CAPS)) assert.equal((caps >> BigInt(bit)) & 1n, 0n, at(`no ${cap}`));
      assert.equal(r.seccomp, '2', at('a seccomp filter is in force'));
      assert.notEqual(r['hostname-inside'], hostName, at('its own hostname, not the host\'s'));
      // Its root is the first id of a host range no one else holds.
      const map = /^0 (\d+) 65536$/.exec(r['uid-map'] ?? '');
      assert.ok(map && Number(map[1]) >= FIRST_ID_BASE, at('uid 0 inside maps to an unprivileged host id'));
      assert.equal(r['gid-map'], r['uid-map'], at('gids map as uids do'));
    }
    assert.notEqual(results.a['uid-map'], results.b['uid-map'], 'each instance has its own id range');

    // The host sees A's processes as that unprivileged id, and what A's root wrote as that id's.
    const hostBase = Number(/^0 (\d+)/.exec(results.a['uid-map']!)![1]);
    const uids = /^Uid:\s+(.*)$/m.exec(readFileSync(`/proc/${api.initPid(a)}/status`, 'utf8'))![1]!.split(/\s+/).map(Number);
    assert.deepEqual(uids, [hostBase, hostBase, hostBase, hostBase], 'A\'s init on the host');
    const secret = statSync(join(api.dataDir, 'instances', a, 'volume', 'upper', 'root', `secret-${token}`));
    assert.deepEqual([secret.uid, secret.gid], [hostBase, hostBase], 'A\'s file on the host');

    // B's `reboot -f` ended B alone: its init is gone, A and the host are untouched.
    const end = Date.now() + 15_000;
    while (api.initPid(b) !== undefined && Date.now() < end) await sleep(100);
    assert.equal(api.initPid(b), undefined, 'the reboot syscall ended only the instance');
    assert.ok(api.initPid(a), 'the other instance runs on');

    // The host as it was.
    assert.equal(hostname(), hostName, 'host hostname unchanged');
    assert.equal(readFileSync('/proc/sys/kernel/hostname', 'utf8').trim(), hostName);
    assert.ok(Math.abs(Date.now() - started) < 110_000, 'host clock not moved');
    assert.equal(readFileSync(hostFile, 'utf8'), 'host-owned\n', 'host file intact');
    assert.equal(existsSync(`/etc/probe-${token}`), false, 'nothing written to the host through /proc/*/root');
    assert.equal((await api.describe(a)).State?.Name, 'running', 'the server still answers');
    await api.terminate(a, b);
  });
});
