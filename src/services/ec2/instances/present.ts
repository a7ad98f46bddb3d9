/** An instance record as EC2 shows it: the SDK's Instance shape with every member EC2 returns. */
import type { Instance, InstanceState } from '@aws-sdk/client-ec2';
import type { Scope, Tag } from '../../../store/store.js';
import {
  groupIdentifiers, presentInstanceInterface, primaryAddress, type NetworkInterfaceRecord,
} from '../network-interfaces/record.js';
import { ipDnsName, privateDnsName, STATE_CODES, type InstanceRecord } from './record.js';
import { storedTime } from '../../../util/stored-time.js';

export function stateOf(rec: InstanceRecord): InstanceState {
  return { Code: STATE_CODES[rec.state], Name: rec.state };
}

/**
 * The instance with its attached interfaces (`enis`, the primary first): the instance's groups,
 * source/dest check and public address are its primary interface's.
 */
export function presentInstance(
  scope: Scope, rec: InstanceRecord, tags: readonly Tag[] | undefined, enis: readonly NetworkInterfaceRecord[],
): Instance {
  const gone = rec.state === 'terminated';
  const dns = gone ? '' : privateDnsName(scope.region, rec);
  const primary = enis.find((e) => e.NetworkInterfaceId === rec.NetworkInterfaceId);
  const groups = primary ? groupIdentifiers(primary) : [];
  const out: Instance = {
    InstanceId: rec.InstanceId,
    ImageId: rec.ImageId,
    State: stateOf(rec),
    PrivateDnsName: dns,
    PublicDnsName: '',
    StateTransitionReason: rec.StateTransitionReason,
    KeyName: rec.KeyName,
    AmiLaunchIndex: rec.AmiLaunchIndex,
    ProductCodes: [],
    InstanceType: rec.InstanceType as Instance['InstanceType'],
    LaunchTime: storedTime(rec.LaunchTime),
    Placement: {
      AvailabilityZone: rec.AvailabilityZone,
      GroupName: rec.PlacementGroupName ?? '',
      Tenancy: rec.Tenancy,
    },
    KernelId: rec.KernelId,
    RamdiskId: rec.RamdiskId,
    Platform: rec.Platform as Instance['Platform'],
    Monitoring: { State: rec.Monitoring },
    Architecture: rec.Architecture as Instance['Architecture'],
    RootDeviceType: rec.RootDeviceType as Instance['RootDeviceType'],
    RootDeviceName: rec.RootDeviceName,
    BlockDeviceMappings: gone
      ? []
      : rec.BlockDeviceMappings.map((b) => ({
          DeviceName: b.DeviceName,
          Ebs: { VolumeId: b.VolumeId, Status: 'attached', AttachTime: storedTime(b.AttachTime), DeleteOnTermination: b.DeleteOnTermination },
        })),
    VirtualizationType: rec.VirtualizationType as Instance['VirtualizationType'],
    ClientToken: rec.ClientToken ?? '',
    Tags: tags && tags.length ? [...tags] : undefined,
    SecurityGroups: gone ? [] : groups,
    SourceDestCheck: gone ? undefined : primary?.SourceDestCheck,
    Hypervisor: rec.Hypervisor as Instance['Hypervisor'],
    EbsOptimized: rec.EbsOptimized,
    EnaSupport: rec.EnaSupport,
    IamInstanceProfile: rec.IamInstanceProfile,
    CpuOptions: { CoreCount: rec.CoreCount, ThreadsPerCore: rec.ThreadsPerCore },
    CapacityReservationSpecification: { CapacityReservationPreference: 'open' },
    HibernationOptions: { Configured: rec.HibernationConfigured },
    MetadataOptions: { State: 'applied', ...rec.MetadataOptions },
    EnclaveOptions: { Enabled: rec.EnclaveEnabled },
    BootMode: rec.BootMode as Instance['BootMode'],
    CurrentInstanceBootMode: currentBootMode(rec),
    PlatformDetails: rec.PlatformDetails,
    UsageOperation: rec.UsageOperation,
    UsageOperationUpdateTime: storedTime(rec.LaunchTime),
    PrivateDnsNameOptions: { HostnameType: rec.HostnameType, EnableResourceNameDnsARecord: false, EnableResourceNameDnsAAAARecord: false },
    MaintenanceOptions: { AutoRecovery: 'default' },
    StateReason: rec.StateReason,
    NetworkPerformanceOptions: { BandwidthWeighting: 'default' },
    Operator: { Managed: false },
  };
  if (!gone) {
    out.SubnetId = rec.SubnetId;
    out.VpcId = rec.VpcId;
    out.PrivateIpAddress = rec.PrivateIpAddress;
    const publicIp = primary && primaryAddress(primary).association?.PublicIp;
    if (publicIp) out.PublicIpAddress = publicIp;
    // The instance's IPv6 address is its primary interface's first one.
    const ipv6 = primary?.Ipv6Addresses[0];
    if (ipv6) out.Ipv6Address = ipv6;
    // The primary address's name is asked for twice more (the interface, its address): made once.
    const ipName = rec.HostnameType === 'resource-name' ? undefined : dns;
    const nameOf = (ip: string) => (ip === rec.PrivateIpAddress && ipName !== undefined ? ipName : ipDnsName(scope.region, ip));
    out.NetworkInterfaces = enis.map((eni) => presentInstanceInterface(eni, nameOf));
  } else {
    out.NetworkInterfaces = [];
  }
  return out;
}

function currentBootMode(rec: InstanceRecord): Instance['CurrentInstanceBootMode'] {
  if (rec.BootMode === 'uefi') return 'uefi';
  if (rec.BootMode === 'legacy-bios') return 'legacy-bios';
  // uefi-preferred (or unset): Nitro boots UEFI only for arm64; x86 boots legacy BIOS.
  return rec.Architecture === 'arm64' ? 'uefi' : 'legacy-bios';
}

