/** RunInstances: validates the launch request, records the instances as `pending` and wakes the reconciler. */
import type {
  BlockDeviceMapping, Image, InstanceTypeInfo, Reservation, RunInstancesRequest,
} from '@aws-sdk/client-ec2';
import { localImagesOf } from '../../../catalog/images.js';
import { ImageStore } from '../../../images/store.js';
import { SnapshotData } from '../../../storage/snapshot-data.js';
import { instanceType as instanceTypeInfo } from '../../../catalog/instance-types.js';
import { ApiError, invalidParameterCombination, invalidParameterValue } from '../../../protocol/errors.js';
import { newId } from '../../../util/ids.js';
import type { RequestContext } from '../../context.js';
import { publicParameter } from '../../ssm/parameters.js';
import { checkIds, notFound } from '../common/errors.js';
import { addTags, tagsFromSpecifications } from '../common/tagging.js';
import { findImage } from '../images.js';
import { recordLaunchAssociation, resolveInstanceProfile } from '../iam-instance-profiles.js';
import { findKeyPair } from '../key-pairs.js';
import { ebsDefaults } from '../volumes/encryption-defaults.js';
import { saveLaunchVolumes } from '../volumes/record.js';
import { checkLaunchQuota, launchInterfaces, planInterfaces } from '../network-interfaces/launch.js';
import { primaryAddress, type NetworkInterfaceRecord } from '../network-interfaces/record.js';
import { presentInstance } from './present.js';
import {
  CAPACITY_STATES, INSTANCE_KIND, PENDING_REASON, saveInstance, type InstanceRecord, type StoredBlockDevice, type StoredMetadataOptions,
} from './record.js';
import { decodeUserData } from './user-data.js';

const DEFAULT_INSTANCE_TYPE = 'm1.small';
const TAGGABLE_AT_LAUNCH = ['instance', 'volume', 'network-interface'];

