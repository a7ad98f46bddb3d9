/** DescribeImages and the image lookups other operations use. */
import type { Image } from '@aws-sdk/client-ec2';
import type { Handler, RequestContext } from '../context.js';

/** An image the caller may launch (public, or its own), or undefined. */
export async function findImage(ctx: RequestContext, imageId: string): Promise<Image | undefined> {
  void ctx;
  void imageId;
  return undefined;
}

export const handlers: Record<string, Handler> = {};
