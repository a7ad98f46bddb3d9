/**
 * RunInstances' network interfaces: the `NetworkInterfaces` entries (or the instance-level
 * SubnetId, groups and address when there are none) checked once for the whole launch, then made
 * or attached for each instance. EC2's rules: every entry has its own device index and index 0 is
 * there; all interfaces are in one zone; an existing interface (cold attach) is available and is
 * given to one instance only; a public address is auto-assigned only to a single new interface, and
 * AssociatePublicIpAddress with several interfaces is an error; the type's interface and address
 * limits (IPv4 and IPv6) hold; a specific address, IPv4 or IPv6, is for a single instance only.
 */
import type { InstanceNetworkInterfaceSpecification, RunInstancesRequest } from '@aws-sdk/client-ec2';
import { invalidParameterCombination, invalidParameterValue } from '../../../protocol/errors.js';
import type { RequestContext } from '../../context.js';
import { launchGroups, launchSubnet } from '../vpc/index.js';
import type { GroupRef } from '../vpc/security-groups.js';
import { requireOne, type SubnetRecord } from '../vpc/records.js';
import { attach, interfaceInUse, zoneMismatch } from './attach.js';
import { addressCount, createInterface, requestedAddresses, type RequestedAddresses } from './create.js';
import { ipv6Total, requestedIpv6Addresses, type RequestedIpv6 } from './ipv6.js';
import { checkAddressCount, checkInterfaceCount, checkInterfaceQuota, checkIpv6Count, maxAddressesPerInterface, maxIpv6PerInterface } from './limits.js';
import { loadInterface } from './lookup.js';
import type { NetworkInterfaceRecord } from './record.js';

/** One interface of every instance of the launch: an existing one, or how to make a new one. */
interface PlannedInterface {
  deviceIndex: number;
  deleteOnTermination: boolean;
  existing?: NetworkInterfaceRecord;
  create?: {
    subnet: SubnetRecord; groups: GroupRef[]; description?: string; addresses: RequestedAddresses; ipv6: RequestedIpv6; publicIp: boolean;
  };
}

export interface LaunchInterfaces {
  /** The primary interface's subnet: the instance's VpcId, SubnetId and zone. */
  subnet: SubnetRecord;
  interfaces: PlannedInterface[];
}

const instanceLevel = (what: string) =>
  invalidParameterCombination(`Network interfaces and an instance-level ${what} may not be specified on the same request`);

export async function planInterfaces(
  ctx: RequestContext, input: RunInstancesRequest, typeName: string, count: { max: number },
): Promise<LaunchInterfaces> {
  const specs = input.NetworkInterfaces ?? [];
  const zone = input.Placement?.AvailabilityZone;
  if (specs.length === 0) {
    // The instance-level form: one new interface.
    const subnet = await launchSubnet(ctx, input.SubnetId, zone);
    const groups = await launchGroups(ctx, subnet.VpcId, input.SecurityGroupIds, input.SecurityGroups);
    const addresses = requestedAddresses(input.PrivateIpAddress, undefined, undefined);
    checkSingleAddress(addresses, count.max);
    const ipv6 = launchIpv6(subnet, input.Ipv6Addresses, input.Ipv6AddressCount, count.max, typeName);
    return {
      subnet,
      interfaces: [{
        deviceIndex: 0, deleteOnTermination: true, create: { subnet, groups, addresses, ipv6, publicIp: subnet.MapPublicIpOnLaunch ?? false },
      }],
    };
  }
  if (input.SubnetId !== undefined) throw instanceLevel('subnet ID');
  if (input.SecurityGroupIds?.length || input.SecurityGroups?.length) throw instanceLevel('security groups');
  if (input.PrivateIpAddress !== undefined) throw instanceLevel('private IP address');
  if (input.Ipv6AddressCount !== undefined || input.Ipv6Addresses?.length) throw instanceLevel('IPv6 address');
  checkDeviceIndexes(specs);
  checkPublicIpRequest(specs);
  checkInterfaceCount(typeName, specs.length);

  const sorted = [...specs].sort((a, b) => a.DeviceIndex! - b.DeviceIndex!);
  const planned: PlannedInterface[] = [];
  for (const spec of sorted) planned.push(await planOne(ctx, spec, zone, count.max, specs.length === 1, typeName));
  const subnetOf = (p: PlannedInterface) => p.create?.subnet.SubnetId ?? p.existing!.SubnetId;
  const primary = planned[0]!;
  const subnet = primary.create?.subnet ?? (await requireOne<SubnetRecord>(ctx, 'subnet', subnetOf(primary)));
  const zoneOf = (p: PlannedInterface) => p.create?.subnet.AvailabilityZone ?? p.existing!.AvailabilityZone;
  if (zone !== undefined && zoneOf(primary) !== zone) {
    throw invalidParameterValue(`Value (${zone}) for parameter availabilityZone is invalid. Subnet '${subnet.SubnetId}' is in the availability zone ${subnet.AvailabilityZone}`);
  }
  if (planned.some((p) => zoneOf(p) !== subnet.AvailabilityZone)) throw zoneMismatch();
  return { subnet, interfaces: planned };
}