export async function runInstances(input: RunInstancesRequest, ctx: RequestContext): Promise<Reservation> {
  const { MinCount: minCount, MaxCount: maxCount } = input;
  checkCounts(minCount!, maxCount!);

  const image = await resolveImage(ctx, input.ImageId);
  checkRunnable(ctx, image);
  const typeName = input.InstanceType ?? DEFAULT_INSTANCE_TYPE;
  const type = instanceTypeInfo(typeName);
  if (!type) throw invalidParameterValue(`Invalid value '${typeName}' for InstanceType.`);
  checkArchitecture(type, image);

  const keyPair = input.KeyName === undefined ? undefined : await findKeyPair(ctx, input.KeyName);
  if (input.KeyName !== undefined && !keyPair) {
    throw new ApiError('InvalidKeyPair.NotFound', `The key pair '${input.KeyName}' does not exist`);
  }
  const nics = await planInterfaces(ctx, input, typeName, { max: maxCount! });
  const subnet = nics.subnet;
  const tenancy = input.Placement?.Tenancy ?? 'default';
  if (!['default', 'dedicated', 'host'].includes(tenancy)) {
    throw invalidParameterValue(`Value (${tenancy}) for parameter tenancy is invalid.`);
  }
  const userData = input.UserData === undefined || input.UserData === '' ? undefined : input.UserData;
  if (userData !== undefined) decodeUserData(userData);

  const instanceTags = tagsFromSpecifications(input.TagSpecifications, TAGGABLE_AT_LAUNCH, 'instance');
  const volumeTags = tagsFromSpecifications(input.TagSpecifications, TAGGABLE_AT_LAUNCH, 'volume');
  const eniTags = tagsFromSpecifications(input.TagSpecifications, TAGGABLE_AT_LAUNCH, 'network-interface');

  const count = await launchCount(ctx, minCount!, maxCount!);
  await checkLaunchQuota(ctx, nics, count);
  const now = ctx.now();
  const template = {
    ReservationId: newId('r'),
    OwnerId: ctx.accountId,
    ImageId: image.ImageId!,
    InstanceType: typeName,
    vcpus: type.VCpuInfo?.DefaultVCpus ?? 1,
    memoryMiB: type.MemoryInfo?.SizeInMiB ?? 1024,
    KeyName: input.KeyName,
    publicKey: keyPair?.PublicKey,
    LaunchTime: now.toISOString(),
    state: 'pending' as const,
    StateTransitionReason: '',
    StateReason: PENDING_REASON,
    AvailabilityZone: subnet.AvailabilityZone,
    Tenancy: tenancy as InstanceRecord['Tenancy'],
    PlacementGroupName: input.Placement?.GroupName || undefined,
    VpcId: subnet.VpcId,
    SubnetId: subnet.SubnetId,
    Architecture: image.Architecture ?? 'x86_64',
    Platform: image.Platform,
    PlatformDetails: image.PlatformDetails ?? 'Linux/UNIX',
    UsageOperation: image.UsageOperation ?? 'RunInstances',
    RootDeviceType: image.RootDeviceType ?? 'ebs',
    RootDeviceName: image.RootDeviceName ?? '/dev/xvda',
    VirtualizationType: image.VirtualizationType ?? 'hvm',
    Hypervisor: 'xen',
    BootMode: image.BootMode,
    EnaSupport: image.EnaSupport ?? type.NetworkInfo?.EnaSupport !== 'unsupported',
    EbsOptimized: input.EbsOptimized ?? type.EbsInfo?.EbsOptimizedSupport === 'default',
    Monitoring: input.Monitoring?.Enabled ? ('enabled' as const) : ('disabled' as const),
    ...cpuOptions(input, type),
    CpuCredits: creditSpecification(input, type),
    MetadataOptions: metadataOptions(input, image),
    HibernationConfigured: hibernation(input, type),
    EnclaveEnabled: input.EnclaveOptions?.Enabled ?? false,
    DisableApiTermination: input.DisableApiTermination ?? false,
    DisableApiStop: input.DisableApiStop ?? false,
    InstanceInitiatedShutdownBehavior: shutdownBehavior(input.InstanceInitiatedShutdownBehavior),
    UserData: userData,
    IamInstanceProfile: input.IamInstanceProfile?.Arn || input.IamInstanceProfile?.Name
      ? await resolveInstanceProfile(ctx, input.IamInstanceProfile) : undefined,
    ClientToken: input.ClientToken,
    KernelId: input.KernelId,
    RamdiskId: input.RamdiskId,
    HostnameType: input.PrivateDnsNameOptions?.HostnameType === 'resource-name' ? ('resource-name' as const) : ('ip-name' as const),
  };
  const devices = blockDevices(image, input.BlockDeviceMappings);
  if ((await ebsDefaults(ctx.store, ctx.scope)).encryptionByDefault) for (const d of devices) d.Encrypted = true;

  const records: { rec: InstanceRecord; enis: NetworkInterfaceRecord[] }[] = [];
  for (let i = 0; i < count; i++) {
    const id = newId('i');
    const enis = await launchInterfaces(ctx, nics, id, template.LaunchTime);
    const primary = enis[0]!;
    const rec: InstanceRecord = {
      ...template,
      InstanceId: id,
      AmiLaunchIndex: i,
      PrivateIpAddress: primaryAddress(primary).PrivateIpAddress,
      NetworkInterfaceId: primary.NetworkInterfaceId,
      networkInterfaceIds: enis.map((e) => e.NetworkInterfaceId),
      BlockDeviceMappings: devices.map((d) => ({ ...d, VolumeId: newId('vol'), AttachTime: template.LaunchTime })),
    };
    await saveInstance(ctx.store, ctx.scope, rec);
    await recordLaunchAssociation(ctx, rec);
    await saveLaunchVolumes(ctx.store, ctx.scope, rec);
    await addTags(ctx, id, 'instance', instanceTags);
    for (const d of rec.BlockDeviceMappings) await addTags(ctx, d.VolumeId, 'volume', volumeTags);
    // Launch tags go on the interfaces the launch made, not on existing ones it attached.
    for (const eni of enis.filter((e) => !nics.interfaces.some((p) => p.existing === e))) {
      await addTags(ctx, eni.NetworkInterfaceId, 'network-interface', eniTags);
    }
    records.push({ rec, enis });
  }
  ctx.plane.kick();
  return {
    ReservationId: template.ReservationId,
    OwnerId: ctx.accountId,
    Groups: [],
    Instances: records.map((r) => presentInstance(ctx.scope, r.rec, instanceTags, r.enis)),
  };
}

