/**
 * How the store's state advances once the driver has reached what the store wants. The reconciler
 * calls these inside a store transaction; they release what the new state no longer holds.
 */
import type { Store } from '../../../store/store.js';
import type { Scope } from '../../../store/store.js';
import { releaseInstanceVolumes } from '../volumes/record.js';
import { releaseInterfaces, releasePublicAddresses } from '../network-interfaces/lifecycle.js';
import { INSTANCE_KIND, type InstanceRecord } from './record.js';

/** pending → running. */
export function completeStart(rec: InstanceRecord, now: Date): void {
  rec.state = 'running';
  rec.runningSince = now.toISOString();
  rec.StateTransitionReason = '';
  rec.StateReason = undefined;
}

/** stopping → stopped: the public address goes back to the pool (a new one comes on start). */
export async function completeStop(store: Store, scope: Scope, rec: InstanceRecord): Promise<void> {
  rec.state = 'stopped';
  rec.forceStop = undefined;
  rec.rebootRequested = undefined;
  rec.runningSince = undefined;
  await releasePublicAddresses(store, scope, rec);
}

/**
 * shutting-down → terminated: the interfaces are deleted or detached, each volume deleted or detached as its
 * DeleteOnTermination says; the record stays visible for a while.
 */
export async function completeTerminate(store: Store, scope: Scope, rec: InstanceRecord, now: Date): Promise<void> {
  rec.state = 'terminated';
  rec.terminatedAt = now.toISOString();
  rec.runningSince = undefined;
  rec.rebootRequested = undefined;
  await releaseInterfaces(store, scope, rec);
  await releaseInstanceVolumes(store, scope, rec);
}

/** A terminated instance past its retention: gone, with its tags and those of its volumes. */
export async function forgetInstance(store: Store, scope: Scope, rec: InstanceRecord): Promise<void> {
  await store.remove(INSTANCE_KIND, scope, rec.InstanceId);
  await store.deleteAllTags(scope, rec.InstanceId);
  for (const d of rec.BlockDeviceMappings) if (d.DeleteOnTermination) await store.deleteAllTags(scope, d.VolumeId);
}
