/**
 * IAM roles, inline policies and instance profiles through the AWS CLI and boto3, and STS:
 * GetCallerIdentity and AssumeRole.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { POLICY, TRUST, outcome } from './support/iam.js';
import { cliErrorCode, createAccount, startServer, type NimbusProcess } from './support/server.js';

describe('IAM roles and instance profiles', () => {
  let nimbus: NimbusProcess;
  before(async () => {
    nimbus = await startServer();
  });
  after(() => nimbus.dispose());

  it('creates, reads and lists roles through the CLI, with IAM ids, ARNs and the trust policy', () => {
    const r = nimbus.aws(['iam', 'create-role', '--role-name', 'web', '--path', '/app/', '--assume-role-policy-document', TRUST,
      '--description', 'web servers', '--max-session-duration', '7200', '--tags', 'Key=team,Value=blue']);
    assert.equal(r.status, 0, r.stderr);
    const role = (r.json as { Role: Record<string, unknown> }).Role;
    assert.match(role.RoleId as string, /^AROA[A-Z2-7]{17}$/);
    assert.equal(role.Arn, 'arn:aws:iam::000000000000:role/app/web');
    assert.equal(role.Path, '/app/');
    assert.deepEqual(role.AssumeRolePolicyDocument, JSON.parse(TRUST), 'the CLI decodes the URL-encoded document');
    assert.equal(role.MaxSessionDuration, 7200);
    assert.deepEqual(role.Tags, [{ Key: 'team', Value: 'blue' }]);

    const got = nimbus.aws(['iam', 'get-role', '--role-name', 'WEB']);
    assert.equal(got.status, 0, got.stderr);
    assert.equal((got.json as { Role: { RoleId: string; Description: string } }).Role.RoleId, role.RoleId, 'names are case-insensitive');
    assert.equal((got.json as { Role: { Description: string } }).Role.Description, 'web servers');
  });

  it('answers bad input with IAM codes and statuses', () => {
    const result = nimbus.boto3(`
# Unvalidated, so that the server sees what botocore would refuse (MaxSessionDuration=60).
iam = session.client("iam", config=botocore.config.Config(parameter_validation=False))
trust = ${JSON.stringify(TRUST)}
result = {}
${outcome('iam.create_role(RoleName="web", AssumeRolePolicyDocument=trust)')}
result["duplicate"] = r
${outcome('iam.create_role(RoleName="bad name!", AssumeRolePolicyDocument=trust)')}
result["name"] = r
${outcome('iam.create_role(RoleName="x" * 65, AssumeRolePolicyDocument=trust)')}
result["long"] = r
${outcome('iam.create_role(RoleName="p", Path="no-slashes", AssumeRolePolicyDocument=trust)')}
result["path"] = r
${outcome('iam.create_role(RoleName="j", AssumeRolePolicyDocument="{not json")')}
result["json"] = r
${outcome('iam.create_role(RoleName="s", AssumeRolePolicyDocument="{}")')}
result["statement"] = r
${outcome('iam.create_role(RoleName="m", AssumeRolePolicyDocument=trust, MaxSessionDuration=60)')}
result["session"] = r
${outcome('iam.get_role(RoleName="nobody")')}
result["missing"] = r
${outcome('iam.delete_role(RoleName="nobody")')}
result["delete"] = r
${outcome('iam.get_instance_profile(InstanceProfileName="none")')}
result["profile"] = r
${outcome('iam.list_roles(MaxItems=0)')}
result["maxitems"] = r
`);
    assert.deepEqual(result, {
      duplicate: ['EntityAlreadyExists', 409],
      name: ['ValidationError', 400],
      long: ['ValidationError', 400],
      path: ['ValidationError', 400],
      json: ['MalformedPolicyDocument', 400],
      statement: ['MalformedPolicyDocument', 400],
      session: ['ValidationError', 400],
      missing: ['NoSuchEntity', 404],
      delete: ['NoSuchEntity', 404],
      profile: ['NoSuchEntity', 404],
      maxitems: ['ValidationError', 400],
    });
    const missingParam = nimbus.aws(['iam', 'get-role', '--role-name', '']);
    assert.notEqual(missingParam.status, 0);
    const raw = nimbus.aws(['iam', 'get-role', '--role-name', 'nobody']);
    assert.equal(cliErrorCode(raw), 'NoSuchEntity');
    assert.match(raw.stderr, /The role with name nobody cannot be found\./);
  });

  it('pages ListRoles with MaxItems and Marker, and filters by PathPrefix', () => {
    const result = nimbus.boto3(`
iam = session.client("iam")
for n in ["r1", "r2", "r3", "r4"]:
    iam.create_role(RoleName=n, Path="/paged/", AssumeRolePolicyDocument=${JSON.stringify(TRUST)})
pages, marker = [], None
while True:
    kw = {"PathPrefix": "/paged/", "MaxItems": 3}
    if marker: kw["Marker"] = marker
    page = iam.list_roles(**kw)
    pages.append([r["RoleName"] for r in page["Roles"]])
    if not page["IsTruncated"]: break
    marker = page["Marker"]
everything = [r["RoleName"] for r in iam.get_paginator("list_roles").paginate(PaginationConfig={"PageSize": 2}).build_full_result()["Roles"]]
result = {"pages": pages, "all": everything}
`) as { pages: string[][]; all: string[] };
    assert.deepEqual(result.pages, [['r1', 'r2', 'r3'], ['r4']]);
    assert.deepEqual(result.all, ['r1', 'r2', 'r3', 'r4', 'web']);
  });

  it('keeps inline policies and refuses to delete a role that has them', () => {
    const result = nimbus.boto3(`
iam = session.client("iam")
iam.create_role(RoleName="worker", AssumeRolePolicyDocument=${JSON.stringify(TRUST)})
iam.put_role_policy(RoleName="worker", PolicyName="describe", PolicyDocument=${JSON.stringify(POLICY)})
iam.put_role_policy(RoleName="worker", PolicyName="again", PolicyDocument=${JSON.stringify(POLICY)})
got = iam.get_role_policy(RoleName="worker", PolicyName="describe")
listed = iam.list_role_policies(RoleName="worker")["PolicyNames"]
${outcome('iam.delete_role(RoleName="worker")')}
conflict = r
${outcome('iam.put_role_policy(RoleName="worker", PolicyName="bad", PolicyDocument="[")')}
malformed = r
iam.delete_role_policy(RoleName="worker", PolicyName="describe")
iam.delete_role_policy(RoleName="worker", PolicyName="again")
${outcome('iam.get_role_policy(RoleName="worker", PolicyName="describe")')}
gone = r
iam.update_assume_role_policy(RoleName="worker", PolicyDocument=${JSON.stringify(TRUST.replace('ec2.amazonaws.com', 'lambda.amazonaws.com'))})
trust = iam.get_role(RoleName="worker")["Role"]["AssumeRolePolicyDocument"]
iam.delete_role(RoleName="worker")
result = {"doc": got["PolicyDocument"], "listed": listed, "conflict": conflict, "malformed": malformed, "gone": gone,
          "principal": trust["Statement"][0]["Principal"]["Service"]}
`);
    assert.deepEqual(result, {
      doc: JSON.parse(POLICY),
      listed: ['again', 'describe'],
      conflict: ['DeleteConflict', 409],
      malformed: ['MalformedPolicyDocument', 400],
      gone: ['NoSuchEntity', 404],
      principal: 'lambda.amazonaws.com',
    });
  });

  it('puts one role in an instance profile, and refuses deletes while they are joined', () => {
    const result = nimbus.boto3(`
iam = session.client("iam")
trust = ${JSON.stringify(TRUST)}
iam.create_role(RoleName="joined", AssumeRolePolicyDocument=trust)
iam.create_role(RoleName="second", AssumeRolePolicyDocument=trust)
made = iam.create_instance_profile(InstanceProfileName="joined-profile", Path="/ops/")["InstanceProfile"]
${outcome('iam.create_instance_profile(InstanceProfileName="joined-profile")')}
duplicate = r
iam.add_role_to_instance_profile(InstanceProfileName="joined-profile", RoleName="joined")
${outcome('iam.add_role_to_instance_profile(InstanceProfileName="joined-profile", RoleName="second")')}
limit = r
got = iam.get_instance_profile(InstanceProfileName="joined-profile")["InstanceProfile"]
for_role = [p["InstanceProfileName"] for p in iam.list_instance_profiles_for_role(RoleName="joined")["InstanceProfiles"]]
listed = [p["InstanceProfileName"] for p in iam.list_instance_profiles(PathPrefix="/ops/")["InstanceProfiles"]]
${outcome('iam.delete_role(RoleName="joined")')}
role_conflict = r
${outcome('iam.delete_instance_profile(InstanceProfileName="joined-profile")')}
profile_conflict = r
iam.remove_role_from_instance_profile(InstanceProfileName="joined-profile", RoleName="joined")
${outcome('iam.remove_role_from_instance_profile(InstanceProfileName="joined-profile", RoleName="joined")')}
not_in = r
iam.delete_instance_profile(InstanceProfileName="joined-profile")
iam.delete_role(RoleName="joined")
result = {"id": made["InstanceProfileId"], "arn": made["Arn"], "roles": [x["RoleName"] for x in got["Roles"]],
          "duplicate": duplicate, "limit": limit, "for_role": for_role, "listed": listed, "role_conflict": role_conflict,
          "profile_conflict": profile_conflict, "not_in": not_in,
          "left": [p["InstanceProfileName"] for p in iam.list_instance_profiles()["InstanceProfiles"]]}
`) as Record<string, unknown>;
    assert.match(result.id as string, /^AIPA[A-Z2-7]{17}$/);
    assert.equal(result.arn, 'arn:aws:iam::000000000000:instance-profile/ops/joined-profile');
    assert.deepEqual(result.roles, ['joined']);
    assert.deepEqual(result.duplicate, ['EntityAlreadyExists', 409]);
    assert.deepEqual(result.limit, ['LimitExceeded', 409]);
    assert.deepEqual(result.for_role, ['joined-profile']);
    assert.deepEqual(result.listed, ['joined-profile']);
    assert.deepEqual(result.role_conflict, ['DeleteConflict', 409]);
    assert.deepEqual(result.profile_conflict, ['DeleteConflict', 409]);
    assert.deepEqual(result.not_in, ['NoSuchEntity', 404]);
    assert.deepEqual(result.left, []);
  });

  it('keeps each account\'s IAM to itself; STS names the caller', () => {
    const other = createAccount(nimbus.dataDir, 'other');
    const roles = nimbus.aws(['iam', 'list-roles'], { credentials: other });
    assert.equal(roles.status, 0, roles.stderr);
    assert.deepEqual((roles.json as { Roles: unknown[] }).Roles, []);
    const me = nimbus.aws(['sts', 'get-caller-identity'], { credentials: other });
    assert.equal(me.status, 0, me.stderr);
    assert.deepEqual(me.json, { UserId: other.accountId, Account: other.accountId, Arn: `arn:aws:iam::${other.accountId}:root` });
  });

  it('AssumeRole gives a session in the role\'s account when the trust policy admits the caller', () => {
    const partner = createAccount(nimbus.dataDir, 'partner');
    const trust = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${partner.accountId}:root` }, Action: 'sts:AssumeRole' }] });
    const made = nimbus.aws(['iam', 'create-role', '--role-name', 'shared', '--assume-role-policy-document', trust]);
    assert.equal(made.status, 0, made.stderr);
    const result = nimbus.boto3(`
sts = session.client("sts", config=botocore.config.Config(parameter_validation=False))
got = sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/shared", RoleSessionName="deploy")
c = got["Credentials"]
as_role = boto3.session.Session(aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
me = as_role.client("sts").get_caller_identity()
roles = [r["RoleName"] for r in as_role.client("iam").list_roles()["Roles"]]
${outcome('sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/app/web", RoleSessionName="deploy")')}
untrusted = r
${outcome('sts.assume_role(RoleArn="arn:aws:iam::000000000000:role/shared", RoleSessionName="deploy", DurationSeconds=60)')}
short = r
result = {"key": c["AccessKeyId"][:4], "user": got["AssumedRoleUser"]["Arn"], "me": me["Arn"], "account": me["Account"],
          "sees_roles": "shared" in roles, "untrusted": untrusted, "short": short}
`, { credentials: partner });
    assert.deepEqual(result, {
      key: 'ASIA',
      user: 'arn:aws:sts::000000000000:assumed-role/shared/deploy',
      me: 'arn:aws:sts::000000000000:assumed-role/shared/deploy',
      account: '000000000000',
      sees_roles: true,
      untrusted: ['AccessDenied', 403],
      short: ['ValidationError', 400],
    });
  });
});
