/**
 * Real instances through the API: a server started with `--driver ns` publishes the minimal image
 * as a public AMI and boots it under crun. Through the AWS CLI and boto3: user data runs once, as
 * root, in its own pid namespace with its own hostname; GetConsoleOutput shows it; a file written
 * to / survives stop/start and user data does not run again; terminate leaves nothing on the
 * host; a kill -9 of the server leaves instances running and the restarted server adopts them.
 * Catalogue AMIs without a local image are refused under ns. Needs root (CI runs as root).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs';
import { hostname as hostHostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cgroupDirs, detectCgroups } from '../src/compute/ns/cgroups.js';
import { containerId, NsDriver, nsSupport } from '../src/compute/ns/driver.js';
import { mountsUnder } from '../src/compute/ns/volume.js';
import { cliErrorCode, NimbusProcess, ROOT } from './support/server.js';

function setUpHost(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  const r = spawnSync('sh', [join(ROOT, 'scripts/setup-host.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) return `scripts/setup-host.sh failed (${r.status})`;
  return undefined;
}

const skip = setUpHost();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const count = (text: string, needle: string) => text.split(needle).length - 1;

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
  let dataDir: string;
  let nimbus: NimbusProcess;
  const cgroupParent = `nimbus-test-${randomBytes(4).toString('hex')}`;
  let amiId: string;

  const aws = (args: string[]) => {
    const r = nimbus.aws(args);
    assert.equal(r.status, 0, `aws ${args.join(' ')}: ${r.stderr}`);
    return r.json as Record<string, any>;
  };
  /** A boto3 waiter, polling fast (the CLI's waiters wait 15 s between polls). */
  const waitFor = (waiter: string, id: string) =>
    nimbus.boto3(`ec2.get_waiter(${JSON.stringify(waiter)}).wait(InstanceIds=[${JSON.stringify(id)}], WaiterConfig={'Delay': 0.2, 'MaxAttempts': 150})`);
  const consoleOf = (id: string): string => aws(['ec2', 'get-console-output', '--instance-id', id]).Output ?? '';
  async function consoleHas(id: string, text: string, times = 1, timeoutMs = 10_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const out = consoleOf(id);
      if (count(out, text) >= times) return out;
      if (Date.now() > end) throw new Error(`console of ${id} never showed ${JSON.stringify(text)} ×${times}:\n${out}`);
      await sleep(100);
    }
  }
  const runMinimal = (userData?: string) => {
    const args = ['ec2', 'run-instances', '--image-id', amiId, '--instance-type', 't3.micro', '--count', '1'];
    if (userData) args.push('--user-data', userData);
    return aws(args).Instances[0] as { InstanceId: string; PrivateDnsName: string };
  };
  const crunRoot = () => join(dataDir, 'crun');
  const initPid = (id: string): number | undefined => {
    const r = spawnSync('crun', ['--root', crunRoot(), 'state', containerId(id)], { encoding: 'utf8' });
    return r.status === 0 ? (JSON.parse(r.stdout) as { pid: number }).pid : undefined;
  };

  /** Everything of an instance the host could still hold. */
  function traces(id: string): string[] {
    const found: string[] = [];
    const dir = join(dataDir, 'instances', id);
    if (existsSync(dir)) found.push(`directory ${dir}`);
    for (const m of mountsUnder(dataDir)) found.push(`mount ${m}`);
    const list = spawnSync('crun', ['--root', crunRoot(), 'list', '--format', 'json'], { encoding: 'utf8' });
    if (list.stdout.includes(containerId(id))) found.push(`crun container ${containerId(id)}`);
    for (const d of cgroupDirs(detectCgroups(), `/${cgroupParent}/${containerId(id)}`)) if (existsSync(d)) found.push(`cgroup ${d}`);
    return found;
  }

  before(async () => {
    const support = await nsSupport();
    assert.ok(support.ok, `ns driver unsupported here: ${support.ok ? '' : support.reason}`);
    dataDir = mkdtempSync(join(tmpdir(), 'nimbus-ns-api-'));
    nimbus = new NimbusProcess({ dataDir, driver: 'ns', args: ['--ns-cgroup-parent', cgroupParent, '--ns-stop-timeout-ms', '5000'] });
    await nimbus.start();
  });

  after(async () => {
    if (!dataDir) return;
    await nimbus?.stop();
    // Whatever a failed test left running goes, and the cgroup parent with it.
    const driver = new NsDriver({ dataDir, cgroupParent });
    for (const id of await driver.list()) await driver.destroy(id).catch((err: unknown) => console.error(err));
    await driver.close();
    for (const d of cgroupDirs(driver.cgroups, cgroupParent)) if (existsSync(d)) rmdirSync(d);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('says at start-up that it runs the ns driver and built the minimal image', () => {
    assert.match(nimbus.output, /compute driver ns \(asked for with --driver ns/);
    assert.match(nimbus.output, /built the minimal image/);
  });

  it('publishes the minimal image as a public AMI every account can launch', () => {
    const images = aws(['ec2', 'describe-images', '--owners', 'amazon', '--filters', 'Name=name,Values=nimbus-minimal-*']).Images as Record<string, any>[];
    assert.equal(images.length, 1, JSON.stringify(images));
    const img = images[0]!;
    assert.match(img.Name, /^nimbus-minimal-\d{8}$/);
    assert.equal(img.Public, true);
    assert.equal(img.State, 'available');
    assert.equal(img.PlatformDetails, 'Linux/UNIX');
    amiId = img.ImageId;
    assert.match(amiId, /^ami-[0-9a-f]{17}$/);
    const other = nimbus.aws(['ec2', 'describe-images', '--image-ids', amiId, '--region', 'eu-west-1']);
    assert.equal(cliErrorCode(other), 'InvalidAMIID.NotFound', 'AMI ids are regional');
  });

  it('refuses a catalogue AMI it has no root filesystem for, naming the images that can run', () => {
    const windows = aws(['ec2', 'describe-images', '--owners', 'amazon', '--filters', 'Name=platform,Values=windows', '--max-items', '1']).Images[0];
    const r = nimbus.aws(['ec2', 'run-instances', '--image-id', windows.ImageId, '--instance-type', 't3.micro', '--count', '1']);
    assert.equal(cliErrorCode(r), 'Unsupported', r.stderr);
    assert.ok(r.stderr.includes(windows.ImageId) && r.stderr.includes(amiId) && /nimbus-minimal-/.test(r.stderr), r.stderr);
  });

  it('runs user data once, as root, in its own pid namespace and hostname; / survives stop/start; terminate leaves nothing', async () => {
    const inst = runMinimal(USER_DATA);
    const id = inst.InstanceId;
    waitFor('instance_running', id);
    const out = await consoleHas(id, 'user data finished');
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
    waitFor('instance_stopped', id);
    assert.equal(initPid(id), undefined, 'nothing runs while it is stopped');
    aws(['ec2', 'start-instances', '--instance-ids', id]);
    waitFor('instance_running', id);
    const again = await consoleHas(id, 'boot-hook: written-by-user-data-');
    assert.equal(count(again, 'ud-whoami='), 1, `user data ran once only:\n${again}`);
    assert.equal(count(again, 'running user data'), 1);
    assert.equal(count(again, 'booting '), 2, 'the console shows both boots');

    aws(['ec2', 'terminate-instances', '--instance-ids', id]);
    waitFor('instance_terminated', id);
    assert.deepEqual(traces(id), []);
  });

  it('survives a kill -9 of the server: the restarted server adopts the running instance', async () => {
    const { InstanceId: id } = runMinimal();
    waitFor('instance_running', id);
    await consoleHas(id, 'boot finished');
    const pid = initPid(id);
    assert.ok(pid, 'crun runs it');
    await nimbus.kill9();
    assert.equal(initPid(id), pid, 'the instance outlives the server');
    await nimbus.start();
    await sleep(500); // the restarted reconciler's first (full) pass
    const desc = aws(['ec2', 'describe-instances', '--instance-ids', id]);
    assert.equal(desc.Reservations[0].Instances[0].State.Name, 'running');
    assert.equal(initPid(id), pid, 'adopted, not rebooted');
    aws(['ec2', 'terminate-instances', '--instance-ids', id]);
    waitFor('instance_terminated', id);
    assert.deepEqual(traces(id), []);
  });
});
