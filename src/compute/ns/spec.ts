/**
 * The OCI runtime spec (config.json) of one instance: fresh user, pid, mount, uts and ipc
 * namespaces and the network namespace the network controller plugged its interfaces into, the
 * instance type's limits as cgroup resources, a minimal /dev, and root without the capabilities
 * that would reach beyond its own namespaces.
 *
 * The user namespace maps the instance's ids 0..65535 to a host range of its own (id-ranges.ts):
 * root inside is an unprivileged user on the host, and its capabilities count only for what its
 * namespaces own. The capability set, the masked and read-only parts of /proc and /sys, the
 * device cgroup and the seccomp filter below still narrow what it may do inside.
 */
import { readFileSync } from 'node:fs';
import type { CgroupInfo } from './cgroups.js';
import { IDS_PER_INSTANCE } from './id-ranges.js';

export interface BundleSpec {
  hostname: string;
  vcpus: number;
  memoryMiB: number;
  pidsLimit: number;
  /** Relative to the cgroup hierarchies' roots, e.g. /nimbus/nimbus-i-0123. */
  cgroupsPath: string;
  init: string[];
  /** Files bind-mounted read-only into the instance: destination → host source. */
  files: Record<string, string>;
  annotations?: Record<string, string>;
  /** The network namespace to join (its interfaces plugged in by the network controller); a fresh, empty one when absent. */
  networkNamespace?: string;
  /** The root filesystem's mount point (absolute). */
  rootfs: string;
  /** The host id the instance's root (uid and gid 0) is; its ids 0..IDS_PER_INSTANCE-1 follow. */
  idBase: number;
}

export const CPU_PERIOD_US = 100_000;

/**
 * Root in an instance: what a server's root may do, short of reaching the host. Not
 * CAP_DAC_READ_SEARCH: with it open_by_handle_at opens any host file by its handle, whatever the
 * instance's root (the "shocker" escape).
 */
export const CAPABILITIES = [
  'CAP_AUDIT_WRITE', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID',
  'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_KILL', 'CAP_LEASE', 'CAP_LINUX_IMMUTABLE', 'CAP_MKNOD',
  'CAP_NET_ADMIN', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_RAW', 'CAP_SETFCAP', 'CAP_SETGID',
  'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_BOOT', 'CAP_SYS_CHROOT', 'CAP_SYS_NICE', 'CAP_SYS_PTRACE',
  'CAP_SYS_RESOURCE',
];

const EPERM = 1;
const ENOSYS = 38;
const CLONE_NEWUSER = 0x10000000;

/**
 * System calls refused in an instance (EPERM). Most already fail for want of a capability; they
 * are refused here too because the kernel does not namespace what they reach (keyrings, modules,
 * kexec, the kernel log, BPF, perf, swap, accounting, quotas, file handles) or because they open
 * a way round the capability set: a new user namespace gives back every capability inside it.
 */
const REFUSED_SYSCALLS = [
  'keyctl', 'add_key', 'request_key', 'init_module', 'finit_module', 'delete_module', 'kexec_load', 'kexec_file_load',
  'open_by_handle_at', 'syslog', 'bpf', 'perf_event_open', 'userfaultfd', 'acct', 'swapon', 'swapoff', 'quotactl',
  'lookup_dcookie', 'setns', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'open_tree', 'move_mount', 'mount_setattr',
];

/** Allows every system call but those above, and clone/unshare of a user namespace. */
export function seccompProfile(): object {
  const newUser = [{ index: 0, value: CLONE_NEWUSER, valueTwo: CLONE_NEWUSER, op: 'SCMP_CMP_MASKED_EQ' }];
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      { names: REFUSED_SYSCALLS, action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
      { names: ['clone', 'unshare'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: newUser },
      // clone3 takes its flags in memory a filter cannot read: ENOSYS makes the C library fall back to clone.
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
    ],
  };
}

/** A character device the instance may use; no minor: all of the major's. */
const char = (major: number, minor?: number) => ({ allow: true, type: 'c', major, ...(minor === undefined ? {} : { minor }), access: 'rwm' });

