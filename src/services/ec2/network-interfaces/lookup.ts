/** Finding the caller's interfaces by id or attachment id, with EC2's Malformed and NotFound errors. */
import type { RequestContext } from '../../context.js';
import { checkIds, notFound } from '../common/errors.js';
import { INSTANCE_KIND, ipDnsName, type InstanceRecord } from '../instances/record.js';
import { ENI_KIND, type NetworkInterfaceRecord } from './record.js';

/** The interfaces with these ids, in the order asked; any unknown id fails the whole call. */
export async function loadInterfaces(ctx: RequestContext, ids: readonly string[]): Promise<NetworkInterfaceRecord[]> {
  checkIds('network-interface', ids);
  const unique = [...new Set(ids)];
  const found = new Map((await ctx.store.getMany<NetworkInterfaceRecord>(ENI_KIND, ctx.scope, unique)).map((e) => [e.NetworkInterfaceId, e]));
  const missing = unique.filter((id) => !found.has(id));
  if (missing.length) throw notFound('network-interface', missing);
  return unique.map((id) => found.get(id)!);
}

export async function loadInterface(ctx: RequestContext, id: string): Promise<NetworkInterfaceRecord> {
  return (await loadInterfaces(ctx, [id]))[0]!;
}

/** The interface that an attachment id belongs to. */
export async function interfaceByAttachment(ctx: RequestContext, attachmentId: string): Promise<NetworkInterfaceRecord> {
  checkIds('network-interface-attachment', [attachmentId]);
  const holding = await ctx.store.listHolding<NetworkInterfaceRecord>(ENI_KIND, ctx.scope, attachmentId);
  const eni = holding.find((e) => e.Attachment?.AttachmentId === attachmentId);
  if (!eni) throw notFound('network-interface-attachment', [attachmentId]);
  return eni;
}

/** The instance type of the instance the interface is attached to; undefined while it is not attached. */
export async function attachedInstanceType(ctx: RequestContext, eni: NetworkInterfaceRecord): Promise<string | undefined> {
  if (!eni.Attachment) return undefined;
  return (await ctx.store.get<InstanceRecord>(INSTANCE_KIND, ctx.scope, eni.Attachment.InstanceId))?.InstanceType;
}

export async function saveInterface(ctx: RequestContext, eni: NetworkInterfaceRecord): Promise<void> {
  await ctx.store.put(ENI_KIND, ctx.scope, eni.NetworkInterfaceId, eni);
}

/** The private DNS name of an address in the caller's region. */
export const dnsNameIn = (ctx: RequestContext) => (ip: string) => ipDnsName(ctx.region, ip);
