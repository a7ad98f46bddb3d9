/** The Elastic IP operations. */
import type { Handler } from '../../context.js';
import { handlers as addresses } from './addresses.js';
import { handlers as associations } from './associations.js';

export const handlers: Record<string, Handler> = { ...addresses, ...associations };
