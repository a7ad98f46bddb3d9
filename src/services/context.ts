/** What an operation sees of the world, and what a service gives the server. */
import type { ComputeDriver } from '../compute/driver.js';
import type { WireProtocol } from '../protocol/types.js';
import type { Scope, Store } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import type { Config } from '../config.js';

/** The control plane's shared parts, handed to every operation. */
export interface ControlPlane {
  readonly config: Config;
  readonly store: Store;
  readonly clock: Clock;
  readonly driver: ComputeDriver;
  /** Tells the reconcilers that desired state changed; they act after the transaction commits. */
  kick(): void;
  /**
   * Called by the dispatcher after an operation that may change state has committed, so that
   * controllers that derive from much of the store (the network's) look again without every
   * operation having to know they exist.
   */
  committed?(operation?: string): void;
}

export interface RequestContext {
  readonly requestId: string;
  readonly operation: string;
  readonly scope: Scope;
  readonly accountId: string;
  readonly region: string;
  readonly principalArn: string;
  readonly plane: ControlPlane;
  readonly store: Store;
  now(): Date;
}

// Inputs and outputs are typed per operation by the handlers themselves (SDK shapes).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Handler = (input: any, ctx: RequestContext) => Promise<object | void> | object | void;

export interface ServiceDefinition {
  /** The SigV4 service name that routes to this service (`ec2`, `ssm`, …). */
  readonly signingName: string;
  readonly protocol: WireProtocol;
  readonly handlers: Readonly<Record<string, Handler>>;
}
