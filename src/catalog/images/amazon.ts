/** Images that AWS itself publishes: Amazon Linux 2023, Amazon Linux 2, Windows Server and macOS. */
import { dashed, isoDate, LINUX, WINDOWS, WINDOWS_SQL_STANDARD, type ImageSpec, type Publisher } from './spec.js';

export const AMAZON: Publisher = { ownerId: '137112412989', alias: 'amazon' };
export const AMAZON_WINDOWS: Publisher = { ownerId: '801119661308', alias: 'amazon' };
export const AMAZON_MACOS: Publisher = { ownerId: '628277914472', alias: 'amazon' };

const AL = '/aws/service/ami-amazon-linux-latest';
const LINUX_ARCHES = [
  ['x86_64', 'x86_64'],
  ['arm64', 'arm64'],
] as const;

/** AL2023 releases (`2023.<minor>.<date>.<n>`) and the kernels each offers; 6.1 is the default kernel. */
const AL2023_RELEASES: { version: string; kernels: string[] }[] = [
  { version: '2023.4.20240611.0', kernels: ['6.1'] },
  { version: '2023.6.20241212.0', kernels: ['6.1'] },
  { version: '2023.7.20250512.0', kernels: ['6.1', '6.12'] },
  { version: '2023.9.20251117.0', kernels: ['6.1', '6.12'] },
  { version: '2023.11.20260427.1', kernels: ['6.1', '6.12'] },
  { version: '2023.12.20261110.0', kernels: ['6.1', '6.12'] },
];

function al2023(): ImageSpec[] {
  const out: ImageSpec[] = [];
  for (const { version, kernels } of AL2023_RELEASES) {
    const created = isoDate(dashed(version.split('.')[2]!), '21:35:24');
    for (const [arch] of LINUX_ARCHES) {
      for (const kernel of kernels) {
        for (const minimal of [false, true]) {
          const kind = minimal ? 'al2023-ami-minimal' : 'al2023-ami';
          const params = [`${AL}/${kind}-kernel-${kernel}-${arch}`];
          if (kernel === '6.1') params.push(`${AL}/${kind}-kernel-default-${arch}`);
          out.push({
            name: `${kind}-${version}-kernel-${kernel}-${arch}`,
            description: `Amazon Linux 2023 ${minimal ? 'minimal ' : ''}AMI ${version} ${arch} HVM kernel-${kernel}`,
            publisher: AMAZON,
            architecture: arch,
            created,
            rootDeviceName: '/dev/xvda',
            volumeSize: minimal ? 2 : 8,
            volumeType: 'gp3',
            billing: LINUX,
            bootMode: arch === 'arm64' ? 'uefi' : 'uefi-preferred',
            imdsSupport: 'v2.0',
            parameters: params,
          });
        }
      }
    }
  }
  return out;
}

const AL2_RELEASES = ['2.0.20240610.1', '2.0.20241217.0', '2.0.20250512.0', '2.0.20251110.1', '2.0.20260427.1', '2.0.20261109.0'];

/** Amazon Linux 2: the 4.14 kernel line (`amzn2-ami-hvm-…`) and the 5.10 line, gp2 and magnetic (`ebs`) roots. */
function al2(): ImageSpec[] {
  const out: ImageSpec[] = [];
  for (const version of AL2_RELEASES) {
    const created = isoDate(dashed(version.split('.')[2]!), '19:42:07');
    for (const [arch] of LINUX_ARCHES) {
      for (const kernel of ['4.14', '5.10'] as const) {
        for (const storage of ['gp2', 'ebs'] as const) {
          const line = kernel === '5.10' ? 'amzn2-ami-kernel-5.10-hvm' : 'amzn2-ami-hvm';
          const params = [`${AL}/${line}-${arch}-${storage}`];
          if (kernel === '4.14') params.push(`${AL}/amzn2-ami-kernel-4.14-hvm-${arch}-${storage}`);
          else params.push(`${AL}/amzn2-ami-kernel-default-hvm-${arch}-${storage}`);
          out.push({
            name: `${line}-${version}-${arch}-${storage}`,
            description: `Amazon Linux 2 ${kernel === '5.10' ? 'Kernel 5.10 ' : ''}AMI ${version} ${arch} HVM ${storage}`,
            publisher: AMAZON,
            architecture: arch,
            created,
            rootDeviceName: '/dev/xvda',
            volumeSize: 8,
            volumeType: storage === 'gp2' ? 'gp2' : 'standard',
            billing: LINUX,
            bootMode: arch === 'arm64' ? 'uefi' : undefined,
            parameters: params,
          });
        }
      }
    }
  }
  return out;
}

/** Windows Server releases are monthly, on Patch Tuesday; 2025 first shipped in November 2024. */
const WINDOWS_RELEASES = ['2024.06.12', '2024.12.13', '2025.06.11', '2025.11.12', '2026.05.13', '2026.11.11'];

interface WindowsEdition {
  version: string;
  edition: string;
  description: string;
  billing: typeof WINDOWS;
  since?: string;
}

