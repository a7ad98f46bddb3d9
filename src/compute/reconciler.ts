/**
 * The per-host instance reconciler: compares the desired state in the store with what the compute
 * driver reports and takes idempotent steps until they agree. The store's state advances only when
 * the driver reports the target (pending → running once the driver says running, …).
 *
 * It follows the store as a controller follows its API server: the store's watch on instances
 * feeds a queue, so a pass after a kick reads only the instances written since the last one,
 * however large the fleet and however many instances are still booting. An instance left waiting
 * on the driver is looked at again when the driver says its transition is due (sim) or every
 * `pollMs` (others), one waiting out its retention when that ends. A slower full pass (also at
 * start) looks at every instance: it is the resync that covers anything the queue missed; after a
 * restart the sim driver has nothing, and running instances are simply started again; instances
 * the driver has but the store does not are destroyed. A driver that notices a change by itself
 * (an instance powered off inside) asks for a full pass at once through `onChange`.
 */
import TinyQueue from 'tinyqueue';
import type { ControlPlane } from '../services/context.js';
import {
  INSTANCE_KIND, INSTANCE_SHUTDOWN, privateDnsName, reasonTime, saveInstance, TRANSITIONAL_STATES, type InstanceRecord,
} from '../services/ec2/instances/record.js';
import { completeStart, completeStop, completeTerminate, forgetInstance } from '../services/ec2/instances/transitions.js';
import type { ResourceRef, Scope, Store } from '../store/store.js';
import { mapBounded } from '../util/bounded.js';
import type { Timer } from '../util/clock.js';
import type { ActualState, ComputeDriver, InstanceSpec } from './driver.js';

export interface ReconcilerOptions {
  /** How often every instance is checked, not only those written or due. */
  fullPassMs?: number;
  /** How soon to look again at an instance in transition when the driver cannot say when it is due. */
  pollMs?: number;
}

/** Drivers that move on a clock (sim) can say when an instance's transition completes. */
interface TimedDriver extends ComputeDriver {
  transitionDueAt(instanceId: string): number | undefined;
}

const isTimed = (d: ComputeDriver): d is TimedDriver => typeof (d as Partial<TimedDriver>).transitionDueAt === 'function';

/** How many instances one pass inspects at once. */
const INSPECT_CONCURRENCY = 32;

/**
 * How many instances a full pass reads from the store at once: each page is a read of its own, so
 * that requests go on between pages. Read whole, 20,000 instances held every request for half a
 * second once a minute.
 */
const FULL_PASS_PAGE = 500;

/**
 * Due times are gathered into slots of this many ms, so that the transitions of a burst of
 * launches complete in one pass and one commit rather than one each. Every commit, relaxed ones
 * too, leaves its pages for the next durable commit's sync to write: one commit per instance made
 * every launch of a burst about 40 µs slower. A transition completes at most this much later.
 */
const DUE_SLOT_MS = 20;

/** The reconciler's writes can be derived again from the driver after a loss: no fsync for them. */
const RELAXED = { relaxed: true };

type DriverStep = 'start' | 'stop' | 'force-stop' | 'destroy' | 'reboot';

/** What to do for one instance: a driver call, and/or a change of its record. */
interface Decision {
  step?: DriverStep;
  /** Applied in a transaction, if the record is still as it was read. */
  advance?: (rec: InstanceRecord, now: Date, store: Store, scope: Scope) => Promise<'forget' | void> | 'forget' | void;
  /** The instance still needs attention after this pass. */
  waiting: boolean;
  /** When it needs attention next regardless of the driver (retention deadline). */
  dueAt?: number;
}

interface Item {
  scope: Scope;
  rec: InstanceRecord;
  /** What the driver said while the items were gathered, if it was asked then. */
  actual?: ActualState;
}

/** A time at which an instance is to be looked at again; stale once `due` holds another time for it. */
interface Due {
  at: number;
  key: string;
  ref: ResourceRef;
}

const newDueOrder = () => new TinyQueue<Due>([], (a, b) => a.at - b.at);
const refOf = (item: Item): ResourceRef => ({ scope: item.scope, id: item.rec.InstanceId });

