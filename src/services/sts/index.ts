/** The STS service (AWS Query over the official model): who is calling, and role sessions. */
import { AwsQueryProtocol } from '../../protocol/aws-query.js';
import { loadModel } from '../../protocol/model.js';
import type { ServiceDefinition } from '../context.js';
import { handlers as assumeRole } from './assume-role.js';
import { handlers as callerIdentity } from './caller-identity.js';

export function stsService(): ServiceDefinition {
  return { signingName: 'sts', protocol: new AwsQueryProtocol(loadModel('sts-2011-06-15')), handlers: { ...callerIdentity, ...assumeRole } };
}
