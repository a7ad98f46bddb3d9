/** `nimbus` — the command line: serve, accounts, … */
import { Command, InvalidArgumentError } from 'commander';
import { openStore, startNimbus } from '../app.js';
import { defaultConfig, type Config } from '../config.js';
import { createAccount } from '../accounts.js';
import { DEBIAN_IMAGE, MINIMAL_IMAGE } from '../images/names.js';
import { ImageStore } from '../images/store.js';
import { registerAdmin } from './admin.js';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return n;
};

/** `--limit NAME=N`: NAME is a key of config.limits. */
function setLimit(config: Config, setting: string): void {
  const m = /^([A-Za-z]+)=(\d+)$/.exec(setting);
  if (!m || !Object.hasOwn(config.limits, m[1]!)) {
    throw new InvalidArgumentError(`--limit must be NAME=N with NAME one of: ${Object.keys(config.limits).join(', ')}`);
  }
  config.limits[m[1] as keyof Config['limits']] = Number(m[2]);
}

const program = new Command('nimbus').description('An EC2-compatible compute cloud that you run yourself');

program
  .command('serve')
  .description('run the API server and the reconcilers of this host')
  .option('--host <host>', 'address to listen on', '127.0.0.1')
  .option('--port <port>', 'port to listen on', int('port'), 4566)
  .option('--data-dir <dir>', 'where state, images and volumes live', process.env.NIMBUS_DATA_DIR ?? '.nimbus')
  .option('--driver <driver>', 'compute driver: auto, sim or ns', 'auto')
  .option('--sim-delay-ms <ms>', 'how long each sim-driver transition takes', int('sim-delay-ms'))
  .option('--instance-limit <n>', 'On-Demand instances per account and region', int('instance-limit'))
  .option('--limit <name=n>', 'set one of EC2\'s limits (repeatable), e.g. vpcsPerRegion=5', (v: string, all: string[]) => [...all, v], [] as string[])
  .option('--terminated-retention-ms <ms>', 'how long terminated instances stay visible', int('terminated-retention-ms'))
  .option('--request-timeout-ms <ms>', 'how long a client may take to send one request', int('request-timeout-ms'))
  .option('--ns-cgroup-parent <name>', 'ns driver: the cgroup instances\' cgroups are made in', 'nimbus')
  .option('--ns-stop-timeout-ms <ms>', 'ns driver: how long a graceful stop may take before the instance is killed', int('ns-stop-timeout-ms'))
  .option('--public-pool <cidr>', 'the IPv4 pool public and Elastic IPs come from', '198.18.0.0/15')
  .option('--role-session-seconds <s>', 'how long instances\' role credentials last (EC2: 21600)', int('role-session-seconds'))
  .action(async (opts: {
    host: string; port: number; dataDir: string; driver: string;
    simDelayMs?: number; instanceLimit?: number; limit: string[]; terminatedRetentionMs?: number; requestTimeoutMs?: number;
    nsCgroupParent: string; nsStopTimeoutMs?: number; roleSessionSeconds?: number; publicPool: string;
  }) => {
    if (!['auto', 'sim', 'ns'].includes(opts.driver)) throw new InvalidArgumentError('--driver must be auto, sim or ns');
    const config: Config = defaultConfig({ host: opts.host, port: opts.port, dataDir: opts.dataDir, driver: opts.driver as Config['driver'] });
    if (opts.simDelayMs !== undefined) {
      config.sim = { pendingMs: opts.simDelayMs, stoppingMs: opts.simDelayMs, shuttingDownMs: opts.simDelayMs };
    }
    if (opts.instanceLimit !== undefined) config.limits.instancesPerRegion = opts.instanceLimit;
    for (const setting of opts.limit) setLimit(config, setting);
    if (opts.terminatedRetentionMs !== undefined) config.terminatedRetentionMs = opts.terminatedRetentionMs;
    if (opts.requestTimeoutMs !== undefined) config.requestTimeoutMs = opts.requestTimeoutMs;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(opts.nsCgroupParent)) throw new InvalidArgumentError('--ns-cgroup-parent must be a plain cgroup name');
    config.ns.cgroupParent = opts.nsCgroupParent;
    if (opts.nsStopTimeoutMs !== undefined) config.ns.stopTimeoutMs = opts.nsStopTimeoutMs;
    const pool = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(opts.publicPool);
    if (!pool || pool[1]!.split('.').some((o) => Number(o) > 255) || Number(pool[2]) < 8 || Number(pool[2]) > 30) {
      throw new InvalidArgumentError('--public-pool must be an IPv4 CIDR block from /8 to /30, e.g. 198.18.0.0/15');
    }
    config.publicPool = opts.publicPool;
    if (opts.roleSessionSeconds !== undefined) {
      if (opts.roleSessionSeconds < 10) throw new InvalidArgumentError('--role-session-seconds must be at least 10');
      config.roleSessionSeconds = opts.roleSessionSeconds;
    }
    const nimbus = await startNimbus(config);
    let closing = false;
    const shutdown = (signal: string) => {
      if (closing) return;
      closing = true;
      console.log(`nimbus: ${signal}, shutting down`);
      nimbus.close().then(() => process.exit(0), (err) => {
        console.error(err);
        process.exit(1);
      });
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  });

