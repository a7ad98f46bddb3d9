/** The composition root: builds the store, driver, reconcilers, services and the HTTP listener. */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { releaseInstanceTypes } from './catalog/instance-types.js';
import { REGION_NAMES } from './catalog/regions.js';
import type { ComputeDriver } from './compute/driver.js';
import { chooseDriver } from './compute/choose.js';
import { InstanceReconciler } from './compute/reconciler.js';
import type { Config } from './config.js';
import type { MetadataService } from './imds/server.js';
import type { InstanceEndpoint } from './server/instance-endpoint.js';
import type { NetworkController } from './network/controller.js';
import { Authenticator } from './server/authenticator.js';
import { Dispatcher } from './server/dispatcher.js';
import { HttpServer } from './server/http-server.js';
import { IdleCollector } from './server/idle-collector.js';
import { memoryRelease } from './server/memory-release.js';
import type { ControlPlane } from './services/context.js';
import { ec2Service } from './services/ec2/index.js';
import { iamService } from './services/iam/index.js';
import { ssmService } from './services/ssm/index.js';
import { stsService } from './services/sts/index.js';
import { SqliteStore } from './store/sqlite.js';
import { StorageController, type InstanceHost } from './storage/controller.js';
import type { Store } from './store/store.js';
import { systemClock, type Clock } from './util/clock.js';

export interface Nimbus {
  readonly url: string;
  readonly plane: ControlPlane;
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export function openStore(dataDir: string): Store {
  mkdirSync(dataDir, { recursive: true });
  return new SqliteStore(join(dataDir, 'nimbus.db'));
}

/** What the controllers are told after the instance reconciler changed instances' states. */
const RECONCILED = 'ReconcileInstances';

/** How often the reconciler looks again at an instance in transition on a driver that cannot say when it is due (ns). */
const NS_POLL_MS = 100;

export async function startNimbus(given: Config, opts: { clock?: Clock; log?: (line: string) => void } = {}): Promise<Nimbus> {
  // Absolute once and for all: crun and the instances' bundles resolve paths from other directories.
  const config: Config = { ...given, dataDir: resolve(given.dataDir) };
  const log = opts.log ?? ((line: string) => console.log(line));
  const clock = opts.clock ?? systemClock;
  const store = openStore(config.dataDir);
  let driver: ComputeDriver;
  let network: NetworkController | undefined;
  let metadata: MetadataService | undefined;
  let endpoint: InstanceEndpoint | undefined;
  try {
    ({ driver, network, metadata, endpoint } = await chooseDriver(config, clock, log, store));
  } catch (err) {
    await store.close();
    throw err;
  }
  const base = { config, store, clock, driver };
  // The reconciler's own state changes (booted, stopped, terminated) concern the controllers that
  // map addresses and mount volumes as an operation's would: they hear of them under this name.
  const reconciled = () => plane.committed?.(RECONCILED);
  const reconciler = new InstanceReconciler({ ...base, committed: reconciled }, driver.name === 'ns' ? { pollMs: NS_POLL_MS } : {});
  const storage = new StorageController(store, clock, config.dataDir, driver.mountNamespace && driver.runningIds && driver.rootVolume && driver.imagesInUse && driver.beforeDestroy ? (driver as InstanceHost) : undefined, log);
  const plane: ControlPlane = {
    ...base,
    kick: () => reconciler.kick(),
    committed: (operation) => {
      network?.kick();
      storage.committed(operation);
    },
  };

  const ec2 = ec2Service();
  const services = [ec2, ssmService(), iamService(), stsService()];
  const auth = new Authenticator(store, clock, isLoopback(config.host));
  const dispatcher = new Dispatcher(plane, auth, services, REGION_NAMES);
  const release = memoryRelease();
  const idle = release && new IdleCollector(() => {
    store.releaseMemory();
    releaseInstanceTypes();
    release();
  });
  const server = new HttpServer(dispatcher, {
    onRequest: idle && (() => idle.activity()),
    host: config.host,
    port: config.port,
    maxBodyBytes: config.maxBodyBytes,
    requestTimeoutMs: config.requestTimeoutMs,
    errorProtocol: ec2.protocol,
    admin: async (path) => {
      if (path === '/_nimbus/health') return { status: 200, body: { status: 'ok', driver: driver.name } };
      // The certificate that verifies instance identity documents (only the ns driver runs a metadata service).
      if (path === '/_nimbus/instance-identity/certificate' && metadata) {
        return { status: 200, body: metadata.identity.certificatePem, contentType: 'application/x-pem-file' };
      }
      return undefined;
    },
  });
  const addr = await server.listen();
  endpoint?.serveWith(server);
  reconciler.start();
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  log(`nimbus: listening on ${url}`);
  return {
    url,
    plane,
    async close() {
      idle?.close();
      await server.close();
      await reconciler.stop();
      await driver.close();
      await storage.close();
      await network?.close();
      await store.close();
    },
  };
}
