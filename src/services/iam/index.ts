/** The IAM service (AWS Query over the official model): roles, inline policies and instance profiles. */
import { AwsQueryProtocol } from '../../protocol/aws-query.js';
import { loadModel } from '../../protocol/model.js';
import type { ServiceDefinition } from '../context.js';
import { handlers as instanceProfiles } from './instance-profiles.js';
import { handlers as roles } from './roles.js';

export function iamService(): ServiceDefinition {
  return { signingName: 'iam', protocol: new AwsQueryProtocol(loadModel('iam-2010-05-08')), handlers: { ...roles, ...instanceProfiles } };
}
