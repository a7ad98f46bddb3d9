/**
 * The stored form of an instance and its state machine. Operations and the reconciler change an
 * instance only through these helpers, so EC2's codes, reasons and transition strings stay in one
 * place.
 */
import type { InstanceStateName } from '@aws-sdk/client-ec2';
import type { Scope } from '../../../store/store.js';

export const INSTANCE_KIND = 'instance';

export const STATE_CODES: Readonly<Record<InstanceStateName, number>> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

export interface StoredBlockDevice {
  DeviceName: string;
  VolumeId: string;
  AttachTime: string;
  DeleteOnTermination: boolean;
  VolumeSize?: number;
  VolumeType?: string;
  SnapshotId?: string;
  /** Asked for, inherited from an encrypted snapshot, or the account's encryption by default. */
  Encrypted?: boolean;
}

export interface StoredMetadataOptions {
  HttpTokens: 'optional' | 'required';
  HttpPutResponseHopLimit: number;
  HttpEndpoint: 'enabled' | 'disabled';
  HttpProtocolIpv6: 'enabled' | 'disabled';
  InstanceMetadataTags: 'enabled' | 'disabled';
}

export interface InstanceRecord {
  InstanceId: string;
  ReservationId: string;
  OwnerId: string;
  ImageId: string;
  InstanceType: string;
  vcpus: number;
  memoryMiB: number;
  KeyName?: string;
  /** The key pair's public key as it was at launch (EC2 keeps it even if the key pair is deleted). */
  publicKey?: string;
  AmiLaunchIndex: number;
  LaunchTime: string;
  state: InstanceStateName;
  StateTransitionReason: string;
  StateReason?: { Code: string; Message: string };
  /** When the instance last entered `running` (status checks count from here). */
  runningSince?: string;
  /** When it reached `terminated`; the reconciler deletes it after the retention period. */
  terminatedAt?: string;
  /** Desired-state flags for the reconciler. */
  forceStop?: boolean;
  rebootRequested?: boolean;
  AvailabilityZone: string;
  Tenancy: 'default' | 'dedicated' | 'host';
  PlacementGroupName?: string;
  /** The primary interface's VPC, subnet, id and primary address: fixed for the instance's life. */
  VpcId: string;
  SubnetId: string;
  PrivateIpAddress: string;
  NetworkInterfaceId: string;
  /**
   * Every attached interface, the primary first: an index over the ENI records' attachments (which
   * hold everything else about them), kept in the same transaction as they change.
   */
  networkInterfaceIds: string[];
  Architecture: string;
  Platform?: string;
  PlatformDetails: string;
  UsageOperation: string;
  RootDeviceType: string;
  RootDeviceName: string;
  BlockDeviceMappings: StoredBlockDevice[];
  VirtualizationType: string;
  Hypervisor: string;
  BootMode?: string;
  EnaSupport: boolean;
  EbsOptimized: boolean;
  Monitoring: 'disabled' | 'enabled';
  CoreCount: number;
  ThreadsPerCore: number;
  CpuCredits?: 'standard' | 'unlimited';
  MetadataOptions: StoredMetadataOptions;
  HibernationConfigured: boolean;
  EnclaveEnabled: boolean;
  DisableApiTermination: boolean;
  DisableApiStop: boolean;
  InstanceInitiatedShutdownBehavior: 'stop' | 'terminate';
  /** Base64, as on the wire. */
  UserData?: string;
  IamInstanceProfile?: { Arn: string; Id: string };
  ClientToken?: string;
  KernelId?: string;
  RamdiskId?: string;
  HostnameType: 'ip-name' | 'resource-name';
}

/** EC2's timestamp in transition reasons: `2026-12-01 10:00:00 GMT`. */
export function reasonTime(now: Date): string {
  return `${now.toISOString().slice(0, 19).replace('T', ' ')} GMT`;
}

export const USER_SHUTDOWN = { Code: 'Client.UserInitiatedShutdown', Message: 'Client.UserInitiatedShutdown: User initiated shutdown' };
export const USER_HIBERNATE = { Code: 'Client.UserInitiatedHibernate', Message: 'Client.UserInitiatedHibernate: User initiated hibernate' };
export const INSTANCE_SHUTDOWN = {
  Code: 'Client.InstanceInitiatedShutdown',
  Message: 'Client.InstanceInitiatedShutdown: Instance initiated shutdown',
};
export const PENDING_REASON = { Code: 'pending', Message: 'pending' };

/** States in which an instance holds On-Demand capacity (counted against the instance limit). */
export const CAPACITY_STATES: ReadonlySet<InstanceStateName> = new Set<InstanceStateName>(['pending', 'running', 'stopping']);

/** States that the reconciler has to converge (the store wants something the driver may not have yet). */
export const TRANSITIONAL_STATES: ReadonlySet<InstanceStateName> = new Set<InstanceStateName>([
  'pending', 'stopping', 'shutting-down', 'terminated',
]);

export interface StoreLike {
  put<T>(kind: string, scope: Scope, id: string, doc: T): Promise<void>;
}

/** Stores the instance; the reconciler learns of the write through the store's watch. */
export async function saveInstance(store: StoreLike, scope: Scope, rec: InstanceRecord): Promise<void> {
  await store.put(INSTANCE_KIND, scope, rec.InstanceId, rec);
}

/**
 * The private DNS name EC2 gives an instance: `ip-172-31-1-2.ec2.internal` in us-east-1 (or
 * `i-….ec2.internal` with resource-name hostnames), `….REGION.compute.internal` elsewhere.
 */
export function privateDnsName(region: string, rec: Pick<InstanceRecord, 'PrivateIpAddress' | 'InstanceId' | 'HostnameType'>): string {
  return rec.HostnameType === 'resource-name' ? internalName(region, rec.InstanceId) : ipDnsName(region, rec.PrivateIpAddress);
}

/** The private DNS name of an address: `ip-10-0-0-5.ec2.internal`. */
export function ipDnsName(region: string, ip: string): string {
  return internalName(region, `ip-${ip.replaceAll('.', '-')}`);
}

function internalName(region: string, host: string): string {
  return region === 'us-east-1' ? `${host}.ec2.internal` : `${host}.${region}.compute.internal`;
}
