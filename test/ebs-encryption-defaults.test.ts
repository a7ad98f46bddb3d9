/**
 * EBS encryption by default through the AWS CLI (sim driver): off until enabled; while on, new
 * volumes and launch volumes are encrypted with the default key, which ModifyEbsDefaultKmsKeyId
 * changes and ResetEbsDefaultKmsKeyId puts back; per region; bad keys get EC2's error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cliErrorCode, startServer, type NimbusProcess } from './support/server.js';

const AMI = 'resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64';

describe('EBS encryption by default', () => {
  let nimbus: NimbusProcess;
  const aws = (args: string[], region = 'us-east-1') => {
    const r = nimbus.aws([...args, '--region', region]);
    assert.equal(r.status, 0, `aws ${args.join(' ')}: ${r.stderr}`);
    return r.json as Record<string, any>;
  };
  const newVolume = (region = 'us-east-1') =>
    aws(['ec2', 'create-volume', '--size', '1', '--availability-zone', `${region}a`], region) as { Encrypted: boolean; KmsKeyId?: string };

  before(async () => {
    nimbus = await startServer();
  });
  after(() => nimbus.dispose());

  it('is off at first, and new volumes are not encrypted', () => {
    assert.equal(aws(['ec2', 'get-ebs-encryption-by-default']).EbsEncryptionByDefault, false);
    assert.equal(newVolume().Encrypted, false);
    assert.match(aws(['ec2', 'get-ebs-default-kms-key-id']).KmsKeyId, /^arn:aws:kms:us-east-1:\d{12}:alias\/aws\/ebs$/);
  });

  it('encrypts every new volume while on, launch volumes too, in its region only', () => {
    assert.equal(aws(['ec2', 'enable-ebs-encryption-by-default']).EbsEncryptionByDefault, true);
    assert.equal(aws(['ec2', 'get-ebs-encryption-by-default']).EbsEncryptionByDefault, true);
    const v = newVolume();
    assert.equal(v.Encrypted, true);
    assert.match(v.KmsKeyId ?? '', /alias\/aws\/ebs$/);
    // Asking for no encryption does not override the account's default.
    assert.equal(aws(['ec2', 'create-volume', '--size', '1', '--availability-zone', 'us-east-1a', '--no-encrypted']).Encrypted, true);
    const instance = aws(['ec2', 'run-instances', '--image-id', AMI, '--instance-type', 't3.micro']).Instances[0];
    const root = aws(['ec2', 'describe-volumes', '--filters', `Name=attachment.instance-id,Values=${instance.InstanceId}`]).Volumes[0];
    assert.equal(root.Encrypted, true, 'the root volume made at launch');
    assert.equal(aws(['ec2', 'get-ebs-encryption-by-default'], 'eu-west-1').EbsEncryptionByDefault, false, 'another region is apart');
    assert.equal(newVolume('eu-west-1').Encrypted, false);
  });

  it('uses the default key it is given until reset, and refuses a malformed one', () => {
    const key = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    assert.equal(aws(['ec2', 'modify-ebs-default-kms-key-id', '--kms-key-id', key]).KmsKeyId, key);
    assert.equal(aws(['ec2', 'get-ebs-default-kms-key-id']).KmsKeyId, key);
    assert.equal(newVolume().KmsKeyId, key);
    assert.match(aws(['ec2', 'reset-ebs-default-kms-key-id']).KmsKeyId, /alias\/aws\/ebs$/);
    assert.match(newVolume().KmsKeyId ?? '', /alias\/aws\/ebs$/);
    const bad = nimbus.aws(['ec2', 'modify-ebs-default-kms-key-id', '--kms-key-id', 'not a key', '--region', 'us-east-1']);
    assert.equal(cliErrorCode(bad), 'InvalidParameterValue');
  });

  it('is off again once disabled', () => {
    assert.equal(aws(['ec2', 'disable-ebs-encryption-by-default']).EbsEncryptionByDefault, false);
    assert.equal(newVolume().Encrypted, false);
  });
});
