/** Helpers for the IAM tests: a trust policy, boto3 error capture, and the operator's role-credentials command. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { RoleCredentials } from '../../src/services/iam/role-credentials.js';
import { ROOT, type Credentials, type NimbusProcess } from './server.js';

export const AMI = 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';
export const TRUST = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});
export const POLICY = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'ec2:Describe*', Resource: '*' }] });

export type { RoleCredentials };

/** `nimbus admin role-credentials`: what the instance's metadata service would serve. */
export function roleCredentials(nimbus: NimbusProcess, instanceId: string, extra: string[] = []): { status: number; creds?: RoleCredentials; stderr: string } {
  const r = spawnSync(join(ROOT, 'bin/nimbus'), ['admin', 'role-credentials', '--data-dir', nimbus.dataDir,
    '--instance-id', instanceId, '--region', 'us-east-1', ...extra], { encoding: 'utf8' });
  return { status: r.status ?? -1, creds: r.status === 0 ? (JSON.parse(r.stdout) as RoleCredentials) : undefined, stderr: r.stderr };
}

export const asSession = (c: RoleCredentials): Credentials => ({ accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.Token });

/** A boto3 snippet that records `[code, status]` of a failing call, or "ok". */
export const outcome = (call: string) => `
try:
    ${call}
    r = "ok"
except botocore.exceptions.ClientError as e:
    r = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]]
`;
