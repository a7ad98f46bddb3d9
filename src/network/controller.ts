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
import type { Server } from 'node:net';
import type { Scope, Store } from '../store/store.js';
import { INSTANCE_KIND, type InstanceRecord } from '../services/ec2/instances/record.js';
import { attachedInterfaces } from '../services/ec2/network-interfaces/lifecycle.js';
import { netnsList } from './exec.js';
import { loadVpcModel, type VpcModel } from './model.js';
import { NetnsNames } from './names.js';
import { applyRuleset, deleteNetns, ensureInstancePorts, ensureNetns, ensurePublicRoutes, ensureVpc, INSTANCE_NETNS_SETTINGS } from './plumbing.js';
import { listenInNetns } from './netns-listener.js';
import { compileRuleset, type RouterService } from './ruleset.js';

/** A service in this process that each VPC's router offers its instances, on a socket made in the VPC's namespace. */
export interface VpcService extends RouterService {
  attach(listener: Server, at: { scope: Scope; vpcId: string }): void;
}

/** How many instances' interfaces are plugged in at once. */
const PLUMB_CONCURRENCY = 8;
/** After a pass that failed, the next one comes this soon, then twice as late each time (up to the resync). */
const FIRST_RETRY_MS = 500;

export interface NetworkControllerOptions {
  services?: VpcService[];
  /** The installation's tag in every namespace name (see NetnsNames). */
  tag: string;
  /** How often everything is looked at again without a kick. */
  resyncMs?: number;
  log?: (line: string) => void;
}

export class NetworkController {
  private chain: Promise<unknown> = Promise.resolve();
  private nextPass?: Promise<void>;
  private readonly locks = new Map<string, Promise<unknown>>();
  /** The subnets each VPC's router has its addresses in, as the last pass left it. */
  private readonly routerSubnets = new Map<string, Set<string>>();
  private closed = false;
  private timer?: NodeJS.Timeout;
  private readonly resyncMs: number;
  /** The wait before the retry of a failed pass, 0 while passes succeed. */
  private retryMs = 0;
  private retryTimer?: NodeJS.Timeout;
  /** What was last applied, so unchanged ones are skipped: each VPC's ruleset text, each instance's ports. */
  private readonly appliedRules = new Map<string, string>();
  private readonly appliedPorts = new Map<string, string>();
  private readonly scopes = new Map<string, Scope>();
  private readonly log: (line: string) => void;

  private readonly names: NetnsNames;
  private readonly services: VpcService[];
  /** Listening sockets in VPC namespaces, by VPC id and port. */
  private readonly listeners = new Map<string, Server>();

  constructor(private readonly store: Store, opts: NetworkControllerOptions) {
    this.names = new NetnsNames(opts.tag);
    this.services = opts.services ?? [];
    this.log = opts.log ?? ((l) => console.error(l));
    this.resyncMs = opts.resyncMs ?? 30_000;
    this.timer = setInterval(() => this.kick(), this.resyncMs);
    this.timer.unref();
    // After a restart: what the instances that kept running need (listeners, rules) comes back at once.
    this.kick();
  }

  /** Runs steps one at a time: the kernel state is shared by all of them. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => {});
    return next;
  }

  /**
   * A pass of `converge` that starts after this call: every caller until it starts shares it, so
   * fifty instances plugged in at once cost one pass (and one ruleset load), not fifty.
   */
  private requestPass(): Promise<void> {
    this.nextPass ??= this.serial(async () => {
      this.nextPass = undefined;
      let converged = false;
      try {
        converged = await this.converge();
      } finally {
        this.retryIfFailed(converged);
      }
    });
    return this.nextPass;
  }

