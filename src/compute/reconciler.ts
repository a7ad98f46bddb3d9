/**
 * The per-host instance reconciler: compares the desired state in the store with what the compute
 * driver reports and takes idempotent steps until they agree. The store's state advances only when
 * the driver reports the target (pending → running once the driver says running, …).
 *
 * Operations leave a work item for every instance they put in transition, so a pass after a kick
 * reads only those. A slower full pass (also at start) looks at every instance: after a restart
 * the sim driver has nothing, and running instances are simply started again; instances the
 * driver has but the store does not are destroyed. A driver that notices a change by itself (an
 * instance powered off inside) asks for a full pass at once through `onChange`.
 */
import type { ControlPlane } from '../services/context.js';
import {
  INSTANCE_KIND, INSTANCE_SHUTDOWN, privateDnsName, reasonTime, saveInstance, TRANSITIONAL_STATES, WORK_KIND, type InstanceRecord, type WorkItem,
} from '../services/ec2/instances/record.js';
import { completeStart, completeStop, completeTerminate, forgetInstance } from '../services/ec2/instances/transitions.js';
import type { Scope, Store } from '../store/store.js';
import { mapBounded } from '../util/bounded.js';
import type { Timer } from '../util/clock.js';
import type { ActualState, ComputeDriver, InstanceSpec } from './driver.js';

export interface ReconcilerOptions {
  /** How often every instance is checked, not only those in transition. */
  fullPassMs?: number;
  /** How soon to look again at an instance in transition when the driver cannot say when it is due. */
  pollMs?: number;
}

/** Drivers that move on a clock (sim) can say when their next transition completes. */
interface TimedDriver extends ComputeDriver {
  nextTransitionAt(): number | undefined;
}

const isTimed = (d: ComputeDriver): d is TimedDriver => typeof (d as Partial<TimedDriver>).nextTransitionAt === 'function';

/** How many instances one pass inspects at once. */
const INSPECT_CONCURRENCY = 32;

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
  hasWork: boolean;
  /** What the driver said while the items were gathered, if it was asked then. */
  actual?: ActualState;
}

