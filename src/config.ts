/** Server configuration, with EC2's defaults where EC2 has them. */
export interface Config {
  host: string;
  port: number;
  dataDir: string;
  driver: 'auto' | 'sim' | 'ns';
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  /** Per-request time limit for reading a request, in ms. */
  requestTimeoutMs: number;
  limits: {
    /** On-Demand instances running or pending per account and region. */
    instancesPerRegion: number;
    /** VPCs per account and region, the default VPC included (VpcLimitExceeded). */
    vpcsPerRegion: number;
    subnetsPerVpc: number;
    securityGroupsPerVpc: number;
    /** Inbound, and separately outbound, rules per security group. */
    rulesPerSecurityGroup: number;
    securityGroupsPerInterface: number;
    networkAclsPerVpc: number;
    /** Inbound, and separately outbound, entries per network ACL (the default deny entries not counted). */
    rulesPerNetworkAcl: number;
    routeTablesPerVpc: number;
    /** Routes per route table, the local routes not counted. */
    routesPerRouteTable: number;
    /** Elastic IP addresses per account and region (AddressLimitExceeded). */
    elasticIpsPerRegion: number;
    /** Network interfaces per account and region, those of instances included. */
    networkInterfacesPerRegion: number;
  };
  sim: {
    /** How long the sim driver takes for each transition, in ms. */
    pendingMs: number;
    stoppingMs: number;
    shuttingDownMs: number;
  };
  ns: {
    /** The cgroup (under each hierarchy's root) instances' cgroups are made in. */
    cgroupParent: string;
    /** How long a graceful stop may take before the instance is killed, in ms. */
    stopTimeoutMs: number;
  };
  /** How long terminated instances stay visible, in ms (EC2: about an hour). */
  terminatedRetentionMs: number;
  /**
   * The public IPv4 pool that public and Elastic IPs come from (default 198.18.0.0/15, reserved for
   * benchmarking networks: it never leaves the machine).
   */
  publicPool: string;
  /** How long the role credentials the metadata service hands out last, in seconds (EC2: 6 hours). */
  roleSessionSeconds: number;
}

export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return {
    host: '127.0.0.1',
    port: 4566,
    dataDir: '.nimbus',
    driver: 'auto',
    maxBodyBytes: 1024 * 1024,
    requestTimeoutMs: 30_000,
    limits: {
      instancesPerRegion: 20,
      vpcsPerRegion: 5,
      subnetsPerVpc: 200,
      securityGroupsPerVpc: 500,
      rulesPerSecurityGroup: 50,
      securityGroupsPerInterface: 5,
      networkAclsPerVpc: 200,
      rulesPerNetworkAcl: 20,
      routeTablesPerVpc: 200,
      routesPerRouteTable: 50,
      elasticIpsPerRegion: 5,
      networkInterfacesPerRegion: 350,
    },
    sim: { pendingMs: 2000, stoppingMs: 2000, shuttingDownMs: 2000 },
    ns: { cgroupParent: 'nimbus', stopTimeoutMs: 10_000 },
    terminatedRetentionMs: 60 * 60 * 1000,
    roleSessionSeconds: 6 * 3600,
    publicPool: '198.18.0.0/15',
    ...overrides,
  };
}