function checkCounts(min: number, max: number): void {
  if (min < 1) throw invalidParameterValue(`Value (${min}) for parameter minCount is invalid. Expected a value greater than 0.`);
  if (max < 1) throw invalidParameterValue(`Value (${max}) for parameter maxCount is invalid. Expected a value greater than 0.`);
  if (min > max) {
    throw invalidParameterValue(`Value (${min}) for parameter minCount is invalid. Expected a value less than or equal to maxCount (${max}).`);
  }
}

/** As many as fit in the On-Demand limit, up to MaxCount; fewer than MinCount is InstanceLimitExceeded. */
async function launchCount(ctx: RequestContext, min: number, max: number): Promise<number> {
  const limit = ctx.plane.config.limits.instancesPerRegion;
  const used = await capacityInUse(ctx);
  const room = Math.max(0, limit - used);
  if (room < min) throw instanceLimitExceeded(min, limit);
  return Math.min(max, room);
}

export async function capacityInUse(ctx: RequestContext): Promise<number> {
  return ctx.store.countWhere(INSTANCE_KIND, ctx.scope, 'state', [...CAPACITY_STATES]);
}

export const instanceLimitExceeded = (requested: number, limit: number) =>
  new ApiError(
    'InstanceLimitExceeded',
    `You have requested more instances (${requested}) than your current instance limit of ${limit} allows for the specified instance type. ` +
      'Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.',
  );

/** The image to launch: an `ami-` id, or `resolve:ssm:<parameter>[:version]` naming one. */
async function resolveImage(ctx: RequestContext, imageId: string | undefined): Promise<Image> {
  if (imageId === undefined || imageId === '') {
    throw new ApiError('MissingParameter', 'The request must contain the parameter ImageId');
  }
  let id = imageId;
  if (imageId.startsWith('resolve:ssm:')) {
    const name = imageId.slice('resolve:ssm:'.length).replace(/:\d+$/, '');
    const value = publicParameter(ctx.region, name);
    if (value === undefined) {
      throw invalidParameterValue(`Invalid value '${imageId}' for ImageId. The SSM parameter '${name}' does not exist.`);
    }
    id = value;
  }
  checkIds('image', [id]);
  const image = await findImage(ctx, id);
  if (!image) throw notFound('image', [id]);
  if (image.State && image.State !== 'available') {
    throw new ApiError('InvalidAMIID.Unavailable', `Image '${id}' is not in the 'available' state.`);
  }
  return image;
}

/** The ns driver boots only images this host has a root filesystem for; the sim driver runs any. */
function checkRunnable(ctx: RequestContext, image: Image): void {
  if (ctx.plane.driver.name !== 'ns') return;
  // An image made from an instance here (its root snapshot holds its root filesystem), or
  // registered from a snapshot with data (the storage data plane makes its root filesystem from it).
  const rootSnapshot = image.BlockDeviceMappings?.find((m) => m.DeviceName === image.RootDeviceName)?.Ebs?.SnapshotId;
  const dataDir = ctx.plane.config.dataDir;
  if (rootSnapshot && (new ImageStore(dataDir).get(rootSnapshot) || new SnapshotData(dataDir).has(rootSnapshot))) return;
  const runnable = localImagesOf(ctx.region);
  if (runnable.some((i) => i.ImageId === image.ImageId)) return;
  const names = runnable.map((i) => `${i.ImageId} (${i.Name})`).join(', ');
  throw new ApiError(
    'Unsupported',
    `The image '${image.ImageId}' (${image.Name ?? 'unnamed'}) cannot run on this host: it has no local root filesystem for it. ` +
      `Images that can run here: ${names || 'none (build one with `nimbus images build minimal`)'}.`,
  );
}