export class InstanceReconciler {
  private timer?: Timer;
  private timerAt?: number;
  private passing?: Promise<void>;
  private rerun = false;
  private closed = true;
  private lastFullPass = -Infinity;
  private readonly fullPassMs: number;
  private readonly pollMs: number;
  /**
   * Instances with a driver step under way. A pass does not wait for steps (a boot or a graceful
   * stop takes a while, and instances launched meanwhile would queue behind it): it starts them
   * and leaves the instance alone until the step is done, which queues it and kicks a new pass.
   */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Instances to look at in the next pass, by workKey: written since the last one, or their step done. */
  private readonly queue = new Map<string, ResourceRef>();
  /**
   * Instances a pass left waiting on the driver (pending while it starts them, …), by workKey,
   * with the driver state it saw. Until the record is written again (the watch forgets them) or
   * they are due, no pass reads them: a launch does not re-read every instance still booting.
   */
  private readonly waitingOn = new Map<string, { ref: ResourceRef; actual: ActualState }>();
  /** When each instance is due to be looked at again (driver transition, retention), by workKey. */
  private readonly due = new Map<string, number>();
  private dueOrder = newDueOrder();
  /** When the waiting instances that no due time covers are inspected again (drivers without a clock). */
  private pollAt?: number;
  /** Instances this pass's own transaction writes: their follow-up is decided here, not queued by the watch. */
  private readonly ownWrites = new Set<string>();

  constructor(
    private readonly plane: Omit<ControlPlane, 'kick'>,
    opts: ReconcilerOptions = {},
  ) {
    this.fullPassMs = opts.fullPassMs ?? 60_000;
    this.pollMs = opts.pollMs ?? 1_000;
    plane.store.watch(INSTANCE_KIND, (changed) => {
      for (const { scope, id } of changed) {
        const key = workKey(scope, id);
        if (this.ownWrites.has(key)) continue;
        this.queue.set(key, { scope, id });
        this.waitingOn.delete(key);
        this.due.delete(key);
      }
    });
    // An instance that changed by itself (poweroff inside) is looked at at once, by a full pass.
    plane.driver.onChange?.(() => {
      this.lastFullPass = -Infinity;
      this.kick();
    });
  }

  private get driver(): ComputeDriver {
    return this.plane.driver;
  }

  private now(): number {
    return this.plane.clock.now().getTime();
  }

  /** Asks for a reconcile pass soon (after the caller's transaction commits: passes queue behind it). */
  kick(): void {
    if (this.closed) return;
    this.wakeAt(this.now());
  }

  start(): void {
    this.closed = false;
    this.lastFullPass = -Infinity;
    this.wakeAt(this.now());
  }

  async stop(): Promise<void> {
    this.closed = true;
    this.timer?.cancel();
    this.timer = undefined;
    await this.passing;
    await Promise.all(this.inFlight.values());
  }

  private wakeAt(at: number): void {
    if (this.closed) return;
    if (this.passing) {
      if (at <= this.now()) this.rerun = true;
      else this.schedule(at);
      return;
    }
    this.schedule(at);
  }

  private schedule(at: number): void {
    if (this.timer && this.timerAt !== undefined && this.timerAt <= at) return;
    this.timer?.cancel();
    this.timerAt = at;
    this.timer = this.plane.clock.setTimer(at - this.now(), () => {
      this.timer = undefined;
      this.timerAt = undefined;
      this.runPass();
    });
  }

  private runPass(): void {
    if (this.closed) return;
    if (this.passing) {
      this.rerun = true;
      return;
    }
    this.passing = this.pass()
      .catch((err: unknown) => {
        console.error('nimbus: instance reconciler pass failed:', err);
        // What it took from the queue may be lost: the next pass looks at everything.
        this.lastFullPass = -Infinity;
        return this.now() + this.pollMs;
      })
      .then((next) => {
        this.passing = undefined;
        if (this.rerun) {
          this.rerun = false;
          this.wakeAt(this.now());
        } else if (next !== undefined) this.wakeAt(next);
      });
  }

