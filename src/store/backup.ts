/**
 * Backups of the embedded store: writing one from a live store, checking one, restoring one into
 * a data directory, and telling whether some process (a server, the CLI) has a database open.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Store } from './store.js';

/** The database file in a data directory (as `openStore` in src/app.ts names it). */
export const storeFile = (dataDir: string): string => join(dataDir, 'nimbus.db');

/** The tables every Nimbus database has; a file without them is not a Nimbus backup. */
const TABLES = ['resources', 'tags', 'accounts', 'credentials', 'idempotency'];

/** The most pages one backup step may copy: all of them, so that a restore is one snapshot too. */
const ALL_PAGES = 0x7fffffff;

const sqliteCode = (err: unknown): string | undefined => (err as { code?: string }).code;

/**
 * Writes a consistent online backup of `store` to `file`: to a temporary file first, switched to
 * a rollback journal so that the backup is one self-contained file, then renamed into place, so
 * that `file` is never a half-written backup.
 */
export async function backupStore(store: Store, file: string): Promise<void> {
  const partial = `${file}.partial-${process.pid}`;
  try {
    await store.backup(partial);
    const db = new Database(partial);
    try {
      db.pragma('journal_mode = DELETE');
    } finally {
      db.close();
    }
    renameSync(partial, file);
  } finally {
    rmSync(partial, { force: true });
  }
}

/** Throws unless `file` is an intact Nimbus database. */
export function checkBackup(file: string): void {
  if (!existsSync(file)) throw new Error(`${file}: no such file`);
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const integrity = db.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok') throw new Error(`${file} is damaged: ${String(integrity)}`);
    const present = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type='table'").all() as { name: string }[]).map((r) => r.name));
    const missing = TABLES.filter((t) => !present.has(t));
    if (missing.length) throw new Error(`${file} is not a Nimbus backup (it has no ${missing.join(', ')} table)`);
  } catch (err) {
    if (sqliteCode(err) === 'SQLITE_NOTADB') throw new Error(`${file} is not a Nimbus backup (not an SQLite database)`);
    throw err;
  } finally {
    db?.close();
  }
}

/**
 * Whether another connection has the database open. In WAL mode every open connection holds a
 * shared lock on the database file for as long as it stays open, busy or idle; an exclusive lock
 * asked for without waiting is refused exactly while one does (a server, or a crashed server's
 * lock that the kernel already released, does not count).
 */
export function databaseInUse(file: string): boolean {
  if (!existsSync(file)) return false;
  const db = new Database(file, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE; COMMIT');
    return false;
  } catch (err) {
    if (sqliteCode(err) === 'SQLITE_BUSY') return true;
    throw err;
  } finally {
    db.close();
  }
}

/**
 * Replaces the store of `dataDir` with the backup in `file`. Refused while any process has the
 * store open, and over an existing store unless `force` (its state would be lost).
 */
export async function restoreStore(file: string, dataDir: string, opts: { force?: boolean } = {}): Promise<void> {
  checkBackup(file);
  const target = storeFile(dataDir);
  if (databaseInUse(target)) {
    throw new Error(`${target} is in use (is a server running on ${dataDir}?): stop it before restoring`);
  }
  if (existsSync(target) && !opts.force) {
    throw new Error(`${target} exists: restoring would replace its state (use --force to do so)`);
  }
  mkdirSync(dataDir, { recursive: true });
  const source = new Database(file, { readonly: true, fileMustExist: true });
  try {
    // SQLite's backup API writes through the target's own pager, so a WAL left by a crash is
    // overwritten consistently rather than replayed onto the restored pages later.
    await source.backup(target, { progress: () => ALL_PAGES });
  } finally {
    source.close();
  }
}
