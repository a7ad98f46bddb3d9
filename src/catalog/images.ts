/**
 * The public AMI catalogue: images for every OS family EC2 offers, named as their publishers name
 * them. AMIs are regional, so each region gets its own ids (derived from region and name, hence
 * stable across restarts); each region's list is built once and then served from memory.
 */
import { createHash } from 'node:crypto';
import type { Image } from '@aws-sdk/client-ec2';
import { amazonImages } from './images/amazon.js';
import { distributionImages } from './images/distributions.js';
import { LINUX, type ImageSpec, type Publisher } from './images/spec.js';

/** AWS sets every public AMI to deprecate two years after its creation unless the owner chose earlier. */
const DEPRECATE_AFTER_YEARS = 2;

export interface RegionCatalogue {
  /** Sorted by ImageId. */
  images: readonly Image[];
  byId: ReadonlyMap<string, Image>;
  /** The host's local images as published here (a subset of images). */
  local: readonly Image[];
  /** The SSM public parameters of the region: name → the newest image of its line. */
  parameters: ReadonlyMap<string, PublicImageParameter>;
}

export interface PublicImageParameter {
  name: string;
  image: Image;
  /** How many releases the parameter has pointed at: SSM's Version. */
  version: number;
}

const cache = new Map<string, RegionCatalogue>();

/** A root filesystem this host has (the ns driver can boot it), published as a public AMI. */
export interface LocalImage {
  /** The image store's name (`minimal`). */
  name: string;
  description: string;
  architecture: 'x86_64' | 'arm64';
  /** When it was built (ISO 8601). */
  createdAt: string;
}

/** Nimbus publishes the images it builds under an owner of its own, with the `amazon` alias so `--owners amazon` finds them. */
export const NIMBUS_PUBLISHER: Publisher = { ownerId: '000000000001', alias: 'amazon' };

let localImages: readonly LocalImage[] = [];

/**
 * Publishes the host's local images in every region (replacing those published before). Their AMI
 * ids derive from region and image name only, so a rebuild keeps the id.
 */
export function publishLocalImages(images: readonly LocalImage[]): void {
  localImages = [...images];
  cache.clear();
}

/**
 * The AMI id a local image is published under in a region. Each is published twice: EBS-backed,
 * and instance-store-backed (`nimbus-instance-store-<name>-*`: the same root filesystem, but the
 * instance's own disk, so such instances reboot and terminate but cannot be stopped).
 */
export function localImageId(region: string, name: string, instanceStore = false): string {
  return derivedId('ami', region, NIMBUS_PUBLISHER.ownerId, `nimbus-${name}${instanceStore ? '-instance-store' : ''}`);
}

/** The published local images of a region (the ones the ns driver can boot). */
export function localImagesOf(region: string): readonly Image[] {
  return regionCatalogue(region).local;
}

function localImageSpec(image: LocalImage, instanceStore: boolean): ImageSpec {
  const day = image.createdAt.slice(0, 10).replace(/-/g, '');
  return {
    name: `nimbus-${instanceStore ? 'instance-store-' : ''}${image.name}-${day}`,
    description: image.description,
    publisher: NIMBUS_PUBLISHER,
    architecture: image.architecture,
    created: new Date(image.createdAt).toISOString(),
    ...(instanceStore ? { rootDeviceType: 'instance-store' as const, rootDeviceName: '/dev/sda1' } : { rootDeviceName: '/dev/xvda' }),
    volumeSize: 1,
    volumeType: 'gp3',
    billing: LINUX,
  };
}

/** A stable, region-specific id: `<prefix>-` and 17 hex digits of a hash of what identifies it. */
function derivedId(prefix: string, ...parts: string[]): string {
  return `${prefix}-${createHash('sha256').update([prefix, ...parts].join('\0')).digest('hex').slice(0, 17)}`;
}

function deprecation(created: string): string {
  const d = new Date(created);
  d.setUTCFullYear(d.getUTCFullYear() + DEPRECATE_AFTER_YEARS);
  d.setUTCSeconds(0, 0);
  return d.toISOString();
}

function toImage(region: string, spec: ImageSpec, imageId = derivedId('ami', region, spec.publisher.ownerId, spec.name)): Image {
  const { publisher } = spec;
  return {
    ImageId: imageId,
    ImageLocation: `${publisher.alias ?? publisher.ownerId}/${spec.name}`,
    State: 'available',
    OwnerId: publisher.ownerId,
    ImageOwnerAlias: publisher.alias,
    CreationDate: spec.created,
    Public: true,
    Architecture: spec.architecture,
    ImageType: 'machine',
    Name: spec.name,
    Description: spec.description,
    RootDeviceType: spec.rootDeviceType ?? 'ebs',
    RootDeviceName: spec.rootDeviceName,
    BlockDeviceMappings: spec.rootDeviceType === 'instance-store' ? [{ DeviceName: '/dev/sdb', VirtualName: 'ephemeral0' }] : [
      {
        DeviceName: spec.rootDeviceName,
        Ebs: {
          DeleteOnTermination: true,
          SnapshotId: derivedId('snap', region, publisher.ownerId, spec.name),
          VolumeSize: spec.volumeSize,
          VolumeType: spec.volumeType,
          Encrypted: false,
          ...(spec.volumeType === 'gp3' ? { Iops: 3000, Throughput: 125 } : {}),
        },
      },
    ],
    VirtualizationType: 'hvm',
    Hypervisor: 'xen',
    EnaSupport: true,
    SriovNetSupport: 'simple',
    // EC2 sends the lower-case `windows`, although the SDK's enum spells it `Windows`.
    Platform: spec.windows ? ('windows' as Image['Platform']) : undefined,
    PlatformDetails: spec.billing.platformDetails,
    UsageOperation: spec.billing.usageOperation,
    BootMode: spec.bootMode,
    TpmSupport: spec.tpmSupport,
    ImdsSupport: spec.imdsSupport,
    DeprecationTime: deprecation(spec.created),
  };
}

function build(region: string): RegionCatalogue {
  const specs = [...amazonImages(), ...distributionImages(region)];
  const images: Image[] = [];
  const byId = new Map<string, Image>();
  const parameters = new Map<string, PublicImageParameter>();
  for (const spec of specs) {
    const image = Object.freeze(toImage(region, spec));
    images.push(image);
    byId.set(image.ImageId!, image);
    for (const name of spec.parameters ?? []) {
      const p = parameters.get(name);
      if (!p) parameters.set(name, { name, image, version: 1 });
      else {
        p.version++;
        if (image.CreationDate! > p.image.CreationDate!) p.image = image;
      }
    }
  }
  const local: Image[] = [];
  for (const l of localImages) {
    for (const storeBacked of [false, true]) {
      const image = Object.freeze(toImage(region, localImageSpec(l, storeBacked), localImageId(region, l.name, storeBacked)));
      images.push(image);
      byId.set(image.ImageId!, image);
      local.push(image);
    }
  }
  images.sort((a, b) => (a.ImageId! < b.ImageId! ? -1 : 1));
  return { images, local, byId, parameters };
}

/** The catalogue of a region, built on first use. */
export function regionCatalogue(region: string): RegionCatalogue {
  let c = cache.get(region);
  if (!c) {
    c = build(region);
    cache.set(region, c);
  }
  return c;
}

/** The public images of a region, sorted by ImageId (ids are stable per region). */
export function publicImages(region: string): readonly Image[] {
  return regionCatalogue(region).images;
}

/** A public image of the region by id, in O(1). */
export function publicImage(region: string, imageId: string): Image | undefined {
  return regionCatalogue(region).byId.get(imageId);
}