  /** One pass; returns when the next one is due. */
  private async pass(): Promise<number | undefined> {
    if (this.now() - this.lastFullPass < this.fullPassMs) {
      await this.reconcile(await this.plane.store.transaction(() => this.dueItems(), RELAXED));
      return this.nextWake();
    }
    this.lastFullPass = this.now();
    this.forgetSchedule();
    // Every instance, a page at a time, letting the event loop go between pages so that requests
    // go on however large the fleet. An instance written meanwhile is in the queue too (its watch).
    const { store } = this.plane;
    const known = new Set<string>();
    let after: ResourceRef | undefined;
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      const page = await store.transaction(() => store.listAllAfter<InstanceRecord>(INSTANCE_KIND, after, FULL_PASS_PAGE), RELAXED);
      for (const { doc } of page) known.add(doc.InstanceId);
      await this.reconcile(page.map(({ scope, doc }) => ({ scope, rec: doc })));
      if (page.length < FULL_PASS_PAGE) break;
      after = page[page.length - 1]!;
    }
    await this.destroyOrphans(known);
    return this.nextWake();
  }

  /** Decides each item, starts the driver steps, and applies the record changes in one transaction. */
  private async reconcile(items: readonly Item[]): Promise<void> {
    const decided = await mapBounded(items, INSPECT_CONCURRENCY, async (item) => {
      if (this.inFlight.has(item.rec.InstanceId)) return { item, decision: wait };
      const actual = item.actual ?? (await this.driver.inspect(item.rec.InstanceId));
      const decision = decide(item.rec, actual, this.now(), this.plane.config.terminatedRetentionMs);
      if (decision.step) this.launch(decision.step, item);
      else if (decision === wait) this.keepWaiting(refOf(item), actual);
      return { item, decision };
    });
    const advanced = decided.filter(({ decision }) => decision.advance);
    if (advanced.length > 0) {
      for (const { item } of advanced) this.ownWrites.add(workKey(item.scope, item.rec.InstanceId));
      try {
        await this.plane.store.transaction(async () => {
          for (const { item, decision } of advanced) {
            const { waiting, dueAt } = await this.advance(item, decision);
            // A new state that needs a driver step: the next pass, at once, decides it.
            if (waiting && dueAt === undefined) this.enqueue(item);
          }
        }, RELAXED);
      } finally {
        this.ownWrites.clear();
      }
    }
    for (const { item, decision } of decided) {
      if (decision.dueAt !== undefined && !decision.advance) this.dueAgainAt(refOf(item), decision.dueAt);
    }
    // A state change releases or assigns addresses, which the network controller maps.
    if (advanced.length > 0) this.plane.committed?.();
  }

  /** When the next pass is due: at once for a queue left by this one, else the earliest due time. */
  private nextWake(): number {
    if (this.queue.size > 0) return this.now();
    return Math.min(this.lastFullPass + this.fullPassMs, this.nextDue()?.at ?? Infinity, this.pollAt ?? Infinity);
  }

  /** The earliest due time still current; stale ones (the instance written or rescheduled since) are dropped. */
  private nextDue(): Due | undefined {
    let top = this.dueOrder.peek();
    while (top && this.due.get(top.key) !== top.at) {
      this.dueOrder.pop();
      top = this.dueOrder.peek();
    }
    return top;
  }

  /** Applies a decision's record change if nobody changed the record since it was read. */
  private async advance(item: Item, decision: Decision): Promise<{ waiting: boolean; dueAt?: number }> {
    const { store } = this.plane;
    const current = await store.get<InstanceRecord>(INSTANCE_KIND, item.scope, item.rec.InstanceId);
    // Changed meanwhile by an operation, whose write queued it: decide afresh next pass.
    if (!current || current.state !== item.rec.state) return { waiting: false };
    const outcome = await decision.advance!(current, this.plane.clock.now(), store, item.scope);
    if (outcome === 'forget') {
      await forgetInstance(store, item.scope, current);
      return { waiting: false };
    }
    await saveInstance(store, item.scope, current);
    const more = TRANSITIONAL_STATES.has(current.state) || current.rebootRequested === true;
    const dueAt = current.state === 'terminated' ? retentionDeadline(current, this.plane.config.terminatedRetentionMs) : undefined;
    if (dueAt !== undefined) this.dueAgainAt(refOf(item), dueAt);
    return { waiting: more, dueAt };
  }

  private launch(step: DriverStep, item: Item): void {
    const id = item.rec.InstanceId;
    this.waitingOn.delete(workKey(item.scope, id));
    this.inFlight.set(id, this.act(step, item).finally(() => {
      this.inFlight.delete(id);
      this.enqueue(item);
      this.kick();
    }));
  }

  private async act(step: DriverStep, item: Item): Promise<void> {
    const id = item.rec.InstanceId;
    try {
      switch (step) {
        case 'start': return await this.driver.start(specOf(item.scope, item.rec));
        case 'stop': return await this.driver.stop(id, { force: false });
        case 'force-stop': return await this.driver.stop(id, { force: true });
        case 'destroy': return await this.driver.destroy(id);
        case 'reboot': return await this.driver.reboot(id);
      }
    } catch (err) {
      // Driver steps are idempotent: a failed one is tried again on a later pass.
      console.error(`nimbus: ${this.driver.name} driver could not ${step} ${id}:`, err);
    }
  }

  private enqueue(item: Item): void {
    this.queue.set(workKey(item.scope, item.rec.InstanceId), refOf(item));
  }

  /**
   * Leaves an instance waiting on the driver as it is, to be looked at again when its transition
   * is due or at the next poll; unless it was written while this pass read it (it is queued then).
   */
  private keepWaiting(ref: ResourceRef, actual: ActualState): void {
    const key = workKey(ref.scope, ref.id);
    if (this.queue.has(key)) return;
    this.waitingOn.set(key, { ref, actual });
    const at = isTimed(this.driver) ? this.driver.transitionDueAt(ref.id) : undefined;
    if (at !== undefined && at > this.now()) this.dueAgainAt(ref, at);
    else this.pollAt ??= this.now() + this.pollMs;
  }

  /** Looks at the instance again in the first pass at or after `at`'s slot (see DUE_SLOT_MS). */
  private dueAgainAt(ref: ResourceRef, at: number): void {
    const key = workKey(ref.scope, ref.id);
    if (this.queue.has(key)) return;
    at = Math.ceil(at / DUE_SLOT_MS) * DUE_SLOT_MS;
    this.due.set(key, at);
    this.dueOrder.push({ at, key, ref });
  }

  /** The instances a pass after a kick looks at: those queued, those due, and at a poll those waiting. */
  private async dueItems(): Promise<Item[]> {
    const now = this.now();
    const refs = new Map(this.queue);
    this.queue.clear();
    for (let top = this.nextDue(); top && top.at <= now; top = this.nextDue()) {
      this.dueOrder.pop();
      this.due.delete(top.key);
      refs.set(top.key, top.ref);
    }
    if (this.pollAt !== undefined && now >= this.pollAt) {
      this.pollAt = undefined;
      for (const [key, { ref }] of this.waitingOn) refs.set(key, ref);
    }
    const { store } = this.plane;
    const items: Item[] = [];
    for (const [key, ref] of refs) {
      // Its step's end queues it again.
      if (this.inFlight.has(ref.id)) continue;
      const seen = this.waitingOn.get(key);
      let actual: ActualState | undefined;
      if (seen !== undefined) {
        this.waitingOn.delete(key);
        actual = await this.driver.inspect(ref.id);
        // The driver still says what it said, and the record was not written since: same decision.
        if (actual === seen.actual) {
          this.keepWaiting(ref, actual);
          continue;
        }
      }
      const rec = await store.get<InstanceRecord>(INSTANCE_KIND, ref.scope, ref.id);
      if (rec) items.push({ scope: ref.scope, rec, actual });
    }
    return items;
  }

  /** A full pass rebuilds what the queue and the due times knew from its decisions. */
  private forgetSchedule(): void {
    this.queue.clear();
    this.waitingOn.clear();
    this.due.clear();
    this.dueOrder = newDueOrder();
    this.pollAt = undefined;
  }

  /** What the driver runs that the store does not know (any more) is removed. */
  private async destroyOrphans(known: ReadonlySet<string>): Promise<void> {
    for (const id of await this.driver.list()) {
      if (!known.has(id)) await this.driver.destroy(id).catch((err: unknown) => console.error(`nimbus: could not destroy orphan ${id}:`, err));
    }
  }
}

