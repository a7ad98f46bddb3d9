/**
 * Names and fixed addresses of the data plane. Each VPC is a network namespace holding one Linux
 * bridge (`br0`, every subnet's gateway address on it) and the VPC's link to the host; each
 * instance is a network namespace whose interfaces (`eth<device index>`) are veth pairs with their
 * other end a port of the VPC's bridge. Interface names are at most 15 characters (IFNAMSIZ).
 */
import { createHash } from 'node:crypto';

export const NETNS_DIR = '/run/netns';

/**
 * The namespaces of one Nimbus installation (one data directory), named with its tag so that two
 * installations on a host never touch each other's: `nimbus-<tag>-vpc-…` for a VPC's router,
 * `nimbus-<tag>-i-…` for an instance.
 */
export class NetnsNames {
  readonly vpcPattern: RegExp;
  readonly instancePattern: RegExp;

  constructor(readonly tag: string) {
    this.vpcPattern = new RegExp(`^nimbus-${tag}-(vpc-[0-9a-f]+)$`);
    this.instancePattern = new RegExp(`^nimbus-${tag}-(i-[0-9a-f]+)$`);
  }

  vpc(vpcId: string): string {
    return `nimbus-${this.tag}-${vpcId}`;
  }

  instance(instanceId: string): string {
    return `nimbus-${this.tag}-${instanceId}`;
  }

  /** The host's end of a VPC's link: `nv` and a digest of the tag and VPC id. */
  hostLink(vpcId: string): string {
    return `nv${createHash('sha256').update(`${this.tag}/${vpcId}`).digest('hex').slice(0, 13)}`;
  }
}

/** An installation's tag: a digest of its data directory. */
export function installationTag(dataDir: string): string {
  return createHash('sha256').update(dataDir).digest('hex').slice(0, 8);
}

export const netnsPath = (name: string) => `${NETNS_DIR}/${name}`;

/** The bridge inside a VPC namespace. */
export const BRIDGE = 'br0';
/** The VPC namespace's end of its link to the host. */
export const UPLINK = 'uplink';
/** An interface's port on the VPC bridge: `e` and the end of the ENI id. */
export const bridgePort = (eniId: string) => `e${eniId.slice(-14)}`;
export const guestDevice = (deviceIndex: number) => `eth${deviceIndex}`;

/**
 * The host link's addresses, the same for every VPC (each VPC end lives in its own namespace):
 * the host reaches public addresses through the VPC end and answers from the host end, as
 * Calico's routed veths do. Link-local: never routed off the machine.
 */
export const HOST_LINK_IP = '169.254.100.1';
export const VPC_LINK_IP = '169.254.100.2';