const images = program.command('images').description('manage the local images the ns driver boots');
images
  .command('build')
  .argument('<name>', `the image to build: ${MINIMAL_IMAGE} or ${DEBIAN_IMAGE}`)
  .description('build (or rebuild) a local image in the data directory')
  .option('--data-dir <dir>', 'the data directory', process.env.NIMBUS_DATA_DIR ?? '.nimbus')
  .action(async (name: string, opts: { dataDir: string }) => {
    if (name !== MINIMAL_IMAGE && name !== DEBIAN_IMAGE) throw new InvalidArgumentError(`unknown image ${name}: the images that can be built are ${MINIMAL_IMAGE}, ${DEBIAN_IMAGE}`);
    const t0 = Date.now();
    // The builders are loaded only here: `serve` holds none of their code.
    if (name === DEBIAN_IMAGE) {
      const [{ buildDebianImage }, { ProgressDisplay }] = await Promise.all([import('../images/debian.js'), import('../images/debian/progress.js')]);
      const display = new ProgressDisplay(process.stdout);
      try {
        const d = await buildDebianImage(opts.dataDir, { onProgress: (p) => display.update(p), log: (line) => display.log(line) });
        display.done();
        console.log(`built ${d.name} (${(d.sizeBytes / 1048576).toFixed(1)} MiB, ${Object.keys(d.packages).length} packages) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      } finally {
        display.done();
      }
      return;
    }
    const { buildMinimalImage } = await import('../images/minimal.js');
    const m = await buildMinimalImage(opts.dataDir, { progress: (line) => console.log(`  ${line}`) });
    console.log(`built ${m.name} (${(m.sizeBytes / 1048576).toFixed(1)} MiB) in ${Date.now() - t0} ms`);
  });
images
  .command('list')
  .description('list the local images')
  .option('--data-dir <dir>', 'the data directory', process.env.NIMBUS_DATA_DIR ?? '.nimbus')
  .action((opts: { dataDir: string }) => {
    for (const m of new ImageStore(opts.dataDir).list()) console.log(`${m.name}\t${m.architecture}\t${m.createdAt}\t${m.description}`);
  });

const accounts = program.command('accounts').description('manage accounts and their access keys');
accounts
  .command('create')
  .description('create an account with its own access key and secret')
  .option('--name <name>', 'a name for the account', 'default')
  .option('--data-dir <dir>', 'the data directory', process.env.NIMBUS_DATA_DIR ?? '.nimbus')
  .option('--json', 'print the result as JSON')
  .action(async (opts: { name: string; dataDir: string; json?: boolean }) => {
    const store = openStore(opts.dataDir);
    const created = await createAccount(store, opts.name);
    await store.close();
    if (opts.json) console.log(JSON.stringify(created));
    else {
      console.log(`account ${created.accountId} (${created.name})`);
      console.log(`AWS_ACCESS_KEY_ID=${created.accessKeyId}`);
      console.log(`AWS_SECRET_ACCESS_KEY=${created.secretAccessKey}`);
    }
  });
accounts
  .command('list')
  .description('list accounts')
  .option('--data-dir <dir>', 'the data directory', process.env.NIMBUS_DATA_DIR ?? '.nimbus')
  .action(async (opts: { dataDir: string }) => {
    const store = openStore(opts.dataDir);
    for (const a of await store.listAccounts()) console.log(`${a.accountId}\t${a.name}\t${a.createdAt}`);
    await store.close();
  });

registerAdmin(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`nimbus: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
