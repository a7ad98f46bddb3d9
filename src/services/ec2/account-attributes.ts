/** DescribeAccountAttributes: the account's platform, default VPC and limits in the region. */
import type { AccountAttribute, DescribeAccountAttributesRequest, DescribeAccountAttributesResult } from '@aws-sdk/client-ec2';
import { invalidParameterValue } from '../../protocol/errors.js';
import type { Handler, RequestContext } from '../context.js';
import { findDefaultVpc } from './vpc/index.js';

/** EC2's attributes in the order EC2 lists them, each with how to read its values. */
const ATTRIBUTES: Record<string, (ctx: RequestContext) => string[] | Promise<string[]>> = {
  'supported-platforms': () => ['VPC'],
  'vpc-max-security-groups-per-interface': (ctx) => [String(ctx.plane.config.limits.securityGroupsPerInterface)],
  'max-elastic-ips': (ctx) => [String(ctx.plane.config.limits.elasticIpsPerRegion)],
  'max-instances': (ctx) => [String(ctx.plane.config.limits.instancesPerRegion)],
  'vpc-max-elastic-ips': (ctx) => [String(ctx.plane.config.limits.elasticIpsPerRegion)],
  // `none` once the default VPC was deleted (until CreateDefaultVpc makes another).
  'default-vpc': async (ctx) => [(await findDefaultVpc(ctx))?.VpcId ?? 'none'],
};

export const handlers: Record<string, Handler> = {
  async DescribeAccountAttributes(input: DescribeAccountAttributesRequest, ctx): Promise<DescribeAccountAttributesResult> {
    const asked: readonly string[] = input.AttributeNames ?? [];
    for (const name of asked) {
      if (!Object.hasOwn(ATTRIBUTES, name)) throw invalidParameterValue(`Value (${name}) for parameter attributeName is invalid.`);
    }
    const names = Object.keys(ATTRIBUTES).filter((n) => asked.length === 0 || asked.includes(n));
    const attributes: AccountAttribute[] = [];
    for (const name of names) {
      const values = await ATTRIBUTES[name]!(ctx);
      attributes.push({ AttributeName: name, AttributeValues: values.map((v) => ({ AttributeValue: v })) });
    }
    return { AccountAttributes: attributes };
  },
};
