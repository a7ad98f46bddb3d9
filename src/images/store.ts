/**
 * The local image store: `<dataDir>/images/<name>/` holds `rootfs/` (the read-only lower layer
 * every instance of the image shares through overlayfs) and `manifest.json`. An image is built
 * into a temporary directory and renamed into place, so a half-built image is never seen.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ImageManifest {
  name: string;
  description: string;
  architecture: 'x86_64' | 'arm64';
  /** What runs as PID 1 (absolute path inside the rootfs, then its arguments). */
  init: string[];
  /** The signal that asks the image's init to power off (EC2 stop). */
  stopSignal: string;
  /** The signal that asks it to reboot (EC2 reboot); default: stopSignal, then the driver boots it again. */
  rebootSignal?: string;
  createdAt: string;
  /** Packages (name → version) whose files the image holds. */
  packages: Record<string, string>;
  sizeBytes: number;
  /** The AMI id the control plane registered it under, once it has. */
  imageId?: string;
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export class ImageStore {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'images');
  }

  static validName(name: string): boolean {
    return NAME.test(name);
  }

  private imageDir(name: string): string {
    if (!ImageStore.validName(name)) throw new Error(`invalid image name ${JSON.stringify(name)}`);
    return join(this.dir, name);
  }

  rootfs(name: string): string {
    return join(this.imageDir(name), 'rootfs');
  }

  get(name: string): ImageManifest | undefined {
    if (!ImageStore.validName(name)) return undefined;
    const file = join(this.imageDir(name), 'manifest.json');
    if (!existsSync(file) || !existsSync(this.rootfs(name))) return undefined;
    return JSON.parse(readFileSync(file, 'utf8')) as ImageManifest;
  }

  list(): ImageManifest[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((n) => ImageStore.validName(n))
      .map((n) => this.get(n))
      .filter((m): m is ImageManifest => m !== undefined)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The image an AMI id (as registered) or an image name designates. */
  resolve(imageIdOrName: string): ImageManifest | undefined {
    return this.list().find((m) => m.imageId === imageIdOrName) ?? this.get(imageIdOrName);
  }

  /** Records the AMI id the control plane registered the image under. */
  setImageId(name: string, imageId: string): void {
    const m = this.get(name);
    if (!m) throw new Error(`no image ${name}`);
    m.imageId = imageId;
    writeFileSync(join(this.imageDir(name), 'manifest.json'), `${JSON.stringify(m, null, 2)}\n`);
  }

  /**
   * Builds an image: `build` fills a fresh rootfs directory and returns the manifest. The result
   * replaces any previous image of that name at once. Instances already running keep the old
   * lower layer (their mounts hold it); those started later use the new one.
   */
  async install(name: string, build: (rootfs: string) => Promise<Omit<ImageManifest, 'name' | 'createdAt' | 'sizeBytes'>>): Promise<ImageManifest> {
    const final = this.imageDir(name);
    mkdirSync(this.dir, { recursive: true });
    const tmp = join(this.dir, `.${name}.build-${process.pid}-${Date.now()}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(join(tmp, 'rootfs'), { recursive: true });
    try {
      const partial = await build(join(tmp, 'rootfs'));
      const previous = this.get(name);
      const manifest: ImageManifest = {
        ...partial,
        name,
        createdAt: new Date().toISOString(),
        sizeBytes: duBytes(join(tmp, 'rootfs')),
        ...(previous?.imageId ? { imageId: previous.imageId } : {}),
      };
      writeFileSync(join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      const old = join(this.dir, `.${name}.old-${process.pid}-${Date.now()}`);
      if (existsSync(final)) renameSync(final, old);
      renameSync(tmp, final);
      rmSync(old, { recursive: true, force: true });
      return manifest;
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  remove(name: string): void {
    rmSync(this.imageDir(name), { recursive: true, force: true });
  }
}

function duBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += lstatSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}
