/**
 * Which store kind and tag resource type an id belongs to, by its prefix. Operation modules store
 * their resources under these kinds so that generic operations (CreateTags, …) can find them.
 */
export interface ResourceType {
  /** The store kind the resource is kept under. */
  kind: string;
  /** EC2's ResourceType string (TagSpecification, DescribeTags `resource-type`). */
  resourceType: string;
}

export const RESOURCE_TYPES_BY_PREFIX: Readonly<Record<string, ResourceType>> = {
  i: { kind: 'instance', resourceType: 'instance' },
  key: { kind: 'key-pair', resourceType: 'key-pair' },
  ami: { kind: 'image', resourceType: 'image' },
  vol: { kind: 'volume', resourceType: 'volume' },
  snap: { kind: 'snapshot', resourceType: 'snapshot' },
  sg: { kind: 'security-group', resourceType: 'security-group' },
  vpc: { kind: 'vpc', resourceType: 'vpc' },
  subnet: { kind: 'subnet', resourceType: 'subnet' },
  eni: { kind: 'network-interface', resourceType: 'network-interface' },
  eipalloc: { kind: 'elastic-ip', resourceType: 'elastic-ip' },
  igw: { kind: 'internet-gateway', resourceType: 'internet-gateway' },
  rtb: { kind: 'route-table', resourceType: 'route-table' },
  acl: { kind: 'network-acl', resourceType: 'network-acl' },
  dopt: { kind: 'dhcp-options', resourceType: 'dhcp-options' },
  sgr: { kind: 'security-group-rule', resourceType: 'security-group-rule' },
};

export function resourceTypeOf(id: string): ResourceType | undefined {
  const prefix = id.slice(0, id.indexOf('-'));
  return RESOURCE_TYPES_BY_PREFIX[prefix];
}