export function ociSpec(spec: BundleSpec, cgroups: CgroupInfo): object {
  const caps = grantableCapabilities();
  const memory = Math.max(16, Math.floor(spec.memoryMiB)) * 1024 * 1024;
  const binds = Object.entries(spec.files).map(([destination, source]) => ({
    destination, type: 'bind', source, options: ['bind', 'ro', 'nosuid', 'nodev', 'noexec'],
  }));
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: spec.init,
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'TERM=linux', 'container=nimbus'],
      cwd: '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: nofileHard(), soft: Math.min(1024, nofileHard()) }],
      // Set-uid programs (su, sudo) must work for root's users inside, so privileges may be gained
      // by exec; none beyond the capability set above, which bounds every process of the instance.
      noNewPrivileges: false,
    },
    root: { path: spec.rootfs, readonly: false },
    hostname: spec.hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      // A joined network namespace belongs to the host's user namespace, so sysfs cannot be mounted
      // from inside the instance's: the crun wrapper mounts it beforehand (crun.ts).
      ...(spec.networkNamespace ? [] : [{ destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] }]),
      { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
      { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=755'] },
      ...binds,
    ],
    annotations: spec.annotations ?? {},
    linux: {
      namespaces: [
        { type: 'user' }, { type: 'pid' }, { type: 'mount' }, { type: 'uts' }, { type: 'ipc' },
        spec.networkNamespace ? { type: 'network', path: spec.networkNamespace } : { type: 'network' },
      ],
      uidMappings: [{ containerID: 0, hostID: spec.idBase, size: IDS_PER_INSTANCE }],
      gidMappings: [{ containerID: 0, hostID: spec.idBase, size: IDS_PER_INSTANCE }],
      cgroupsPath: spec.cgroupsPath,
      resources: {
        devices: [
          { allow: false, access: 'rwm' },
          char(1, 3), char(1, 5), char(1, 7), char(1, 8), char(1, 9), // null zero full random urandom
          char(5, 0), char(5, 1), char(5, 2), char(136), // tty console ptmx pts/*
          char(10, 200), // net/tun
        ],
        memory: cgroups.swapLimit ? { limit: memory, swap: memory } : { limit: memory },
        cpu: { quota: Math.max(1, Math.round(spec.vcpus * CPU_PERIOD_US)), period: CPU_PERIOD_US, shares: Math.max(2, Math.round(spec.vcpus * 1024)) },
        pids: { limit: spec.pidsLimit },
      },
      maskedPaths: [
        '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
        '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
      seccomp: seccompProfile(),
    },
  };
}

/**
 * The open-files hard limit an instance gets: 524288, or the server's own hard limit if less
 * (raising it beyond that fails in crun on hosts that forbid it).
 */
function nofileHard(): number {
  try {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    const hard = m?.[2] === 'unlimited' ? Infinity : Number(m?.[2]);
    return Number.isFinite(hard) || hard === Infinity ? Math.min(524288, hard) : 1024;
  } catch {
    return 1024;
  }
}

const CAP_BITS: Record<string, number> = {
  CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_DAC_READ_SEARCH: 2, CAP_FOWNER: 3, CAP_FSETID: 4, CAP_KILL: 5, CAP_SETGID: 6,
  CAP_SETUID: 7, CAP_SETPCAP: 8, CAP_LINUX_IMMUTABLE: 9, CAP_NET_BIND_SERVICE: 10, CAP_NET_BROADCAST: 11, CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13, CAP_IPC_LOCK: 14, CAP_IPC_OWNER: 15, CAP_SYS_CHROOT: 18, CAP_SYS_PTRACE: 19, CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23, CAP_SYS_RESOURCE: 24, CAP_MKNOD: 27, CAP_LEASE: 28, CAP_AUDIT_WRITE: 29, CAP_SETFCAP: 31,
};

/** CAPABILITIES less those the server itself cannot hand on (capset fails for any outside its bounding set). */
export function grantableCapabilities(status = readStatus()): string[] {
  const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status);
  if (!m) return CAPABILITIES;
  const bounding = BigInt(`0x${m[1]}`);
  return CAPABILITIES.filter((c) => CAP_BITS[c] === undefined || ((bounding >> BigInt(CAP_BITS[c]!)) & 1n) === 1n);
}

function readStatus(): string {
  try {
    return readFileSync('/proc/self/status', 'utf8');
  } catch {
    return '';
  }
}
