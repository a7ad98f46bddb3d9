/** DescribeInstanceAttribute, ModifyInstanceAttribute and ModifyInstanceMetadataOptions. */
import type {
  DescribeInstanceAttributeRequest, InstanceAttribute, ModifyInstanceAttributeRequest, ModifyInstanceMetadataOptionsRequest,
  ModifyInstanceMetadataOptionsResult,
} from '@aws-sdk/client-ec2';
import { instanceType as instanceTypeInfo } from '../../../catalog/instance-types.js';
import { ApiError, invalidParameterCombination, invalidParameterValue } from '../../../protocol/errors.js';
import type { RequestContext } from '../../context.js';
import { incorrectInstanceState } from '../common/errors.js';
import { replacementGroups } from '../vpc/index.js';
import { checkMetadataOptions } from './launch.js';
import { loadInstance } from './lookup.js';
import { ENI_KIND, groupIdentifiers, type NetworkInterfaceRecord } from '../network-interfaces/record.js';
import { saveInstance, type InstanceRecord, type StoredMetadataOptions } from './record.js';
import { checkUserDataSize, decodeUserData } from './user-data.js';
import { storedTime } from '../../../util/stored-time.js';

type AttributeName =
  | 'instanceType' | 'kernel' | 'ramdisk' | 'userData' | 'disableApiTermination' | 'disableApiStop'
  | 'instanceInitiatedShutdownBehavior' | 'rootDeviceName' | 'blockDeviceMapping' | 'productCodes' | 'sourceDestCheck'
  | 'groupSet' | 'ebsOptimized' | 'sriovNetSupport' | 'enaSupport' | 'enclaveOptions';

/** Each attribute from the instance and its primary interface (which holds its groups and source/dest check). */
const READERS: Record<AttributeName, (r: InstanceRecord, eni: NetworkInterfaceRecord) => InstanceAttribute> = {
  instanceType: (r) => ({ InstanceType: { Value: r.InstanceType } }),
  kernel: (r) => ({ KernelId: r.KernelId ? { Value: r.KernelId } : {} }),
  ramdisk: (r) => ({ RamdiskId: r.RamdiskId ? { Value: r.RamdiskId } : {} }),
  userData: (r) => ({ UserData: r.UserData ? { Value: r.UserData } : {} }),
  disableApiTermination: (r) => ({ DisableApiTermination: { Value: r.DisableApiTermination } }),
  disableApiStop: (r) => ({ DisableApiStop: { Value: r.DisableApiStop } }),
  instanceInitiatedShutdownBehavior: (r) => ({ InstanceInitiatedShutdownBehavior: { Value: r.InstanceInitiatedShutdownBehavior } }),
  rootDeviceName: (r) => ({ RootDeviceName: { Value: r.RootDeviceName } }),
  blockDeviceMapping: (r) => ({
    BlockDeviceMappings: r.BlockDeviceMappings.map((d) => ({
      DeviceName: d.DeviceName,
      Ebs: { VolumeId: d.VolumeId, Status: 'attached', AttachTime: storedTime(d.AttachTime), DeleteOnTermination: d.DeleteOnTermination },
    })),
  }),
  productCodes: () => ({ ProductCodes: [] }),
  sourceDestCheck: (_r, eni) => ({ SourceDestCheck: { Value: eni.SourceDestCheck } }),
  groupSet: (_r, eni) => ({ Groups: groupIdentifiers(eni) }),
  ebsOptimized: (r) => ({ EbsOptimized: { Value: r.EbsOptimized } }),
  sriovNetSupport: () => ({ SriovNetSupport: {} }),
  enaSupport: (r) => ({ EnaSupport: { Value: r.EnaSupport } }),
  enclaveOptions: (r) => ({ EnclaveOptions: { Enabled: r.EnclaveEnabled } }),
};

const unknownAttribute = (name: string) => invalidParameterValue(`Value (${name}) for parameter attribute is invalid. Unknown attribute.`);

export async function describeInstanceAttribute(input: DescribeInstanceAttributeRequest, ctx: RequestContext): Promise<InstanceAttribute> {
  const name = input.Attribute as string;
  const reader = Object.hasOwn(READERS, name) ? READERS[name as AttributeName] : undefined;
  if (!reader) throw unknownAttribute(name);
  const rec = await loadInstance(ctx, input.InstanceId!);
  return { InstanceId: rec.InstanceId, ...reader(rec, await primaryInterface(ctx, rec)) };
}

