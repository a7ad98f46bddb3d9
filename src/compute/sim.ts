/**
 * The sim driver: runs nothing. Each transition takes a configurable time on the injectable
 * clock, so API tests are fast and fleets can be far larger than the machine.
 */
import type { Clock } from '../util/clock.js';
import type { ActualState, ComputeDriver, InstanceSpec } from './driver.js';

interface SimInstance {
  state: ActualState;
  /** When the current transition (starting/stopping/destroying) completes. */
  doneAt: number;
  console: string[];
}

/**
 * A console line as one flat string. A template literal makes a rope of its parts that keeps every
 * part alive as long as the line, and a fleet keeps a line or two per instance: about 400 bytes
 * each, where the line itself is 150.
 */
const line = (...parts: (string | number)[]) => parts.join('');

/** A console line's time, as the line begins. */
const stamp = (at: Date) => `[${at.toISOString()}] `;

export interface SimTimings {
  pendingMs: number;
  stoppingMs: number;
  shuttingDownMs: number;
}

export class SimDriver implements ComputeDriver {
  readonly name = 'sim' as const;
  private readonly instances = new Map<string, SimInstance>();

  constructor(
    private readonly clock: Clock,
    private readonly timings: SimTimings,
  ) {}

  private settle(id: string): SimInstance | undefined {
    const inst = this.instances.get(id);
    if (!inst) return undefined;
    if (this.clock.now().getTime() >= inst.doneAt) {
      if (inst.state === 'starting') inst.state = 'running';
      else if (inst.state === 'stopping') inst.state = 'stopped';
      else if (inst.state === 'destroying') {
        this.instances.delete(id);
        return undefined;
      }
    }
    return inst;
  }

  async start(spec: InstanceSpec): Promise<void> {
    const inst = this.settle(spec.instanceId);
    if (inst && (inst.state === 'running' || inst.state === 'starting')) return;
    const now = this.clock.now();
    const next: SimInstance = inst ?? { state: 'starting', doneAt: 0, console: [] };
    next.state = 'starting';
    next.doneAt = now.getTime() + this.timings.pendingMs;
    next.console.push(line(stamp(now), spec.hostname, ' (', spec.instanceId, ') booting: ', spec.instanceType, ', ', spec.vcpus, ' vCPU, ',
      spec.memoryMiB, ' MiB (sim driver: no process runs)'));
    if (spec.userData) next.console.push(line(stamp(now), 'user data: ', spec.userData.length, ' bytes'));
    this.instances.set(spec.instanceId, next);
  }

  async stop(id: string, opts: { force: boolean }): Promise<void> {
    const inst = this.settle(id);
    if (!inst || inst.state === 'stopped' || inst.state === 'destroying') return;
    const now = this.clock.now().getTime();
    if (inst.state === 'stopping') {
      // A forced stop cuts a graceful one short; otherwise the stop under way goes on.
      if (opts.force) inst.doneAt = Math.min(inst.doneAt, now);
      return;
    }
    inst.state = 'stopping';
    inst.doneAt = now + (opts.force ? 0 : this.timings.stoppingMs);
    inst.console.push(line(stamp(this.clock.now()), id, opts.force ? ' forced off' : ' shutting down'));
  }

  async reboot(id: string): Promise<void> {
    const inst = this.settle(id);
    if (inst?.state === 'running') inst.console.push(line(stamp(this.clock.now()), id, ' rebooting'));
  }

  async destroy(id: string): Promise<void> {
    const inst = this.settle(id);
    if (!inst || inst.state === 'destroying') return;
    inst.state = 'destroying';
    inst.doneAt = this.clock.now().getTime() + this.timings.shuttingDownMs;
  }

  async inspect(id: string): Promise<ActualState> {
    return this.settle(id)?.state ?? 'absent';
  }

  async list(): Promise<string[]> {
    return [...this.instances.keys()].filter((id) => this.settle(id));
  }

  async consoleOutput(id: string): Promise<string> {
    const inst = this.instances.get(id);
    return inst ? `${inst.console.join('\n')}\n` : '';
  }

  /** When the instance's transition under way completes, so a reconciler can look at it just then. */
  transitionDueAt(id: string): number | undefined {
    const inst = this.settle(id);
    return inst && (inst.state === 'starting' || inst.state === 'stopping' || inst.state === 'destroying') ? inst.doneAt : undefined;
  }

  async close(): Promise<void> {}
}
