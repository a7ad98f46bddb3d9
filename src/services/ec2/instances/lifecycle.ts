/**
 * StartInstances, StopInstances, RebootInstances, TerminateInstances: each checks every instance
 * first (the call changes all of them or none), records the desired state and wakes the reconciler.
 */
import type {
  InstanceStateChange, RebootInstancesRequest, StartInstancesRequest, StartInstancesResult, StopInstancesRequest,
  StopInstancesResult, TerminateInstancesRequest, TerminateInstancesResult,
} from '@aws-sdk/client-ec2';
import { ApiError } from '../../../protocol/errors.js';
import type { RequestContext } from '../../context.js';
import { incorrectInstanceState } from '../common/errors.js';
import { assignPublicAddresses } from '../network-interfaces/lifecycle.js';
import { capacityInUse, instanceLimitExceeded } from './launch.js';
import { loadInstances } from './lookup.js';
import { stateOf } from './present.js';
import {
  PENDING_REASON, reasonTime, saveInstance, USER_HIBERNATE, USER_SHUTDOWN, type InstanceRecord,
} from './record.js';

type Change = (rec: InstanceRecord) => Promise<void> | void;

/** Applies `change` to each instance and answers with EC2's previous/current state pairs. */
async function transition(ctx: RequestContext, recs: InstanceRecord[], change: Change): Promise<InstanceStateChange[]> {
  const out: InstanceStateChange[] = [];
  for (const rec of recs) {
    const previous = stateOf(rec);
    const before = JSON.stringify(rec);
    await change(rec);
    if (JSON.stringify(rec) !== before) await saveInstance(ctx.store, ctx.scope, rec);
    out.push({ InstanceId: rec.InstanceId, PreviousState: previous, CurrentState: stateOf(rec) });
  }
  ctx.plane.kick();
  return out;
}

export async function startInstances(input: StartInstancesRequest, ctx: RequestContext): Promise<StartInstancesResult> {
  const recs = await loadInstances(ctx, input.InstanceIds ?? []);
  for (const r of recs) {
    if (r.state !== 'stopped' && r.state !== 'pending' && r.state !== 'running') throw incorrectInstanceState(r.InstanceId, r.state, 'started');
  }
  const starting = recs.filter((r) => r.state === 'stopped').length;
  if (starting > 0) {
    const limit = ctx.plane.config.limits.instancesPerRegion;
    if ((await capacityInUse(ctx)) + starting > limit) throw instanceLimitExceeded(starting, limit);
  }
  return {
    StartingInstances: await transition(ctx, recs, async (r) => {
      if (r.state !== 'stopped') return;
      r.state = 'pending';
      r.LaunchTime = ctx.now().toISOString(); // EC2's LaunchTime is that of the last start
      r.StateTransitionReason = '';
      r.StateReason = PENDING_REASON;
      await assignPublicAddresses(ctx.store, ctx.scope, r, ctx.plane.config.publicPool);
    }),
  };
}

export async function stopInstances(input: StopInstancesRequest, ctx: RequestContext): Promise<StopInstancesResult> {
  const recs = await loadInstances(ctx, input.InstanceIds ?? []);
  for (const r of recs) {
    if (!['running', 'stopping', 'stopped'].includes(r.state)) throw incorrectInstanceState(r.InstanceId, r.state, 'stopped');
    // An instance-store root does not outlive the instance: it cannot be stopped (or hibernated).
    if (r.RootDeviceType !== 'ebs') {
      throw new ApiError('UnsupportedOperation', `The instance '${r.InstanceId}' does not have an 'ebs' root device type and cannot be stopped.`);
    }
    if (r.DisableApiStop && r.state === 'running') {
      throw new ApiError(
        'OperationNotPermitted',
        `The instance '${r.InstanceId}' may not be stopped. Modify its 'disableApiStop' instance attribute and try again.`,
      );
    }
    if (input.Hibernate && !r.HibernationConfigured) {
      throw new ApiError('UnsupportedOperation', `The instance '${r.InstanceId}' is not enabled for hibernation.`);
    }
  }
  const reason = `User initiated (${reasonTime(ctx.now())})`;
  return {
    StoppingInstances: await transition(ctx, recs, (r) => {
      if (r.state === 'stopping' && input.Force) r.forceStop = true;
      if (r.state !== 'running') return;
      r.state = 'stopping';
      r.forceStop = input.Force || undefined;
      r.StateTransitionReason = reason;
      r.StateReason = input.Hibernate ? USER_HIBERNATE : USER_SHUTDOWN;
    }),
  };
}

export async function rebootInstances(input: RebootInstancesRequest, ctx: RequestContext): Promise<void> {
  const recs = await loadInstances(ctx, input.InstanceIds ?? []);
  for (const r of recs) if (r.state !== 'running') throw incorrectInstanceState(r.InstanceId, r.state, 'rebooted');
  await transition(ctx, recs, (r) => {
    r.rebootRequested = true;
  });
}

export async function terminateInstances(input: TerminateInstancesRequest, ctx: RequestContext): Promise<TerminateInstancesResult> {
  const recs = await loadInstances(ctx, input.InstanceIds ?? []);
  for (const r of recs) {
    if (r.DisableApiTermination && r.state !== 'terminated' && r.state !== 'shutting-down') {
      throw new ApiError(
        'OperationNotPermitted',
        `The instance '${r.InstanceId}' may not be terminated. Modify its 'disableApiTermination' instance attribute and try again.`,
      );
    }
  }
  const reason = `User initiated (${reasonTime(ctx.now())})`;
  return {
    TerminatingInstances: await transition(ctx, recs, (r) => {
      if (r.state === 'terminated' || r.state === 'shutting-down') return;
      // A stopped instance has no capacity to give back; it still passes through shutting-down.
      r.state = 'shutting-down';
      r.StateTransitionReason = reason;
      r.StateReason = USER_SHUTDOWN;
    }),
  };
}
