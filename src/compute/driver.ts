/**
 * The compute driver: what actually runs an instance. The control plane records desired state;
 * the instance reconciler calls these idempotent steps until the driver reports what the store
 * wants. `sim` runs nothing and moves on a clock; `ns` runs a real Linux system per instance.
 */

/** What the driver needs to know to run one instance. */
export interface InstanceSpec {
  instanceId: string;
  account: string;
  region: string;
  imageId: string;
  /** The snapshot of the image's root device: an image made from an instance has its root filesystem under that name. */
  rootSnapshotId?: string;
  /** The root EBS volume. */
  rootVolume?: { volumeId: string; sizeGiB: number; encrypted: boolean };
  instanceType: string;
  vcpus: number;
  memoryMiB: number;
  /** Decoded user data, if any. */
  userData?: Buffer;
  hostname: string;
  /** The key pair's OpenSSH public key, installed for the image's default user. */
  publicKey?: string;
}

export interface InstanceRootVolume {
  /** The overlay upper directory: what the instance wrote, owned by its host ids. */
  upper: string;
  /** The local image it runs. */
  image: string;
  idBase: number;
}

/** The network data plane as the compute driver needs it: plug an instance in before it boots, unplug it when it is gone. */
export interface InstanceNetwork {
  /** Returns the path of the instance's network namespace, its interfaces in place. */
  prepareInstance(scope: { account: string; region: string }, instanceId: string): Promise<string>;
  releaseInstance(instanceId: string): Promise<void>;
}

/** What is really there for an instance, as the driver sees it. */
export type ActualState = 'absent' | 'starting' | 'running' | 'stopping' | 'stopped' | 'destroying';

export interface ComputeDriver {
  readonly name: 'sim' | 'ns';
  /** Prepares (if needed) and boots the instance. Idempotent: a running instance stays as it is. */
  start(spec: InstanceSpec): Promise<void>;
  /** Shuts the instance down; `force` kills it at once. Idempotent. */
  stop(instanceId: string, opts: { force: boolean }): Promise<void>;
  reboot(instanceId: string): Promise<void>;
  /** Removes every trace of the instance (processes, mounts, root volume). Idempotent. */
  destroy(instanceId: string): Promise<void>;
  inspect(instanceId: string): Promise<ActualState>;
  /** Instance ids the driver has anything for, so the reconciler can find orphans. */
  list(): Promise<string[]>;
  /**
   * Drivers that notice by themselves when an instance changes (it powered off inside) report its
   * id here, so the reconciler looks at it without waiting for its next full pass.
   */
  onChange?(listener: (instanceId: string) => void): void;
  /** A running instance's init and host id range, for mounts made into it (drivers with real instances). */
  mountNamespace?(instanceId: string): { pid: number; idBase: number; startedAt?: string } | undefined;
  /** Instances running now (drivers with real instances). */
  runningIds?(): string[];
  /** An instance's root volume on the host, running or stopped (drivers with real instances). */
  rootVolume?(instanceId: string): InstanceRootVolume | undefined;
  /** The local images instances on this host run from (drivers with real instances). */
  imagesInUse?(): Set<string>;
  /** Calls `hook` with an instance's root volume just before destroy() removes it (drivers with real instances). */
  beforeDestroy?(hook: (instanceId: string, root: InstanceRootVolume) => Promise<void>): void;
  /** The console output so far (may be empty). */
  consoleOutput(instanceId: string): Promise<string>;
  close(): Promise<void>;
}