/** One change, normalised from either form: a typed member, or `Attribute` + `Value`. */
type AttributeChange =
  | { name: 'instanceType' | 'kernel' | 'ramdisk' | 'instanceInitiatedShutdownBehavior'; value: string }
  | { name: 'disableApiTermination' | 'disableApiStop' | 'sourceDestCheck' | 'ebsOptimized' | 'enaSupport'; value: boolean }
  | { name: 'userData'; value: Buffer }
  | { name: 'groupSet'; value: string[] }
  | { name: 'blockDeviceMapping'; value: { DeviceName: string; DeleteOnTermination?: boolean }[] };

/** Attributes EC2 changes only while the instance is stopped. */
const STOPPED_ONLY = new Set(['instanceType', 'kernel', 'ramdisk', 'userData', 'enaSupport']);

export async function modifyInstanceAttribute(input: ModifyInstanceAttributeRequest, ctx: RequestContext): Promise<void> {
  const change = requestedChange(input);
  const rec = await loadInstance(ctx, input.InstanceId!);
  if (rec.state === 'terminated' || rec.state === 'shutting-down') throw incorrectInstanceState(rec.InstanceId, rec.state, 'modified');
  if (STOPPED_ONLY.has(change.name) && rec.state !== 'stopped') {
    throw new ApiError('IncorrectInstanceState', `The instance '${rec.InstanceId}' is not in the 'stopped' state.`);
  }
  if (change.name === 'sourceDestCheck' || change.name === 'groupSet') {
    const eni = await primaryInterface(ctx, rec);
    if (change.name === 'groupSet') eni.Groups = await replacementGroups(ctx, rec.VpcId, change.value);
    else eni.SourceDestCheck = change.value === true;
    await ctx.store.put(ENI_KIND, ctx.scope, eni.NetworkInterfaceId, eni);
    ctx.plane.kick();
    return;
  }
  await applyChange(rec, change as Exclude<AttributeChange, { name: 'sourceDestCheck' | 'groupSet' }>);
  await saveInstance(ctx.store, ctx.scope, rec);
}

async function primaryInterface(ctx: RequestContext, rec: InstanceRecord): Promise<NetworkInterfaceRecord> {
  const eni = await ctx.store.get<NetworkInterfaceRecord>(ENI_KIND, ctx.scope, rec.NetworkInterfaceId);
  if (!eni) throw incorrectInstanceState(rec.InstanceId, rec.state, 'modified');
  return eni;
}

function requestedChange(input: ModifyInstanceAttributeRequest): AttributeChange {
  const changes: AttributeChange[] = [];
  const str = (v: { Value?: string } | undefined) => v?.Value;
  const bool = (v: { Value?: boolean } | undefined) => v?.Value;
  const add = <N extends AttributeChange['name']>(name: N, value: unknown) => {
    if (value !== undefined) changes.push({ name, value } as AttributeChange);
  };
  add('instanceType', str(input.InstanceType));
  add('kernel', str(input.Kernel));
  add('ramdisk', str(input.Ramdisk));
  add('instanceInitiatedShutdownBehavior', str(input.InstanceInitiatedShutdownBehavior));
  add('disableApiTermination', bool(input.DisableApiTermination));
  add('disableApiStop', bool(input.DisableApiStop));
  add('sourceDestCheck', bool(input.SourceDestCheck));
  add('ebsOptimized', bool(input.EbsOptimized));
  add('enaSupport', bool(input.EnaSupport));
  add('userData', input.UserData?.Value === undefined ? undefined : Buffer.from(input.UserData.Value));
  add('groupSet', input.Groups?.length ? input.Groups : undefined);
  add('blockDeviceMapping', input.BlockDeviceMappings?.length
    ? input.BlockDeviceMappings.map((m) => ({ DeviceName: m.DeviceName ?? '', DeleteOnTermination: m.Ebs?.DeleteOnTermination }))
    : undefined);
  if (input.Attribute !== undefined) changes.push(fromAttributeValue(input.Attribute, input.Value));
  if (changes.length === 0) throw new ApiError('MissingParameter', 'No attributes specified.');
  if (changes.length > 1) {
    throw invalidParameterCombination(`Fields for multiple attribute types specified: ${changes.map((c) => c.name).join(', ')}`);
  }
  return changes[0]!;
}

/** The `Attribute=name&Value=v` form, for attributes whose value is a single string. */
function fromAttributeValue(attribute: string, value: string | undefined): AttributeChange {
  if (value === undefined) throw new ApiError('MissingParameter', 'The request must contain the parameter value');
  const asBool = () => {
    if (value !== 'true' && value !== 'false') throw invalidParameterValue(`Value (${value}) for parameter value is invalid. Expected 'true' or 'false'.`);
    return value === 'true';
  };
  switch (attribute) {
    case 'instanceType': case 'kernel': case 'ramdisk': case 'instanceInitiatedShutdownBehavior':
      return { name: attribute, value };
    case 'disableApiTermination': case 'disableApiStop': case 'sourceDestCheck': case 'ebsOptimized': case 'enaSupport':
      return { name: attribute, value: asBool() };
    case 'userData':
      return { name: 'userData', value: decodeUserData(value) };
    default:
      throw unknownAttribute(attribute);
  }
}

