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
import { ownImage, saveImage, setLaunchPermissions, visibleImage, type StoredImage } from './record.js';

const unknownAttribute = (attribute: string) => invalidParameterValue(`Value (${attribute}) for parameter attribute is invalid. Unknown attribute.`);
const notAuthorized = (imageId: string) => new ApiError('AuthFailure', `Not authorized for image:${imageId}`);
const value = (v: string | undefined) => (v === undefined ? undefined : { Value: v });

/** Each attribute DescribeImageAttribute knows, and the members of its answer. */
const IMAGE_ATTRIBUTES: Record<string, (image: StoredImage, ctx: RequestContext) => Partial<ImageAttribute>> = {
  description: (i) => ({ Description: value(i.Description) }),
  kernel: (i) => ({ KernelId: value(i.KernelId) }),
  ramdisk: (i) => ({ RamdiskId: value(i.RamdiskId) }),
  launchPermission: (i, ctx) => {
    // Only the owner may read who else can launch an image.
    if (i.OwnerId !== ctx.accountId) throw notAuthorized(i.ImageId!);
    return { LaunchPermissions: [...(i.Public ? [{ Group: 'all' as const }] : []), ...(i.LaunchPermissions ?? [])] };
  },
  productCodes: (i) => ({ ProductCodes: i.ProductCodes ?? [] }),
  blockDeviceMapping: (i) => ({ BlockDeviceMappings: i.BlockDeviceMappings ?? [] }),
  sriovNetSupport: (i) => ({ SriovNetSupport: value(i.SriovNetSupport) }),
  bootMode: (i) => ({ BootMode: value(i.BootMode) }),
  tpmSupport: (i) => ({ TpmSupport: value(i.TpmSupport) }),
  uefiData: () => ({}),
  lastLaunchedTime: (i) => ({ LastLaunchedTime: value(i.LastLaunchedTime) }),
  imdsSupport: (i) => ({ ImdsSupport: value(i.ImdsSupport) }),
  deregistrationProtection: (i) => ({ DeregistrationProtection: value(i.DeregistrationProtection ?? 'disabled') }),
};

export async function describeImageAttribute(input: DescribeImageAttributeRequest, ctx: RequestContext): Promise<ImageAttribute> {
  const attribute = input.Attribute as string;
  const answer = Object.hasOwn(IMAGE_ATTRIBUTES, attribute) ? IMAGE_ATTRIBUTES[attribute]! : undefined;
  if (!answer) throw unknownAttribute(attribute);
  const image = await visibleImage(ctx, input.ImageId!);
  return { ImageId: image.ImageId, ...answer(image, ctx) };
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
    if (Object.hasOwn(IMAGE_ATTRIBUTES, attribute)) {
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
