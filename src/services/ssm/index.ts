/** The SSM service (JSON 1.1): the public parameters that name the latest AMIs. */
import { JsonRpcProtocol } from '../../protocol/json-rpc.js';
import { servedModel } from '../../protocol/model.js';
import type { ServiceDefinition } from '../context.js';
import { handlers } from './parameters.js';

export function ssmService(): ServiceDefinition {
  return { signingName: 'ssm', protocol: new JsonRpcProtocol(servedModel('ssm-2014-11-06', Object.keys(handlers))), handlers };
}
