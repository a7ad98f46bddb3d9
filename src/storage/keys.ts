/**
 * Keys for encryption at rest. A master key (`<dataDir>/keys/master.key`, made on first use, 0600)
 * wraps every data key with AES-256-GCM; a data key is 64 random bytes, one per encrypted volume
 * (`<dataDir>/keys/<vol-id>.key`, wrapped), shared with its snapshots and the volumes restored from
 * them, as EBS does. The live volume's files are encrypted by ext4 with the data key itself;
 * snapshot chunks by ChunkCipher with keys derived from it.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DATA_KEY_BYTES = 64;
const VOLUME_ID = /^vol-[0-9a-f]{8,17}$/;

export class KeyStore {
  private readonly dir: string;
  private masterKey?: Buffer;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'keys');
  }

  private master(): Buffer {
    if (this.masterKey) return this.masterKey;
    const file = join(this.dir, 'master.key');
    if (!existsSync(file)) {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      writeFileSync(`${file}.tmp`, randomBytes(32), { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
    }
    this.masterKey = readFileSync(file);
    if (this.masterKey.length !== 32) throw new Error(`${file} is not a 256-bit key`);
    return this.masterKey;
  }

  /** A data key wrapped by the master key: base64 of nonce, tag and ciphertext. */
  wrap(dataKey: Buffer): string {
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.master(), nonce);
    const body = Buffer.concat([c.update(dataKey), c.final()]);
    return Buffer.concat([nonce, c.getAuthTag(), body]).toString('base64');
  }

  unwrap(wrapped: string): Buffer {
    const raw = Buffer.from(wrapped, 'base64');
    const d = createDecipheriv('aes-256-gcm', this.master(), raw.subarray(0, 12));
    d.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([d.update(raw.subarray(28)), d.final()]);
  }

  newDataKey(): string {
    return this.wrap(randomBytes(DATA_KEY_BYTES));
  }

  private volumePath(volumeId: string): string {
    if (!VOLUME_ID.test(volumeId)) throw new Error(`not a volume id: ${volumeId}`);
    return join(this.dir, `${volumeId}.key`);
  }

  /** The volume's wrapped data key, if it has one. */
  volumeKey(volumeId: string): string | undefined {
    try {
      return readFileSync(this.volumePath(volumeId), 'utf8').trim();
    } catch {
      return undefined;
    }
  }

  setVolumeKey(volumeId: string, wrapped: string): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = this.volumePath(volumeId);
    writeFileSync(`${file}.tmp`, `${wrapped}\n`, { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }

  removeVolumeKey(volumeId: string): void {
    rmSync(this.volumePath(volumeId), { force: true });
  }

  /** The volumes with a data key. */
  volumesWithKeys(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir).filter((n) => n.endsWith('.key') && VOLUME_ID.test(n.slice(0, -4))).map((n) => n.slice(0, -4));
  }

  /** The volume's data key, made now if it has none (a new encrypted volume). */
  dataKeyOf(volumeId: string): Buffer {
    let wrapped = this.volumeKey(volumeId);
    if (!wrapped) {
      wrapped = this.newDataKey();
      this.setVolumeKey(volumeId, wrapped);
    }
    return this.unwrap(wrapped);
  }
}

/**
 * Seals snapshot chunks under a data key, deterministically so that equal chunks still dedupe: a
 * chunk is named by an HMAC of its plaintext (which tells nothing of it without the key) and
 * sealed with AES-256-GCM under a nonce taken from that name, so a nonce only ever repeats for
 * the very same plaintext.
 */
export class ChunkCipher {
  private readonly encKey: Buffer;
  private readonly macKey: Buffer;

  constructor(dataKey: Buffer) {
    this.encKey = Buffer.from(hkdfSync('sha256', dataKey, '', 'nimbus snapshot chunk encryption', 32));
    this.macKey = Buffer.from(hkdfSync('sha256', dataKey, '', 'nimbus snapshot chunk name', 32));
  }

  name(plain: Uint8Array): string {
    return createHmac('sha256', this.macKey).update(plain).digest('hex');
  }

  seal(plain: Uint8Array, name: string): Buffer {
    const c = createCipheriv('aes-256-gcm', this.encKey, Buffer.from(name.slice(0, 24), 'hex'));
    const body = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([c.getAuthTag(), body]);
  }

  open(sealed: Buffer, name: string): Buffer {
    const d = createDecipheriv('aes-256-gcm', this.encKey, Buffer.from(name.slice(0, 24), 'hex'));
    d.setAuthTag(sealed.subarray(0, 16));
    const plain = Buffer.concat([d.update(sealed.subarray(16)), d.final()]);
    if (this.name(plain) !== name) throw new Error(`chunk ${name} is damaged`);
    return plain;
  }
}
