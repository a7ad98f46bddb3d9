/** EC2's per-resource error codes and messages for unknown and malformed ids. */
import { ApiError } from '../../../protocol/errors.js';
import { isWellFormedId } from '../../../util/ids.js';

interface ResourceErrors {
  prefix: string;
  /** Words used in the message: "The instance ID 'i-…' does not exist". */
  noun: string;
  notFound: string;
  malformed: string;
}

export const RESOURCES = {
  instance: { prefix: 'i', noun: 'instance ID', notFound: 'InvalidInstanceID.NotFound', malformed: 'InvalidInstanceID.Malformed' },
  image: { prefix: 'ami', noun: 'image id', notFound: 'InvalidAMIID.NotFound', malformed: 'InvalidAMIID.Malformed' },
  volume: { prefix: 'vol', noun: 'volume', notFound: 'InvalidVolume.NotFound', malformed: 'InvalidVolumeID.Malformed' },
  snapshot: { prefix: 'snap', noun: 'snapshot', notFound: 'InvalidSnapshot.NotFound', malformed: 'InvalidSnapshotID.Malformed' },
  'security-group': { prefix: 'sg', noun: 'security group', notFound: 'InvalidGroup.NotFound', malformed: 'InvalidGroupId.Malformed' },
  subnet: { prefix: 'subnet', noun: 'subnet ID', notFound: 'InvalidSubnetID.NotFound', malformed: 'InvalidSubnetID.Malformed' },
  vpc: { prefix: 'vpc', noun: 'vpc ID', notFound: 'InvalidVpcID.NotFound', malformed: 'InvalidVpcID.Malformed' },
  'key-pair': { prefix: 'key', noun: 'key pair', notFound: 'InvalidKeyPair.NotFound', malformed: 'InvalidKeyPair.Malformed' },
  'network-interface': {
    prefix: 'eni', noun: 'networkInterface ID', notFound: 'InvalidNetworkInterfaceID.NotFound', malformed: 'InvalidNetworkInterfaceID.Malformed',
  },
  'network-interface-attachment': {
    prefix: 'eni-attach', noun: 'network interface attachment ID', notFound: 'InvalidAttachmentID.NotFound', malformed: 'InvalidAttachmentID.Malformed',
  },
  'elastic-ip': { prefix: 'eipalloc', noun: 'allocation ID', notFound: 'InvalidAllocationID.NotFound', malformed: 'InvalidAllocationID.Malformed' },
  'elastic-ip-association': {
    prefix: 'eipassoc', noun: 'association ID', notFound: 'InvalidAssociationID.NotFound', malformed: 'InvalidAssociationID.Malformed',
  },
  reservation: { prefix: 'r', noun: 'reservation ID', notFound: 'InvalidReservationID.NotFound', malformed: 'InvalidReservationID.Malformed' },
  'internet-gateway': {
    prefix: 'igw', noun: 'internetGateway ID', notFound: 'InvalidInternetGatewayID.NotFound', malformed: 'InvalidInternetGatewayID.Malformed',
  },
  'route-table': { prefix: 'rtb', noun: 'routeTable ID', notFound: 'InvalidRouteTableID.NotFound', malformed: 'InvalidRouteTableID.Malformed' },
  'network-acl': { prefix: 'acl', noun: 'networkAcl ID', notFound: 'InvalidNetworkAclID.NotFound', malformed: 'InvalidNetworkAclID.Malformed' },
  'dhcp-options': { prefix: 'dopt', noun: 'dhcpOption ID', notFound: 'InvalidDhcpOptionID.NotFound', malformed: 'InvalidDhcpOptionsId.Malformed' },
  'security-group-rule': {
    prefix: 'sgr', noun: 'security group rule ID', notFound: 'InvalidSecurityGroupRuleId.NotFound', malformed: 'InvalidSecurityGroupRuleId.Malformed',
  },
  'route-table-association': {
    prefix: 'rtbassoc', noun: 'association ID', notFound: 'InvalidAssociationID.NotFound', malformed: 'InvalidAssociationID.Malformed',
  },
  'network-acl-association': {
    prefix: 'aclassoc', noun: 'association ID', notFound: 'InvalidAssociationID.NotFound', malformed: 'InvalidAssociationID.Malformed',
  },
  'vpc-cidr-block-association': {
    prefix: 'vpc-cidr-assoc', noun: 'vpc cidr block association ID',
    notFound: 'InvalidVpcCidrBlockAssociationID.NotFound', malformed: 'InvalidVpcCidrBlockAssociationID.Malformed',
  },
} as const satisfies Record<string, ResourceErrors>;

export type ResourceKind = keyof typeof RESOURCES;

export function notFound(kind: ResourceKind, ids: readonly string[]): ApiError {
  const r = RESOURCES[kind];
  const list = ids.join(', ');
  const message = ids.length === 1 ? `The ${r.noun} '${list}' does not exist` : `The ${r.noun}s '${list}' do not exist`;
  return new ApiError(r.notFound, message);
}

export function malformed(kind: ResourceKind, id: string): ApiError {
  return new ApiError(RESOURCES[kind].malformed, `Invalid id: "${id}"`);
}

/** Throws the kind's Malformed error for the first id that is not of its form. */
export function checkIds(kind: ResourceKind, ids: readonly string[] | undefined): void {
  for (const id of ids ?? []) if (!isWellFormedId(id, RESOURCES[kind].prefix)) throw malformed(kind, id);
}

export const incorrectInstanceState = (id: string, state: string, op: string) =>
  new ApiError('IncorrectInstanceState', `The instance '${id}' is not in a state from which it can be ${op}.`, 400);
