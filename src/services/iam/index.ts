/** The IAM service (AWS Query over the official model): roles, inline policies and instance profiles. */
import { AwsQueryProtocol } from '../../protocol/aws-query.js';
import { servedModel } from '../../protocol/model.js';
import type { ServiceDefinition } from '../context.js';
import { handlers as instanceProfiles } from './instance-profiles.js';
import { handlers as roles } from './roles.js';

export function iamService(): ServiceDefinition {
  const handlers = { ...roles, ...instanceProfiles };
  return { signingName: 'iam', protocol: new AwsQueryProtocol(servedModel('iam-2010-05-08', Object.keys(handlers))), handlers };
}
