/** GetConsoleOutput: what the compute driver captured of the instance's console, base64-encoded. */
import type { GetConsoleOutputRequest, GetConsoleOutputResult } from '@aws-sdk/client-ec2';
import type { RequestContext } from '../../context.js';
import { loadInstance } from './lookup.js';

/** EC2 returns at most the last 64 KB of console output. */
const MAX_OUTPUT_BYTES = 64 * 1024;

export async function getConsoleOutput(input: GetConsoleOutputRequest, ctx: RequestContext): Promise<GetConsoleOutputResult> {
  const rec = await loadInstance(ctx, input.InstanceId!);
  // Reading the console has no side effect, so it may ask the driver from within the request.
  const text = Buffer.from(await ctx.plane.driver.consoleOutput(rec.InstanceId));
  const tail = text.length > MAX_OUTPUT_BYTES ? text.subarray(text.length - MAX_OUTPUT_BYTES) : text;
  return {
    InstanceId: rec.InstanceId,
    Timestamp: ctx.now(),
    Output: tail.length ? tail.toString('base64') : undefined,
  };
}
