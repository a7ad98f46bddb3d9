/**
 * Real instances' lifecycle through the API, with the ns driver: a small type's limits are in
 * force (its memory limit OOM-kills inside the instance, not on the host); `poweroff` inside stops
 * or terminates the instance as its InstanceInitiatedShutdownBehavior says; RebootInstances and
 * `reboot` inside reboot it in place; GetConsoleOutput is base64 and `--latest` has the latest
 * output; after a kill -9 of the server the restarted one adopts running instances, stops one the
 * store says is stopped, and destroys a container it has no record of. Needs root (CI runs as root).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GetConsoleOutputCommand } from '@aws-sdk/client-ec2';
import { detectCgroups, oomKills } from '../src/compute/ns/cgroups.js';
import { containerId } from '../src/compute/ns/driver.js';
import { mountsUnder } from '../src/compute/ns/volume.js';
import { count, NsApi, nsSkipReason, sleep } from './support/ns-api.js';

const skip = nsSkipReason();

/** The first of `names` that exists in any of `dirs`, trimmed. */
function cgroupValue(dirs: string[], ...names: string[]): string | undefined {
  for (const name of names) {
    for (const d of dirs) {
      const file = join(d, name);
      if (existsSync(file)) return readFileSync(file, 'utf8').trim();
    }
  }
  return undefined;
}

