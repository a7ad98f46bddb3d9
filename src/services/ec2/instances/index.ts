/** The instance operations, one module per concern. */
import type { Handler } from '../../context.js';
import { describeInstanceAttribute, modifyInstanceAttribute, modifyInstanceMetadataOptions } from './attributes.js';
import { getConsoleOutput } from './console.js';
import { describeInstances } from './describe.js';
import { runInstances } from './launch.js';
import { rebootInstances, startInstances, stopInstances, terminateInstances } from './lifecycle.js';
import { describeInstanceStatus } from './status.js';

export const handlers: Record<string, Handler> = {
  RunInstances: runInstances,
  DescribeInstances: describeInstances,
  DescribeInstanceStatus: describeInstanceStatus,
  StartInstances: startInstances,
  StopInstances: stopInstances,
  RebootInstances: rebootInstances,
  TerminateInstances: terminateInstances,
  DescribeInstanceAttribute: describeInstanceAttribute,
  ModifyInstanceAttribute: modifyInstanceAttribute,
  ModifyInstanceMetadataOptions: modifyInstanceMetadataOptions,
  GetConsoleOutput: getConsoleOutput,
};
