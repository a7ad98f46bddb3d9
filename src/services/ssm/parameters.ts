/** SSM public parameters for the latest AMIs, and `resolve:ssm:` for RunInstances. */
import type { Handler } from '../context.js';

/** The value of a public parameter in a region (e.g. an AMI id), or undefined. */
export function publicParameter(region: string, name: string): string | undefined {
  void region;
  void name;
  return undefined;
}

export const handlers: Record<string, Handler> = {};
