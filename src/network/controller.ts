/**
 * The network controller: converges the kernel to the store, like a Kubernetes controller. The
 * compute driver asks it to plug an instance in before the instance boots and to unplug it once
 * the instance is gone; between those, every change of desired state (a kick after an operation
 * committed, or the periodic pass) recompiles each VPC in use and applies only what differs: a
 * VPC's ruleset is reloaded when its text changes, an instance's interfaces when they do.
 *
 * A VPC namespace exists while some instance of the VPC is plugged in; the last one unplugged
 * takes it away with its bridge, host link and routes.
 */
import type { Scope, Store } from '../store/store.js';
import { INSTANCE_KIND, type InstanceRecord } from '../services/ec2/instances/record.js';
import { ENI_KIND, type NetworkInterfaceRecord } from '../services/ec2/network-interfaces/record.js';
import { netnsList } from './exec.js';
import { loadVpcModel, type VpcModel } from './model.js';
import { NetnsNames } from './names.js';
import { applyRuleset, deleteNetns, ensureInstancePorts, ensureNetns, ensurePublicRoutes, ensureVpc } from './plumbing.js';
import { compileRuleset } from './ruleset.js';

export interface NetworkControllerOptions {
  /** The installation's tag in every namespace name (see NetnsNames). */
  tag: string;
  /** How often everything is looked at again without a kick. */
  resyncMs?: number;
  log?: (line: string) => void;
}

export class NetworkController {
  private chain: Promise<unknown> = Promise.resolve();
  private pending = false;
  private closed = false;
  private timer?: NodeJS.Timeout;
  /** What was last applied per VPC (ruleset text) and per instance (its ports), so unchanged ones are skipped. */
  private readonly applied = new Map<string, string>();
  private readonly scopes = new Map<string, Scope>();
  private readonly log: (line: string) => void;

  private readonly names: NetnsNames;

  constructor(private readonly store: Store, opts: NetworkControllerOptions) {
    this.names = new NetnsNames(opts.tag);
    this.log = opts.log ?? ((l) => console.error(l));
    this.timer = setInterval(() => this.kick(), opts.resyncMs ?? 30_000);
    this.timer.unref();
  }

  /** Runs steps one at a time: the kernel state is shared by all of them. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => {});
    return next;
  }

  /** Plugs the instance's interfaces in and returns the path of its network namespace. */
  prepareInstance(scope: Scope, instanceId: string): Promise<string> {
    this.scopes.set(instanceId, scope);
    return this.serial(async () => {
      const path = await ensureNetns(this.names.instance(instanceId));
      this.applied.delete(instanceId);
      await this.converge();
      return path;
    });
  }

  /** Unplugs the instance (its namespace goes, and its bridge ports with it). */
  releaseInstance(instanceId: string): Promise<void> {
    return this.serial(async () => {
      await deleteNetns(this.names.instance(instanceId));
      this.scopes.delete(instanceId);
      this.applied.delete(instanceId);
      await this.converge();
    });
  }

  /** Desired state changed: converge soon (kicks while a pass runs fold into one more pass). */
  kick(): void {
    if (this.pending || this.closed) return;
    this.pending = true;
    void this.serial(async () => {
      this.pending = false;
      await this.converge();
    }).catch((err: unknown) => this.log(`nimbus: network: ${(err as Error).message}`));
  }

  private async scopeOf(instanceId: string): Promise<Scope | undefined> {
    const known = this.scopes.get(instanceId);
    if (known) return known;
    // After a restart: find the instance's account and region once.
    for (const { scope, doc } of await this.store.listAll<InstanceRecord>(INSTANCE_KIND)) {
      if (doc.InstanceId === instanceId) {
        this.scopes.set(instanceId, scope);
        return scope;
      }
    }
    return undefined;
  }

  private async converge(): Promise<void> {
    const names = await netnsList();
    const plugged = new Set(names.flatMap((n) => this.names.instancePattern.exec(n)?.[1] ?? []));
    const vpcs = new Map<string, Scope>();
    for (const id of plugged) {
      const scope = await this.scopeOf(id);
      if (!scope) {
        // No such instance: left behind by a crash between its end and its namespace's.
        await deleteNetns(this.names.instance(id));
        plugged.delete(id);
        continue;
      }
      const rec = await this.store.get<InstanceRecord>(INSTANCE_KIND, scope, id);
      const enis = rec ? await this.store.getMany<NetworkInterfaceRecord>(ENI_KIND, scope, rec.networkInterfaceIds) : [];
      for (const e of enis) vpcs.set(e.VpcId, scope);
    }
    for (const [vpcId, scope] of vpcs) {
      try {
        await this.convergeVpc(await loadVpcModel(this.store, scope, vpcId, (i) => plugged.has(i)));
      } catch (err) {
        this.applied.delete(vpcId);
        this.log(`nimbus: network: VPC ${vpcId}: ${(err as Error).message}`);
      }
    }
    for (const n of names) {
      const vpcId = this.names.vpcPattern.exec(n)?.[1];
      if (vpcId && !vpcs.has(vpcId)) {
        await deleteNetns(this.names.vpc(vpcId));
        this.applied.delete(vpcId);
      }
    }
  }

  private async convergeVpc(model: VpcModel): Promise<void> {
    await ensureVpc(this.names, model);
    const byInstance = new Map<string, typeof model.ports>();
    for (const p of model.ports) byInstance.set(p.instanceId, [...(byInstance.get(p.instanceId) ?? []), p]);
    for (const [instanceId, ports] of byInstance) {
      const key = JSON.stringify({ ports, subnets: model.subnets });
      if (this.applied.get(instanceId) === key) continue;
      await ensureInstancePorts(this.names, model.vpcId, instanceId, ports, model.subnets);
      this.applied.set(instanceId, key);
    }
    const ruleset = compileRuleset(model);
    if (this.applied.get(model.vpcId) !== ruleset) {
      await applyRuleset(this.names, model);
      this.applied.set(model.vpcId, ruleset);
    }
    await ensurePublicRoutes(this.names, model);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.chain;
  }
}
