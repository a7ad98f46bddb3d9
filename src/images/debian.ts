/**
 * The `debian-12` image: a full Debian 12 (bookworm) system built with debootstrap, like Debian's
 * own cloud AMIs in what it holds (openssh-server, cloud-init, python3, iproute2, ca-certificates,
 * sudo, curl; the default user `admin` with passwordless sudo), booted under the ns driver by the
 * Nimbus init shim (see debian/init.ts for why not systemd).
 *
 * debootstrap runs `--variant=minbase` from the Debian mirror this host's apt uses, with
 * `--cache-dir <dataDir>/cache/debootstrap/bookworm-<arch>`, so a rebuild downloads nothing that
 * has not changed; its machine-readable progress (`--debian-installer`, on fd 3) drives the
 * progress display (debian/progress.ts), its full log goes to `<dataDir>/images/debian-12.build.log`.
 * The rootfs is then configured in a chroot (user, sudoers, apt sources, cloud-init settings,
 * the init shim), host-specific files (SSH host keys, machine-id, resolv.conf, hostname) are
 * cleared, and the image store renames it into place atomically.
 *
 * Needs root (debootstrap does). debootstrap is installed with apt-get when missing.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EC2_METADATA_PATH, EC2_METADATA_SCRIPT } from './ec2-metadata.js';
import { DEBIAN_INIT_PATH, DEBIAN_INIT_SCRIPT, POWER_SCRIPT } from './debian/init.js';
import { DEBOOTSTRAP_SHARE, DebootstrapProgress, type BuildProgress } from './debian/progress.js';
import { DEBIAN_IMAGE } from './names.js';
import { ImageStore, type ImageManifest } from './store.js';
export const DEBIAN_SUITE = 'bookworm';
export const DEBIAN_DEFAULT_USER = 'admin';
const DEFAULT_MIRROR = 'http://deb.debian.org/debian';

/**
 * What the image holds beyond minbase. debootstrap's resolver follows Depends but not virtual
 * packages, so python3-cffi-backend (which provides python3-cffi-backend-api-*, needed by
 * python3-cryptography, needed by cloud-init) is named explicitly.
 */
export const DEBIAN_PACKAGES = [
  'openssh-server', 'cloud-init', 'awscli', 'python3-boto3', 'python3', 'python3-cffi-backend', 'iproute2', 'iputils-ping', 'ca-certificates',
  'sudo', 'curl', 'less', 'procps', 'netbase', 'bash-completion',
];

export interface DebianBuildOptions {
  /** Progress of the build (debootstrap's phases, then the builder's steps). */
  onProgress?: (p: BuildProgress) => void;
  /** A line for each step of the builder itself. */
  log?: (line: string) => void;
  /** The Debian mirror (default: the one this host's apt uses, else deb.debian.org). */
  mirror?: string;
}

/** The Debian mirror this host's apt sources name for the main archive (not security), if any. */
export function hostDebianMirror(): string | undefined {
  const dir = '/etc/apt/sources.list.d';
  const files = ['/etc/apt/sources.list', ...(existsSync(dir) ? readdirSync(dir).filter((f) => /\.(list|sources)$/.test(f)).map((f) => join(dir, f)) : [])];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    if (file.endsWith('.sources')) {
      // deb822 stanzas: Types / URIs / Suites.
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (name: string) => new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim() ?? '';
        if (!/^enabled:\s*no/mi.test(stanza) && field('Types').split(/\s+/).includes('deb') && field('Suites').split(/\s+/).includes(DEBIAN_SUITE)) {
          const uri = field('URIs').split(/\s+/).find((u) => /^https?:\/\//.test(u) && !/security/.test(u));
          if (uri) return uri.replace(/\/+$/, '');
        }
      }
    } else {
      for (const line of text.split('\n')) {
        const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(https?:\/\/\S+)\s+(\S+)/.exec(line);
        if (m && m[2] === DEBIAN_SUITE && !/security/.test(m[1]!)) return m[1]!.replace(/\/+$/, '');
      }
    }
  }
  return undefined;
}

function debArch(): string {
  return process.arch === 'arm64' ? 'arm64' : 'amd64';
}

