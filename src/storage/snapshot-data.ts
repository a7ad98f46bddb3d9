/**
 * What a snapshot holds: a manifest, `<dataDir>/snapshots/<snap-id>.json`, listing the chunks of
 * the volume's image by offset (chunks of zeros are left out, as EBS stores no unwritten blocks),
 * the chunks themselves in the chunk store. Capturing reads the volume's image and stores the
 * chunks the store lacks; restoring writes them back into a sparse image of the volume's size, so a
 * volume made from a snapshot is the snapshot's data bit for bit. An encrypted snapshot keeps its
 * data key, wrapped, in its manifest, and its chunks sealed under it (keys.ts).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { open, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ChunkStore } from './chunks.js';
import { GIB } from './ext4.js';
import { ChunkCipher, KeyStore } from './keys.js';

/** EBS's own block size for snapshots. */
export const CHUNK_SIZE = 512 * 1024;
const SNAPSHOT_ID = /^snap-[0-9a-f]{8,17}$/;

export interface SnapshotManifest {
  snapshotId: string;
  volumeSizeGiB: number;
  chunkSize: number;
  /** [chunk index, chunk hash] of every chunk that is not all zeros, in order. */
  chunks: [number, string][];
  /** What this snapshot added to the chunk store (the rest was there already). */
  addedChunks: number;
  addedBytes: number;
  /** The data key its chunks are sealed under (wrapped by the master key); none: stored in the clear. */
  wrappedKey?: string;
}

/** Where a snapshot's data comes from: the volume's image if it has one, else what the volume was made from. */
export interface CaptureSource {
  image?: string;
  sizeGiB: number;
  /** The snapshot the volume was created from (its data, if the volume was never written). */
  fromSnapshot?: string;
  /** The encrypted volume's data key (wrapped). */
  wrappedKey?: string;
}

export class SnapshotData {
  readonly chunks: ChunkStore;
  readonly keys: KeyStore;
  private readonly dir: string;

  constructor(dataDir: string) {
    this.chunks = new ChunkStore(dataDir);
    this.keys = new KeyStore(dataDir);
    this.dir = join(dataDir, 'snapshots');
  }

  private cipher(wrappedKey: string | undefined): ChunkCipher | undefined {
    return wrappedKey === undefined ? undefined : new ChunkCipher(this.keys.unwrap(wrappedKey));
  }

  /** The chunks of `from` as they are under `wrappedKey`: the same names if the key is the same, else unsealed and sealed again. */
  private async rekey(from: SnapshotManifest, wrappedKey: string | undefined, into: SnapshotManifest): Promise<void> {
    if (from.wrappedKey === wrappedKey) {
      into.chunks = [...from.chunks];
      return;
    }
    const source = this.cipher(from.wrappedKey);
    const target = this.cipher(wrappedKey);
    for (const [index, hash] of from.chunks) {
      const { hash: name, added } = await this.chunks.put(await this.chunks.get(hash, source), target);
      into.chunks.push([index, name]);
      if (added) {
        into.addedChunks++;
        into.addedBytes += from.chunkSize;
      }
    }
  }

  private path(snapshotId: string): string {
    if (!SNAPSHOT_ID.test(snapshotId)) throw new Error(`not a snapshot id: ${snapshotId}`);
    return join(this.dir, `${snapshotId}.json`);
  }

  has(snapshotId: string): boolean {
    return existsSync(this.path(snapshotId));
  }

  read(snapshotId: string): SnapshotManifest | undefined {
    try {
      return JSON.parse(readFileSync(this.path(snapshotId), 'utf8')) as SnapshotManifest;
    } catch {
      return undefined;
    }
  }