function checkArchitecture(type: InstanceTypeInfo, image: Image): void {
  const supported = type.ProcessorInfo?.SupportedArchitectures ?? [];
  const arch = image.Architecture;
  if (!arch || supported.length === 0 || supported.includes(arch as never)) return;
  throw invalidParameterValue(
    `The architecture '${supported.join(', ')}' of the specified instance type does not match the architecture '${arch}' of the specified AMI. ` +
      `Specify an instance type and an AMI that have matching architectures, and try again. ` +
      `You can use 'describe-instance-types' or 'describe-images' to discover the architecture of the instance type or AMI.`,
  );
}

function cpuOptions(input: RunInstancesRequest, type: InstanceTypeInfo): { CoreCount: number; ThreadsPerCore: number } {
  const cores = type.VCpuInfo?.DefaultCores ?? type.VCpuInfo?.DefaultVCpus ?? 1;
  const threads = type.VCpuInfo?.DefaultThreadsPerCore ?? 1;
  const want = input.CpuOptions;
  if (want?.CoreCount !== undefined && (want.CoreCount < 1 || want.CoreCount > cores)) {
    throw invalidParameterValue(`Invalid value for CoreCount: ${want.CoreCount}. Valid values for ${type.InstanceType} are 1 to ${cores}.`);
  }
  if (want?.ThreadsPerCore !== undefined && (want.ThreadsPerCore < 1 || want.ThreadsPerCore > threads)) {
    throw invalidParameterValue(`Invalid value for ThreadsPerCore: ${want.ThreadsPerCore}. Valid values for ${type.InstanceType} are 1 to ${threads}.`);
  }
  return { CoreCount: want?.CoreCount ?? cores, ThreadsPerCore: want?.ThreadsPerCore ?? threads };
}

/** T-family credit option: t2 defaults to standard, later generations to unlimited. */
function creditSpecification(input: RunInstancesRequest, type: InstanceTypeInfo): 'standard' | 'unlimited' | undefined {
  const burstable = type.BurstablePerformanceSupported === true;
  const asked = input.CreditSpecification?.CpuCredits;
  if (!burstable) {
    if (asked !== undefined) {
      throw invalidParameterCombination(`The parameter CreditSpecification is not supported for instance type ${type.InstanceType}.`);
    }
    return undefined;
  }
  if (asked !== undefined && asked !== 'standard' && asked !== 'unlimited') {
    throw invalidParameterValue(`Value (${asked}) for parameter cpuCredits is invalid. Valid values: standard, unlimited.`);
  }
  return (asked as 'standard' | 'unlimited' | undefined) ?? (type.InstanceType!.startsWith('t2.') ? 'standard' : 'unlimited');
}

/** IMDS defaults: IMDSv2-only with hop limit 2 for AMIs marked ImdsSupport v2.0, else optional with hop limit 1. */
function metadataOptions(input: RunInstancesRequest, image: Image): StoredMetadataOptions {
  const v2 = image.ImdsSupport === 'v2.0';
  const o = input.MetadataOptions ?? {};
  const opts: StoredMetadataOptions = {
    HttpTokens: (o.HttpTokens as StoredMetadataOptions['HttpTokens']) ?? (v2 ? 'required' : 'optional'),
    HttpPutResponseHopLimit: o.HttpPutResponseHopLimit ?? (v2 ? 2 : 1),
    HttpEndpoint: (o.HttpEndpoint as StoredMetadataOptions['HttpEndpoint']) ?? 'enabled',
    HttpProtocolIpv6: (o.HttpProtocolIpv6 as StoredMetadataOptions['HttpProtocolIpv6']) ?? 'disabled',
    InstanceMetadataTags: (o.InstanceMetadataTags as StoredMetadataOptions['InstanceMetadataTags']) ?? 'disabled',
  };
  checkMetadataOptions(opts);
  return opts;
}