/** Installs debootstrap with apt-get when it is missing (as root); apt-get update if the first try fails. */
export function ensureDebootstrap(log: (line: string) => void = () => {}): string {
  const found = ['/usr/sbin/debootstrap', '/usr/bin/debootstrap'].find((p) => existsSync(p));
  if (found) return found;
  if (process.getuid?.() !== 0) throw new Error('debootstrap is not installed, and installing it needs root: apt-get install debootstrap');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'debootstrap'], { env, encoding: 'utf8' });
  log('installing debootstrap (apt-get install debootstrap)');
  let r = install();
  if (r.status !== 0) {
    log('apt-get install failed: running apt-get update and trying again');
    spawnSync('apt-get', ['update'], { env, stdio: 'ignore' });
    r = install();
  }
  const now = ['/usr/sbin/debootstrap', '/usr/bin/debootstrap'].find((p) => existsSync(p));
  if (r.status !== 0 || !now) throw new Error(`cannot install debootstrap: ${(r.stderr || r.stdout || '').trim().split('\n').slice(-3).join('; ')}`);
  return now;
}

/** Mount points at or under dir (deepest last), from /proc/self/mounts. */
function mountsAt(dir: string): string[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync('/proc/self/mounts', 'utf8').split('\n')
    .map((l) => unescape(l.split(' ')[1] ?? ''))
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
}

/** Unmounts whatever debootstrap (or a chroot step) left mounted in the target, deepest first. */
function unmountAll(dir: string): void {
  for (const m of mountsAt(dir).reverse()) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
}

/** Runs debootstrap, feeding its fd-3 progress to the parser; its log goes to logFile. */
async function debootstrap(bin: string, args: string[], logFile: string, onProgress: (p: BuildProgress) => void): Promise<void> {
  const parser = new DebootstrapProgress(onProgress);
  const log = createWriteStream(logFile, { flags: 'w' });
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(bin, ['--debian-installer', ...args], {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', DEBIAN_FRONTEND: 'noninteractive' },
    });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    const fd3 = child.stdio[3] as NodeJS.ReadableStream;
    fd3.setEncoding('utf8');
    fd3.on('data', (chunk: string) => {
      log.write(chunk.split('\n').map((l) => (l ? `[progress] ${l}` : l)).join('\n'));
      parser.write(chunk);
    });
    child.on('error', reject);
    child.on('close', (c, sig) => resolve(c ?? (sig ? 128 : 1)));
  });
  parser.finish();
  await new Promise<void>((r) => log.end(r));
  if (code !== 0) {
    const tail = readFileSync(logFile, 'utf8').split('\n').filter((l) => l && !l.startsWith('[progress]')).slice(-8).join('\n');
    const why = parser.errors.length ? parser.errors.join('; ') : `exit status ${code}`;
    throw new Error(`debootstrap failed (${why}); full log: ${logFile}\n${tail}`);
  }
}

function chroot(root: string, args: string[], input?: string): string {
  return execFileSync('chroot', [root, ...args], {
    encoding: 'utf8',
    input,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', DEBIAN_FRONTEND: 'noninteractive', HOME: '/root' },
  });
}

function write(root: string, file: string, text: string, mode = 0o644): void {
  const dest = join(root, file);
  mkdirSync(dirname(dest), { recursive: true });
  rmSync(dest, { force: true });
  writeFileSync(dest, text, { mode });
  chmodSync(dest, mode);
}