const WINDOWS_EDITIONS: WindowsEdition[] = [
  ...['2016', '2019', '2022', '2025'].flatMap((v): WindowsEdition[] => [
    { version: v, edition: 'English-Full-Base', description: `Microsoft Windows Server ${v} Full Locale English AMI provided by Amazon`, billing: WINDOWS },
    { version: v, edition: 'English-Core-Base', description: `Microsoft Windows Server ${v} Core Locale English AMI provided by Amazon`, billing: WINDOWS },
  ]),
  {
    version: '2019',
    edition: 'English-Full-ContainersLatest',
    description: 'Microsoft Windows Server 2019 with Containers Locale English AMI provided by Amazon',
    billing: WINDOWS,
  },
  {
    version: '2022',
    edition: 'English-Full-SQL_2022_Standard',
    description: 'Microsoft Windows Server 2022 Full Locale English with SQL Standard 2022 AMI provided by Amazon',
    billing: WINDOWS_SQL_STANDARD,
  },
  {
    version: '2022',
    edition: 'Japanese-Full-Base',
    description: 'Microsoft Windows Server 2022 Full Locale Japanese AMI provided by Amazon',
    billing: WINDOWS,
  },
];

function windows(): ImageSpec[] {
  const out: ImageSpec[] = [];
  for (const release of WINDOWS_RELEASES) {
    for (const e of WINDOWS_EDITIONS) {
      if (e.version === '2025' && release < '2024.11') continue;
      const line = `Windows_Server-${e.version}-${e.edition}`;
      const modern = e.version >= '2022';
      out.push({
        name: `${line}-${release}`,
        description: e.description,
        publisher: AMAZON_WINDOWS,
        architecture: 'x86_64',
        created: isoDate(release.replaceAll('.', '-'), '08:21:19'),
        rootDeviceName: '/dev/sda1',
        volumeSize: e.billing === WINDOWS ? 30 : 50,
        volumeType: 'gp3',
        billing: e.billing,
        windows: true,
        bootMode: modern ? 'uefi-preferred' : undefined,
        tpmSupport: modern ? 'v2.0' : undefined,
        imdsSupport: e.version === '2025' ? 'v2.0' : undefined,
        parameters: [`/aws/service/ami-windows-latest/${line}`],
      });
    }
  }
  return out;
}

/** macOS releases by codename; Tahoe (26) runs on Apple silicon only. */
const MACOS_RELEASES: { codename: string; version: string; build: string; arches: ('x86_64_mac' | 'arm64_mac')[] }[] = [
  { codename: 'ventura', version: '13.6.7', build: '20240611-031722', arches: ['x86_64_mac', 'arm64_mac'] },
  { codename: 'ventura', version: '13.7.2', build: '20241217-052105', arches: ['x86_64_mac', 'arm64_mac'] },
  { codename: 'sonoma', version: '14.7.2', build: '20241217-063620', arches: ['x86_64_mac', 'arm64_mac'] },
  { codename: 'sonoma', version: '14.7.6', build: '20250610-220510', arches: ['x86_64_mac', 'arm64_mac'] },
  { codename: 'sequoia', version: '15.2', build: '20241216-203330', arches: ['x86_64_mac', 'arm64_mac'] },
  { codename: 'sequoia', version: '15.5', build: '20250603-180224', arches: ['x86_64_mac', 'arm64_mac'] },
  { codename: 'sequoia', version: '15.7.4', build: '20260217-233754', arches: ['x86_64_mac', 'arm64_mac'] },
  { codename: 'tahoe', version: '26.1', build: '20251118-201045', arches: ['arm64_mac'] },
  { codename: 'tahoe', version: '26.5', build: '20260602-190311', arches: ['arm64_mac'] },
  { codename: 'tahoe', version: '26.7', build: '20261006-174458', arches: ['arm64_mac'] },
];

function macos(): ImageSpec[] {
  const out: ImageSpec[] = [];
  for (const r of MACOS_RELEASES) {
    const [day, time] = r.build.split('-') as [string, string];
    const title = r.codename[0]!.toUpperCase() + r.codename.slice(1);
    for (const arch of r.arches) {
      out.push({
        name: `amzn-ec2-macos-${r.version}-${r.build}${arch === 'arm64_mac' ? '-arm64' : ''}`,
        description: `macOS ${title} ${r.version} (${arch})`,
        publisher: AMAZON_MACOS,
        architecture: arch,
        created: isoDate(dashed(day), `${time.slice(0, 2)}:${time.slice(2, 4)}:${time.slice(4, 6)}`),
        rootDeviceName: '/dev/sda1',
        volumeSize: 100,
        volumeType: 'gp3',
        billing: LINUX,
        parameters: [`/aws/service/ec2-macos/${r.codename}/${arch}/latest/image_id`],
      });
    }
  }
  return out;
}

/**
 * The last Amazon Linux AMI (2018.03) release with an instance-store root (the `-s3` line, bundled
 * in S3): the catalogue's one AMI whose instances cannot be stopped.
 */
function amazonLinuxInstanceStore(): ImageSpec[] {
  const version = '2018.03.0.20230322.0';
  return [{
    name: `amzn-ami-hvm-${version}-x86_64-s3`,
    description: `Amazon Linux AMI ${version} x86_64 HVM instance-store`,
    publisher: AMAZON,
    architecture: 'x86_64',
    created: isoDate(dashed(version.split('.')[3]!), '18:24:39'),
    rootDeviceName: '/dev/sda1',
    rootDeviceType: 'instance-store',
    billing: LINUX,
  }];
}

export function amazonImages(): ImageSpec[] {
  return [...al2023(), ...al2(), ...amazonLinuxInstanceStore(), ...windows(), ...macos()];
}
