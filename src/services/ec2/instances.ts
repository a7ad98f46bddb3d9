/** RunInstances, DescribeInstances, Start/Stop/Reboot/Terminate and the instance attributes. */
import type { Handler } from '../context.js';

export const handlers: Record<string, Handler> = {};
