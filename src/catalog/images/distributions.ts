/**
 * Images that Linux and BSD distributions publish themselves, under their own accounts and with
 * their own naming schemes: Ubuntu, Red Hat, SUSE, Debian, Fedora, CentOS Stream, Oracle Linux,
 * Gentoo and FreeBSD.
 */
import { dashed, isoDate, LINUX, RHEL, SUSE, type CatalogArchitecture, type ImageSpec, type Publisher } from './spec.js';

export const CANONICAL: Publisher = { ownerId: '099720109477' };
export const RED_HAT: Publisher = { ownerId: '309956199498' };
export const SUSE_PUBLISHER: Publisher = { ownerId: '013907871322', alias: 'amazon' };
export const DEBIAN: Publisher = { ownerId: '136693071363' };
export const FEDORA: Publisher = { ownerId: '125523088429' };
export const ORACLE: Publisher = { ownerId: '131827586825' };
export const GENTOO: Publisher = { ownerId: '902460189751' };
export const FREEBSD: Publisher = { ownerId: '782442783595' };

const BOTH: CatalogArchitecture[] = ['x86_64', 'arm64'];
/** The architecture as a distribution spells it in image names. */
const debArch = (a: CatalogArchitecture) => (a === 'x86_64' ? 'amd64' : 'arm64');
const rpmArch = (a: CatalogArchitecture) => (a === 'x86_64' ? 'x86_64' : 'aarch64');
const armBoot = (a: CatalogArchitecture) => (a === 'arm64' ? ('uefi' as const) : undefined);

/** Ubuntu LTS releases and their build serials; 20.04 left standard support in May 2025. */
const UBUNTU: { version: string; codename: string; storage: 'hvm-ssd' | 'hvm-ssd-gp3'; serials: string[] }[] = [
  { version: '20.04', codename: 'focal', storage: 'hvm-ssd', serials: ['20240606', '20241112', '20250508'] },
  { version: '22.04', codename: 'jammy', storage: 'hvm-ssd', serials: ['20240607', '20241206', '20250516', '20251114', '20260508', '20261117'] },
  { version: '24.04', codename: 'noble', storage: 'hvm-ssd-gp3', serials: ['20240605', '20241206', '20250516', '20251114', '20260508', '20261117'] },
];

function ubuntu(): ImageSpec[] {
  const out: ImageSpec[] = [];
  for (const u of UBUNTU) {
    const ebs = u.storage === 'hvm-ssd-gp3' ? 'ebs-gp3' : 'ebs-gp2';
    for (const serial of u.serials) {
      for (const arch of BOTH) {
        const a = debArch(arch);
        out.push({
          name: `ubuntu/images/${u.storage}/ubuntu-${u.codename}-${u.version}-${a}-server-${serial}`,
          description: `Canonical, Ubuntu, ${u.version}, ${a} ${u.codename} image`,
          publisher: CANONICAL,
          architecture: arch,
          created: isoDate(dashed(serial), '04:05:37'),
          rootDeviceName: '/dev/sda1',
          volumeSize: 8,
          volumeType: u.storage === 'hvm-ssd-gp3' ? 'gp3' : 'gp2',
          billing: LINUX,
          bootMode: arch === 'arm64' ? 'uefi' : u.version === '24.04' ? 'uefi-preferred' : undefined,
          parameters: [u.version, u.codename].map((v) => `/aws/service/canonical/ubuntu/server/${v}/stable/current/${a}/hvm/${ebs}/ami-id`),
        });
      }
    }
  }
  return out;
}

/** RHEL minor releases and the dates Red Hat built them. */
const RHEL_RELEASES: [version: string, build: string][] = [
  ['8.10.0', '20240528'],
  ['8.10.0', '20241210'],
  ['9.4.0', '20240605'],
  ['9.5.0', '20241211'],
  ['9.6.0', '20250520'],
  ['9.7.0', '20251112'],
  ['10.0.0', '20250520'],
  ['10.1.0', '20251112'],
];

