/**
 * IAM instance profiles on EC2 instances (at launch and through the association calls), and the
 * role credentials an instance gets: temporary keys with a session token that Nimbus accepts,
 * acting as the role, until they expire.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AMI, TRUST, asSession, outcome, roleCredentials } from './support/iam.js';
import { cliErrorCode, startServer, type NimbusProcess } from './support/server.js';
import { parse, presignGet } from './support/signed-request.js';

describe('instance profiles on EC2 instances, and the role credentials they give', () => {
  let nimbus: NimbusProcess;
  let profileArn: string;
  let profileId: string;
  let instanceId: string;
  let plainId: string;
  before(async () => {
    nimbus = await startServer({ args: ['--sim-delay-ms', '20'] });
    const setup = nimbus.boto3(`
iam = session.client("iam")
trust = ${JSON.stringify(TRUST)}
for n in ["app", "batch"]:
    iam.create_role(RoleName=n, AssumeRolePolicyDocument=trust)
    iam.create_instance_profile(InstanceProfileName=n + "-profile")
    iam.add_role_to_instance_profile(InstanceProfileName=n + "-profile", RoleName=n)
p = iam.get_instance_profile(InstanceProfileName="app-profile")["InstanceProfile"]
result = {"arn": p["Arn"], "id": p["InstanceProfileId"]}
`) as { arn: string; id: string };
    profileArn = setup.arn;
    profileId = setup.id;
  });
  after(() => nimbus.dispose());

  it('launches with a real profile by name, and refuses an unknown one', () => {
    const bad = nimbus.aws(['ec2', 'run-instances', '--image-id', AMI, '--instance-type', 't3.micro', '--iam-instance-profile', 'Name=ghost']);
    assert.equal(cliErrorCode(bad), 'InvalidParameterValue');
    assert.match(bad.stderr, /Value \(ghost\) for parameter iamInstanceProfile\.name is invalid\. Invalid IAM Instance Profile name/);

    const result = nimbus.boto3(`
ami = "${AMI}"
${outcome('ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, IamInstanceProfile={"Arn": "arn:aws:iam::000000000000:instance-profile/ghost"})')}
bad_arn = r
with_profile = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t3.micro", IamInstanceProfile={"Name": "app-profile"})["Instances"][0]
plain = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t3.micro")["Instances"][0]
found = ec2.describe_instances(Filters=[{"Name": "iam-instance-profile.arn", "Values": ["${profileArn}"]}])["Reservations"]
result = {"bad_arn": bad_arn, "id": with_profile["InstanceId"], "profile": with_profile["IamInstanceProfile"], "plain": plain["InstanceId"],
          "found": [[i["InstanceId"], i["IamInstanceProfile"]] for r in found for i in r["Instances"]]}
`) as { bad_arn: unknown; id: string; profile: unknown; plain: string; found: unknown };
    instanceId = result.id;
    plainId = result.plain;
    assert.deepEqual(result.bad_arn, ['InvalidParameterValue', 400]);
    assert.deepEqual(result.profile, { Arn: profileArn, Id: profileId });
    assert.deepEqual(result.found, [[instanceId, { Arn: profileArn, Id: profileId }]]);
  });

  it('associates, replaces, describes and disassociates, one profile per instance', () => {
    const result = nimbus.boto3(`
launch = ec2.describe_iam_instance_profile_associations(Filters=[{"Name": "instance-id", "Values": ["${instanceId}"]}])["IamInstanceProfileAssociations"]
assoc = ec2.associate_iam_instance_profile(InstanceId="${plainId}", IamInstanceProfile={"Name": "batch-profile"})["IamInstanceProfileAssociation"]
${outcome(`ec2.associate_iam_instance_profile(InstanceId="${plainId}", IamInstanceProfile={"Arn": "${profileArn}"})`)}
twice = r
${outcome(`ec2.associate_iam_instance_profile(InstanceId="${plainId}", IamInstanceProfile={"Name": "ghost"})`)}
ghost = r
${outcome(`ec2.associate_iam_instance_profile(InstanceId="i-0123456789abcdef0", IamInstanceProfile={"Name": "batch-profile"})`)}
no_instance = r
${outcome('ec2.disassociate_iam_instance_profile(AssociationId="iip-assoc-0123456789abcdef0")')}
no_assoc = r
replaced = ec2.replace_iam_instance_profile_association(AssociationId=assoc["AssociationId"], IamInstanceProfile={"Arn": "${profileArn}"})["IamInstanceProfileAssociation"]
${outcome('ec2.describe_iam_instance_profile_associations(AssociationIds=[assoc["AssociationId"]])')}
old_gone = r
by_state = ec2.describe_iam_instance_profile_associations(Filters=[{"Name": "state", "Values": ["associated"]}])["IamInstanceProfileAssociations"]
inst = ec2.describe_instances(InstanceIds=["${plainId}"])["Reservations"][0]["Instances"][0]
result = {"launch": [(a["InstanceId"], a["IamInstanceProfile"]["Arn"], a["State"], a["AssociationId"][:10]) for a in launch],
          "assoc": [assoc["State"], assoc["IamInstanceProfile"]["Arn"].split("/")[-1]],
          "twice": twice, "ghost": ghost, "no_instance": no_instance, "no_assoc": no_assoc,
          "replaced": [replaced["State"], replaced["IamInstanceProfile"]["Id"], replaced["AssociationId"] != assoc["AssociationId"]],
          "old_gone": old_gone, "by_state": sorted(a["InstanceId"] for a in by_state),
          "instance_profile": inst.get("IamInstanceProfile"), "replaced_id": replaced["AssociationId"]}
`) as Record<string, unknown>;
    assert.deepEqual(result.launch, [[instanceId, profileArn, 'associated', 'iip-assoc-']]);
    assert.deepEqual(result.assoc, ['associating', 'batch-profile']);
    assert.deepEqual(result.twice, ['IncorrectState', 400]);
    assert.deepEqual(result.ghost, ['InvalidParameterValue', 400]);
    assert.deepEqual(result.no_instance, ['InvalidInstanceID.NotFound', 400]);
    assert.deepEqual(result.no_assoc, ['InvalidAssociationID.NotFound', 400]);
    assert.deepEqual(result.replaced, ['associating', profileId, true]);
    assert.deepEqual(result.old_gone, ['InvalidAssociationID.NotFound', 400]);
    assert.deepEqual(result.by_state, [instanceId, plainId].sort());
    assert.deepEqual(result.instance_profile, { Arn: profileArn, Id: profileId });

    const off = nimbus.aws(['ec2', 'disassociate-iam-instance-profile', '--association-id', result.replaced_id as string]);
    assert.equal(off.status, 0, off.stderr);
    assert.equal((off.json as { IamInstanceProfileAssociation: { State: string } }).IamInstanceProfileAssociation.State, 'disassociating');
    const d = nimbus.aws(['ec2', 'describe-instances', '--instance-ids', plainId]);
    const inst = (d.json as { Reservations: { Instances: { IamInstanceProfile?: unknown }[] }[] }).Reservations[0]!.Instances[0]!;
    assert.equal(inst.IamInstanceProfile, undefined);
    assert.equal(roleCredentials(nimbus, plainId).status, 1, 'no profile, no credentials');
  });

  it('issues temporary credentials that act as the role, reused until they near expiry', () => {
    const first = roleCredentials(nimbus, instanceId);
    assert.equal(first.status, 0, first.stderr);
    const c = first.creds!;
    assert.equal(c.RoleName, 'app');
    assert.match(c.AccessKeyId, /^ASIA[A-Z2-7]{16}$/);
    assert.ok(c.SecretAccessKey.length >= 40 && c.Token.length > 100);
    const hours = (Date.parse(c.Expiration) - Date.now()) / 3_600_000;
    assert.ok(hours > 5.9 && hours <= 6, `expires in ${hours} h`);
    assert.deepEqual(roleCredentials(nimbus, instanceId).creds, c, 'the same credentials while hours remain');

    const result = nimbus.boto3(`
me = session.client("sts").get_caller_identity()
mine = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
result = {"arn": me["Arn"], "account": me["Account"], "user": me["UserId"], "instances": sorted(mine)}
`, { credentials: asSession(c) }) as { arn: string; account: string; user: string; instances: string[] };
    assert.equal(result.arn, `arn:aws:sts::000000000000:assumed-role/app/${instanceId}`);
    assert.equal(result.account, '000000000000');
    assert.match(result.user, new RegExp(`^AROA[A-Z2-7]{17}:${instanceId}$`));
    assert.deepEqual(result.instances, [instanceId, plainId].sort());

    const cli = nimbus.aws(['ec2', 'describe-instances', '--instance-ids', instanceId], { credentials: asSession(c) });
    assert.equal(cli.status, 0, cli.stderr);
  });

  it('accepts the session token in a presigned URL, and refuses a tampered or missing one', async () => {
    const c = roleCredentials(nimbus, instanceId).creds!;
    const url = await presignGet(nimbus.url, { Action: 'DescribeRegions', Version: '2016-11-15' }, 60, { credentials: asSession(c) });
    assert.match(url, /X-Amz-Security-Token=/);
    assert.equal((await parse(await fetch(url))).status, 200);

    const tampered = { ...asSession(c), sessionToken: `${c.Token.slice(0, -4)}AAAA` };
    const result = nimbus.boto3(`
${outcome('ec2.describe_instances()')}
on_ec2 = r
${outcome('session.client("sts").get_caller_identity()')}
on_sts = r
${outcome('session.client("iam").list_roles()')}
result = [on_ec2, on_sts, r]
`, { credentials: tampered });
    assert.deepEqual(result, [['AuthFailure', 401], ['InvalidClientTokenId', 403], ['InvalidClientTokenId', 403]]);
    const noToken = nimbus.aws(['ec2', 'describe-instances'], { credentials: { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey } });
    assert.equal(cliErrorCode(noToken), 'AuthFailure');
  });

  it('refuses expired credentials with RequestExpired (EC2) and ExpiredToken (STS)', async () => {
    const short = roleCredentials(nimbus, instanceId, ['--duration-seconds', '1']);
    assert.equal(short.status, 0, short.stderr);
    await new Promise((r) => setTimeout(r, 1500));
    const result = nimbus.boto3(`
${outcome('ec2.describe_instances()')}
on_ec2 = r
${outcome('session.client("sts").get_caller_identity()')}
result = [on_ec2, r]
`, { credentials: asSession(short.creds!) });
    assert.deepEqual(result, [['RequestExpired', 400], ['ExpiredToken', 403]]);
    const fresh = roleCredentials(nimbus, instanceId);
    assert.notEqual(fresh.creds!.AccessKeyId, short.creds!.AccessKeyId, 'expiring credentials are replaced');
    assert.equal(roleCredentials(nimbus, instanceId, ['--duration-seconds', '0']).status, 1);
  });

  it('follows the profile: a new role gives new credentials, no role gives none', () => {
    const before = roleCredentials(nimbus, instanceId).creds!;
    const swap = nimbus.boto3(`
iam = session.client("iam")
iam.remove_role_from_instance_profile(InstanceProfileName="app-profile", RoleName="app")
result = {"none": None}
`);
    assert.deepEqual(swap, { none: null });
    assert.equal(roleCredentials(nimbus, instanceId).status, 1, 'a profile without a role gives no credentials');
    const add = nimbus.aws(['iam', 'add-role-to-instance-profile', '--instance-profile-name', 'app-profile', '--role-name', 'batch']);
    assert.equal(add.status, 0, add.stderr);
    const after = roleCredentials(nimbus, instanceId).creds!;
    assert.equal(after.RoleName, 'batch');
    assert.notEqual(after.AccessKeyId, before.AccessKeyId);
    const me = nimbus.aws(['sts', 'get-caller-identity'], { credentials: asSession(after) });
    assert.equal((me.json as { Arn: string }).Arn, `arn:aws:sts::000000000000:assumed-role/batch/${instanceId}`);
  });
});
