/**
 * DescribeImageAttribute, ModifyImageAttribute and ResetImageAttribute. Launch permissions (account
 * ids and the group `all`) arrive in two forms, both of which the CLI and boto3 send:
 * LaunchPermission.Add/Remove, or OperationType with UserIds and UserGroups. Only the owner may
 * change an image or read who may launch it.
 */
import type {
  DescribeImageAttributeRequest, ImageAttribute, LaunchPermission, ModifyImageAttributeRequest, ResetImageAttributeRequest,
} from '@aws-sdk/client-ec2';
import { ApiError, invalidParameterValue } from '../../../protocol/errors.js';
import type { RequestContext } from '../../context.js';
import { ownImage, saveImage, setLaunchPermissions, visibleImage } from './record.js';

const IMAGE_ATTRIBUTES = [
  'description',
  'kernel',
  'ramdisk',
  'launchPermission',
  'productCodes',
  'blockDeviceMapping',
  'sriovNetSupport',
  'bootMode',
  'tpmSupport',
  'uefiData',
  'lastLaunchedTime',
  'imdsSupport',
  'deregistrationProtection',
] as const;

const unknownAttribute = (attribute: string) => invalidParameterValue(`Value (${attribute}) for parameter attribute is invalid. Unknown attribute.`);
const notAuthorized = (imageId: string) => new ApiError('AuthFailure', `Not authorized for image:${imageId}`);
const value = (v: string | undefined) => (v === undefined ? undefined : { Value: v });

export async function describeImageAttribute(input: DescribeImageAttributeRequest, ctx: RequestContext): Promise<ImageAttribute> {
  const attribute = input.Attribute as string;
  if (!(IMAGE_ATTRIBUTES as readonly string[]).includes(attribute)) throw unknownAttribute(attribute);
  const image = await visibleImage(ctx, input.ImageId!);
  const out: ImageAttribute = { ImageId: image.ImageId };
  switch (attribute as (typeof IMAGE_ATTRIBUTES)[number]) {
    case 'description':
      out.Description = value(image.Description);
      break;
    case 'kernel':
      out.KernelId = value(image.KernelId);
      break;
    case 'ramdisk':
      out.RamdiskId = value(image.RamdiskId);
      break;
    case 'launchPermission':
      // Only the owner may read who else can launch an image.
      if (image.OwnerId !== ctx.accountId) throw notAuthorized(image.ImageId!);
      out.LaunchPermissions = [...(image.Public ? [{ Group: 'all' as const }] : []), ...(image.LaunchPermissions ?? [])];
      break;
    case 'productCodes':
      out.ProductCodes = image.ProductCodes ?? [];
      break;
    case 'blockDeviceMapping':
      out.BlockDeviceMappings = image.BlockDeviceMappings ?? [];
      break;
    case 'sriovNetSupport':
      out.SriovNetSupport = value(image.SriovNetSupport);
      break;
    case 'bootMode':
      out.BootMode = value(image.BootMode);
      break;
    case 'tpmSupport':
      out.TpmSupport = value(image.TpmSupport);
      break;
    case 'uefiData':
      break;
    case 'lastLaunchedTime':
      out.LastLaunchedTime = value(image.LastLaunchedTime);
      break;
    case 'imdsSupport':
      out.ImdsSupport = value(image.ImdsSupport);
      break;
    case 'deregistrationProtection':
      out.DeregistrationProtection = value(image.DeregistrationProtection ?? 'disabled');
      break;
  }
  return out;
}

const ACCOUNT_ID = /^\d{12}$/;
const itemValue = (type: string, v: string) => new ApiError('InvalidAMIAttributeItemValue', `Invalid attribute item value "${v}" for ${type} item type.`);

function checkPermission(p: LaunchPermission): void {
  if (p.OrganizationArn !== undefined || p.OrganizationalUnitArn !== undefined) {
    throw new ApiError('UnsupportedOperation', 'Sharing images with organizations or organizational units is not supported.');
  }
  if (p.UserId !== undefined && !ACCOUNT_ID.test(p.UserId)) throw itemValue('userId', p.UserId);
  if (p.Group !== undefined && p.Group !== 'all') throw itemValue('UserGroup', p.Group);
  if (p.UserId === undefined && p.Group === undefined) throw new ApiError('MissingParameter', 'The request must contain the parameter userId or group');
}

/** The launch permission changes a request asks for, from either of its forms. */
function permissionChanges(input: ModifyImageAttributeRequest): { add: LaunchPermission[]; remove: LaunchPermission[] } {
  const add = [...(input.LaunchPermission?.Add ?? [])];
  const remove = [...(input.LaunchPermission?.Remove ?? [])];
  const flat: LaunchPermission[] = [
    ...(input.UserIds ?? []).map((UserId) => ({ UserId })),
    ...(input.UserGroups ?? []).map((g) => ({ Group: g as 'all' })),
  ];
  if (flat.length) {
    if (input.OperationType === 'add') add.push(...flat);
    else if (input.OperationType === 'remove') remove.push(...flat);
    else throw new ApiError('MissingParameter', 'The request must contain the parameter operationType');
  }
  for (const p of [...add, ...remove]) checkPermission(p);
  return { add, remove };
}

export async function modifyImageAttribute(input: ModifyImageAttributeRequest, ctx: RequestContext): Promise<object> {
  const attribute = input.Attribute;
  if (attribute !== undefined && !['launchPermission', 'description', 'imdsSupport'].includes(attribute)) {
    if ((IMAGE_ATTRIBUTES as readonly string[]).includes(attribute)) {
      throw invalidParameterValue(`The attribute ${attribute} of an image cannot be modified.`);
    }
    throw unknownAttribute(attribute);
  }
  const image = await ownImage(ctx, input.ImageId!);
  const { add, remove } = permissionChanges(input);
  const description = input.Description?.Value ?? (attribute === 'description' ? input.Value : undefined);
  const imds = input.ImdsSupport?.Value ?? (attribute === 'imdsSupport' ? input.Value : undefined);
  if (add.length === 0 && remove.length === 0 && description === undefined && imds === undefined) {
    throw new ApiError('MissingParameter', `The request must contain the parameter ${attribute ?? 'launchPermission'}`);
  }
  if (imds !== undefined && imds !== 'v2.0') throw invalidParameterValue(`Value (${imds}) for parameter imdsSupport is invalid. Valid values: v2.0.`);
  if (description !== undefined) image.Description = description;
  if (imds !== undefined) image.ImdsSupport = 'v2.0';
  if (add.length || remove.length) {
    const users = new Set((image.LaunchPermissions ?? []).map((p) => p.UserId!));
    let everyone = image.Public === true;
    for (const p of add) {
      if (p.Group === 'all') everyone = true;
      // The owner always may launch its image: naming it adds nothing.
      if (p.UserId && p.UserId !== image.OwnerId) users.add(p.UserId);
    }
    for (const p of remove) {
      if (p.Group === 'all') everyone = false;
      if (p.UserId) users.delete(p.UserId);
    }
    await setLaunchPermissions(ctx, image, [...users], everyone);
  } else await saveImage(ctx, image);
  return {};
}

export async function resetImageAttribute(input: ResetImageAttributeRequest, ctx: RequestContext): Promise<object> {
  const attribute = input.Attribute as string;
  // EC2 resets only the launch permission (to private).
  if (attribute !== 'launchPermission') {
    throw invalidParameterValue(`Value (${attribute}) for parameter attribute is invalid. Only launchPermission can be reset.`);
  }
  const image = await ownImage(ctx, input.ImageId!);
  await setLaunchPermissions(ctx, image, [], false);
  return {};
}