/** The region's interface quota must hold the new interfaces of `count` instances. */
export async function checkLaunchQuota(ctx: RequestContext, plan: LaunchInterfaces, count: number): Promise<void> {
  await checkInterfaceQuota(ctx, count * plan.interfaces.filter((p) => p.create).length);
}

function checkDeviceIndexes(specs: readonly InstanceNetworkInterfaceSpecification[]): void {
  const seen = new Set<number>();
  for (const s of specs) {
    if (s.DeviceIndex === undefined) throw invalidParameterValue('Each network interface requires a device index.');
    if (!Number.isInteger(s.DeviceIndex) || s.DeviceIndex < 0) {
      throw invalidParameterValue(`Value (${s.DeviceIndex}) for parameter deviceIndex is invalid.`);
    }
    if (seen.has(s.DeviceIndex)) throw invalidParameterValue('Each network interface requires a unique device index.');
    seen.add(s.DeviceIndex);
  }
  if (!seen.has(0)) throw invalidParameterValue('When specifying network interfaces, you must include a device at index 0.');
}

function checkPublicIpRequest(specs: readonly InstanceNetworkInterfaceSpecification[]): void {
  const asking = specs.filter((s) => s.AssociatePublicIpAddress !== undefined);
  if (asking.length === 0) return;
  if (specs.length > 1) {
    throw invalidParameterCombination('The associatePublicIPAddress parameter cannot be specified when launching with multiple network interfaces.');
  }
  if (asking.some((s) => s.DeviceIndex !== 0)) {
    throw invalidParameterCombination('The associatePublicIPAddress parameter can only be specified for the network interface with DeviceIndex 0.');
  }
  if (asking.some((s) => s.NetworkInterfaceId !== undefined)) {
    throw invalidParameterCombination('The associatePublicIPAddress parameter cannot be specified for an existing network interface.');
  }
}

/** A specific address can only be given to one instance. */
function checkSingleAddress(addresses: RequestedAddresses, maxCount: number): void {
  if (maxCount > 1 && (addresses.privateIp !== undefined || (addresses.secondaryIps?.length ?? 0) > 0)) {
    throw invalidParameterCombination('A specific private IP address can be given only when launching a single instance.');
  }
}

/** The IPv6 addresses of one new interface of every instance, checked against the type's limit. */
function launchIpv6(
  subnet: SubnetRecord, listed: readonly { Ipv6Address?: string }[] | undefined, n: number | undefined, maxCount: number, typeName: string,
): RequestedIpv6 {
  const ipv6 = requestedIpv6Addresses(subnet, listed?.map((a) => a.Ipv6Address ?? ''), n);
  if (maxCount > 1 && ipv6.addresses.length > 0) {
    throw invalidParameterCombination('A specific IPv6 address can be given only when launching a single instance.');
  }
  checkIpv6Count(ipv6Total(ipv6), maxIpv6PerInterface(typeName));
  return ipv6;
}

