/** The STS service (AWS Query over the official model): who is calling, and role sessions. */
import { AwsQueryProtocol } from '../../protocol/aws-query.js';
import { servedModel } from '../../protocol/model.js';
import type { ServiceDefinition } from '../context.js';
import { handlers as assumeRole } from './assume-role.js';
import { handlers as callerIdentity } from './caller-identity.js';

export function stsService(): ServiceDefinition {
  const handlers = { ...callerIdentity, ...assumeRole };
  return { signingName: 'sts', protocol: new AwsQueryProtocol(servedModel('sts-2011-06-15', Object.keys(handlers))), handlers };
}