  /**
   * A pass that could not converge everything (a command failed under load, a socket was not
   * ready) is tried again soon, with a backoff, not only at the next resync: after a restart, the
   * instances' metadata service would otherwise stay down for up to the whole resync interval.
   */
  private retryIfFailed(converged: boolean): void {
    if (converged || this.closed) {
      this.retryMs = 0;
      return;
    }
    this.retryMs = Math.min(this.retryMs ? this.retryMs * 2 : FIRST_RETRY_MS, this.resyncMs);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.kick(), this.retryMs);
    this.retryTimer.unref();
  }

  /** Runs steps on one key (a VPC, an instance) one at a time. */
  private locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const next = (this.locks.get(key) ?? Promise.resolve()).then(fn, fn);
    const tail = next.catch(() => {});
    this.locks.set(key, tail);
    void tail.then(() => { if (this.locks.get(key) === tail) this.locks.delete(key); });
    return next;
  }

  /**
   * Plugs the instance's interfaces in and returns the path of its network namespace. Its own
   * interfaces go in at once, beside other instances doing the same; the VPC's rules (which name
   * every interface) are loaded by the next shared pass, which this waits for.
   */
  async prepareInstance(scope: Scope, instanceId: string): Promise<string> {
    this.scopes.set(instanceId, scope);
    const path = await ensureNetns(this.names.instance(instanceId), INSTANCE_NETNS_SETTINGS);
    this.appliedPorts.delete(instanceId);
    await this.plugInstance(scope, instanceId).catch((err: unknown) => this.log(`nimbus: network: ${instanceId}: ${(err as Error).message}`));
    await this.requestPass();
    return path;
  }

  private async plugInstance(scope: Scope, instanceId: string): Promise<void> {
    const rec = await this.store.get<InstanceRecord>(INSTANCE_KIND, scope, instanceId);
    const enis = rec ? await attachedInterfaces(this.store, scope, rec) : [];
    for (const vpcId of new Set(enis.map((e) => e.VpcId))) {
      const model = await loadVpcModel(this.store, scope, vpcId, (i) => i === instanceId);
      // Only what this instance needs (other instances' subnets stay as they are until the pass),
      // and nothing when the VPC's router already serves its subnets.
      const ready = this.routerSubnets.get(vpcId);
      if (!ready || model.subnets.some((sub) => !ready.has(sub.subnetId))) {
        await this.locked(vpcId, () => ensureVpc(this.names, model, this.serviceAddresses(), { prune: false }));
      }
      await this.plugPorts(model, instanceId, model.ports);
    }
  }

  private serviceAddresses(): string[] {
    return [...new Set(this.services.map((s) => s.address))];
  }

  /** An instance's interfaces as they should be; skipped when that is what was last applied. */
  private async plugPorts(model: VpcModel, instanceId: string, ports: VpcModel['ports']): Promise<void> {
    const subnets = model.subnets.filter((s) => ports.some((p) => p.subnetId === s.subnetId));
    const key = JSON.stringify({ ports, subnets });
    await this.locked(instanceId, async () => {
      if (this.appliedPorts.get(instanceId) === key) return;
      await ensureInstancePorts(this.names, model.vpcId, instanceId, ports, subnets);
      this.appliedPorts.set(instanceId, key);
    });
  }

  /** Unplugs the instance (its namespace goes, and its bridge ports with it). */
  async releaseInstance(instanceId: string): Promise<void> {
    await this.serial(() => deleteNetns(this.names.instance(instanceId)));
    this.scopes.delete(instanceId);
    this.appliedPorts.delete(instanceId);
    await this.requestPass();
  }

  /** Desired state changed: converge soon (kicks before a pass starts fold into it). */
  kick(): void {
    if (this.closed) return;
    this.requestPass().catch((err: unknown) => this.log(`nimbus: network: ${(err as Error).message}`));
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

  /** One pass over every VPC in use; false when one of them could not be converged. */
  private async converge(): Promise<boolean> {
    let converged = true;
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
      const enis = rec ? await attachedInterfaces(this.store, scope, rec) : [];
      for (const e of enis) vpcs.set(e.VpcId, scope);
    }
    for (const [vpcId, scope] of vpcs) {
      try {
        await this.convergeVpc(await loadVpcModel(this.store, scope, vpcId, (i) => plugged.has(i)));
      } catch (err) {
        converged = false;
        this.appliedRules.delete(vpcId);
        this.routerSubnets.delete(vpcId);
        this.log(`nimbus: network: VPC ${vpcId}: ${(err as Error).message}`);
      }
    }
    for (const n of names) {
      const vpcId = this.names.vpcPattern.exec(n)?.[1];
      if (vpcId && !vpcs.has(vpcId)) {
        this.closeListeners(vpcId);
        await this.locked(vpcId, () => deleteNetns(this.names.vpc(vpcId)));
        this.appliedRules.delete(vpcId);
        this.routerSubnets.delete(vpcId);
        // An instance plugged in meanwhile lost its ports with the namespace: look at every one again.
        this.appliedPorts.clear();
      }
    }
    return converged;
  }

  private closeListeners(vpcId: string): void {
    for (const [key, server] of this.listeners) {
      if (key.startsWith(`${vpcId}/`)) {
        server.close();
        this.listeners.delete(key);
      }
    }
  }

  /** The services' sockets in the VPC's namespace (made again after a restart of this process). */
  private async ensureListeners(model: VpcModel): Promise<void> {
    const key = (svc: VpcService) => `${model.vpcId}/${svc.address}/${svc.port}`;
    const missing = this.services.filter((svc) => !this.listeners.has(key(svc)));
    const endpoints = missing.map((svc) => ({ host: svc.address, port: svc.port }));
    const at = { scope: model.scope, vpcId: model.vpcId };
    const servers = await listenInNetns(this.names.vpc(model.vpcId), endpoints, (server, i) => missing[i]!.attach(server, at));
    missing.forEach((svc, i) => this.listeners.set(key(svc), servers[i]!));
  }

  private async convergeVpc(model: VpcModel): Promise<void> {
    await this.locked(model.vpcId, () => ensureVpc(this.names, model, this.serviceAddresses()));
    this.routerSubnets.set(model.vpcId, new Set(model.subnets.map((sub) => sub.subnetId)));
    await this.ensureListeners(model);
    const byInstance = new Map<string, typeof model.ports>();
    for (const p of model.ports) byInstance.set(p.instanceId, [...(byInstance.get(p.instanceId) ?? []), p]);
    // Instances are independent of each other: plumb a few at a time.
    const queue = [...byInstance];
    await Promise.all(Array.from({ length: Math.min(PLUMB_CONCURRENCY, queue.length) }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) await this.plugPorts(model, next[0], next[1]);
    }));
    const ruleset = compileRuleset(model, this.services);
    if (this.appliedRules.get(model.vpcId) !== ruleset) {
      await applyRuleset(this.names, model, this.services);
      this.appliedRules.set(model.vpcId, ruleset);
    }
    await ensurePublicRoutes(this.names, model);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    clearTimeout(this.retryTimer);
    await this.chain;
    for (const server of this.listeners.values()) server.close();
    this.listeners.clear();
  }
}