async function planOne(
  ctx: RequestContext, spec: InstanceNetworkInterfaceSpecification, zone: string | undefined, maxCount: number, single: boolean, typeName: string,
): Promise<PlannedInterface> {
  const deviceIndex = spec.DeviceIndex!;
  if (spec.NetworkInterfaceId !== undefined) {
    const conflicting = ([
      'SubnetId', 'Groups', 'PrivateIpAddress', 'PrivateIpAddresses', 'SecondaryPrivateIpAddressCount', 'Ipv6Addresses', 'Ipv6AddressCount', 'Description',
    ] as const)
      .find((k) => spec[k] !== undefined && !(Array.isArray(spec[k]) && spec[k].length === 0));
    if (conflicting) {
      throw invalidParameterCombination(`A network interface may not specify both a network interface ID and ${conflicting}.`);
    }
    if (maxCount > 1) {
      throw invalidParameterCombination('An existing network interface can be attached to one instance only: launch a single instance.');
    }
    const existing = await loadInterface(ctx, spec.NetworkInterfaceId);
    if (existing.Attachment) throw interfaceInUse(existing.NetworkInterfaceId);
    checkAddressCount(existing.PrivateIpAddresses.length, maxAddressesPerInterface(typeName));
    checkIpv6Count(existing.Ipv6Addresses.length, maxIpv6PerInterface(typeName));
    return { deviceIndex, deleteOnTermination: spec.DeleteOnTermination ?? false, existing };
  }
  const subnet = await launchSubnet(ctx, spec.SubnetId, deviceIndex === 0 ? zone : undefined);
  const groups = await launchGroups(ctx, subnet.VpcId, spec.Groups, undefined);
  const addresses = requestedAddresses(spec.PrivateIpAddress, spec.PrivateIpAddresses, spec.SecondaryPrivateIpAddressCount);
  checkSingleAddress(addresses, maxCount);
  checkAddressCount(addressCount(addresses), maxAddressesPerInterface(typeName));
  const ipv6 = launchIpv6(subnet, spec.Ipv6Addresses, spec.Ipv6AddressCount, maxCount, typeName);
  // Only a single new interface at index 0 gets an address from the pool.
  const publicIp = single && (spec.AssociatePublicIpAddress ?? subnet.MapPublicIpOnLaunch ?? false);
  return {
    deviceIndex,
    deleteOnTermination: spec.DeleteOnTermination ?? true,
    create: { subnet, groups, description: spec.Description, addresses, ipv6, publicIp },
  };
}

/** Makes or attaches one instance's interfaces, all attached to it; the primary comes first. */
export async function launchInterfaces(
  ctx: RequestContext, plan: LaunchInterfaces, instanceId: string, attachTime: string,
): Promise<NetworkInterfaceRecord[]> {
  const out: NetworkInterfaceRecord[] = [];
  for (const p of plan.interfaces) {
    if (p.existing) {
      await attach(ctx, instanceId, p.existing, p.deviceIndex, p.deleteOnTermination);
      out.push(p.existing);
      continue;
    }
    const c = p.create!;
    out.push(await createInterface(ctx, {
      subnet: c.subnet,
      groups: c.groups,
      description: c.description,
      ...c.addresses,
      ipv6: c.ipv6,
      publicIp: c.publicIp,
      attachment: { InstanceId: instanceId, InstanceOwnerId: ctx.accountId, DeviceIndex: p.deviceIndex, AttachTime: attachTime, DeleteOnTermination: p.deleteOnTermination },
    }));
  }
  return out;
}

