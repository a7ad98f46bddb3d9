/**
 * The chunk store that stands in for S3 under snapshots: `<dataDir>/chunks/<aa>/<sha-256>` holds
 * one chunk of a volume image, named by its content's hash, so a chunk that any snapshot already
 * stored is never stored again (what makes snapshots incremental). Chunks of encrypted snapshots
 * are named and sealed by their key's ChunkCipher instead, so the store holds no plaintext of them.
 * Chunks are written to a temporary name, synced and renamed, so a crash leaves either the whole
 * chunk or none.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { open, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChunkCipher } from './keys.js';

const HASH = /^[0-9a-f]{64}$/;

export class ChunkStore {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'chunks');
  }

  private path(hash: string): string {
    if (!HASH.test(hash)) throw new Error(`not a chunk hash: ${hash}`);
    return join(this.dir, hash.slice(0, 2), hash);
  }

  static hash(data: Uint8Array): string {
    return createHash('sha256').update(data).digest('hex');
  }

  async has(hash: string): Promise<boolean> {
    return stat(this.path(hash)).then(() => true, () => false);
  }

  /** Stores the chunk unless it is there; returns its name and whether it was new. */
  async put(data: Uint8Array, cipher?: ChunkCipher): Promise<{ hash: string; added: boolean }> {
    const hash = cipher ? cipher.name(data) : ChunkStore.hash(data);
    if (await this.has(hash)) return { hash, added: false };
    const file = this.path(hash);
    mkdirSync(join(this.dir, hash.slice(0, 2)), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(cipher ? cipher.seal(data, hash) : data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
    return { hash, added: true };
  }

  /** The chunk's content, checked against its name (a damaged chunk is an error, never silent corruption). */
  async get(hash: string, cipher?: ChunkCipher): Promise<Buffer> {
    const data = await readFile(this.path(hash));
    if (cipher) return cipher.open(data, hash);
    if (ChunkStore.hash(data) !== hash) throw new Error(`chunk ${hash} is damaged`);
    return data;
  }

  /** Every chunk stored. */
  list(): string[] {
    let prefixes: string[];
    try {
      prefixes = readdirSync(this.dir);
    } catch {
      return [];
    }
    return prefixes.flatMap((p) => readdirSync(join(this.dir, p)).filter((n) => HASH.test(n)));
  }

  /** Removes every chunk not in `keep`; returns how many went. */
  sweep(keep: ReadonlySet<string>): number {
    let removed = 0;
    for (const hash of this.list()) {
      if (keep.has(hash)) continue;
      rmSync(this.path(hash), { force: true });
      removed++;
    }
    return removed;
  }
}
