/**
 * Group commit for SQLite's WAL, off the event loop.
 *
 * The connection runs at synchronous=NORMAL: COMMIT writes the transaction's frames to the WAL
 * with write(2) and returns, which already survives kill -9 of the process. What power loss needs
 * on top is an fdatasync of the WAL, and this runs it on libuv's thread pool instead of inside
 * COMMIT: while the disk flushes, the event loop encodes the answer and runs the reconcilers. A
 * sync covers every commit written before it started, so commits that arrive while one is in
 * flight share the next one.
 *
 * The WAL is opened by its path on the first sync. SQLite keeps that file (and its inode) for as
 * long as any connection has the database open; a checkpoint rewrites it from the start but never
 * replaces it, and at NORMAL a checkpoint syncs the WAL and the database itself.
 */
import fs from 'node:fs';

export class WalSync {
  private fd: number | undefined;
  /** Durable commits are numbered in order; every one up to this is on disk. */
  private synced = 0;
  private written = 0;
  private running = false;
  private waiters: { upTo: number; resolve: () => void; reject: (err: Error) => void }[] = [];

  constructor(private readonly walPath: string) {}

  /**
   * Notes a commit that wrote frames to the WAL and must be made durable; returns its number.
   * Relaxed commits are not noted: whatever sync comes next covers their frames.
   */
  wrote(): number {
    return ++this.written;
  }

  /** The number of the last durable commit written, on disk or not yet. */
  get latest(): number {
    return this.written;
  }

  /** Resolves once every commit up to `upTo` is on disk; at once when it is already. */
  durable(upTo: number): Promise<void> {
    if (upTo <= this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ upTo, resolve, reject });
      this.start();
    });
  }

  /** Waits for the syncs asked for so far, then closes the file. */
  async close(): Promise<void> {
    await this.durable(this.written).catch(() => undefined);
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }

  private start(): void {
    if (this.running || this.waiters.length === 0) return;
    this.running = true;
    const upTo = this.written;
    const done = (err: Error | null) => {
      this.running = false;
      if (!err) this.synced = upTo;
      const waiting = this.waiters;
      this.waiters = [];
      for (const w of waiting) {
        if (err) w.reject(err);
        else if (w.upTo <= upTo) w.resolve();
        else this.waiters.push(w);
      }
      this.start();
    };
    try {
      this.fd ??= fs.openSync(this.walPath, 'r');
    } catch (err) {
      done(err as Error);
      return;
    }
    fs.fdatasync(this.fd, done);
  }
}
