/** The elastic network interface operations, one module per concern. */
import type { Handler } from '../../context.js';
import { handlers as attach } from './attach.js';
import { handlers as attributes } from './attributes.js';
import { handlers as interfaces } from './interfaces.js';
import { handlers as ipv6Addresses } from './ipv6-addresses.js';
import { handlers as privateIps } from './private-ips.js';

export const handlers: Record<string, Handler> = { ...interfaces, ...attach, ...attributes, ...privateIps, ...ipv6Addresses };
