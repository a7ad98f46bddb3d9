/**
 * The `minimal` image: busybox (static) with its applets, dropbear (SSH) with the libraries it
 * needs, a few files in /etc and the init of init-script.ts. It is put together from the files the
 * host's Debian packages installed (busybox-static, dropbear-bin: scripts/setup-host.sh installs
 * them), so it builds in well under a second and needs no network.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EC2_METADATA_PATH, EC2_METADATA_SCRIPT } from './ec2-metadata.js';
import { INIT_SCRIPT } from './init-script.js';
import { MINIMAL_IMAGE } from './names.js';
import { ImageStore, type ImageManifest } from './store.js';

const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];
const DROPBEAR_PACKAGE = 'dropbear-bin';

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function packageVersion(pkg: string): string | undefined {
  try {
    return run('dpkg-query', ['-W', '-f=${Version}', pkg]).trim() || undefined;
  } catch {
    return undefined;
  }
}

function isStatic(file: string): boolean {
  try {
    const out = execFileSync('ldd', [file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return /not a dynamic executable|statically linked/.test(out);
  } catch (err) {
    // ldd exits 1 for static executables.
    const e = err as { stdout?: string; stderr?: string };
    return /not a dynamic executable|statically linked/.test(`${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** The shared libraries (absolute paths as the loader finds them) an executable needs, interpreter included. */
export function sharedLibraries(file: string): string[] {
  const out = run('ldd', [file]);
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const arrow = /=>\s*(\/\S+)/.exec(line);
    const bare = /^\s*(\/\S+)\s+\(/.exec(line);
    const path = arrow?.[1] ?? bare?.[1];
    if (path) libs.push(path);
  }
  return libs;
}

/** Copies a host file to the same path under root (the content: symlinks are followed). */
function copyIn(root: string, file: string, mode?: number): void {
  const dest = join(root, file);
  mkdirSync(dirname(dest), { recursive: true });
  if (existsSync(dest)) return;
  copyFileSync(file, dest);
  if (mode !== undefined) chmodSync(dest, mode);
}

function write(root: string, file: string, text: string, mode = 0o644): void {
  const dest = join(root, file);
  mkdirSync(dirname(dest), { recursive: true });
  writeFileSync(dest, text, { mode });
  chmodSync(dest, mode);
}

export interface MinimalBuildOptions {
  /** Called with a line for each step (for a progress display). */
  progress?: (line: string) => void;
}

/** Fills `root` with the minimal system. */
export async function populateMinimalRootfs(root: string, opts: MinimalBuildOptions = {}): Promise<Record<string, string>> {
  const progress = opts.progress ?? (() => {});
  const busybox = BUSYBOX_CANDIDATES.find((p) => existsSync(p) && isStatic(p));
  if (!busybox) throw new Error('a static busybox is needed to build the minimal image: install busybox-static (scripts/setup-host.sh)');
  if (!existsSync('/usr/sbin/dropbear')) throw new Error('dropbear is needed to build the minimal image: install dropbear-bin (scripts/setup-host.sh)');

  for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'usr/local/bin', 'usr/local/sbin', 'etc/nimbus/boot.d', 'etc/dropbear',
    'proc', 'sys', 'dev', 'run', 'tmp', 'var/lib/nimbus', 'var/log', 'var/tmp', 'home', 'mnt', 'opt', 'root/.ssh']) {
    mkdirSync(join(root, d), { recursive: true });
  }
  chmodSync(join(root, 'tmp'), 0o1777);
  chmodSync(join(root, 'var/tmp'), 0o1777);
  chmodSync(join(root, 'root'), 0o700);
  chmodSync(join(root, 'root/.ssh'), 0o700);
  chmodSync(join(root, 'var/lib/nimbus'), 0o700);

  progress(`busybox: ${busybox}`);
  copyFileSync(busybox, join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  const applets = run(busybox, ['--list-full']).split('\n').map((l) => l.trim()).filter(Boolean);
  let links = 0;
  for (const applet of applets) {
    if (applet === 'sbin/init' || applet === 'linuxrc' || applet === 'bin/busybox') continue;
    const dest = join(root, applet);
    if (existsSync(dest)) continue;
    mkdirSync(dirname(dest), { recursive: true });
    symlinkSync('/bin/busybox', dest);
    links++;
  }
  progress(`busybox: ${links} applet links`);

  const dropbearFiles = run('dpkg-query', ['-L', DROPBEAR_PACKAGE]).split('\n')
    .filter((p) => /^\/usr\/(s?bin)\/[^/]+$/.test(p) && existsSync(p));
  const libs = new Set<string>();
  for (const bin of dropbearFiles) {
    copyIn(root, bin, 0o755);
    for (const lib of sharedLibraries(bin)) libs.add(lib);
  }
  for (const lib of libs) copyIn(root, lib, 0o755);
  progress(`dropbear: ${dropbearFiles.length} programs, ${libs.size} libraries`);

  write(root, 'sbin/init', INIT_SCRIPT, 0o755);
  write(root, EC2_METADATA_PATH.slice(1), EC2_METADATA_SCRIPT, 0o755);
  write(root, 'etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  write(root, 'etc/group', 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n');
  write(root, 'etc/shadow', 'root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n', 0o600);
  write(root, 'etc/shells', '/bin/sh\n/bin/ash\n');
  write(root, 'etc/hostname', 'localhost\n');
  write(root, 'etc/hosts', '127.0.0.1\tlocalhost\n');
  write(root, 'etc/resolv.conf', '');
  write(root, 'etc/nsswitch.conf', 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n');
  write(root, 'etc/profile', 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nexport PS1=\'\\u@\\h:\\w\\$ \'\n');
  write(root, 'etc/os-release', 'PRETTY_NAME="Nimbus minimal (busybox)"\nNAME="Nimbus minimal"\nID=nimbus-minimal\nVERSION_ID=1\nHOME_URL="https://github.com/"\n');
  progress('init and /etc written');

  const packages: Record<string, string> = {};
  for (const pkg of ['busybox-static', DROPBEAR_PACKAGE]) {
    const v = packageVersion(pkg);
    if (v) packages[pkg] = v;
  }
  return packages;
}

/** Builds (or rebuilds) the minimal image into `<dataDir>/images/minimal/`. */
export async function buildMinimalImage(dataDir: string, opts: MinimalBuildOptions = {}): Promise<ImageManifest> {
  const store = new ImageStore(dataDir);
  return store.install(MINIMAL_IMAGE, async (rootfs) => ({
    description: 'Nimbus minimal Linux: busybox, dropbear SSH, a shell init that runs user data on first boot',
    architecture: process.arch === 'arm64' ? 'arm64' : 'x86_64',
    init: ['/sbin/init'],
    // What busybox's poweroff and reboot send to PID 1 (see init-script.ts).
    stopSignal: 'SIGUSR2',
    rebootSignal: 'SIGTERM',
    packages: await populateMinimalRootfs(rootfs, opts),
  }));
}
