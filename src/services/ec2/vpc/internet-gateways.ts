/** Create/Describe/Delete/Attach/DetachInternetGateway: at most one gateway per VPC, one VPC per gateway. */
import type {
  AttachInternetGatewayRequest, CreateInternetGatewayRequest, CreateInternetGatewayResult, DeleteInternetGatewayRequest,
  DescribeInternetGatewaysRequest, DescribeInternetGatewaysResult, DetachInternetGatewayRequest, InternetGateway,
} from '@aws-sdk/client-ec2';
import { ApiError } from '../../../protocol/errors.js';
import type { Tag } from '../../../store/store.js';
import { newId } from '../../../util/ids.js';
import type { Handler, RequestContext } from '../../context.js';
import type { FilterFields } from '../common/filters.js';
import { addTags, tagsFromSpecifications } from '../common/tagging.js';
import { ENI_KIND, type NetworkInterfaceRecord } from '../network-interfaces/record.js';
import { ensureDefaultVpc } from './default-vpc.js';
import { describe, tagsOrUndefined } from './describe.js';
import { GATEWAY_ATTACHED, inVpc, KINDS, requireOne, type InternetGatewayRecord, type VpcRecord } from './records.js';
import { removeWithTags } from './vpcs.js';

const present = (rec: InternetGatewayRecord, tags: readonly Tag[]): InternetGateway => ({ ...rec, Tags: tagsOrUndefined(tags) });

async function createInternetGateway(input: CreateInternetGatewayRequest, ctx: RequestContext): Promise<CreateInternetGatewayResult> {
  const tags = tagsFromSpecifications(input.TagSpecifications, ['internet-gateway'], 'internet-gateway');
  await ensureDefaultVpc(ctx);
  const igw: InternetGatewayRecord = { InternetGatewayId: newId('igw'), OwnerId: ctx.accountId, Attachments: [] };
  await ctx.store.put(KINDS.internetGateway, ctx.scope, igw.InternetGatewayId, igw);
  await addTags(ctx, igw.InternetGatewayId, 'internet-gateway', tags);
  return { InternetGateway: present(igw, tags) };
}

const fields: FilterFields<InternetGatewayRecord> = {
  'attachment.state': (g) => g.Attachments?.map((a) => a.State),
  'attachment.vpc-id': (g) => g.Attachments?.map((a) => a.VpcId),
  'internet-gateway-id': (g) => g.InternetGatewayId,
  'owner-id': (g) => g.OwnerId,
};

async function describeInternetGateways(input: DescribeInternetGatewaysRequest, ctx: RequestContext): Promise<DescribeInternetGatewaysResult> {
  const { items, nextToken } = await describe<InternetGatewayRecord>(ctx, 'internet-gateway', (g) => g.InternetGatewayId, fields, {
    ...input, ids: input.InternetGatewayIds,
  });
  return { InternetGateways: items.map(({ record, tags }) => present(record, tags)), NextToken: nextToken };
}

async function attachInternetGateway(input: AttachInternetGatewayRequest, ctx: RequestContext): Promise<object> {
  await ensureDefaultVpc(ctx);
  const igw = await requireOne<InternetGatewayRecord>(ctx, 'internet-gateway', input.InternetGatewayId!);
  const vpc = await requireOne<VpcRecord>(ctx, 'vpc', input.VpcId!);
  const attached = igw.Attachments?.[0]?.VpcId;
  if (attached !== undefined) {
    throw new ApiError('Resource.AlreadyAssociated', `resource ${igw.InternetGatewayId} is already attached to network ${attached}`);
  }
  const gateways = await ctx.store.list<InternetGatewayRecord>(KINDS.internetGateway, ctx.scope);
  const other = gateways.find((g) => g.Attachments?.some((a) => a.VpcId === vpc.VpcId));
  if (other) {
    throw new ApiError(
      'Resource.AlreadyAssociated',
      `Network ${vpc.VpcId} already has an internet gateway attached (${other.InternetGatewayId})`,
    );
  }
  igw.Attachments = [{ VpcId: vpc.VpcId, State: GATEWAY_ATTACHED }];
  await ctx.store.put(KINDS.internetGateway, ctx.scope, igw.InternetGatewayId, igw);
  return {};
}

async function detachInternetGateway(input: DetachInternetGatewayRequest, ctx: RequestContext): Promise<object> {
  await ensureDefaultVpc(ctx);
  const igw = await requireOne<InternetGatewayRecord>(ctx, 'internet-gateway', input.InternetGatewayId!);
  const vpc = await requireOne<VpcRecord>(ctx, 'vpc', input.VpcId!);
  if (!igw.Attachments?.some((a) => a.VpcId === vpc.VpcId)) {
    throw new ApiError('Gateway.NotAttached', `resource ${igw.InternetGatewayId} is not attached to network ${vpc.VpcId}`);
  }
  // Public addresses are reachable only through the gateway: EC2 keeps it while any is mapped.
  const mapped = (await inVpc<NetworkInterfaceRecord>(ctx, ENI_KIND, vpc.VpcId)).some((e) => e.PrivateIpAddresses.some((a) => a.association));
  if (mapped) {
    throw new ApiError(
      'DependencyViolation',
      `Network ${vpc.VpcId} has some mapped public address(es). Please unmap those public address(es) before detaching the gateway.`,
    );
  }
  igw.Attachments = [];
  await ctx.store.put(KINDS.internetGateway, ctx.scope, igw.InternetGatewayId, igw);
  return {};
}

async function deleteInternetGateway(input: DeleteInternetGatewayRequest, ctx: RequestContext): Promise<object> {
  await ensureDefaultVpc(ctx);
  const igw = await requireOne<InternetGatewayRecord>(ctx, 'internet-gateway', input.InternetGatewayId!);
  if ((igw.Attachments ?? []).length > 0) {
    throw new ApiError('DependencyViolation', `The internetGateway '${igw.InternetGatewayId}' has dependencies and cannot be deleted.`);
  }
  await removeWithTags(ctx, KINDS.internetGateway, igw.InternetGatewayId);
  return {};
}

export const handlers: Record<string, Handler> = {
  CreateInternetGateway: createInternetGateway,
  DescribeInternetGateways: describeInternetGateways,
  AttachInternetGateway: attachInternetGateway,
  DetachInternetGateway: detachInternetGateway,
  DeleteInternetGateway: deleteInternetGateway,
};