/** Makes the debootstrapped tree an AMI: default user, sudo, apt sources, cloud-init settings, the init shim. */
function configure(root: string, mirror: string, log: (line: string) => void): void {
  // The default user, as Debian's cloud images have it (cloud-init would create it at first boot;
  // the shim does not run cloud-init yet, so it is made here): locked password, sudo without one.
  const exists = (db: string, key: string) => spawnSync('chroot', [root, 'getent', db, key], { stdio: 'ignore' }).status === 0;
  if (!exists('passwd', DEBIAN_DEFAULT_USER)) {
    const groups = ['adm', 'dialout', 'cdrom', 'floppy', 'sudo', 'audio', 'dip', 'video', 'plugdev'].filter((g) => exists('group', g));
    chroot(root, ['useradd', '--create-home', '--shell', '/bin/bash', '--comment', 'Debian', '--groups', groups.join(','), DEBIAN_DEFAULT_USER]);
  }
  chroot(root, ['passwd', '--lock', DEBIAN_DEFAULT_USER]);
  mkdirSync(join(root, 'home', DEBIAN_DEFAULT_USER, '.ssh'), { recursive: true, mode: 0o700 });
  chroot(root, ['chown', '-R', `${DEBIAN_DEFAULT_USER}:${DEBIAN_DEFAULT_USER}`, `/home/${DEBIAN_DEFAULT_USER}/.ssh`]);
  write(root, 'etc/sudoers.d/90-nimbus-default-user', `# The default user (as on Debian's AMIs): root through sudo, no password.\n${DEBIAN_DEFAULT_USER} ALL=(ALL) NOPASSWD:ALL\n`, 0o440);
  chroot(root, ['visudo', '-c', '-q', '-f', '/etc/sudoers.d/90-nimbus-default-user']);
  log(`user ${DEBIAN_DEFAULT_USER} with passwordless sudo`);

  // apt: the mirror the image was built from, with updates and security, in deb822 as Debian 12 does.
  rmSync(join(root, 'etc/apt/sources.list'), { force: true });
  const security = mirror.replace(/\/debian$/, '/debian-security');
  write(root, 'etc/apt/sources.list.d/debian.sources', [
    `Types: deb\nURIs: ${mirror}\nSuites: ${DEBIAN_SUITE} ${DEBIAN_SUITE}-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`,
    `Types: deb\nURIs: ${security === mirror ? 'http://deb.debian.org/debian-security' : security}\nSuites: ${DEBIAN_SUITE}-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n`,
  ].join('\n'));
  // Installing packages inside an instance: no init system, so maintainer scripts must not try to start services.
  write(root, 'etc/apt/apt.conf.d/90nimbus', 'APT::Install-Recommends "false";\nAcquire::Languages "none";\n');

  // cloud-init, for when the shim runs it (issue 5): EC2 data source, Debian AMIs' default user.
  write(root, 'etc/cloud/cloud.cfg.d/01_nimbus.cfg', [
    '# Nimbus: an EC2-compatible cloud; its metadata service answers at 169.254.169.254.',
    'datasource_list: [ Ec2, None ]',
    '# Interfaces are configured by the host before the instance boots.',
    'network: { config: disabled }',
    '# The init shim makes each instance its own host keys at first boot; deleting them under a',
    '# running sshd would refuse connections while new ones are made.',
    'ssh_deletekeys: false',
    'datasource:',
    '  Ec2:',
    '    strict_id: false',
    '    metadata_urls: [ "http://169.254.169.254" ]',
    'system_info:',
    '  default_user:',
    `    name: ${DEBIAN_DEFAULT_USER}`,
    '    lock_passwd: true',
    '    gecos: Debian',
    '    groups: [adm, dialout, cdrom, floppy, sudo, audio, dip, video, plugdev]',
    '    sudo: ["ALL=(ALL) NOPASSWD:ALL"]',
    '    shell: /bin/bash',
    '',
  ].join('\n'));

  // A UTF-8 locale that always exists (C.UTF-8 is built into glibc).
  write(root, 'etc/default/locale', 'LANG=C.UTF-8\n');

  // The init shim, and power commands that reach it (there is no init system to ask).
  write(root, DEBIAN_INIT_PATH.slice(1), DEBIAN_INIT_SCRIPT, 0o755);
  write(root, EC2_METADATA_PATH.slice(1), EC2_METADATA_SCRIPT, 0o755);
  for (const cmd of ['poweroff', 'halt', 'reboot', 'shutdown']) {
    const dest = join(root, 'usr/sbin', cmd);
    if (!existsSync(dest)) write(root, `usr/sbin/${cmd}`, POWER_SCRIPT, 0o755);
  }
  for (const d of ['etc/nimbus/boot.d', 'var/lib/nimbus']) mkdirSync(join(root, d), { recursive: true });
  chmodSync(join(root, 'var/lib/nimbus'), 0o700);
  write(root, 'usr/share/doc/nimbus/README', `This is the Nimbus ${DEBIAN_IMAGE} image (Debian ${DEBIAN_SUITE}, built with debootstrap).\n` +
    `PID 1 is ${DEBIAN_INIT_PATH}, a shell init: it mounts /proc, /sys, /dev, /run, sets the hostname,\n` +
    'starts sshd, runs /etc/nimbus/boot.d/* on every boot and #! user data on the first boot only.\n' +
    'There is no systemd: services are started by boot hooks; poweroff and halt signal PID 1.\n');

  // What must differ per instance, or comes from the host: made fresh at first boot, or by the driver.
  for (const f of readdirSync(join(root, 'etc/ssh')).filter((n) => n.startsWith('ssh_host_'))) rmSync(join(root, 'etc/ssh', f), { force: true });
  write(root, 'etc/machine-id', '', 0o444);
  rmSync(join(root, 'var/lib/dbus/machine-id'), { force: true });
  write(root, 'etc/hostname', 'localhost\n');
  write(root, 'etc/hosts', '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n');
  write(root, 'etc/resolv.conf', '');
  chroot(root, ['apt-get', 'clean']);
  rmSync(join(root, 'var/lib/apt/lists'), { recursive: true, force: true });
  mkdirSync(join(root, 'var/lib/apt/lists/partial'), { recursive: true });
  // Empty the logs debootstrap's dpkg runs wrote (keeping the files and directories), and the temp dirs.
  for (const entry of readdirSync(join(root, 'var/log'), { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) writeFileSync(join(entry.parentPath, entry.name), '');
  }
  for (const d of ['tmp', 'var/tmp']) for (const n of readdirSync(join(root, d))) rmSync(join(root, d, n), { recursive: true, force: true });
  log('apt sources, cloud-init settings and the init shim written; host keys, machine-id and caches cleared');
}

/** The packages (name → version) installed in the rootfs. */
function installedPackages(root: string): Record<string, string> {
  const out = chroot(root, ['dpkg-query', '-W', '-f=${Package}\t${Version}\t${db:Status-Abbrev}\n']);
  const packages: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const [name, version, status] = line.split('\t');
    if (name && version && status?.startsWith('ii')) packages[name] = version;
  }
  return packages;
}

