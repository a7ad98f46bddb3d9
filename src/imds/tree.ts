/**
 * The instance metadata category tree (`/latest/meta-data/`), built from the caller's records so
 * every value is what DescribeInstances says. A directory is an object, a leaf a string; EC2's
 * listing rules are in server.ts.
 */
import { regionInfo } from '../catalog/regions.js';
import { ipDnsName, privateDnsName } from '../services/ec2/instances/record.js';
import { primaryAddress, type NetworkInterfaceRecord } from '../services/ec2/network-interfaces/record.js';
import type { Caller } from './caller.js';

export type MetadataNode = string | { [name: string]: MetadataNode };

/** Directories whose listing is not their children's names: `public-keys/` lists `0=key-name`. */
export const LISTINGS = new WeakMap<object, string>();

/** The role's part of the tree, filled by the caller of `metadataTree` (credentials are issued on demand). */
export interface RoleMetadata {
  info: string;
  roleName: string;
  credentials: string;
}

const lines = (values: readonly string[]) => values.join('\n');

/** EC2 names a device without `/dev/`: `/dev/xvda` → `xvda`. */
const shortDevice = (name: string) => name.replace(/^\/dev\//, '');

function interfaceNode(c: Caller, eni: NetworkInterfaceRecord): MetadataNode {
  const subnet = c.subnets.get(eni.SubnetId);
  const region = c.scope.region;
  const node: Record<string, MetadataNode> = {
    'device-number': String(eni.Attachment?.DeviceIndex ?? 0),
    'interface-id': eni.NetworkInterfaceId,
    'local-hostname': ipDnsName(region, primaryAddress(eni).PrivateIpAddress),
    'local-ipv4s': lines(eni.PrivateIpAddresses.map((a) => a.PrivateIpAddress)),
    mac: eni.MacAddress,
    'owner-id': eni.OwnerId,
    'security-group-ids': lines(eni.Groups.map((g) => g.GroupId)),
    'security-groups': lines(eni.Groups.map((g) => g.GroupName)),
    'subnet-id': eni.SubnetId,
    'subnet-ipv4-cidr-block': subnet?.CidrBlock ?? '',
    'vpc-id': eni.VpcId,
    'vpc-ipv4-cidr-block': c.vpc?.CidrBlock ?? '',
    'vpc-ipv4-cidr-blocks': lines((c.vpc?.CidrBlockAssociationSet ?? []).map((a) => a.CidrBlock!)),
  };
  const publics = eni.PrivateIpAddresses.flatMap((a) => (a.association ? [a.association.PublicIp] : []));
  if (publics.length) {
    node['public-ipv4s'] = lines(publics);
    node['ipv4-associations'] = Object.fromEntries(
      eni.PrivateIpAddresses.flatMap((a) => (a.association ? [[a.association.PublicIp, a.PrivateIpAddress]] : [])),
    );
  }
  if (eni.Ipv6Addresses.length) node.ipv6s = lines(eni.Ipv6Addresses);
  const subnetV6 = (subnet?.Ipv6CidrBlockAssociationSet ?? []).map((a) => a.Ipv6CidrBlock!).filter(Boolean);
  if (subnetV6.length) node['subnet-ipv6-cidr-blocks'] = lines(subnetV6);
  const vpcV6 = (c.vpc?.Ipv6CidrBlockAssociationSet ?? []).map((a) => a.Ipv6CidrBlock!).filter(Boolean);
  if (vpcV6.length) node['vpc-ipv6-cidr-blocks'] = lines(vpcV6);
  return node;
}

export function metadataTree(c: Caller, role: RoleMetadata | undefined): Record<string, MetadataNode> {
  const rec = c.instance;
  const region = c.scope.region;
  const primary = c.interfaces.find((e) => e.NetworkInterfaceId === rec.NetworkInterfaceId) ?? c.interfaces[0];
  const publicIp = primary ? primaryAddress(primary).association?.PublicIp : undefined;
  const zone = regionInfo(region)?.zones.find((z) => z.name === rec.AvailabilityZone);
  const localHostname = privateDnsName(region, rec);

  const devices: Record<string, MetadataNode> = { ami: rec.RootDeviceName, root: rec.RootDeviceName };
  rec.BlockDeviceMappings.filter((d) => d.DeviceName !== rec.RootDeviceName)
    .forEach((d, i) => { devices[`ebs${i + 1}`] = shortDevice(d.DeviceName); });

  const placement: Record<string, MetadataNode> = {
    'availability-zone': rec.AvailabilityZone,
    'availability-zone-id': zone?.id ?? '',
    region,
  };
  if (rec.PlacementGroupName) placement['group-name'] = rec.PlacementGroupName;

  const tree: Record<string, MetadataNode> = {
    'ami-id': rec.ImageId,
    'ami-launch-index': String(rec.AmiLaunchIndex),
    'ami-manifest-path': '(unknown)',
    'block-device-mapping': devices,
    events: { maintenance: { history: '[]', scheduled: '[]' } },
    hostname: localHostname,
    'instance-action': 'none',
    'instance-id': rec.InstanceId,
    'instance-life-cycle': 'on-demand',
    'instance-type': rec.InstanceType,
    'local-hostname': localHostname,
    'local-ipv4': rec.PrivateIpAddress,
    mac: primary?.MacAddress ?? '',
    metrics: { vhostmd: '<?xml version="1.0" encoding="UTF-8"?>' },
    network: { interfaces: { macs: Object.fromEntries(c.interfaces.map((e) => [e.MacAddress, interfaceNode(c, e)])) } },
    placement,
    profile: 'default-hvm',
    'reservation-id': rec.ReservationId,
    'security-groups': lines((primary?.Groups ?? []).map((g) => g.GroupName)),
    services: { domain: 'amazonaws.com', partition: 'aws' },
    system: 'nitro',
  };
  if (publicIp) {
    tree['public-ipv4'] = publicIp;
    tree['public-hostname'] = '';
  }
  if (rec.KeyName && rec.publicKey) {
    const keys = { '0': { 'openssh-key': `${rec.publicKey.trim()}\n` } };
    LISTINGS.set(keys, `0=${rec.KeyName}`);
    tree['public-keys'] = keys;
  }
  if (role) tree.iam = { info: role.info, 'security-credentials': { [role.roleName]: role.credentials } };
  if (rec.MetadataOptions.InstanceMetadataTags === 'enabled') {
    tree.tags = { instance: Object.fromEntries(c.tags.map((t) => [t.Key, t.Value])) };
  }
  return tree;
}
