/**
 * Real instances through the API: a server started with `--driver ns` publishes the minimal image
 * as a public AMI and boots it under crun. Through the AWS CLI and boto3: user data runs once, as
 * root, in its own pid namespace with its own hostname; GetConsoleOutput shows it; a file written
 * to / survives stop/start and user data does not run again; terminate leaves nothing on the
 * host; a kill -9 of the server leaves instances running and the restarted server adopts them.
 * Catalogue AMIs without a local image are refused under ns. Needs root (CI runs as root).
 */
import assert from 'node:assert/strict';
import { hostname as hostHostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { cliErrorCode } from './support/server.js';
import { count, NsApi, nsSkipReason, sleep } from './support/ns-api.js';

const skip = nsSkipReason();

/** Echoes who and where it runs, then leaves a file on / and a boot hook that prints it on every boot. */
const USER_DATA = `#!/bin/sh
echo "ud-whoami=$(whoami)"
echo "ud-hostname=$(hostname)"
echo "ud-ppid=$PPID"
echo "ud-grandparent=$(sed -n 's/^PPid:[[:space:]]*//p' /proc/$PPID/status)"
echo "ud-ps-begin"
ps -o pid,comm
echo "ud-ps-end"
echo "written-by-user-data-$$" > /persisted.txt
mkdir -p /etc/nimbus/boot.d
printf '#!/bin/sh\\necho "boot-hook: $(cat /persisted.txt)"\\n' > /etc/nimbus/boot.d/50-show-file
chmod 755 /etc/nimbus/boot.d/50-show-file
`;

describe('ns instances through the API', { skip, timeout: 120_000 }, () => {
  const api = new NsApi();
  const aws = (args: string[]) => api.aws(args);
  const runMinimal = (userData?: string) => {
    const args = ['ec2', 'run-instances', '--image-id', api.amiId, '--instance-type', 't3.micro', '--count', '1'];
    if (userData) args.push('--user-data', userData);
    return aws(args).Instances[0] as { InstanceId: string; PrivateDnsName: string };
  };

  before(() => api.start());
  after(() => api.dispose());

  it('says at start-up that it runs the ns driver and built the minimal image', () => {
    assert.match(api.nimbus.output, /compute driver ns \(asked for with --driver ns/);
    assert.match(api.nimbus.output, /built the minimal image/);
  });

  it('publishes the minimal image as a public AMI every account can launch', () => {
    const images = aws(['ec2', 'describe-images', '--owners', 'amazon', '--filters', 'Name=name,Values=nimbus-minimal-*']).Images as Record<string, any>[];
    assert.equal(images.length, 1, JSON.stringify(images));
    const img = images[0]!;
    assert.match(img.Name, /^nimbus-minimal-\d{8}$/);
    assert.equal(img.Public, true);
    assert.equal(img.State, 'available');
    assert.equal(img.PlatformDetails, 'Linux/UNIX');
    assert.equal(img.ImageId, api.amiId);
    assert.match(api.amiId, /^ami-[0-9a-f]{17}$/);
    const other = api.nimbus.aws(['ec2', 'describe-images', '--image-ids', api.amiId, '--region', 'eu-west-1']);
    assert.equal(cliErrorCode(other), 'InvalidAMIID.NotFound', 'AMI ids are regional');
  });

  it('refuses a catalogue AMI it has no root filesystem for, naming the images that can run', () => {
    const windows = aws(['ec2', 'describe-images', '--owners', 'amazon', '--filters', 'Name=platform,Values=windows', '--max-items', '1']).Images[0];
    const r = api.nimbus.aws(['ec2', 'run-instances', '--image-id', windows.ImageId, '--instance-type', 't3.micro', '--count', '1']);
    assert.equal(cliErrorCode(r), 'Unsupported', r.stderr);
    assert.ok(r.stderr.includes(windows.ImageId) && r.stderr.includes(api.amiId) && /nimbus-minimal-/.test(r.stderr), r.stderr);
  });

  it('runs user data once, as root, in its own pid namespace and hostname; / survives stop/start; terminate leaves nothing', async () => {
    const inst = runMinimal(USER_DATA);
    const id = inst.InstanceId;
    await api.waitFor('running', id);
    await api.consoleHas(id, 'user data finished');
    const out = api.consoleOf(id); // through GetConsoleOutput
    const field = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(out)?.[1];
    assert.equal(field('ud-whoami'), 'root');
    const own = inst.PrivateDnsName.split('.')[0]!;
    assert.equal(field('ud-hostname'), own);
    assert.notEqual(own, hostHostname());
    // Its shell's parent is init's child: the instance's own pid 1 started it.
    assert.ok(field('ud-ppid') === '1' || field('ud-grandparent') === '1', out);
    const ps = out.slice(out.indexOf('ud-ps-begin'), out.indexOf('ud-ps-end')).split('\n').slice(2).filter((l) => l.trim());
    const pids = ps.map((l) => Number(l.trim().split(/\s+/)[0]));
    assert.ok(pids.includes(1), `pid 1 is the instance's init:\n${ps.join('\n')}`);
    assert.ok(ps.length < 10, `only the instance's processes are listed:\n${ps.join('\n')}`);
    assert.ok(!ps.some((l) => /\bnode\b|crun|conmon/.test(l)), `no host process is listed:\n${ps.join('\n')}`);
    assert.equal(count(out, 'ud-whoami='), 1);

    aws(['ec2', 'stop-instances', '--instance-ids', id]);
    await api.waitFor('stopped', id);
    assert.equal(api.initPid(id), undefined, 'nothing runs while it is stopped');
    aws(['ec2', 'start-instances', '--instance-ids', id]);
    await api.waitFor('running', id);
    await api.consoleHas(id, 'boot-hook: written-by-user-data-');
    const again = api.consoleOf(id);
    assert.equal(count(again, 'ud-whoami='), 1, `user data ran once only:\n${again}`);
    assert.equal(count(again, 'running user data'), 1);
    assert.equal(count(again, 'booting '), 2, 'the console shows both boots');

    aws(['ec2', 'terminate-instances', '--instance-ids', id]);
    await api.waitFor('terminated', id);
    assert.deepEqual(api.traces(id), []);
  });

  it('survives a kill -9 of the server: the restarted server adopts the running instance', async () => {
    const { InstanceId: id } = runMinimal();
    await api.waitFor('running', id);
    await api.consoleHas(id, 'boot finished');
    const pid = api.initPid(id);
    assert.ok(pid, 'crun runs it');
    await api.nimbus.kill9();
    assert.equal(api.initPid(id), pid, 'the instance outlives the server');
    await api.startServer();
    await sleep(500); // the restarted reconciler's first (full) pass
    const desc = aws(['ec2', 'describe-instances', '--instance-ids', id]);
    assert.equal(desc.Reservations[0].Instances[0].State.Name, 'running');
    assert.equal(api.initPid(id), pid, 'adopted, not rebooted');
    aws(['ec2', 'terminate-instances', '--instance-ids', id]);
    await api.waitFor('terminated', id);
    assert.deepEqual(api.traces(id), []);
  });
});