/** Builds (or rebuilds) the debian-12 image into `<dataDir>/images/debian-12/`. */
export async function buildDebianImage(dataDir: string, opts: DebianBuildOptions = {}): Promise<ImageManifest> {
  const log = opts.log ?? (() => {});
  const onProgress = opts.onProgress ?? (() => {});
  if (process.platform !== 'linux') throw new Error(`the ${DEBIAN_IMAGE} image can only be built on Linux`);
  if (process.getuid?.() !== 0) throw new Error(`building the ${DEBIAN_IMAGE} image needs root (debootstrap and chroot do)`);
  const bin = ensureDebootstrap(log);
  const mirror = (opts.mirror ?? process.env.NIMBUS_DEBIAN_MIRROR ?? hostDebianMirror() ?? DEFAULT_MIRROR).replace(/\/+$/, '');
  const arch = debArch();
  const cacheDir = join(dataDir, 'cache', 'debootstrap', `${DEBIAN_SUITE}-${arch}`);
  mkdirSync(cacheDir, { recursive: true });
  const cached = readdirSync(cacheDir).filter((f) => f.endsWith('.deb')).length;
  const store = new ImageStore(dataDir);
  mkdirSync(store.dir, { recursive: true });
  const logFile = join(store.dir, `${DEBIAN_IMAGE}.build.log`);
  log(`debootstrap ${DEBIAN_SUITE} (${arch}, minbase + ${DEBIAN_PACKAGES.length} packages) from ${mirror}; ` +
    `package cache ${cacheDir} (${cached ? `${cached} .debs` : 'empty'}); log ${logFile}`);

  return store.install(DEBIAN_IMAGE, async (rootfs) => {
    try {
      await debootstrap(bin, [
        '--variant=minbase', `--arch=${arch}`, `--include=${DEBIAN_PACKAGES.join(',')}`, '--merged-usr',
        `--cache-dir=${cacheDir}`, DEBIAN_SUITE, rootfs, mirror,
      ], logFile, onProgress);
      unmountAll(rootfs);
      onProgress({ phase: 'Configuring the image', now: 0, end: 1, unit: 'items', detail: '', percent: DEBOOTSTRAP_SHARE });
      configure(rootfs, mirror, log);
      const packages = installedPackages(rootfs);
      onProgress({ phase: 'Configuring the image', now: 1, end: 1, unit: 'items', detail: `${Object.keys(packages).length} packages`, percent: 99 });
      const version = readFileSync(join(rootfs, 'etc/debian_version'), 'utf8').trim();
      return {
        description: `Debian ${version} (${DEBIAN_SUITE}) built with debootstrap: OpenSSH, cloud-init, python3, sudo; ` +
          `default user ${DEBIAN_DEFAULT_USER}; PID 1 is the Nimbus init shim`,
        architecture: arch === 'arm64' ? 'arm64' : 'x86_64',
        init: [DEBIAN_INIT_PATH],
        // The shim's signals (debian/init.ts), the minimal image's: poweroff for EC2 stop, reboot for RebootInstances.
        stopSignal: 'SIGUSR2',
        rebootSignal: 'SIGTERM',
        packages,
      };
    } finally {
      // Never leave (or let the store's clean-up recurse into) a /proc or /sys mounted in the target.
      unmountAll(rootfs);
    }
  });
}
