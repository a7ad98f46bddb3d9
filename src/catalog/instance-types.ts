/** AWS instance types and their facts (vCPUs, memory, storage, networking, …). */
import type { InstanceTypeInfo } from '@aws-sdk/client-ec2';

/** Every instance type Nimbus knows, in name order. */
export function instanceTypes(): readonly InstanceTypeInfo[] {
  return [];
}

export function instanceType(name: string): InstanceTypeInfo | undefined {
  return instanceTypes().find((t) => t.InstanceType === name);
}