function rhel(): ImageSpec[] {
  return RHEL_RELEASES.flatMap(([version, build]) =>
    BOTH.map((arch): ImageSpec => ({
      name: `RHEL-${version}_HVM-${build}-${arch}-0-Hourly2-GP3`,
      description: 'Provided by Red Hat, Inc.',
      publisher: RED_HAT,
      architecture: arch,
      created: isoDate(dashed(build), '17:11:32'),
      rootDeviceName: '/dev/sda1',
      volumeSize: 10,
      volumeType: 'gp3',
      billing: RHEL,
      bootMode: armBoot(arch),
    })),
  );
}

const SLES_RELEASES: [servicePack: string, build: string][] = [
  ['5', '20240613'],
  ['6', '20241211'],
  ['6', '20250612'],
  ['7', '20250701'],
  ['7', '20251120'],
  ['7', '20260515'],
];

function suse(): ImageSpec[] {
  return SLES_RELEASES.flatMap(([sp, build]) =>
    BOTH.map((arch): ImageSpec => ({
      name: `suse-sles-15-sp${sp}-v${build}-hvm-ssd-${arch}`,
      description: `SUSE Linux Enterprise Server 15 SP${sp} (HVM, 64-bit, SSD-Backed)`,
      publisher: SUSE_PUBLISHER,
      architecture: arch,
      created: isoDate(dashed(build), '12:24:51'),
      rootDeviceName: '/dev/sda1',
      volumeSize: 10,
      volumeType: 'gp3',
      billing: SUSE,
      bootMode: armBoot(arch),
      parameters: [`/aws/service/suse/sles/15-sp${sp}/${arch}/latest`],
    })),
  );
}

/** Debian point-release builds: `<date>-<build number>`. */
const DEBIAN_RELEASES: { version: string; codename: string; builds: string[] }[] = [
  { version: '11', codename: 'bullseye', builds: ['20240507-1740', '20241202-1949', '20250505-2105'] },
  { version: '12', codename: 'bookworm', builds: ['20240507-1740', '20241201-1948', '20250428-2096', '20251112-2294', '20260512-2481'] },
  { version: '13', codename: 'trixie', builds: ['20250814-2204', '20251117-2299', '20260518-2487', '20261116-2675'] },
];

function debian(): ImageSpec[] {
  const out: ImageSpec[] = [];
  for (const d of DEBIAN_RELEASES) {
    for (const build of d.builds) {
      for (const arch of BOTH) {
        const a = debArch(arch);
        const release = (v: string) => `/aws/service/debian/release/${v}`;
        out.push({
          name: `debian-${d.version}-${a}-${build}`,
          description: `Debian ${d.version} (${build})`,
          publisher: DEBIAN,
          architecture: arch,
          created: isoDate(dashed(build.slice(0, 8)), '19:52:08'),
          rootDeviceName: '/dev/xvda',
          volumeSize: 8,
          volumeType: 'gp2',
          billing: LINUX,
          bootMode: armBoot(arch),
          parameters: [
            `${release(d.version)}/latest/${a}`,
            `${release(d.codename)}/latest/${a}`,
            `${release(d.version)}/${build}/${a}`,
            `${release(d.codename)}/${build}/${a}`,
          ],
        });
      }
    }
  }
  return out;
}

/** Fedora Cloud images carry the region they were uploaded to in their name. */
const FEDORA_RELEASES: [version: string, compose: string, day: string][] = [
  ['40', '1.14', '2024-04-16'],
  ['41', '1.4', '2024-10-24'],
  ['42', '1.1', '2025-04-08'],
  ['43', '1.6', '2025-10-21'],
  ['44', '1.7', '2026-04-21'],
];

function fedora(region: string): ImageSpec[] {
  return FEDORA_RELEASES.flatMap(([version, compose, day]) =>
    BOTH.map((arch): ImageSpec => {
      const id = `Fedora-Cloud-Base-Generic-${version}-${compose}.${rpmArch(arch)}`;
      return {
        name: `${id}-hvm-${region}-gp3-0`,
        description: id,
        publisher: FEDORA,
        architecture: arch,
        created: isoDate(day, '14:02:44'),
        rootDeviceName: '/dev/sda1',
        volumeSize: 5,
        volumeType: 'gp3',
        billing: LINUX,
        bootMode: arch === 'arm64' ? 'uefi' : 'uefi-preferred',
      };
    }),
  );
}

