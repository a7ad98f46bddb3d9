/** Small lookups that many tests need. */
import { DescribeImagesCommand, type EC2Client } from '@aws-sdk/client-ec2';

/** A public x86_64 AMI of the client's region, launchable on t3 instance types. */
export async function x86Image(client: EC2Client): Promise<string> {
  const out = await client.send(new DescribeImagesCommand({
    Owners: ['amazon'],
    Filters: [{ Name: 'architecture', Values: ['x86_64'] }],
    MaxResults: 5,
  }));
  const id = out.Images?.[0]?.ImageId;
  if (!id) throw new Error('the catalogue has no public x86_64 image');
  return id;
}
