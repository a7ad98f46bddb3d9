/** DescribeInstanceTypes, DescribeInstanceTypeOfferings. */
import type { Handler } from '../context.js';

export const handlers: Record<string, Handler> = {};
