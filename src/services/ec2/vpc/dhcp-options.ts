/** Create/Describe/DeleteDhcpOptions and AssociateDhcpOptions (`default` detaches a VPC from any set). */
import type {
  AssociateDhcpOptionsRequest, CreateDhcpOptionsRequest, CreateDhcpOptionsResult, DeleteDhcpOptionsRequest,
  DescribeDhcpOptionsRequest, DescribeDhcpOptionsResult, DhcpOptions,
} from '@aws-sdk/client-ec2';
import { ApiError, invalidParameterValue } from '../../../protocol/errors.js';
import type { Tag } from '../../../store/store.js';
import { newId } from '../../../util/ids.js';
import type { Handler, RequestContext } from '../../context.js';
import type { FilterFields } from '../common/filters.js';
import { addTags, tagsFromSpecifications } from '../common/tagging.js';
import { ensureDefaultVpc } from './default-vpc.js';
import { describe, tagsOrUndefined } from './describe.js';
import { KINDS, requireOne, type DhcpOptionsRecord, type VpcRecord } from './records.js';
import { removeWithTags } from './vpcs.js';

/** The options EC2 accepts, with how many values each may have. */
const OPTIONS: Record<string, number> = {
  'domain-name': 1,
  'domain-name-servers': 4,
  'ntp-servers': 4,
  'netbios-name-servers': 4,
  'netbios-node-type': 1,
  'ipv6-address-preferred-lease-time': 1,
};

const present = (rec: DhcpOptionsRecord, tags: readonly Tag[]): DhcpOptions => ({ ...rec, Tags: tagsOrUndefined(tags) });

async function createDhcpOptions(input: CreateDhcpOptionsRequest, ctx: RequestContext): Promise<CreateDhcpOptionsResult> {
  const tags = tagsFromSpecifications(input.TagSpecifications, ['dhcp-options'], 'dhcp-options');
  const seen = new Set<string>();
  const configurations = (input.DhcpConfigurations ?? []).map((c) => {
    const key = c.Key ?? '';
    if (!Object.hasOwn(OPTIONS, key)) throw invalidParameterValue(`Value (${key}) for parameter dhcp-configuration-key is invalid. Unknown DHCP option.`);
    if (seen.has(key)) throw invalidParameterValue(`Value (${key}) for parameter dhcp-configuration-key is invalid. Each option may be given once.`);
    seen.add(key);
    const values = c.Values ?? [];
    if (values.length === 0 || values.length > OPTIONS[key]!) {
      throw invalidParameterValue(`Value for parameter ${key} is invalid. It takes 1 to ${OPTIONS[key]} values.`);
    }
    if (key === 'netbios-node-type' && !['1', '2', '4', '8'].includes(values[0]!)) {
      throw invalidParameterValue(`Value (${values[0]}) for parameter netbios-node-type is invalid. Valid values: 1, 2, 4, 8.`);
    }
    return { Key: key, Values: values.map((Value) => ({ Value })) };
  });
  if (configurations.length === 0) throw new ApiError('MissingParameter', 'The request must contain the parameter dhcpConfiguration');
  await ensureDefaultVpc(ctx);
  const rec: DhcpOptionsRecord = { DhcpOptionsId: newId('dopt'), OwnerId: ctx.accountId, DhcpConfigurations: configurations };
  await ctx.store.put(KINDS.dhcpOptions, ctx.scope, rec.DhcpOptionsId, rec);
  await addTags(ctx, rec.DhcpOptionsId, 'dhcp-options', tags);
  return { DhcpOptions: present(rec, tags) };
}

const fields: FilterFields<DhcpOptionsRecord> = {
  'dhcp-options-id': (d) => d.DhcpOptionsId,
  key: (d) => d.DhcpConfigurations?.map((c) => c.Key),
  value: (d) => d.DhcpConfigurations?.flatMap((c) => (c.Values ?? []).map((v) => v.Value)),
  'owner-id': (d) => d.OwnerId,
};

async function describeDhcpOptions(input: DescribeDhcpOptionsRequest, ctx: RequestContext): Promise<DescribeDhcpOptionsResult> {
  const { items, nextToken } = await describe<DhcpOptionsRecord>(ctx, 'dhcp-options', (d) => d.DhcpOptionsId, fields, {
    ...input, ids: input.DhcpOptionsIds,
  });
  return { DhcpOptions: items.map(({ record, tags }) => present(record, tags)), NextToken: nextToken };
}

async function deleteDhcpOptions(input: DeleteDhcpOptionsRequest, ctx: RequestContext): Promise<object> {
  await ensureDefaultVpc(ctx);
  const rec = await requireOne<DhcpOptionsRecord>(ctx, 'dhcp-options', input.DhcpOptionsId!);
  const vpcs = await ctx.store.list<VpcRecord>(KINDS.vpc, ctx.scope);
  if (vpcs.some((v) => v.DhcpOptionsId === rec.DhcpOptionsId)) {
    throw new ApiError('DependencyViolation', `The dhcpOptions '${rec.DhcpOptionsId}' has dependencies and cannot be deleted.`);
  }
  await removeWithTags(ctx, KINDS.dhcpOptions, rec.DhcpOptionsId);
  return {};
}

async function associateDhcpOptions(input: AssociateDhcpOptionsRequest, ctx: RequestContext): Promise<object> {
  await ensureDefaultVpc(ctx);
  const vpc = await requireOne<VpcRecord>(ctx, 'vpc', input.VpcId!);
  const id = input.DhcpOptionsId!;
  if (id !== 'default') await requireOne<DhcpOptionsRecord>(ctx, 'dhcp-options', id);
  vpc.DhcpOptionsId = id;
  await ctx.store.put(KINDS.vpc, ctx.scope, vpc.VpcId, vpc);
  return {};
}

export const handlers: Record<string, Handler> = {
  CreateDhcpOptions: createDhcpOptions,
  DescribeDhcpOptions: describeDhcpOptions,
  DeleteDhcpOptions: deleteDhcpOptions,
  AssociateDhcpOptions: associateDhcpOptions,
};