export function checkMetadataOptions(o: StoredMetadataOptions): void {
  const oneOf = (name: string, v: string, allowed: string[]) => {
    if (!allowed.includes(v)) throw invalidParameterValue(`Value (${v}) for parameter ${name} is invalid. Valid values: ${allowed.join(', ')}.`);
  };
  oneOf('HttpTokens', o.HttpTokens, ['optional', 'required']);
  oneOf('HttpEndpoint', o.HttpEndpoint, ['enabled', 'disabled']);
  oneOf('HttpProtocolIpv6', o.HttpProtocolIpv6, ['enabled', 'disabled']);
  oneOf('InstanceMetadataTags', o.InstanceMetadataTags, ['enabled', 'disabled']);
  const hop = o.HttpPutResponseHopLimit;
  if (!Number.isInteger(hop) || hop < 1 || hop > 64) {
    throw invalidParameterValue(`The HttpPutResponseHopLimit value '${hop}' is invalid. Specify a value between 1 and 64.`);
  }
}

function hibernation(input: RunInstancesRequest, type: InstanceTypeInfo): boolean {
  const configured = input.HibernationOptions?.Configured ?? false;
  if (configured && type.HibernationSupported === false) {
    throw new ApiError(
      'UnsupportedHibernationConfiguration',
      `The instance type ${type.InstanceType} does not support hibernation. Specify an instance type that supports hibernation, and try again.`,
    );
  }
  return configured;
}

function shutdownBehavior(v: string | undefined): 'stop' | 'terminate' {
  if (v === undefined) return 'stop';
  if (v !== 'stop' && v !== 'terminate') {
    throw invalidParameterValue(`Value (${v}) for parameter instanceInitiatedShutdownBehavior is invalid. Valid values: stop, terminate.`);
  }
  return v;
}

/** The image's block devices, overridden or extended by the request's (EBS devices only). */
function blockDevices(image: Image, requested: readonly BlockDeviceMapping[] | undefined): Omit<StoredBlockDevice, 'VolumeId' | 'AttachTime'>[] {
  const byName = new Map<string, BlockDeviceMapping>();
  for (const m of image.BlockDeviceMappings ?? []) if (m.DeviceName) byName.set(m.DeviceName, m);
  for (const m of requested ?? []) {
    if (!m.DeviceName) throw new ApiError('MissingParameter', 'The request must contain the parameter BlockDeviceMapping.DeviceName');
    if (m.NoDevice !== undefined) {
      byName.delete(m.DeviceName);
      continue;
    }
    const base = byName.get(m.DeviceName);
    byName.set(m.DeviceName, { ...base, ...m, Ebs: m.Ebs ? { ...base?.Ebs, ...m.Ebs } : base?.Ebs });
  }
  const out: Omit<StoredBlockDevice, 'VolumeId' | 'AttachTime'>[] = [];
  for (const m of byName.values()) {
    if (!m.Ebs) continue; // instance store (VirtualName) devices are not EBS volumes
    const size = m.Ebs.VolumeSize;
    if (size !== undefined && (size < 1 || size > 16384)) {
      throw invalidParameterValue(`Volume of size ${size}GB is not within the allowed range of 1 to 16384 GB.`);
    }
    out.push({
      DeviceName: m.DeviceName!,
      DeleteOnTermination: m.Ebs.DeleteOnTermination ?? true,
      VolumeSize: size,
      VolumeType: m.Ebs.VolumeType ?? 'gp2',
      SnapshotId: m.Ebs.SnapshotId,
      ...(m.Ebs.Encrypted ? { Encrypted: true } : {}),
    });
  }
  return out;
}