  /** Stores the volume's data now as the snapshot's. */
  async capture(snapshotId: string, source: CaptureSource): Promise<SnapshotManifest> {
    const manifest: SnapshotManifest = {
      snapshotId, volumeSizeGiB: source.sizeGiB, chunkSize: CHUNK_SIZE, chunks: [], addedChunks: 0, addedBytes: 0, wrappedKey: source.wrappedKey,
    };
    const cipher = this.cipher(source.wrappedKey);
    if (source.image && existsSync(source.image)) {
      const fh = await open(source.image, 'r');
      try {
        const size = Math.min((await fh.stat()).size, source.sizeGiB * GIB);
        const buf = Buffer.alloc(CHUNK_SIZE);
        const zero = Buffer.alloc(CHUNK_SIZE);
        for (let index = 0; index * CHUNK_SIZE < size; index++) {
          const { bytesRead } = await fh.read(buf, 0, CHUNK_SIZE, index * CHUNK_SIZE);
          const data = bytesRead === CHUNK_SIZE ? buf : buf.subarray(0, bytesRead);
          if (data.equals(bytesRead === CHUNK_SIZE ? zero : zero.subarray(0, bytesRead))) continue;
          const { hash, added } = await this.chunks.put(data, cipher);
          manifest.chunks.push([index, hash]);
          if (added) {
            manifest.addedChunks++;
            manifest.addedBytes += bytesRead;
          }
        }
      } finally {
        await fh.close();
      }
    } else if (source.fromSnapshot) {
      const from = this.read(source.fromSnapshot);
      if (!from) throw new Error(`snapshot ${source.fromSnapshot} has no data`);
      await this.rekey({ ...from, chunks: from.chunks.filter(([index]) => index * from.chunkSize < source.sizeGiB * GIB) }, source.wrappedKey, manifest);
    }
    await this.write(manifest);
    return manifest;
  }

  /**
   * CopySnapshot: the copy names the same chunks, under the same key; an unencrypted snapshot
   * copied with Encrypted gets a new key (`encrypt`) and its chunks sealed under it.
   */
  async copy(fromId: string, toId: string, encrypt = false): Promise<SnapshotManifest> {
    const from = this.read(fromId);
    if (!from) throw new Error(`snapshot ${fromId} has no data`);
    const wrappedKey = from.wrappedKey ?? (encrypt ? this.keys.newDataKey() : undefined);
    const manifest: SnapshotManifest = { ...from, snapshotId: toId, chunks: [], addedChunks: 0, addedBytes: 0, wrappedKey };
    await this.rekey(from, wrappedKey, manifest);
    await this.write(manifest);
    return manifest;
  }

  /** Writes the snapshot's data into a new sparse image of `sizeGiB` (at least the snapshot's size). */
  async restore(snapshotId: string, image: string, sizeGiB: number): Promise<void> {
    const manifest = this.read(snapshotId);
    if (!manifest) throw new Error(`snapshot ${snapshotId} has no data`);
    const tmp = `${image}.restoring`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.truncate(sizeGiB * GIB);
      const cipher = this.cipher(manifest.wrappedKey);
      for (const [index, hash] of manifest.chunks) {
        const data = await this.chunks.get(hash, cipher);
        await fh.write(data, 0, data.length, index * manifest.chunkSize);
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, image);
  }

  remove(snapshotId: string): void {
    rmSync(this.path(snapshotId), { force: true });
  }

  /** The ids of every snapshot with data. */
  list(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length)).filter((id) => SNAPSHOT_ID.test(id));
  }

  /** Chunks no manifest names go (after snapshots were deleted). */
  sweepChunks(): number {
    const keep = new Set<string>();
    for (const id of this.list()) for (const [, hash] of this.read(id)?.chunks ?? []) keep.add(hash);
    return this.chunks.sweep(keep);
  }

  private async write(manifest: SnapshotManifest): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = this.path(manifest.snapshotId);
    const tmp = `${file}.tmp`;
    await writeFile(tmp, `${JSON.stringify(manifest)}\n`, { mode: 0o600 });
    const fh = await open(tmp, 'r+');
    await fh.sync().finally(() => fh.close());
    await rename(tmp, file);
  }
}
