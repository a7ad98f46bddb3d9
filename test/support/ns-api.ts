/**
 * What the API-level tests of the ns driver share: a server started with `--driver ns` on a fresh
 * data directory and a cgroup parent of its own, AWS CLI and boto3 helpers, and a look at the
 * host for what an instance left behind. `dispose()` destroys whatever a failed test left running
 * and removes the data directory and the cgroup parent, so nothing stays on the host.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { DescribeInstancesCommand, EC2Client, TerminateInstancesCommand, type Instance, type InstanceStateName } from '@aws-sdk/client-ec2';
import { cgroupDirs, detectCgroups } from '../../src/compute/ns/cgroups.js';
import { containerId, NsDriver, nsSupport } from '../../src/compute/ns/driver.js';
import { mountsUnder } from '../../src/compute/ns/volume.js';
import { installationTag } from '../../src/network/names.js';
import { NimbusProcess, ROOT } from './server.js';

/** Why the ns tests cannot run here (undefined: they can); installs what the driver needs when root. */
export function nsSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root';
  const r = spawnSync('sh', [join(ROOT, 'scripts/setup-host.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) return `scripts/setup-host.sh failed (${r.status})`;
  return undefined;
}

/** The network namespaces on the host of the installation on `dataDir` (VPC routers and instances). */
export function installationNamespaces(dataDir: string): string[] {
  const prefix = `nimbus-${installationTag(dataDir)}-`;
  const r = spawnSync('ip', ['-json', 'netns', 'list'], { encoding: 'utf8' });
  const list = (r.stdout.trim() ? JSON.parse(r.stdout) : []) as { name: string }[];
  return list.map((n) => n.name).filter((n) => n.startsWith(prefix));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const count = (text: string, needle: string) => text.split(needle).length - 1;

export class NsApi {
  readonly dataDir = mkdtempSync(join(tmpdir(), 'nimbus-ns-api-'));
  readonly cgroupParent = `nimbus-test-${randomBytes(4).toString('hex')}`;
  readonly nimbus: NimbusProcess;
  /** The minimal image's AMI id (set by start()). */
  amiId = '';
  /** A JavaScript SDK client for the server (re-made on every start: the port changes). */
  ec2!: EC2Client;

  constructor(extraArgs: string[] = []) {
    this.nimbus = new NimbusProcess({
      // Relative, as `npm start`'s default `.nimbus` is: crun and the bundles must still find it.
      dataDir: relative(process.cwd(), this.dataDir), driver: 'ns', args: ['--ns-cgroup-parent', this.cgroupParent, '--ns-stop-timeout-ms', '5000', ...extraArgs],
    });
  }

  async start(): Promise<void> {
    const support = await nsSupport();
    assert.ok(support.ok, `ns driver unsupported here: ${support.ok ? '' : support.reason}`);
    await this.startServer();
    const images = this.aws(['ec2', 'describe-images', '--owners', 'amazon', '--filters', 'Name=name,Values=nimbus-minimal-*']).Images;
    this.amiId = images[0].ImageId;
  }

  /** Starts the server (again, after a stop or kill -9) on the same data directory. */
  async startServer(): Promise<void> {
    await this.nimbus.start();
    this.ec2 = this.nimbus.ec2();
  }

  /** A driver on the server's data directory, for what a test does behind the server's back. */
  driver(): NsDriver {
    return new NsDriver({ dataDir: this.dataDir, cgroupParent: this.cgroupParent, resolveImage: () => 'minimal' });
  }

  async dispose(): Promise<void> {
    await this.nimbus.stop();
    const driver = this.driver();
    for (const id of await driver.list()) await driver.destroy(id).catch((err: unknown) => console.error(err));
    await driver.close();
    // What a failed test left of the data plane: this installation's namespaces (their links go with them).
    for (const ns of this.networkNamespaces()) spawnSync('ip', ['netns', 'delete', ns]);
    for (const dev of this.loopDevices()) spawnSync('losetup', ['--detach', dev]);
    for (const d of cgroupDirs(driver.cgroups, this.cgroupParent)) if (existsSync(d)) rmdirSync(d);
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Loop devices backed by this installation's volume images. */
  loopDevices(): string[] {
    const r = spawnSync('losetup', ['--json', '--list', '--output', 'NAME,BACK-FILE'], { encoding: 'utf8' });
    const list = (r.stdout.trim() ? JSON.parse(r.stdout).loopdevices : []) as { name: string; 'back-file'?: string }[];
    return list.filter((l) => (l['back-file'] ?? '').startsWith(`${this.dataDir}/`)).map((l) => l.name);
  }

  /** This installation's network namespaces on the host (VPC routers and instances). */
  networkNamespaces(): string[] {
    return installationNamespaces(this.dataDir);
  }

  /** The AWS CLI; fails the test unless it succeeds. */
  aws(args: string[]): Record<string, any> {
    const r = this.nimbus.aws(args);
    assert.equal(r.status, 0, `aws ${args.join(' ')}: ${r.stderr}`);
    return r.json as Record<string, any>;
  }

  boto3(script: string): any {
    return this.nimbus.boto3(script);
  }

  /** Polls (with the JavaScript SDK: no process per poll) until every instance is in `state`. */
  async waitFor(state: InstanceStateName, ...ids: string[]): Promise<void> {
    const end = Date.now() + 30_000;
    for (;;) {
      const states = await Promise.all(ids.map(async (id) => (await this.describe(id)).State?.Name));
      if (states.every((s) => s === state)) return;
      if (Date.now() > end) throw new Error(`${ids.join(', ')} never all ${state}: ${states.join(', ')}`);
      await sleep(100);
    }
  }

  async describe(id: string): Promise<Instance> {
    const r = await this.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
    return r.Reservations![0]!.Instances![0]!;
  }

  /** Terminates the instances, waits until they are, and checks that nothing of them is left on the host. */
  async terminate(...ids: string[]): Promise<void> {
    await this.ec2.send(new TerminateInstancesCommand({ InstanceIds: ids }));
    await this.waitFor('terminated', ...ids);
    for (const id of ids) assert.deepEqual(this.traces(id), [], `${id} left nothing behind`);
  }

  /** The console as the CLI shows it (it decodes EC2's base64). */
  consoleOf(id: string, latest = false): string {
    return this.aws(['ec2', 'get-console-output', '--instance-id', id, ...(latest ? ['--latest'] : [])]).Output ?? '';
  }

  /** Reads the console log on the host until it shows `text` `times` times (no CLI round trip per poll). */
  async consoleHas(id: string, text: string, times = 1, timeoutMs = 15_000): Promise<string> {
    const file = join(this.dataDir, 'instances', id, 'console.log');
    const end = Date.now() + timeoutMs;
    for (;;) {
      const out = existsSync(file) ? readFileSync(file, 'utf8') : '';
      if (count(out, text) >= times) return out;
      if (Date.now() > end) throw new Error(`console of ${id} never showed ${JSON.stringify(text)} ×${times}:\n${out}`);
      await sleep(50);
    }
  }

  /** The host pid of the instance's init, if crun runs it. */
  initPid(id: string): number | undefined {
    const r = spawnSync('crun', ['--root', join(this.dataDir, 'crun'), 'state', containerId(id)], { encoding: 'utf8' });
    if (r.status !== 0) return undefined;
    const st = JSON.parse(r.stdout) as { pid: number; status: string };
    return st.status === 'running' ? st.pid : undefined;
  }

  /** The instance's cgroup directories on the host (one per v1 hierarchy, or the v2 one). */
  cgroupDirsOf(id: string): string[] {
    return cgroupDirs(detectCgroups(), `/${this.cgroupParent}/${containerId(id)}`);
  }

  /** Everything of an instance the host could still hold. */
  traces(id: string): string[] {
    const found: string[] = [];
    const dir = join(this.dataDir, 'instances', id);
    if (existsSync(dir)) found.push(`directory ${dir}`);
    for (const m of mountsUnder(this.dataDir)) found.push(`mount ${m}`);
    const list = spawnSync('crun', ['--root', join(this.dataDir, 'crun'), 'list', '--format', 'json'], { encoding: 'utf8' });
    if (list.stdout.includes(containerId(id))) found.push(`crun container ${containerId(id)}`);
    for (const d of this.cgroupDirsOf(id)) if (existsSync(d)) found.push(`cgroup ${d}`);
    return found;
  }
}
