/**
 * Which cgroup layout the host has. crun handles v1 and v2 itself; on a hybrid host (v1
 * controllers plus an empty cgroup2 hierarchy, usually at /sys/fs/cgroup/unified) it refuses to
 * run unless it sees no cgroup2 mount, so the driver runs it in a private mount namespace with
 * that mount unmounted (see crun.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type CgroupMode = 'v1' | 'v2' | 'hybrid';

export interface CgroupInfo {
  mode: CgroupMode;
  /** v2: the unified mount. v1/hybrid: the v1 hierarchies' mount points (one per controller set). */
  hierarchies: string[];
  /** Hybrid only: the cgroup2 mount crun must not see. */
  unifiedMount?: string;
  /** Whether a memory+swap limit can be set (v1 needs memory.memsw.*; v2 has memory.swap.max). */
  swapLimit: boolean;
}

interface MountEntry {
  mountPoint: string;
  fsType: string;
  superOptions: string;
}

/** Parses /proc/self/mountinfo (fields: id parent major:minor root mountpoint opts [optional…] - fstype source superopts). */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const fields = pre.split(' ');
    const tail = post.split(' ');
    out.push({ mountPoint: unescapeMount(fields[4] ?? ''), fsType: tail[0] ?? '', superOptions: tail[2] ?? '' });
  }
  return out;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
export function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function detectCgroups(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): CgroupInfo {
  const mounts = parseMountinfo(mountinfo);
  const v2 = mounts.filter((m) => m.fsType === 'cgroup2');
  const v1 = mounts.filter((m) => m.fsType === 'cgroup');
  const unifiedRoot = v2.find((m) => m.mountPoint === '/sys/fs/cgroup');
  if (unifiedRoot) {
    return { mode: 'v2', hierarchies: [unifiedRoot.mountPoint], swapLimit: true };
  }
  if (v1.length === 0) {
    if (v2.length > 0) return { mode: 'v2', hierarchies: [v2[0]!.mountPoint], swapLimit: true };
    throw new Error('no cgroup filesystem is mounted on this host');
  }
  const hierarchies = [...new Set(v1.map((m) => m.mountPoint))];
  const memory = v1.find((m) => m.superOptions.split(',').includes('memory'));
  const swapLimit = memory ? existsSync(join(memory.mountPoint, 'memory.memsw.limit_in_bytes')) : false;
  if (v2.length > 0) return { mode: 'hybrid', hierarchies, unifiedMount: v2[0]!.mountPoint, swapLimit };
  return { mode: 'v1', hierarchies, swapLimit };
}

/** Every directory a container's cgroup (its path relative to the hierarchy roots) can occupy. */
export function cgroupDirs(info: CgroupInfo, relPath: string): string[] {
  const rel = relPath.replace(/^\/+/, '');
  return info.hierarchies.map((h) => join(h, rel));
}

/** How many processes the kernel OOM-killed in a cgroup (undefined if it is not there). */
export function oomKills(info: CgroupInfo, relPath: string): number | undefined {
  const rel = relPath.replace(/^\/+/, '');
  const candidates = info.mode === 'v2'
    ? [join(info.hierarchies[0]!, rel, 'memory.events')]
    : info.hierarchies.map((h) => join(h, rel, 'memory.oom_control'));
  for (const file of candidates) {
    if (!existsSync(file)) continue;
    const m = /^oom_kill (\d+)$/m.exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : 0;
  }
  return undefined;
}