async function until(what: string, fn: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Leaves a boot hook that counts boots on the root volume and prints the count, and prints the first one. */
const BOOT_COUNTER = `#!/bin/sh
mkdir -p /etc/nimbus/boot.d
printf '#!/bin/sh\\nn=$(( $(cat /var/lib/boot-count 2>/dev/null || echo 0) + 1 ))\\necho $n > /var/lib/boot-count\\necho "boot-count=$n"\\n' > /etc/nimbus/boot.d/10-count
chmod 755 /etc/nimbus/boot.d/10-count
/etc/nimbus/boot.d/10-count
echo "user-data-ran"
`;

describe('ns instance lifecycle through the API', { skip, timeout: 180_000 }, () => {
  const api = new NsApi();
  const run = (type: string, userData?: string, more: string[] = []): string => {
    const args = ['ec2', 'run-instances', '--image-id', api.amiId, '--instance-type', type, '--count', '1', ...more];
    if (userData) args.push('--user-data', userData);
    return api.aws(args).Instances[0].InstanceId;
  };

  before(() => api.start());
  after(() => api.dispose());

  it("enforces a t3.nano's limits: 512 MiB (the allocating process is OOM-killed inside), 2 vCPUs of CPU quota, a pids limit", async () => {
    const id = run('t3.nano', [
      '#!/bin/sh',
      'echo "allocating 700 MiB"',
      'dd if=/dev/zero of=/dev/null bs=700M count=1',
      'echo "dd exit status $?"',
      'echo "survived the allocation"',
      '',
    ].join('\n'));
    const out = await api.consoleHas(id, 'survived the allocation');
    assert.match(out, /dd exit status 137/, 'dd died of SIGKILL'); // 128 + 9
    const rel = `/${api.cgroupParent}/${containerId(id)}`;
    assert.ok((oomKills(detectCgroups(), rel) ?? 0) >= 1, 'the kernel OOM-killed it in the instance\'s own cgroup');

    // The instance lives on, and the host (the server with it) is fine.
    assert.equal((await api.describe(id)).State?.Name, 'running');
    assert.ok(api.initPid(id), 'its init still runs');
    const inside = await api.driver().exec(id, ['sh', '-c', 'echo alive; cat /proc/1/cmdline | tr "\\0" " "']);
    assert.match(inside.stdout, /^alive\n\/bin\/sh \/sbin\/init/);

    // What the type implies, as the host enforces it on the instance's cgroup.
    const dirs = api.cgroupDirsOf(id);
    const mib = 512 * 1024 * 1024;
    assert.equal(Number(cgroupValue(dirs, 'memory.limit_in_bytes', 'memory.max')), mib);
    const swap = cgroupValue(dirs, 'memory.memsw.limit_in_bytes');
    if (swap !== undefined) assert.equal(Number(swap), mib, 'no swap beyond the memory limit');
    const cpuMax = cgroupValue(dirs, 'cpu.max');
    if (cpuMax !== undefined) assert.equal(cpuMax, '200000 100000');
    else {
      assert.equal(cgroupValue(dirs, 'cpu.cfs_quota_us'), '200000', '2 vCPUs: two periods of CPU time per period');
      assert.equal(cgroupValue(dirs, 'cpu.cfs_period_us'), '100000');
    }
    assert.equal(cgroupValue(dirs, 'pids.max'), '4096');
    await api.terminate(id);
  });

  it('poweroff inside stops or terminates the instance as its InstanceInitiatedShutdownBehavior says', async () => {
    const ud = '#!/bin/sh\\nsleep 1\\necho powering-off\\npoweroff\\n';
    const launched = api.boto3(`
ids = {}
for behaviour in ('stop', 'terminate'):
    r = ec2.run_instances(ImageId=${JSON.stringify(api.amiId)}, InstanceType='t3.micro', MinCount=1, MaxCount=1,
                          UserData='${ud}', InstanceInitiatedShutdownBehavior=behaviour)
    ids[behaviour] = r['Instances'][0]['InstanceId']
# EC2's waiters give up on an instance still pending, so poll: pending, running, then stopping or shutting-down.
import time
want = {ids['stop']: 'stopped', ids['terminate']: 'terminated'}
for _ in range(300):
    instances = [i for r in ec2.describe_instances(InstanceIds=list(want))['Reservations'] for i in r['Instances']]
    if all(i['State']['Name'] == want[i['InstanceId']] for i in instances):
        break
    time.sleep(0.1)
result = {'ids': ids, 'instances': instances}
`) as { ids: Record<string, string>; instances: Record<string, any>[] };
    const byId = new Map(launched.instances.map((i) => [i.InstanceId as string, i]));
    const stopped = byId.get(launched.ids.stop!)!;
    const terminated = byId.get(launched.ids.terminate!)!;

    assert.equal(stopped.State.Name, 'stopped');
    assert.deepEqual(stopped.StateReason, { Code: 'Client.InstanceInitiatedShutdown', Message: 'Client.InstanceInitiatedShutdown: Instance initiated shutdown' });
    assert.match(stopped.StateTransitionReason, /^Instance initiated shutdown \(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} GMT\)$/);
    assert.equal(api.initPid(stopped.InstanceId), undefined, 'nothing of it runs');
    assert.ok(existsSync(join(api.dataDir, 'instances', stopped.InstanceId, 'volume')), 'its root volume is kept');
    assert.match(await api.consoleHas(stopped.InstanceId, 'reached power-off'), /poweroff: shutting down/);

    assert.equal(terminated.State.Name, 'terminated');
    assert.equal(terminated.StateReason.Code, 'Client.InstanceInitiatedShutdown');
    assert.deepEqual(api.traces(terminated.InstanceId), [], 'everything of it is gone');

    // Started again, it does not run its user data (nor power off) a second time.
    const id = stopped.InstanceId;
    api.aws(['ec2', 'start-instances', '--instance-ids', id]);
    await api.waitFor('running', id);
    await api.consoleHas(id, '[nimbus-init] boot finished', 2);
    await sleep(1500);
    const out = api.consoleOf(id);
    assert.equal(count(out, 'powering-off'), 1, out);
    assert.equal((await api.describe(id)).State?.Name, 'running');
    await api.terminate(id);
  });

  it('reboots in place, through RebootInstances and by `reboot` inside; GetConsoleOutput is base64 and --latest is up to date', async () => {
    const id = run('t3.micro', BOOT_COUNTER);
    await api.consoleHas(id, 'boot-count=1');
    const firstPid = api.initPid(id);
    assert.ok(firstPid);

    api.aws(['ec2', 'reboot-instances', '--instance-ids', id]);
    let out = await api.consoleHas(id, 'boot-count=2');
    assert.match(out, /reboot: shutting down/);
    assert.equal(count(out, 'user-data-ran'), 1, 'user data did not run again');
    const secondPid = api.initPid(id);
    assert.ok(secondPid && secondPid !== firstPid, 'a new init: it booted again');
    assert.equal((await api.describe(id)).State?.Name, 'running');

    const driver = api.driver();
    await driver.exec(id, ['reboot']);
    await driver.close();
    out = await api.consoleHas(id, 'boot-count=3');
    assert.equal(count(out, 'reboot: shutting down'), 2);
    await sleep(500); // time for the reconciler to act, were it to take the exit for a shutdown
    const inst = await api.describe(id);
    assert.equal(inst.State?.Name, 'running', 'a reboot inside is no shutdown');
    assert.equal(inst.StateReason, undefined);
    assert.ok(api.initPid(id) && api.initPid(id) !== secondPid);
    assert.equal(count(out, 'user-data-ran'), 1);

    const latest = api.consoleOf(id, true);
    assert.ok(latest.includes('boot-count=3'), latest);
    // On the wire the output is base64 (the CLI and boto3 decode it; the JavaScript SDK hands it over as it came).
    const raw = await api.nimbus.ec2().send(new GetConsoleOutputCommand({ InstanceId: id, Latest: true }));
    assert.equal(raw.InstanceId, id);
    assert.ok(raw.Timestamp instanceof Date);
    assert.match(raw.Output ?? '', /^[A-Za-z0-9+/]+={0,2}$/);
    const decoded = Buffer.from(raw.Output!, 'base64').toString('utf8');
    assert.ok(decoded.includes('boot-count=3') && decoded.includes('[nimbus-init] booting'), decoded);
    await api.terminate(id);
  });

  it('after a kill -9 of the server: running instances are adopted, a stopped one is not running, an orphan is destroyed', async () => {
    const r = api.aws(['ec2', 'run-instances', '--image-id', api.amiId, '--instance-type', 't3.micro', '--count', '2']);
    const [running, stopped] = (r.Instances as { InstanceId: string }[]).map((i) => i.InstanceId) as [string, string];
    await api.waitFor('running', running, stopped);
    api.aws(['ec2', 'stop-instances', '--instance-ids', stopped]);
    await api.waitFor('stopped', stopped);
    const pid = api.initPid(running);
    assert.ok(pid);

    await api.nimbus.kill9();
    // While the server is down: the stopped instance is booted behind its back, and an instance
    // it never heard of is made.
    const orphan = `i-${randomBytes(9).toString('hex').slice(0, 17)}`;
    const driver = api.driver();
    const spec = (instanceId: string) => ({
      instanceId, account: '000000000000', region: 'us-east-1', imageId: 'minimal', instanceType: 't3.micro', vcpus: 1, memoryMiB: 256, hostname: 'ip-10-0-0-9',
    });
    await driver.start(spec(stopped));
    await driver.start(spec(orphan));
    await driver.close();
    assert.ok(api.initPid(stopped) && api.initPid(orphan));
    assert.equal(api.initPid(running), pid, 'the instance outlives the server');

    await api.startServer();
    await until('the reconciler to stop the stopped instance and destroy the orphan',
      () => api.initPid(stopped) === undefined && api.traces(orphan).length === 0);
    assert.equal(api.initPid(running), pid, 'adopted, not rebooted');
    assert.equal((await api.describe(running)).State?.Name, 'running');
    assert.equal((await api.describe(stopped)).State?.Name, 'stopped');
    assert.deepEqual(api.traces(orphan), []);

    await api.terminate(running, stopped);
    const listed = await api.driver().list();
    const known = api.aws(['ec2', 'describe-instances', '--filters', 'Name=instance-state-name,Values=pending,running,stopping,stopped'])
      .Reservations.flatMap((res: { Instances: { InstanceId: string }[] }) => res.Instances.map((i) => i.InstanceId));
    assert.deepEqual(listed.filter((i) => !known.includes(i)), [], 'the host holds no instance the server does not know');
    assert.deepEqual(mountsUnder(api.dataDir), []);
  });
});
