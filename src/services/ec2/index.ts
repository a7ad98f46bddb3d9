/** The EC2 service: the EC2 Query protocol over the official model, and every operation module. */
import { Ec2QueryProtocol } from '../../protocol/ec2-query.js';
import { servedModel } from '../../protocol/model.js';
import type { Handler, ServiceDefinition } from '../context.js';
import { handlers as accountAttributes } from './account-attributes.js';
import { handlers as elasticIps } from './elastic-ips/index.js';
import { handlers as iamInstanceProfiles } from './iam-instance-profiles.js';
import { handlers as images } from './images.js';
import { handlers as instanceTypes } from './instance-types.js';
import { handlers as instances } from './instances.js';
import { handlers as keyPairs } from './key-pairs.js';
import { handlers as networkInterfaces } from './network-interfaces/index.js';
import { handlers as regions } from './regions.js';
import { handlers as snapshots } from './snapshots/index.js';
import { handlers as tags } from './tags.js';
import { handlers as volumes } from './volumes/index.js';
import { handlers as vpc } from './vpc/index.js';

const modules: Record<string, Handler>[] = [regions, accountAttributes, instanceTypes, images, keyPairs, instances, tags, vpc, volumes, snapshots,
  networkInterfaces, elasticIps, iamInstanceProfiles];

export function ec2Service(): ServiceDefinition {
  const handlers: Record<string, Handler> = {};
  for (const m of modules) {
    for (const [name, h] of Object.entries(m)) {
      if (handlers[name]) throw new Error(`EC2 operation ${name} is defined twice`);
      handlers[name] = h;
    }
  }
  return { signingName: 'ec2', protocol: new Ec2QueryProtocol(servedModel('ec2-2016-11-15', Object.keys(handlers))), handlers };
}
