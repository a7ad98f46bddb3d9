/** What the catalogue knows about one public image before it is placed in a region. */

/** An AMI publisher: its AWS account and, for AWS-verified publishers, the `amazon` alias. */
export interface Publisher {
  ownerId: string;
  alias?: 'amazon' | 'aws-marketplace';
}

/** How EC2 bills instances of the image (PlatformDetails / UsageOperation). */
export interface Billing {
  platformDetails: string;
  usageOperation: string;
}

export type CatalogArchitecture = 'x86_64' | 'arm64' | 'x86_64_mac' | 'arm64_mac';

export interface ImageSpec {
  name: string;
  description: string;
  publisher: Publisher;
  architecture: CatalogArchitecture;
  /** ISO 8601 with milliseconds, as DescribeImages gives CreationDate. */
  created: string;
  rootDeviceName: '/dev/xvda' | '/dev/sda1';
  /** `instance-store`: the root is the instance's own disk, gone when it stops (such AMIs cannot be stopped). Default `ebs`. */
  rootDeviceType?: 'ebs' | 'instance-store';
  /** The root EBS volume (EBS roots only). */
  volumeSize?: number;
  volumeType?: 'gp2' | 'gp3' | 'standard';
  billing: Billing;
  windows?: boolean;
  bootMode?: 'legacy-bios' | 'uefi' | 'uefi-preferred';
  imdsSupport?: 'v2.0';
  tpmSupport?: 'v2.0';
  /** Names of the SSM public parameters that point at the newest image of this line. */
  parameters?: string[];
}

export const LINUX: Billing = { platformDetails: 'Linux/UNIX', usageOperation: 'RunInstances' };
export const WINDOWS: Billing = { platformDetails: 'Windows', usageOperation: 'RunInstances:0002' };
export const WINDOWS_SQL_STANDARD: Billing = { platformDetails: 'Windows with SQL Server Standard', usageOperation: 'RunInstances:0006' };
export const RHEL: Billing = { platformDetails: 'Red Hat Enterprise Linux', usageOperation: 'RunInstances:0010' };
export const SUSE: Billing = { platformDetails: 'SUSE Linux', usageOperation: 'RunInstances:000g' };

/** "2024-12-12" and a time of day → "2024-12-12T21:35:24.000Z". */
export function isoDate(day: string, time = '00:00:00'): string {
  return `${day}T${time}.000Z`;
}

/** "20241212" → "2024-12-12". */
export function dashed(compact: string): string {
  return `${compact.slice(0, 4)}-${compact.slice(4, 6)}-${compact.slice(6, 8)}`;
}
