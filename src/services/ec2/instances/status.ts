/**
 * DescribeInstanceStatus: status checks are `initializing` for a while after an instance reaches
 * `running`, then `ok`; instances that are not running have `not-applicable` checks.
 */
import type { DescribeInstanceStatusRequest, DescribeInstanceStatusResult, InstanceStatus, InstanceStatusSummary } from '@aws-sdk/client-ec2';
import { regionInfo } from '../../../catalog/regions.js';
import { invalidParameterCombination } from '../../../protocol/errors.js';
import type { RequestContext } from '../../context.js';
import { applyFilters, checkFilterNames, type FilterFields } from '../common/filters.js';
import { presentedPage, sortByKey } from '../common/pagination.js';
import { allInstances, readInstances } from './lookup.js';
import { stateOf } from './present.js';
import type { InstanceRecord } from './record.js';

const STATUS_FILTERS: FilterFields<InstanceStatus> = {
  'availability-zone': (s) => s.AvailabilityZone,
  'event.code': (s) => (s.Events ?? []).map((e) => e.Code),
  'event.description': (s) => (s.Events ?? []).map((e) => e.Description),
  'event.instance-event-id': (s) => (s.Events ?? []).map((e) => e.InstanceEventId),
  'event.not-after': (s) => (s.Events ?? []).map((e) => e.NotAfter?.toISOString()),
  'event.not-before': (s) => (s.Events ?? []).map((e) => e.NotBefore?.toISOString()),
  'event.not-before-deadline': (s) => (s.Events ?? []).map((e) => e.NotBeforeDeadline?.toISOString()),
  'instance-state-code': (s) => s.InstanceState?.Code,
  'instance-state-name': (s) => s.InstanceState?.Name,
  'instance-status.reachability': (s) => s.InstanceStatus?.Details?.map((d) => d.Status),
  'instance-status.status': (s) => s.InstanceStatus?.Status,
  'system-status.reachability': (s) => s.SystemStatus?.Details?.map((d) => d.Status),
  'system-status.status': (s) => s.SystemStatus?.Status,
  'attached-ebs-status.reachability': (s) => s.AttachedEbsStatus?.Details?.map((d) => d.Status),
  'attached-ebs-status.status': (s) => s.AttachedEbsStatus?.Status,
};

/** How long checks stay `initializing` after the instance reached `running`. */
function initializingMs(ctx: RequestContext): number {
  return ctx.plane.config.sim.pendingMs;
}

function summary(rec: InstanceRecord, now: number, initMs: number): InstanceStatusSummary {
  if (rec.state !== 'running' || !rec.runningSince) return { Status: 'not-applicable' };
  const ready = now >= Date.parse(rec.runningSince) + initMs;
  return {
    Status: ready ? 'ok' : 'initializing',
    Details: [{ Name: 'reachability', Status: ready ? 'passed' : 'initializing' }],
  };
}

function statusOf(ctx: RequestContext, rec: InstanceRecord): InstanceStatus {
  const now = ctx.now().getTime();
  const check = summary(rec, now, initializingMs(ctx));
  const zoneId = regionInfo(ctx.region)?.zones.find((z) => z.name === rec.AvailabilityZone)?.id;
  return {
    InstanceId: rec.InstanceId,
    AvailabilityZone: rec.AvailabilityZone,
    AvailabilityZoneId: zoneId,
    InstanceState: stateOf(rec),
    InstanceStatus: check,
    SystemStatus: check,
    AttachedEbsStatus: check.Status === 'not-applicable' ? { Status: 'not-applicable' } : check,
    Events: [],
    Operator: { Managed: false },
  };
}

export async function describeInstanceStatus(input: DescribeInstanceStatusRequest, ctx: RequestContext): Promise<DescribeInstanceStatusResult> {
  if (input.InstanceIds?.length && input.MaxResults !== undefined) {
    throw invalidParameterCombination('The parameter instancesSet cannot be used with the parameter maxResults');
  }
  let recs = input.InstanceIds?.length ? await readInstances(ctx, input.InstanceIds) : await allInstances(ctx);
  if (!input.IncludeAllInstances) recs = recs.filter((r) => r.state === 'running');
  sortByKey(recs, (r) => r.InstanceId);
  checkFilterNames(input.Filters, STATUS_FILTERS as FilterFields<never>, false);
  const page = await presentedPage(
    recs,
    { maxResults: input.MaxResults, nextToken: input.NextToken, min: 5, max: 1000, key: (r) => r.InstanceId },
    async (page) => applyFilters(page.map((r) => statusOf(ctx, r)), input.Filters, STATUS_FILTERS),
  );
  return { InstanceStatuses: page.items, NextToken: page.nextToken };
}
