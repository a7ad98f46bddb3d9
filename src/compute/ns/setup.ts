/**
 * Choosing the compute driver at start-up, and what the ns driver needs before it serves: the
 * minimal image (built on first start) published as a public AMI in every region.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { localImageId, publishLocalImages } from '../../catalog/images.js';
import { REGION_NAMES } from '../../catalog/regions.js';
import type { Config } from '../../config.js';
import { EC2_METADATA_PATH, EC2_METADATA_SCRIPT } from '../../images/ec2-metadata.js';
import { INIT_SCRIPT } from '../../images/init-script.js';
import { buildMinimalImage } from '../../images/minimal.js';
import { MINIMAL_IMAGE } from '../../images/names.js';
import { ImageStore } from '../../images/store.js';
import type { Clock } from '../../util/clock.js';
import type { MetadataService } from '../../imds/server.js';
import { NetworkController } from '../../network/controller.js';
import { installationTag } from '../../network/names.js';
import type { InstanceEndpoint } from '../../server/instance-endpoint.js';
import type { Store } from '../../store/store.js';
import type { ComputeDriver, InstanceNetwork } from '../driver.js';
import { SimDriver } from '../sim.js';
import { KeyStore } from '../../storage/keys.js';
import { NsDriver, nsSupport } from './driver.js';

/** Builds the minimal image if the data directory has none, or one whose own scripts are not this version's. */
async function ensureMinimalImage(dataDir: string, log: (line: string) => void): Promise<void> {
  const images = new ImageStore(dataDir);
  const current = (file: string, text: string) => {
    const path = join(images.rootfs(MINIMAL_IMAGE), file);
    return existsSync(path) && readFileSync(path, 'utf8') === text;
  };
  if (images.get(MINIMAL_IMAGE) && current('sbin/init', INIT_SCRIPT) && current(EC2_METADATA_PATH.slice(1), EC2_METADATA_SCRIPT)) return;
  const t0 = Date.now();
  log(`nimbus: building the ${MINIMAL_IMAGE} image`);
  await buildMinimalImage(dataDir);
  log(`nimbus: built the ${MINIMAL_IMAGE} image in ${Date.now() - t0} ms`);
}

/** Publishes every local image as a public AMI, and returns the lookup AMI id → local image name. */
function publish(images: ImageStore): Map<string, string> {
  const manifests = images.list();
  publishLocalImages(manifests.map((m) => ({ name: m.name, description: m.description, architecture: m.architecture, createdAt: m.createdAt })));
  const byAmi = new Map<string, string>();
  for (const region of REGION_NAMES) {
    for (const m of manifests) for (const storeBacked of [false, true]) byAmi.set(localImageId(region, m.name, storeBacked), m.name);
  }
  return byAmi;
}

async function startNsDriver(config: Config, log: (line: string) => void, network: InstanceNetwork, caPem: string): Promise<NsDriver> {
  await ensureMinimalImage(config.dataDir, log);
  const byAmi = publish(new ImageStore(config.dataDir));
  const keys = new KeyStore(config.dataDir);
  return new NsDriver({
    dataDir: config.dataDir,
    cgroupParent: config.ns.cgroupParent,
    stopTimeoutMs: config.ns.stopTimeoutMs,
    resolveImage: (imageId) => byAmi.get(imageId),
    network,
    // The CA of the API's HTTPS endpoint for instances, which the AMIs trust at boot.
    instanceFiles: { 'ca.crt': caPem },
    volumeKey: (volumeId) => keys.dataKeyOf(volumeId),
  });
}

/** A started compute driver, with the ns driver's network controller, metadata service and instance endpoint. */
export interface ChosenDriver {
  driver: ComputeDriver;
  network?: NetworkController;
  metadata?: MetadataService;
  endpoint?: InstanceEndpoint;
}

/**
 * `ns` as asked (it fails when this host cannot run it); `auto` takes ns when this host can run it
 * (root, crun) and its image builds, else sim. The log says which and why. (`sim` as asked is
 * chosen in ../choose.ts, without this module.)
 */
export async function chooseNsOrSim(config: Config, clock: Clock, log: (line: string) => void, store: Store): Promise<ChosenDriver> {
  const sim = () => ({ driver: new SimDriver(clock, config.sim) });
  const ns = async () => {
    // Loaded only for ns: their certificate library costs the sim driver's start-up ~50 ms otherwise.
    const [{ roleSource }, { MetadataService, METADATA_IP, METADATA_IPV6, METADATA_PORT }, { InstanceEndpoint }] = await Promise.all([
      import('../../imds/role.js'), import('../../imds/server.js'), import('../../server/instance-endpoint.js'),
    ]);
    const metadata = new MetadataService(store, clock, config.dataDir, roleSource(store, config.roleSessionSeconds));
    const endpoint = new InstanceEndpoint(config.dataDir);
    const services = [
      { address: METADATA_IP, port: METADATA_PORT, metadata: true, attach: metadata.attach.bind(metadata) },
      { address: METADATA_IPV6, port: METADATA_PORT, metadata: true, attach: metadata.attach.bind(metadata) },
      ...endpoint.services(METADATA_IP),
    ];
    const network = new NetworkController(store, { log, tag: installationTag(config.dataDir), services });
    try {
      return { driver: await startNsDriver(config, log, network, endpoint.caPem), network, metadata, endpoint };
    } catch (err) {
      await network.close();
      throw err;
    }
  };
  const support = await nsSupport();
  if (config.driver === 'ns') {
    if (!support.ok) throw new Error(`--driver ns: this host cannot run the ns driver: ${support.reason}`);
    const chosen = await ns();
    log(`nimbus: compute driver ns (asked for with --driver ns; ${support.crun}, cgroups ${support.cgroups.mode})`);
    return chosen;
  }
  if (!support.ok) {
    log(`nimbus: compute driver sim (auto: the ns driver cannot run here: ${support.reason})`);
    return sim();
  }
  try {
    const chosen = await ns();
    log(`nimbus: compute driver ns (auto: running as root with ${support.crun}, cgroups ${support.cgroups.mode})`);
    return chosen;
  } catch (err) {
    log(`nimbus: compute driver sim (auto: the ns driver could not start: ${(err as Error).message})`);
    return sim();
  }
}