interface Gathered {
  items: Item[];
  /** Some instances still wait, unread, on a driver step in flight or a driver state unchanged. */
  unreadWaiting: boolean;
}

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
   * and leaves the instance alone until the step is done, which kicks a new pass.
   */
  private readonly inFlight = new Map<string, Promise<void>>();
  /**
   * Terminated instances waiting out their retention, by workKey, with when they are due: a pass
   * after a kick skips them until then instead of reading every one of them again (a fleet that
   * churns holds many). Full passes still look at them.
   */
  private readonly parked = new Map<string, number>();
  /** The earliest due time among the parked instances that the last pass skipped. */
  private parkedNext?: number;
  /**
   * Instances a pass left waiting on the driver (pending while it starts them, …), by workKey,
   * with the driver state it saw. While the store holds no newer write of the record (the store's
   * watch forgets them) and the driver says the same, the decision would be the same: a pass
   * skips them without reading, so a launch does not re-read every instance still booting.
   */
  private readonly waitingOn = new Map<string, ActualState>();
  /** Instances written since this pass began: what it read of them may be stale, so not remembered. */
  private readonly writtenDuringPass = new Set<string>();

  constructor(
    private readonly plane: Omit<ControlPlane, 'kick'>,
    opts: ReconcilerOptions = {},
  ) {
    this.fullPassMs = opts.fullPassMs ?? 60_000;
    this.pollMs = opts.pollMs ?? 1_000;
    plane.store.watch(INSTANCE_KIND, (changed) => {
      for (const { scope, id } of changed) {
        const key = workKey(scope, id);
        this.waitingOn.delete(key);
        if (this.passing) this.writtenDuringPass.add(key);
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
      .catch((err: unknown) => console.error('nimbus: instance reconciler pass failed:', err))
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
    this.writtenDuringPass.clear();
    const full = this.now() - this.lastFullPass >= this.fullPassMs;
    if (full) this.lastFullPass = this.now();
    // The reconciler's writes can be derived again from the driver after a loss: no fsync for them.
    // Gathering only reads (but for a stale work item now and then, which a pass derives again).
    const relaxed = { relaxed: true };
    const { items, unreadWaiting } = await this.plane.store.transaction(() => (full ? this.allItems() : this.workItems()), relaxed);

    let next = Math.min(this.lastFullPass + this.fullPassMs, full ? Infinity : (this.parkedNext ?? Infinity));
    let polling = unreadWaiting;
    const decided = await mapBounded(items, INSPECT_CONCURRENCY, async (item) => {
      if (this.inFlight.has(item.rec.InstanceId)) return { item, decision: wait };
      const actual = item.actual ?? (await this.driver.inspect(item.rec.InstanceId));
      const decision = decide(item.rec, actual, this.now(), this.plane.config.terminatedRetentionMs);
      if (decision.step) this.launch(decision.step, item);
      this.remember(item, decision, actual);
      return { item, decision };
    });
    const advanced = decided.some(({ decision }) => decision.advance);
    const writes = decided.some(({ item, decision }) => decision.advance || (!decision.waiting && item.hasWork));
    const settle = async () => {
      for (const { item, decision } of decided) {
        let { waiting, dueAt } = decision;
        if (decision.advance) ({ waiting, dueAt } = await this.advance(item, decision));
        else if (!waiting && item.hasWork) await this.plane.store.remove(WORK_KIND, item.scope, item.rec.InstanceId);
        if (dueAt !== undefined) next = Math.min(next, dueAt);
        else if (waiting) polling = true;
        this.park(item, decision);
      }
    };
    // Most passes after a launch only start a driver step: no transaction for nothing to write.
    await (writes ? this.plane.store.transaction(settle, relaxed) : settle());
    // A state change releases or assigns addresses, which the network controller maps.
    if (advanced) this.plane.committed?.();
    if (full) await this.destroyOrphans(items);

    const due = isTimed(this.driver) ? this.driver.nextTransitionAt() : undefined;
    if (due !== undefined) next = Math.min(next, due);
    else if (polling) next = Math.min(next, this.now() + this.pollMs);
    return next;
  }

  /** Applies a decision's record change if nobody changed the record since it was read. */
  private async advance(item: Item, decision: Decision): Promise<{ waiting: boolean; dueAt?: number }> {
    const { store } = this.plane;
    const current = await store.get<InstanceRecord>(INSTANCE_KIND, item.scope, item.rec.InstanceId);
    // Changed meanwhile by an operation, which kicked us again: decide afresh next pass.
    if (!current || current.state !== item.rec.state) return { waiting: false };
    const outcome = await decision.advance!(current, this.plane.clock.now(), store, item.scope);
    if (outcome === 'forget') {
      await forgetInstance(store, item.scope, current);
      return { waiting: false };
    }
    // saveInstance keeps the work item while the new state still needs the reconciler.
    await saveInstance(store, item.scope, current);
    const more = TRANSITIONAL_STATES.has(current.state) || current.rebootRequested === true;
    if (!more) await store.remove(WORK_KIND, item.scope, current.InstanceId);
    const dueAt = current.state === 'terminated' ? retentionDeadline(current, this.plane.config.terminatedRetentionMs) : undefined;
    return { waiting: more, dueAt };
  }

  private launch(step: DriverStep, item: Item): void {
    const id = item.rec.InstanceId;
    this.inFlight.set(id, this.act(step, item).finally(() => {
      this.inFlight.delete(id);
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

  /** Remembers an instance left waiting on the driver as it is; forgets any other. */
  private remember(item: Item, decision: Decision, actual: ActualState): void {
    const key = workKey(item.scope, item.rec.InstanceId);
    if (decision === wait && !this.writtenDuringPass.has(key)) this.waitingOn.set(key, actual);
    else this.waitingOn.delete(key);
  }

  /** Parks an instance that has nothing to do but wait for its retention deadline; unparks others. */
  private park(item: Item, decision: Decision): void {
    const key = workKey(item.scope, item.rec.InstanceId);
    if (item.rec.state === 'terminated' && !decision.step && !decision.advance && decision.dueAt !== undefined) {
      this.parked.set(key, decision.dueAt);
    } else this.parked.delete(key);
  }

  private async workItems(): Promise<Gathered> {
    const { store } = this.plane;
    const work = await store.listAll<WorkItem>(WORK_KIND);
    const items: Item[] = [];
    let unreadWaiting = false;
    const now = this.now();
    this.parkedNext = undefined;
    for (const w of work) {
      const id = w.doc.InstanceId;
      const key = workKey(w.scope, id);
      const due = this.parked.get(key);
      if (due !== undefined && due > now) {
        this.parkedNext = Math.min(this.parkedNext ?? Infinity, due);
        continue;
      }
      if (this.inFlight.has(id)) {
        unreadWaiting = true;
        continue;
      }
      const seen = this.waitingOn.get(key);
      const actual = seen === undefined ? undefined : await this.driver.inspect(id);
      if (seen !== undefined && actual === seen) {
        unreadWaiting = true;
        continue;
      }
      const rec = await store.get<InstanceRecord>(INSTANCE_KIND, w.scope, id);
      if (rec) items.push({ scope: w.scope, rec, hasWork: true, actual });
      else await store.remove(WORK_KIND, w.scope, id);
    }
    return { items, unreadWaiting };
  }

  private async allItems(): Promise<Gathered> {
    const { store } = this.plane;
    const work = new Set((await store.listAll<WorkItem>(WORK_KIND)).map((w) => workKey(w.scope, w.doc.InstanceId)));
    this.parked.clear(); // re-parked from this pass's decisions
    const items = (await store.listAll<InstanceRecord>(INSTANCE_KIND)).map(({ scope, doc }) => ({
      scope, rec: doc, hasWork: work.has(workKey(scope, doc.InstanceId)),
    }));
    return { items, unreadWaiting: false };
  }

  /** What the driver runs that the store does not know (any more) is removed. */
  private async destroyOrphans(items: Item[]): Promise<void> {
    const known = new Set(items.map((i) => i.rec.InstanceId));
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