const CENTOS_RELEASES: [stream: string, build: string][] = [
  ['9', '20240610'],
  ['9', '20241210'],
  ['9', '20250609'],
  ['9', '20251110'],
  ['10', '20250107'],
  ['10', '20251110'],
  ['10', '20260511'],
];

function centos(): ImageSpec[] {
  return CENTOS_RELEASES.flatMap(([stream, build]) =>
    BOTH.map((arch): ImageSpec => {
      const name = `CentOS Stream ${stream} ${rpmArch(arch)} ${build}`;
      return {
        name,
        description: name,
        publisher: FEDORA,
        architecture: arch,
        created: isoDate(dashed(build), '06:48:13'),
        rootDeviceName: '/dev/sda1',
        volumeSize: 10,
        volumeType: 'gp2',
        billing: LINUX,
        bootMode: armBoot(arch),
      };
    }),
  );
}

const ORACLE_RELEASES: [version: string, day: string][] = [
  ['8.10', '2024-07-09'],
  ['8.10', '2025-01-14'],
  ['9.4', '2024-06-04'],
  ['9.5', '2024-12-03'],
  ['9.6', '2025-06-03'],
  ['9.7', '2025-11-25'],
];

function oracle(): ImageSpec[] {
  return ORACLE_RELEASES.flatMap(([version, day]) =>
    BOTH.map((arch): ImageSpec => {
      const [major, update] = version.split('.');
      return {
        name: `OL${version}-${arch}-HVM-${day}`,
        description: `Oracle Linux ${major} update ${update} for ${arch} HVM`,
        publisher: ORACLE,
        architecture: arch,
        created: isoDate(day, '10:31:56'),
        rootDeviceName: '/dev/sda1',
        volumeSize: 10,
        volumeType: 'gp3',
        billing: LINUX,
        bootMode: armBoot(arch),
      };
    }),
  );
}

/** Gentoo's weekly stage-3 based images (OpenRC init). */
const GENTOO_BUILDS = ['20240609', '20241208', '20250608', '20251109', '20260510', '20261108'];

function gentoo(): ImageSpec[] {
  return GENTOO_BUILDS.flatMap((build) =>
    BOTH.map((arch): ImageSpec => ({
      name: `gentoo-${debArch(arch)}-openrc-${build}`,
      description: `Gentoo Linux ${debArch(arch)} OpenRC ${build}`,
      publisher: GENTOO,
      architecture: arch,
      created: isoDate(dashed(build), '03:17:40'),
      rootDeviceName: '/dev/xvda',
      volumeSize: 10,
      volumeType: 'gp3',
      billing: LINUX,
      bootMode: arch === 'arm64' ? 'uefi' : 'uefi-preferred',
    })),
  );
}

/** FreeBSD releases; from 14.1 on the project ships `base`/`cloud-init` flavours on UFS and ZFS. */
const FREEBSD_RELEASES: [version: string, day: string][] = [
  ['13.3', '2024-03-05'],
  ['13.4', '2024-09-17'],
  ['13.5', '2025-03-11'],
  ['14.1', '2024-06-04'],
  ['14.2', '2024-12-03'],
  ['14.3', '2025-06-10'],
  ['15.0', '2025-12-02'],
];

function freebsd(): ImageSpec[] {
  const out: ImageSpec[] = [];
  for (const [version, day] of FREEBSD_RELEASES) {
    const flavours = version >= '14.1' ? ['base UFS', 'base ZFS', 'cloud-init UFS', 'cloud-init ZFS'] : [''];
    for (const arch of BOTH) {
      for (const flavour of flavours) {
        const name = `FreeBSD ${version}-RELEASE-${debArch(arch)}${flavour ? ` ${flavour}` : ''}`;
        out.push({
          name,
          description: name,
          publisher: FREEBSD,
          architecture: arch,
          created: isoDate(day, '07:26:11'),
          rootDeviceName: '/dev/sda1',
          volumeSize: 6,
          volumeType: 'gp3',
          billing: LINUX,
          bootMode: arch === 'arm64' ? 'uefi' : 'uefi-preferred',
        });
      }
    }
  }
  return out;
}

export function distributionImages(region: string): ImageSpec[] {
  return [...ubuntu(), ...rhel(), ...suse(), ...debian(), ...fedora(region), ...centos(), ...oracle(), ...gentoo(), ...freebsd()];
}
