/** What a client can see of its instances: every one (all pages), and waiting for them to settle. */
import { paginateDescribeInstances, type EC2Client, type Instance } from '@aws-sdk/client-ec2';

/** Every instance the client sees, with the reservation it belongs to; one entry per instance listed. */
export async function allInstances(client: EC2Client): Promise<(Instance & { ReservationId: string })[]> {
  const out: (Instance & { ReservationId: string })[] = [];
  for await (const page of paginateDescribeInstances({ client, pageSize: 1000 }, {})) {
    for (const r of page.Reservations ?? []) for (const i of r.Instances ?? []) out.push({ ...i, ReservationId: r.ReservationId! });
  }
  return out;
}

const TRANSITIONAL = new Set(['pending', 'stopping', 'shutting-down']);

/** Waits until no instance is in a transitional state; returns them all. */
export async function settledInstances(client: EC2Client, timeoutMs = 20_000): Promise<(Instance & { ReservationId: string })[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = await allInstances(client);
    const moving = all.filter((i) => TRANSITIONAL.has(i.State!.Name!));
    if (moving.length === 0) return all;
    if (Date.now() > deadline) throw new Error(`still in transition: ${moving.map((i) => `${i.InstanceId} ${i.State!.Name}`).join(', ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The values that occur more than once. */
export function duplicates(values: readonly string[]): string[] {
  const seen = new Map<string, number>();
  for (const v of values) seen.set(v, (seen.get(v) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([v]) => v);
}
