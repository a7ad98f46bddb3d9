/**
 * The debian-12 image, end to end: `bin/nimbus images build debian-12` debootstraps Debian 12 with
 * a progress display; a server with `--driver ns` on that data directory publishes it as the
 * public AMI `nimbus-debian-12-*`; an instance of it boots (PID 1: the Nimbus init shim run by
 * Debian's /bin/sh), runs `#!/bin/sh` user data once, as root, with Debian's python3, the default
 * user `admin` has passwordless sudo and sshd listens; GetConsoleOutput shows it all; stop/start
 * does not run user data again; reboot boots it again in place; terminate leaves nothing on the host.
 *
 * Then cloud-init: an instance with `#cloud-config` user data and an instance profile boots under
 * Debian's cloud-init, which finds Nimbus's metadata service with its EC2 data source, sets the
 * hostname, installs the key pair's key for `admin` and applies write_files and runcmd; inside it
 * the AWS CLI and boto3, with no configuration, call Nimbus with the role's credentials from the
 * metadata service, which stop working once the role is removed and they expire.
 *
 * A build downloads ~100 MB and takes a minute or two; it needs root (debootstrap and the ns
 * driver do). NIMBUS_SKIP_DEBIAN=1 skips it for a quick local run.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cgroupDirs, detectCgroups } from '../src/compute/ns/cgroups.js';
import { containerId, NsDriver, nsSupport } from '../src/compute/ns/driver.js';
import { mountsUnder } from '../src/compute/ns/volume.js';
import { NimbusProcess, ROOT } from './support/server.js';
import { installationNamespaces } from './support/ns-api.js';
import { SshClient } from './support/ssh.js';

function whySkip(): string | undefined {
  if (process.env.NIMBUS_SKIP_DEBIAN === '1') return 'NIMBUS_SKIP_DEBIAN=1';
  if (process.getuid?.() !== 0) return 'needs root (debootstrap, chroot and the ns driver do)';
  const r = spawnSync('sh', [join(ROOT, 'scripts/setup-host.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) return `scripts/setup-host.sh failed (${r.status})`;
  return undefined;
}

const skip = whySkip();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const count = (text: string, needle: string) => text.split(needle).length - 1;

const ROLE_SESSION_SECONDS = 20;

const CLOUD_CONFIG = `#cloud-config
write_files:
  - path: /etc/nimbus-test.conf
    content: |
      written by cloud-init
runcmd:
  - [ sh, -c, 'echo "runcmd ran as $(id -un)" > /root/runcmd.txt' ]
`;

const USER_DATA = `#!/bin/sh
echo "ud-debian-version=$(cat /etc/debian_version)"
echo "ud-python=$(python3 --version 2>&1)"
echo "ud-whoami=$(whoami)"
echo "ud-shell=$(readlink -f /bin/sh)"
echo "ud-admin-sudo=$(su admin -c 'sudo -n id -u' 2>&1)"
echo "ud-sshd=$(ss -Hltn 'sport = :22' | wc -l)"
echo "ud-cloud-init=$(cloud-init --version 2>&1)"
echo "ud-curl=$(curl --version | head -n 1 | cut -d' ' -f1-2)"
`;

describe('the debian-12 image', { skip, timeout: 30 * 60_000 }, () => {
  let dataDir: string;
  let nimbus: NimbusProcess | undefined;
  const cgroupParent = `nimbus-test-${randomBytes(4).toString('hex')}`;
  let amiId: string;
  let buildOutput = '';

  const aws = (args: string[]) => {
    const r = nimbus!.aws(args);
    assert.equal(r.status, 0, `aws ${args.join(' ')}: ${r.stderr}`);
    return r.json as Record<string, any>;
  };
  const waitFor = (waiter: string, id: string) =>
    nimbus!.boto3(`ec2.get_waiter(${JSON.stringify(waiter)}).wait(InstanceIds=[${JSON.stringify(id)}], WaiterConfig={'Delay': 0.2, 'MaxAttempts': 300})`);
  const consoleOf = (id: string): string => {
    const out = aws(['ec2', 'get-console-output', '--instance-id', id, '--latest']).Output ?? '';
    return out;
  };
  async function consoleHas(id: string, text: string, times = 1, timeoutMs = 30_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const out = consoleOf(id);
      if (count(out, text) >= times) return out;
      if (Date.now() > end) throw new Error(`console of ${id} never showed ${JSON.stringify(text)} ×${times}:\n${out}`);
      await sleep(200);
    }
  }
  function traces(id: string): string[] {
    const found: string[] = [];
    const dir = join(dataDir, 'instances', id);
    if (existsSync(dir)) found.push(`directory ${dir}`);
    for (const m of mountsUnder(dataDir)) found.push(`mount ${m}`);
    const list = spawnSync('crun', ['--root', join(dataDir, 'crun'), 'list', '--format', 'json'], { encoding: 'utf8' });
    if (list.stdout.includes(containerId(id))) found.push(`crun container ${containerId(id)}`);
    for (const d of cgroupDirs(detectCgroups(), `/${cgroupParent}/${containerId(id)}`)) if (existsSync(d)) found.push(`cgroup ${d}`);
    return found;
  }

  before(async () => {
    const support = await nsSupport();
    assert.ok(support.ok, `ns driver unsupported here: ${support.ok ? '' : support.reason}`);
    dataDir = mkdtempSync(join(tmpdir(), 'nimbus-debian-'));
  });

  after(async () => {
    if (!dataDir) return;
    await nimbus?.stop();
    const driver = new NsDriver({ dataDir, cgroupParent });
    for (const id of await driver.list()) await driver.destroy(id).catch((err: unknown) => console.error(err));
    await driver.close();
    // What a failed test left of the data plane: this installation's namespaces (their links go with them).
    for (const ns of installationNamespaces(dataDir)) spawnSync('ip', ['netns', 'delete', ns]);
    for (const d of cgroupDirs(driver.cgroups, cgroupParent)) if (existsSync(d)) rmdirSync(d);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('builds with debootstrap, showing its phases as progress', async () => {
    const t0 = Date.now();
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(join(ROOT, 'bin/nimbus'), ['images', 'build', 'debian-12', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', (c: Buffer) => { buildOutput += c.toString(); });
      child.stderr.on('data', (c: Buffer) => { buildOutput += c.toString(); });
      child.on('error', reject);
      child.on('close', resolve);
    });
    console.log(`debian-12 built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    assert.equal(code, 0, buildOutput);
    // Not a TTY here: plain progress lines, one per phase and tenth.
    for (const phase of ['Retrieving packages', 'Extracting packages', 'Unpacking base system', 'Configuring base system', 'Configuring the image']) {
      assert.match(buildOutput, new RegExp(`^\\s+\\d+% ${phase}`, 'm'), `progress shows ${phase}:\n${buildOutput}`);
    }
    assert.match(buildOutput, /Configuring base system \d+\/\d+/);
    assert.doesNotMatch(buildOutput, /\r|\x1b\[/, 'no terminal control characters when not a TTY');
    assert.match(buildOutput, /^built debian-12 \(\d+\.\d MiB, \d+ packages\)/m);

    const manifest = JSON.parse(readFileSync(join(dataDir, 'images/debian-12/manifest.json'), 'utf8')) as Record<string, any>;
    assert.equal(manifest.name, 'debian-12');
    assert.equal(manifest.architecture, 'x86_64');
    assert.deepEqual(manifest.init, ['/usr/sbin/nimbus-init']);
    assert.equal(manifest.stopSignal, 'SIGUSR2');
    assert.equal(manifest.rebootSignal, 'SIGTERM');
    for (const pkg of ['openssh-server', 'cloud-init', 'python3', 'iproute2', 'ca-certificates', 'sudo', 'curl']) {
      assert.ok(manifest.packages[pkg], `${pkg} is installed`);
    }
    const rootfs = join(dataDir, 'images/debian-12/rootfs');
    assert.match(readFileSync(join(rootfs, 'etc/debian_version'), 'utf8'), /^12\.\d+/);
    assert.deepEqual(spawnSync('sh', ['-c', `ls ${rootfs}/etc/ssh/ssh_host_* 2>/dev/null`], { encoding: 'utf8' }).stdout, '', 'no SSH host keys shipped');
    assert.ok(existsSync(join(dataDir, 'cache/debootstrap/bookworm-amd64')), 'the .debs are cached for the next build');
  });

  it('is published as nimbus-debian-12-* and boots under the ns driver, running user data once', async () => {
    nimbus = new NimbusProcess({
      dataDir, driver: 'ns', args: ['--ns-cgroup-parent', cgroupParent, '--ns-stop-timeout-ms', '5000', '--role-session-seconds', String(ROLE_SESSION_SECONDS)],
    });
    await nimbus.start();
    const images = aws(['ec2', 'describe-images', '--owners', 'amazon', '--filters', 'Name=name,Values=nimbus-debian-12-*']).Images as Record<string, any>[];
    assert.equal(images.length, 1, JSON.stringify(images));
    assert.match(images[0]!.Name, /^nimbus-debian-12-\d{8}$/);
    assert.equal(images[0]!.Architecture, 'x86_64');
    amiId = images[0]!.ImageId;

    const inst = aws(['ec2', 'run-instances', '--image-id', amiId, '--instance-type', 't3.small', '--count', '1', '--user-data', USER_DATA]).Instances[0];
    const id = inst.InstanceId as string;
    waitFor('instance_running', id);
    const out = await consoleHas(id, 'cloud-init finished');
    const field = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(out)?.[1];
    assert.match(field('ud-debian-version') ?? '', /^12\.\d+$/, out);
    assert.match(field('ud-python') ?? '', /^Python 3\.11\.\d+$/, out);
    assert.equal(field('ud-whoami'), 'root');
    assert.equal(field('ud-shell'), '/usr/bin/dash');
    assert.equal(field('ud-admin-sudo'), '0', 'admin has passwordless sudo');
    assert.ok(Number(field('ud-sshd')) >= 1, 'sshd listens on port 22');
    assert.match(field('ud-cloud-init') ?? '', /cloud-init 2\d\.\d/);
    assert.match(field('ud-curl') ?? '', /^curl \d/);
    assert.match(out, /booting ip-[0-9-]+ \(Debian GNU\/Linux 12 \(bookworm\)/);
    assert.match(out, /generated SSH host keys/);
    assert.match(out, /cloud-init finished \(exit status 0\)/);

    aws(['ec2', 'stop-instances', '--instance-ids', id]);
    waitFor('instance_stopped', id);
    aws(['ec2', 'start-instances', '--instance-ids', id]);
    waitFor('instance_running', id);
    const again = await consoleHas(id, 'cloud-init finished', 2);
    assert.equal(count(again, 'ud-python='), 1, `user data ran once only:\n${again}`);
    assert.equal(count(again, 'poweroff: shutting down'), 1, 'stop sent the image\'s stop signal (poweroff) to its init');
    assert.equal(count(again, 'generated SSH host keys'), 1, 'host keys persist on the root volume');

    aws(['ec2', 'reboot-instances', '--instance-ids', id]);
    const rebooted = await consoleHas(id, 'cloud-init finished', 3);
    assert.equal(count(rebooted, 'reached reboot'), 1, rebooted);
    assert.equal(count(rebooted, 'ud-python='), 1, 'user data does not run on reboot');

    aws(['ec2', 'terminate-instances', '--instance-ids', id]);
    waitFor('instance_terminated', id);
    assert.deepEqual(traces(id), []);
  });
  it('boots under cloud-init with #cloud-config applied; the role\'s credentials work from inside, then stop', async () => {
    aws(['iam', 'create-role', '--role-name', 'app', '--assume-role-policy-document',
      JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] })]);
    aws(['iam', 'create-instance-profile', '--instance-profile-name', 'app-profile']);
    aws(['iam', 'add-role-to-instance-profile', '--instance-profile-name', 'app-profile', '--role-name', 'app']);
    const key = aws(['ec2', 'create-key-pair', '--key-name', 'deb']).KeyMaterial as string;
    const sg = aws(['ec2', 'create-security-group', '--group-name', 'deb-ssh', '--description', 'ssh']).GroupId as string;
    aws(['ec2', 'authorize-security-group-ingress', '--group-id', sg, '--protocol', 'tcp', '--port', '22', '--cidr', '0.0.0.0/0']);
    const inst = aws(['ec2', 'run-instances', '--image-id', amiId, '--instance-type', 't3.small', '--key-name', 'deb', '--security-group-ids', sg,
      '--iam-instance-profile', 'Name=app-profile', '--user-data', CLOUD_CONFIG]).Instances[0];
    const id = inst.InstanceId as string;
    waitFor('instance_running', id);
    const described = aws(['ec2', 'describe-instances', '--instance-ids', id]).Reservations[0].Instances[0];
    const ssh = new SshClient(key, 'admin');
    try {
      await consoleHas(id, 'cloud-init finished', 1, 120_000);
      await ssh.ready(described.PublicIpAddress, undefined, 60_000);
      const run = (command: string) => {
        const r = ssh.run(described.PublicIpAddress, command);
        assert.equal(r.status, 0, `${command}: ${r.stderr}${r.stdout}`);
        return r.stdout.trim();
      };
      assert.match(run('cloud-init status --wait'), /status: done/);
      // The EC2 data source found the metadata service (the cloud's name comes from DMI, which a container has not).
      assert.equal(run('cloud-init query v1.platform'), 'ec2', 'cloud-init runs on its EC2 data source');
      assert.equal(run('cloud-init query v1.instance_id'), id);
      assert.equal(run('hostname'), described.PrivateDnsName.split('.')[0]);
      assert.equal(run('cat /etc/nimbus-test.conf'), 'written by cloud-init');
      assert.equal(run('sudo cat /root/runcmd.txt'), 'runcmd ran as root');

      // No configuration: the CLI and boto3 find the region, the endpoint and the role's credentials by themselves.
      const self = JSON.parse(run(`aws ec2 describe-instances --instance-ids ${id} --output json`));
      assert.equal(self.Reservations[0].Instances[0].InstanceId, id);
      const who = JSON.parse(run('aws sts get-caller-identity --output json'));
      assert.equal(who.Arn, `arn:aws:sts::000000000000:assumed-role/app/${id}`);
      assert.equal(run(`python3 -c "import boto3; print(boto3.client('ec2').describe_instances(InstanceIds=['${id}'])['Reservations'][0]['Instances'][0]['State']['Name'])"`), 'running');

      // Keep this set of credentials, take the role away: no new ones, and these stop once they expire.
      const imds = 'http://169.254.169.254/latest/meta-data/iam';
      assert.equal(run(`curl -s ${imds}/security-credentials/`), 'app', 'the role is listed by name');
      const info = JSON.parse(run(`curl -s ${imds}/info`));
      assert.equal(info.InstanceProfileArn, described.IamInstanceProfile.Arn);
      assert.equal(info.InstanceProfileId, described.IamInstanceProfile.Id);
      const creds = JSON.parse(run(`curl -s ${imds}/security-credentials/app`));
      assert.equal(creds.Code, 'Success');
      assert.equal(creds.Type, 'AWS-HMAC');
      assert.match(creds.AccessKeyId, /^ASIA/);
      aws(['iam', 'remove-role-from-instance-profile', '--instance-profile-name', 'app-profile', '--role-name', 'app']);
      const gone = ssh.run(described.PublicIpAddress, 'curl -s -o /dev/null -w "%{http_code}" http://169.254.169.254/latest/meta-data/iam/security-credentials/app');
      assert.equal(gone.stdout.trim(), '404', 'the metadata service has no credentials for a removed role');
      const withSaved = `AWS_ACCESS_KEY_ID=${creds.AccessKeyId} AWS_SECRET_ACCESS_KEY=${creds.SecretAccessKey} AWS_SESSION_TOKEN=${creds.Token}`;
      const wait = Date.parse(creds.Expiration) - Date.now() + 1500;
      await sleep(Math.max(0, wait));
      const expired = ssh.run(described.PublicIpAddress, `${withSaved} aws ec2 describe-instances --instance-ids ${id} 2>&1`);
      assert.notEqual(expired.status, 0, 'expired credentials are refused');
      assert.match(expired.stdout, /RequestExpired|ExpiredToken|expired/i);
    } finally {
      ssh.dispose();
    }
    aws(['ec2', 'terminate-instances', '--instance-ids', id]);
    waitFor('instance_terminated', id);
    assert.deepEqual(traces(id), []);
  });
});