async function applyChange(rec: InstanceRecord, c: Exclude<AttributeChange, { name: 'sourceDestCheck' | 'groupSet' }>): Promise<void> {
  switch (c.name) {
    case 'instanceType': return changeInstanceType(rec, c.value);
    case 'kernel': rec.KernelId = c.value; return;
    case 'ramdisk': rec.RamdiskId = c.value; return;
    case 'instanceInitiatedShutdownBehavior':
      if (c.value !== 'stop' && c.value !== 'terminate') {
        throw invalidParameterValue(`Value (${c.value}) for parameter instanceInitiatedShutdownBehavior is invalid. Valid values: stop, terminate.`);
      }
      rec.InstanceInitiatedShutdownBehavior = c.value;
      return;
    case 'disableApiTermination': rec.DisableApiTermination = c.value; return;
    case 'disableApiStop': rec.DisableApiStop = c.value; return;
    case 'ebsOptimized': rec.EbsOptimized = c.value; return;
    case 'enaSupport': rec.EnaSupport = c.value; return;
    case 'userData':
      checkUserDataSize(c.value);
      rec.UserData = c.value.length ? c.value.toString('base64') : undefined;
      return;
    case 'blockDeviceMapping':
      for (const m of c.value) {
        const device = rec.BlockDeviceMappings.find((d) => d.DeviceName === m.DeviceName);
        if (!device) throw invalidParameterValue(`The device '${m.DeviceName}' is not attached to instance '${rec.InstanceId}'.`);
        if (m.DeleteOnTermination !== undefined) device.DeleteOnTermination = m.DeleteOnTermination;
      }
  }
}

function changeInstanceType(rec: InstanceRecord, name: string): void {
  const type = instanceTypeInfo(name);
  if (!type) throw invalidParameterValue(`Invalid value '${name}' for InstanceType.`);
  const archs = type.ProcessorInfo?.SupportedArchitectures ?? [];
  if (archs.length && !archs.includes(rec.Architecture as never)) {
    throw invalidParameterValue(`The instance type '${name}' does not support the architecture '${rec.Architecture}' of instance '${rec.InstanceId}'.`);
  }
  rec.InstanceType = name;
  rec.vcpus = type.VCpuInfo?.DefaultVCpus ?? rec.vcpus;
  rec.memoryMiB = type.MemoryInfo?.SizeInMiB ?? rec.memoryMiB;
  rec.CoreCount = type.VCpuInfo?.DefaultCores ?? rec.vcpus;
  rec.ThreadsPerCore = type.VCpuInfo?.DefaultThreadsPerCore ?? 1;
  if (type.BurstablePerformanceSupported) rec.CpuCredits ??= name.startsWith('t2.') ? 'standard' : 'unlimited';
  else rec.CpuCredits = undefined;
}

export async function modifyInstanceMetadataOptions(
  input: ModifyInstanceMetadataOptionsRequest, ctx: RequestContext,
): Promise<ModifyInstanceMetadataOptionsResult> {
  const rec = await loadInstance(ctx, input.InstanceId!);
  if (rec.state === 'terminated' || rec.state === 'shutting-down') throw incorrectInstanceState(rec.InstanceId, rec.state, 'modified');
  const next: StoredMetadataOptions = {
    HttpTokens: (input.HttpTokens as StoredMetadataOptions['HttpTokens']) ?? rec.MetadataOptions.HttpTokens,
    HttpPutResponseHopLimit: input.HttpPutResponseHopLimit ?? rec.MetadataOptions.HttpPutResponseHopLimit,
    HttpEndpoint: (input.HttpEndpoint as StoredMetadataOptions['HttpEndpoint']) ?? rec.MetadataOptions.HttpEndpoint,
    HttpProtocolIpv6: (input.HttpProtocolIpv6 as StoredMetadataOptions['HttpProtocolIpv6']) ?? rec.MetadataOptions.HttpProtocolIpv6,
    InstanceMetadataTags: (input.InstanceMetadataTags as StoredMetadataOptions['InstanceMetadataTags']) ?? rec.MetadataOptions.InstanceMetadataTags,
  };
  checkMetadataOptions(next);
  rec.MetadataOptions = next;
  await saveInstance(ctx.store, ctx.scope, rec);
  // EC2 answers `pending`: the new options reach the instance shortly after.
  return { InstanceId: rec.InstanceId, InstanceMetadataOptions: { State: 'pending', ...next } };
}
