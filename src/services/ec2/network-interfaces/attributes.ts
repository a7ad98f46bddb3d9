/** ModifyNetworkInterfaceAttribute, DescribeNetworkInterfaceAttribute and ResetNetworkInterfaceAttribute. */
import type {
  DescribeNetworkInterfaceAttributeRequest, DescribeNetworkInterfaceAttributeResult, ModifyNetworkInterfaceAttributeRequest,
  ResetNetworkInterfaceAttributeRequest,
} from '@aws-sdk/client-ec2';
import { ApiError, invalidParameterCombination, invalidParameterValue } from '../../../protocol/errors.js';
import type { RequestContext } from '../../context.js';
import { notFound } from '../common/errors.js';
import { replacementGroups } from '../vpc/index.js';
import { dnsNameIn, loadInterface, saveInterface } from './lookup.js';
import { groupIdentifiers, presentNetworkInterface, type NetworkInterfaceRecord } from './record.js';

type Reader = (eni: NetworkInterfaceRecord, ctx: RequestContext) => Omit<DescribeNetworkInterfaceAttributeResult, 'NetworkInterfaceId'>;

const READERS: Record<string, Reader> = {
  description: (eni) => ({ Description: { Value: eni.Description } }),
  groupSet: (eni) => ({ Groups: groupIdentifiers(eni) }),
  sourceDestCheck: (eni) => ({ SourceDestCheck: { Value: eni.SourceDestCheck } }),
  attachment: (eni, ctx) => ({ Attachment: presentNetworkInterface(eni, [], dnsNameIn(ctx)).Attachment }),
  associatePublicIpAddress: (eni) => ({ AssociatePublicIpAddress: eni.autoPublicIp }),
};

async function describeNetworkInterfaceAttribute(
  input: DescribeNetworkInterfaceAttributeRequest, ctx: RequestContext,
): Promise<DescribeNetworkInterfaceAttributeResult> {
  const eni = await loadInterface(ctx, input.NetworkInterfaceId!);
  const name = input.Attribute;
  if (name === undefined) throw new ApiError('MissingParameter', 'The request must contain the parameter attribute');
  const read = Object.hasOwn(READERS, name) ? READERS[name] : undefined;
  if (!read) throw invalidParameterValue(`Value (${name}) for parameter attribute is invalid. Unknown network interface attribute`);
  return { NetworkInterfaceId: eni.NetworkInterfaceId, ...read(eni, ctx) };
}

const MODIFIABLE = ['Description', 'SourceDestCheck', 'Groups', 'Attachment'] as const;

async function modifyNetworkInterfaceAttribute(input: ModifyNetworkInterfaceAttributeRequest, ctx: RequestContext): Promise<object> {
  const eni = await loadInterface(ctx, input.NetworkInterfaceId!);
  const given = MODIFIABLE.filter((a) => input[a] !== undefined);
  if (given.length === 0) throw new ApiError('MissingParameter', 'The request must contain an attribute to modify');
  if (given.length > 1) throw invalidParameterCombination('You can specify only one attribute at a time.');
  switch (given[0]!) {
    case 'Description':
      eni.Description = input.Description!.Value ?? '';
      break;
    case 'SourceDestCheck':
      eni.SourceDestCheck = input.SourceDestCheck!.Value ?? true;
      break;
    case 'Groups':
      if (input.Groups!.length === 0) throw new ApiError('MissingParameter', 'The request must contain the parameter groupId');
      eni.Groups = await replacementGroups(ctx, eni.VpcId, input.Groups!);
      break;
    case 'Attachment': {
      const change = input.Attachment!;
      if (!change.AttachmentId) throw new ApiError('MissingParameter', 'The request must contain the parameter attachmentId');
      if (eni.Attachment?.AttachmentId !== change.AttachmentId) throw notFound('network-interface-attachment', [change.AttachmentId]);
      if (change.DeleteOnTermination !== undefined) eni.Attachment.DeleteOnTermination = change.DeleteOnTermination;
      break;
    }
  }
  await saveInterface(ctx, eni);
  ctx.plane.kick();
  return {};
}

async function resetNetworkInterfaceAttribute(input: ResetNetworkInterfaceAttributeRequest, ctx: RequestContext): Promise<object> {
  const eni = await loadInterface(ctx, input.NetworkInterfaceId!);
  if (input.SourceDestCheck === undefined) throw new ApiError('MissingParameter', 'The request must contain the parameter sourceDestCheck');
  eni.SourceDestCheck = true;
  await saveInterface(ctx, eni);
  ctx.plane.kick();
  return {};
}

export const handlers = {
  DescribeNetworkInterfaceAttribute: describeNetworkInterfaceAttribute,
  ModifyNetworkInterfaceAttribute: modifyNetworkInterfaceAttribute,
  ResetNetworkInterfaceAttribute: resetNetworkInterfaceAttribute,
};