const workKey = (scope: Scope, instanceId: string) => `${scope.account}/${scope.region}/${instanceId}`;

function specOf(scope: Scope, rec: InstanceRecord): InstanceSpec {
  const root = rec.BlockDeviceMappings.find((d) => d.DeviceName === rec.RootDeviceName);
  return {
    instanceId: rec.InstanceId,
    account: scope.account,
    region: scope.region,
    imageId: rec.ImageId,
    rootSnapshotId: root?.SnapshotId,
    rootVolume: root && { volumeId: root.VolumeId, sizeGiB: root.VolumeSize ?? 8, encrypted: root.Encrypted ?? false },
    instanceType: rec.InstanceType,
    vcpus: rec.vcpus,
    memoryMiB: rec.memoryMiB,
    userData: rec.UserData ? Buffer.from(rec.UserData, 'base64') : undefined,
    hostname: privateDnsName(scope.region, rec).split('.')[0]!,
    publicKey: rec.publicKey,
  };
}

const wait: Decision = { waiting: true };
const settled: Decision = { waiting: false };

/** The step that brings the driver towards what the record wants, and the record change once it is there. */
export function decide(rec: InstanceRecord, actual: ActualState, now: number, retentionMs: number): Decision {
  switch (rec.state) {
    case 'pending':
      if (actual === 'running') return { advance: (r, t) => completeStart(r, t), waiting: false };
      if (actual === 'absent' || actual === 'stopped') return { step: 'start', waiting: true };
      return wait;
    case 'running':
      if (actual === 'running') return rec.rebootRequested ? { step: 'reboot', advance: clearReboot, waiting: false } : settled;
      // Lost (a restart of the host or the sim driver): boot it again; the store still says running.
      if (actual === 'absent') return { step: 'start', waiting: false };
      if (actual === 'stopped') return { advance: instanceInitiatedShutdown, waiting: false };
      return settled;
    case 'stopping':
      if (actual === 'stopped' || actual === 'absent') return { advance: (r, _t, store, scope) => completeStop(store, scope, r), waiting: false };
      if (actual === 'running' || actual === 'starting') return { step: rec.forceStop ? 'force-stop' : 'stop', waiting: true };
      if (actual === 'stopping' && rec.forceStop) return { step: 'force-stop', waiting: true };
      return wait;
    case 'stopped':
      if (actual === 'running' || actual === 'starting') return { step: 'stop', waiting: false };
      return settled;
    case 'shutting-down':
      if (actual === 'absent') return { advance: (r, t, store, scope) => completeTerminate(store, scope, r, t), waiting: true };
      if (actual === 'destroying') return wait;
      return { step: 'destroy', waiting: true };
    case 'terminated': {
      const deleteAt = retentionDeadline(rec, retentionMs);
      const step = actual === 'absent' || actual === 'destroying' ? undefined : ('destroy' as const);
      if (now >= deleteAt) return { step, advance: () => 'forget', waiting: false };
      return { step, waiting: true, dueAt: deleteAt };
    }
    default:
      return settled;
  }
}

function retentionDeadline(rec: InstanceRecord, retentionMs: number): number {
  return (rec.terminatedAt ? Date.parse(rec.terminatedAt) : 0) + retentionMs;
}

function clearReboot(rec: InstanceRecord): void {
  rec.rebootRequested = undefined;
}

/** The OS shut itself down: EC2 stops or terminates it as InstanceInitiatedShutdownBehavior says. */
function instanceInitiatedShutdown(rec: InstanceRecord, now: Date): void {
  rec.StateReason = INSTANCE_SHUTDOWN;
  rec.StateTransitionReason = `Instance initiated shutdown (${reasonTime(now)})`;
  rec.state = rec.InstanceInitiatedShutdownBehavior === 'terminate' ? 'shutting-down' : 'stopping';
}
