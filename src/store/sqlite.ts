/**
 * The embedded store: SQLite through better-sqlite3, in WAL mode under the data directory.
 *
 * Durability: an answer is sent only after its transaction's COMMIT returned, and by then the WAL
 * frames are written (write(2)) to the file: that alone makes a returned success survive kill -9
 * of the process (test/crash.test.ts shows it). For an OS crash or power loss the WAL must be on
 * disk too: a transaction that wrote syncs it (fdatasync) before it returns, as synchronous=FULL
 * would. The connection itself runs at NORMAL, which still syncs around checkpoints, so relaxed
 * transactions (the reconciler's, whose state it derives again from the driver) skip the sync
 * without switching the setting back and forth, which cost two statements each time; the next
 * durable commit's sync covers their frames. Reads and read-only transactions never sync.
 * busy_timeout lets the CLI (`nimbus accounts …`, `nimbus admin backup`) use the database while a
 * server runs.
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { DocumentCache } from './document-cache.js';
import type {
  Account, Credential, IdempotencyRecord, ResourceRef, Scope, Store, Tag, TagQuery, TagRow, TransactionOptions,
} from './store.js';

/**
 * `resources` is a rowid table: its primary key is an index of small entries beside it. Instance
 * documents (1.5 KB) are far above what a WITHOUT ROWID table keeps in its pages (about 1 KB at
 * 4 KB pages), and there every search that passed such a row as a separator read its overflow
 * page back from the file: a launch made some forty reads of other instances' documents. In a
 * rowid table a document stays whole in its leaf, and searches only touch the index.
 */
const RESOURCES = `
CREATE TABLE IF NOT EXISTS resources (
  kind TEXT NOT NULL, account TEXT NOT NULL, region TEXT NOT NULL, id TEXT NOT NULL, doc TEXT NOT NULL, state TEXT,
  PRIMARY KEY (kind, account, region, id)
);
`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tags (
  account TEXT NOT NULL, region TEXT NOT NULL, resource_id TEXT NOT NULL, key TEXT NOT NULL,
  value TEXT NOT NULL, resource_type TEXT NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (account, region, resource_id, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_by_key ON tags (account, region, key, value);
CREATE TABLE IF NOT EXISTS accounts (account_id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS credentials (
  access_key_id TEXT PRIMARY KEY, secret TEXT NOT NULL, account_id TEXT NOT NULL,
  session_token TEXT, expires_at TEXT, principal_arn TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS idempotency (
  account TEXT NOT NULL, region TEXT NOT NULL, operation TEXT NOT NULL, token TEXT NOT NULL,
  params_hash TEXT NOT NULL, output TEXT NOT NULL,
  PRIMARY KEY (account, region, operation, token)
) WITHOUT ROWID;
`;

/**
 * How many resources of each kind and state a scope holds, kept by triggers in the writing
 * transaction itself: quota checks on every launch read a handful of rows here instead of counting
 * the fleet's index entries, so their cost does not grow with the fleet. A state of '' stands for
 * documents without one.
 */
const COUNTS = `
CREATE TABLE resource_counts (
  kind TEXT NOT NULL, account TEXT NOT NULL, region TEXT NOT NULL, state TEXT NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY (kind, account, region, state)
) WITHOUT ROWID;
INSERT INTO resource_counts SELECT kind, account, region, coalesce(state, ''), count(*) FROM resources GROUP BY 1, 2, 3, 4;
`;

const COUNTING_TRIGGERS = `
CREATE TRIGGER IF NOT EXISTS resources_counted_insert AFTER INSERT ON resources BEGIN
  INSERT INTO resource_counts VALUES (NEW.kind, NEW.account, NEW.region, coalesce(NEW.state, ''), 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS resources_counted_delete AFTER DELETE ON resources BEGIN
  UPDATE resource_counts SET n = n - 1
    WHERE kind = OLD.kind AND account = OLD.account AND region = OLD.region AND state = coalesce(OLD.state, '');
END;
CREATE TRIGGER IF NOT EXISTS resources_counted_update AFTER UPDATE OF state ON resources WHEN OLD.state IS NOT NEW.state BEGIN
  UPDATE resource_counts SET n = n - 1
    WHERE kind = OLD.kind AND account = OLD.account AND region = OLD.region AND state = coalesce(OLD.state, '');
  INSERT INTO resource_counts VALUES (NEW.kind, NEW.account, NEW.region, coalesce(NEW.state, ''), 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
`;

/**
 * Resources whose ids have the form `group/member` (a subnet's addresses: `subnet-…/10.0.0.5`) are
 * counted per group as they are written, so that how many a group holds costs the same at any size
 * (every DescribeSubnets asks it of each subnet). An upsert that updates fires no INSERT trigger,
 * and a row's id never changes.
 */
const GROUP_COUNTS = `
CREATE TABLE group_counts (
  kind TEXT NOT NULL, account TEXT NOT NULL, region TEXT NOT NULL, grp TEXT NOT NULL, n INTEGER NOT NULL,
  PRIMARY KEY (kind, account, region, grp)
) WITHOUT ROWID;
INSERT INTO group_counts SELECT kind, account, region, substr(id, 1, instr(id, '/') - 1), count(*)
  FROM resources WHERE instr(id, '/') > 0 GROUP BY 1, 2, 3, 4;
`;

const GROUPING_TRIGGERS = `
CREATE TRIGGER IF NOT EXISTS resources_grouped_insert AFTER INSERT ON resources WHEN instr(NEW.id, '/') > 0 BEGIN
  INSERT INTO group_counts VALUES (NEW.kind, NEW.account, NEW.region, substr(NEW.id, 1, instr(NEW.id, '/') - 1), 1)
    ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS resources_grouped_delete AFTER DELETE ON resources WHEN instr(OLD.id, '/') > 0 BEGIN
  UPDATE group_counts SET n = n - 1
    WHERE kind = OLD.kind AND account = OLD.account AND region = OLD.region AND grp = substr(OLD.id, 1, instr(OLD.id, '/') - 1);
END;
`;

/**
 * The document field copied into a column of its own, which the counts are kept by. Its index
 * from before the counts existed is dropped: nothing reads it and every write paid for it.
 */
const COUNTED_FIELD = 'state';

/** A table's CREATE statement, or undefined when there is no such table. */
const tableSql = (db: Database.Database, name: string) =>
  (db.prepare(`SELECT sql FROM sqlite_master WHERE type='table' AND name=?`).get(name) as { sql: string } | undefined)?.sql;

/** Brings a database made by an earlier version up to this schema, filling what is new from the documents. */
function migrate(db: Database.Database): void {
  const columns = new Set((db.pragma('table_info(resources)') as { name: string }[]).map((c) => c.name));
  if (!columns.has(COUNTED_FIELD)) {
    db.exec(`ALTER TABLE resources ADD COLUMN ${COUNTED_FIELD} TEXT`);
    db.exec(`UPDATE resources SET ${COUNTED_FIELD} = json_extract(doc, '$.${COUNTED_FIELD}')`);
  }
  db.exec(`DROP INDEX IF EXISTS resources_by_${COUNTED_FIELD}`);
  // IMMEDIATE: the write lock from the start. A deferred transaction reads first, and when a running
  // server commits meanwhile its first write fails at once with SQLITE_BUSY (busy_timeout does not
  // apply to a read turning into a write): `nimbus admin backup` failed so beside a busy server.
  db.transaction(() => {
    if (/WITHOUT ROWID/i.test(tableSql(db, 'resources')!)) {
      // The table's old layout (see RESOURCES): copied into the new one; its triggers go with it.
      db.exec('ALTER TABLE resources RENAME TO resources_without_rowid');
      db.exec(RESOURCES);
      db.exec(`INSERT INTO resources (kind, account, region, id, doc, ${COUNTED_FIELD})
               SELECT kind, account, region, id, doc, ${COUNTED_FIELD} FROM resources_without_rowid`);
      db.exec('DROP TABLE resources_without_rowid');
    }
    if (tableSql(db, 'resource_counts') === undefined) db.exec(COUNTS);
    db.exec(COUNTING_TRIGGERS);
    if (tableSql(db, 'group_counts') === undefined) db.exec(GROUP_COUNTS);
    db.exec(GROUPING_TRIGGERS);
    // The reconciler's old work queue, kept here once: it now follows the store's watch instead.
    db.exec(`DELETE FROM resources WHERE kind = 'instance-work'`);
  }).immediate();
}

const countedValue = (doc: unknown): string | null => {
  const v = (doc as Record<string, unknown> | null)?.[COUNTED_FIELD];
  return typeof v === 'string' ? v : null;
};

/**
 * The least string after every string that begins with `prefix`: its last code point's successor
 * (by code point, as SQLite compares UTF-8, so that tag values beyond the BMP work too).
 */
const prefixEnd = (prefix: string) => {
  const points = [...prefix];
  const last = points.pop()?.codePointAt(0);
  if (last === undefined || last === 0x10ffff) return '\u{10ffff}';
  return points.join('') + String.fromCodePoint(last + 1 === 0xd800 ? 0xe000 : last + 1);
};

/** The most pages one backup step may copy: all of them. */
const ALL_PAGES = 0x7fffffff;

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmts = new Map<string, Database.Statement>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly watchers = new Map<string, ((changed: readonly ResourceRef[]) => void)[]>();
  /** Writes of watched kinds in the open transaction, told to the watchers once it commits. */
  private uncommitted = new Map<string, ResourceRef[]>();
  private seq = Date.now();
  /** The WAL, opened for its syncs on the first durable commit (it exists from the first write on). */
  private walFd: number | undefined;
  /** sqlite3_total_changes() after the last commit: whether a transaction wrote anything. */
  private changes = 0;
  /** Parsed documents for listShared. */
  private readonly cache = new DocumentCache();
  /** Whether the open transaction wrote documents: what it reads may then yet be rolled back. */
  private wroteDocuments = false;
  /** Whether the open transaction checked the shared documents against other connections' commits. */
  private validatedInTransaction = false;

  constructor(private readonly file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    // SQLite's usual 2 MB page cache, not better-sqlite3's 16 MB: from a fleet of about 1,000 the
    // database outgrows 16 MB and all of it stays resident, while a miss is a read from the OS's
    // file cache (microseconds a page; describes and lookups measured no slower).
    this.db.pragma('cache_size = -2000');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(RESOURCES);
    this.db.exec(SCHEMA);
    migrate(this.db);
    // The migration's commits are not waited for: lost, they are made again at the next start.
    this.changes = this.totalChanges();
  }

  private stmt(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) this.stmts.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  /** Rows written by this connection since it opened (sqlite3_total_changes). */
  private totalChanges(): number {
    return (this.stmt('SELECT total_changes() AS n').get() as { n: number }).n;
  }

  transaction<T>(fn: () => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
    const run = async () => {
      this.db.exec('BEGIN IMMEDIATE');
      this.wroteDocuments = false;
      this.validatedInTransaction = false;
      try {
        const result = await fn();
        this.db.exec('COMMIT');
        // Writes made outside any transaction since the last commit are synced with this one's.
        const changes = this.totalChanges();
        if (!opts.relaxed && changes !== this.changes) this.syncWal();
        this.changes = changes;
        this.tellWatchers();
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        this.uncommitted.clear();
        throw err;
      }
    };
    return this.enqueue(run);
  }

  /**
   * fdatasync of the WAL, on the event loop. Run on the thread pool instead, with the loop going
   * on meanwhile, it measured no faster per launch on this kind of machine, only more involved.
   */
  private syncWal(): void {
    this.walFd ??= fs.openSync(`${this.file}-wal`, 'r');
    fs.fdatasyncSync(this.walFd);
  }

  watch(kind: string, listener: (changed: readonly ResourceRef[]) => void): void {
    const list = this.watchers.get(kind) ?? [];
    this.watchers.set(kind, [...list, listener]);
  }

  /** A document was written or removed: its parsed copy is stale, and this transaction wrote. */
  private forget(kind: string, scope: Scope, id: string): void {
    this.cache.forget(kind, scope.account, scope.region, id);
    if (this.db.inTransaction) this.wroteDocuments = true;
  }

  /** Notes a write of a watched kind; outside a transaction it is committed already. */
  private changed(kind: string, scope: Scope, id: string): void {
    if (!this.watchers.has(kind)) return;
    let list = this.uncommitted.get(kind);
    if (!list) this.uncommitted.set(kind, (list = []));
    list.push({ scope, id });
    if (!this.db.inTransaction) this.tellWatchers();
  }

  private tellWatchers(): void {
    if (this.uncommitted.size === 0) return;
    const changes = this.uncommitted;
    this.uncommitted = new Map();
    for (const [kind, refs] of changes) for (const listener of this.watchers.get(kind) ?? []) listener(refs);
  }

  /** Runs `run` after every transaction queued before it, and before any queued after. */
  private enqueue<T>(run: () => Promise<T>): Promise<T> {
    const next = this.queue.then(run, run);
    // Not next.catch(…): that settles with the result, which would stay referenced until the next
    // transaction ends (a describe's whole answer, held by an idle store).
    this.queue = next.then(() => undefined, () => undefined);
    return next;
  }

  /**
   * SQLite's online backup, queued between transactions (a step may not run while this
   * connection is inside one). All pages are copied in one step after the first, so the copy is
   * one read snapshot: writers on other connections neither block it nor make it start over.
   */
  async backup(file: string): Promise<void> {
    await this.enqueue(() => this.db.backup(file, { progress: () => ALL_PAGES }));
  }

  releaseMemory(): void {
    // The page cache's pages that no open transaction holds (sqlite3_db_release_memory).
    this.db.pragma('shrink_memory');
    this.cache.clear();
  }

  async get<T>(kind: string, scope: Scope, id: string): Promise<T | undefined> {
    const row = this.stmt('SELECT doc FROM resources WHERE kind=? AND account=? AND region=? AND id=?').get(
      kind, scope.account, scope.region, id,
    ) as { doc: string } | undefined;
    return row ? (JSON.parse(row.doc) as T) : undefined;
  }

  async getMany<T>(kind: string, scope: Scope, ids: readonly string[]): Promise<T[]> {
    return this.byIds(kind, scope, ids).map((r) => JSON.parse(r.doc) as T);
  }

  async listAfter<T>(kind: string, scope: Scope, after: string | undefined, limit: number): Promise<T[]> {
    const rows = this.stmt('SELECT doc FROM resources WHERE kind=? AND account=? AND region=? AND id>? ORDER BY id LIMIT ?').all(
      kind, scope.account, scope.region, after ?? '', limit,
    ) as { doc: string }[];
    return rows.map((r) => JSON.parse(r.doc) as T);
  }

  async list<T>(kind: string, scope: Scope): Promise<T[]> {
    const rows = this.stmt('SELECT doc FROM resources WHERE kind=? AND account=? AND region=? ORDER BY id').all(
      kind, scope.account, scope.region,
    ) as { doc: string }[];
    return rows.map((r) => JSON.parse(r.doc) as T);
  }

  async listHolding<T>(kind: string, scope: Scope, value: string): Promise<T[]> {
    // A document is JSON.stringify's text, so the value is there as JSON.stringify writes it.
    const rows = this.stmt('SELECT doc FROM resources WHERE kind=? AND account=? AND region=? AND instr(doc, ?) > 0 ORDER BY id').all(
      kind, scope.account, scope.region, JSON.stringify(value),
    ) as { doc: string }[];
    return rows.map((r) => JSON.parse(r.doc) as T);
  }

  async listShared<T>(kind: string, scope: Scope): Promise<readonly T[]> {
    const { account, region } = scope;
    this.validateCache();
    const listed = this.cache.list(kind, account, region);
    if (listed) return listed as readonly T[];
    const ids = this.stmt('SELECT id FROM resources WHERE kind=? AND account=? AND region=? ORDER BY id').pluck()
      .all(kind, account, region) as string[];
    // Most of them missing (the first read): one scan of the scope beats a lookup for each.
    const docs = this.shared<T>(kind, scope, ids, (missing) => (missing.length * 2 > ids.length
      ? this.stmt('SELECT id, doc FROM resources WHERE kind=? AND account=? AND region=?').all(kind, account, region)
      : this.byIds(kind, scope, missing)) as { id: string; doc: string }[]);
    if (this.mayKeep() && docs.length === ids.length) this.cache.keepList(kind, account, region, docs);
    return docs;
  }

  async getManyShared<T>(kind: string, scope: Scope, ids: readonly string[]): Promise<readonly T[]> {
    if (ids.length === 0) return [];
    this.validateCache();
    return this.shared<T>(kind, scope, [...new Set(ids)].sort(), (missing) => this.byIds(kind, scope, missing));
  }

  /**
   * Empties the shared documents if another connection committed since they were read. Inside a
   * transaction once: it holds the write lock, so no other connection can commit until it ends.
   */
  private validateCache(): void {
    if (this.validatedInTransaction && this.db.inTransaction) return;
    this.cache.validate(this.stmt('PRAGMA data_version').pluck().get() as number);
    this.validatedInTransaction = this.db.inTransaction;
  }

  /**
   * Whether what is read now may be kept: not by a transaction that wrote documents, which may yet
   * be rolled back. Before its first write a transaction reads what is committed (it holds the write lock).
   */
  private mayKeep(): boolean {
    return !this.db.inTransaction || !this.wroteDocuments;
  }

  /** The rows of these ids that exist, in id order. */
  private byIds(kind: string, scope: Scope, ids: readonly string[]): { id: string; doc: string }[] {
    if (ids.length === 0) return [];
    if (ids.length === 1) {
      // The common lookup of one: by primary key, without the JSON id list.
      const row = this.stmt('SELECT id, doc FROM resources WHERE kind=? AND account=? AND region=? AND id=?')
        .get(kind, scope.account, scope.region, ids[0]) as { id: string; doc: string } | undefined;
      return row ? [row] : [];
    }
    return this.stmt('SELECT id, doc FROM resources WHERE kind=? AND account=? AND region=? AND id IN (SELECT value FROM json_each(?)) ORDER BY id')
      .all(kind, scope.account, scope.region, JSON.stringify(ids)) as { id: string; doc: string }[];
  }

  /**
   * The documents of `ids` (in their order; absent ones left out) as the cache keeps them,
   * reading only those it does not keep yet (`read`, for the missing ids) and keeping them.
   */
  private shared<T>(kind: string, scope: Scope, ids: readonly string[], read: (missing: string[]) => { id: string; doc: string }[]): T[] {
    const { account, region } = scope;
    const docs = this.cache.lookup(kind, account, region, ids);
    const missing = ids.filter((_, i) => docs[i] === undefined);
    if (missing.length === 0) return docs as T[];
    const rows = read(missing);
    const keep = this.mayKeep();
    const parsed = new Map<string, unknown>();
    for (const r of rows) {
      const doc = JSON.parse(r.doc) as unknown;
      parsed.set(r.id, keep ? this.cache.keep(kind, account, region, r.id, doc) : doc);
    }
    // Outside a transaction two reads are two snapshots: one removed in between is left out.
    const out: unknown[] = [];
    for (let i = 0; i < ids.length; i++) {
      const doc = docs[i] ?? parsed.get(ids[i]!);
      if (doc !== undefined) out.push(doc);
    }
    return out as T[];
  }

  async idsWithPrefix(kind: string, scope: Scope, prefix: string): Promise<string[]> {
    return this.stmt('SELECT id FROM resources WHERE kind=? AND account=? AND region=? AND id>=? AND id<? ORDER BY id').pluck()
      .all(kind, scope.account, scope.region, prefix, prefixEnd(prefix)) as string[];
  }

  async countInGroup(kind: string, scope: Scope, group: string): Promise<number> {
    return (this.stmt('SELECT n FROM group_counts WHERE kind=? AND account=? AND region=? AND grp=?').pluck()
      .get(kind, scope.account, scope.region, group) as number | undefined) ?? 0;
  }

  async count(kind: string, scope: Scope): Promise<number> {
    const row = this.stmt('SELECT coalesce(sum(n), 0) AS n FROM resource_counts WHERE kind=? AND account=? AND region=?').get(
      kind, scope.account, scope.region,
    ) as { n: number };
    return row.n;
  }

  async countWhere(kind: string, scope: Scope, field: string, values: readonly string[]): Promise<number> {
    if (field === COUNTED_FIELD) {
      // The scope's few (state, n) rows, summed here: every launch asks this for its quota, and the
      // json_each list that an IN over `values` needs cost several times the read.
      const rows = this.stmt('SELECT state, n FROM resource_counts WHERE kind=? AND account=? AND region=?').all(
        kind, scope.account, scope.region,
      ) as { state: string; n: number }[];
      let n = 0;
      for (const r of rows) if (values.includes(r.state)) n += r.n;
      return n;
    }
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(field)) throw new Error(`not a document field name: ${field}`);
    const row = this.stmt(
      `SELECT count(*) AS n FROM resources WHERE kind=? AND account=? AND region=? AND json_extract(doc, '$.${field}') IN (SELECT value FROM json_each(?))`,
    ).get(kind, scope.account, scope.region, JSON.stringify(values)) as { n: number };
    return row.n;
  }

  async put<T>(kind: string, scope: Scope, id: string, doc: T): Promise<void> {
    // An upsert, not INSERT OR REPLACE: REPLACE deletes without firing the counting triggers.
    this.stmt(
      `INSERT INTO resources (kind, account, region, id, doc, state) VALUES (?,?,?,?,?,?)
       ON CONFLICT (kind, account, region, id) DO UPDATE SET doc=excluded.doc, state=excluded.state`,
    ).run(kind, scope.account, scope.region, id, JSON.stringify(doc), countedValue(doc));
    this.forget(kind, scope, id);
    this.changed(kind, scope, id);
  }

  async remove(kind: string, scope: Scope, id: string): Promise<void> {
    this.stmt('DELETE FROM resources WHERE kind=? AND account=? AND region=? AND id=?').run(kind, scope.account, scope.region, id);
    this.forget(kind, scope, id);
    this.changed(kind, scope, id);
  }

  async listAll<T>(kind: string): Promise<{ scope: Scope; doc: T }[]> {
    const rows = this.stmt('SELECT account, region, doc FROM resources WHERE kind=?').all(kind) as {
      account: string; region: string; doc: string;
    }[];
    return rows.map((r) => ({ scope: { account: r.account, region: r.region }, doc: JSON.parse(r.doc) as T }));
  }

  async listAllAfter<T>(kind: string, after: ResourceRef | undefined, limit: number): Promise<{ scope: Scope; id: string; doc: T }[]> {
    const rows = this.stmt(
      'SELECT account, region, id, doc FROM resources WHERE kind=? AND (account, region, id) > (?, ?, ?) ORDER BY account, region, id LIMIT ?',
    ).all(kind, after?.scope.account ?? '', after?.scope.region ?? '', after?.id ?? '', limit) as {
      account: string; region: string; id: string; doc: string;
    }[];
    return rows.map((r) => ({ scope: { account: r.account, region: r.region }, id: r.id, doc: JSON.parse(r.doc) as T }));
  }

  async tagsOf(scope: Scope, resourceIds: readonly string[]): Promise<Map<string, Tag[]>> {
    const out = new Map<string, Tag[]>();
    if (resourceIds.length === 0) return out;
    const rows = (resourceIds.length === 1
      ? this.stmt('SELECT resource_id, key, value FROM tags WHERE account=? AND region=? AND resource_id=? ORDER BY seq').all(
          scope.account, scope.region, resourceIds[0],
        )
      : this.stmt(
          'SELECT resource_id, key, value FROM tags WHERE account=? AND region=? AND resource_id IN (SELECT value FROM json_each(?)) ORDER BY seq',
        ).all(scope.account, scope.region, JSON.stringify(resourceIds))) as { resource_id: string; key: string; value: string }[];
    for (const r of rows) {
      let list = out.get(r.resource_id);
      if (!list) out.set(r.resource_id, (list = []));
      list.push({ Key: r.key, Value: r.value });
    }
    return out;
  }

  async queryTags(scope: Scope, q: TagQuery): Promise<TagRow[]> {
    const where = ['account=?', 'region=?'];
    const args: unknown[] = [scope.account, scope.region];
    const inList = (col: string, values?: string[]) => {
      if (!values) return;
      where.push(`${col} IN (SELECT value FROM json_each(?))`);
      args.push(JSON.stringify(values));
    };
    inList('resource_id', q.resourceIds);
    inList('resource_type', q.resourceTypes);
    inList('key', q.keys);
    inList('value', q.values);
    const rows = this.db
      .prepare(`SELECT resource_id, resource_type, key, value FROM tags WHERE ${where.join(' AND ')} ORDER BY resource_id, key`)
      .all(...args) as { resource_id: string; resource_type: string; key: string; value: string }[];
    return rows.map((r) => ({ resourceId: r.resource_id, resourceType: r.resource_type, Key: r.key, Value: r.value }));
  }

  async resourcesWithTag(scope: Scope, key: string, value?: string): Promise<string[]> {
    const rows = (value === undefined
      ? this.stmt('SELECT resource_id FROM tags WHERE account=? AND region=? AND key=?').all(scope.account, scope.region, key)
      : this.stmt('SELECT resource_id FROM tags WHERE account=? AND region=? AND key=? AND value=?').all(
          scope.account, scope.region, key, value,
        )) as { resource_id: string }[];
    return rows.map((r) => r.resource_id);
  }

  async resourcesWithTagKeyPrefix(scope: Scope, keyPrefix: string): Promise<string[]> {
    return this.stmt('SELECT DISTINCT resource_id FROM tags WHERE account=? AND region=? AND key>=? AND key<?').pluck()
      .all(scope.account, scope.region, keyPrefix, prefixEnd(keyPrefix)) as string[];
  }

  async resourcesWithTagPrefix(scope: Scope, key: string | undefined, valuePrefix: string): Promise<string[]> {
    const range = [valuePrefix, prefixEnd(valuePrefix)];
    const rows = (key === undefined
      ? this.stmt('SELECT DISTINCT resource_id FROM tags WHERE account=? AND region=? AND value>=? AND value<?')
        .all(scope.account, scope.region, ...range)
      : this.stmt('SELECT resource_id FROM tags WHERE account=? AND region=? AND key=? AND value>=? AND value<?')
        .all(scope.account, scope.region, key, ...range)) as { resource_id: string }[];
    return rows.map((r) => r.resource_id);
  }

  async setTags(scope: Scope, resourceId: string, resourceType: string, tags: readonly Tag[]): Promise<void> {
    const upsert = this.stmt(
      `INSERT INTO tags (account, region, resource_id, key, value, resource_type, seq) VALUES (?,?,?,?,?,?,?)
       ON CONFLICT (account, region, resource_id, key) DO UPDATE SET value=excluded.value`,
    );
    for (const t of tags) upsert.run(scope.account, scope.region, resourceId, t.Key, t.Value, resourceType, this.seq++);
  }

  async deleteTags(scope: Scope, resourceId: string, tags: readonly { Key: string; Value?: string }[]): Promise<void> {
    for (const t of tags) {
      if (t.Value === undefined) {
        this.stmt('DELETE FROM tags WHERE account=? AND region=? AND resource_id=? AND key=?').run(
          scope.account, scope.region, resourceId, t.Key,
        );
      } else {
        this.stmt('DELETE FROM tags WHERE account=? AND region=? AND resource_id=? AND key=? AND value=?').run(
          scope.account, scope.region, resourceId, t.Key, t.Value,
        );
      }
    }
  }

  async deleteAllTags(scope: Scope, resourceId: string): Promise<void> {
    this.stmt('DELETE FROM tags WHERE account=? AND region=? AND resource_id=?').run(scope.account, scope.region, resourceId);
  }

  async createAccount(a: Account): Promise<void> {
    this.stmt('INSERT INTO accounts (account_id, name, created_at) VALUES (?,?,?)').run(a.accountId, a.name, a.createdAt);
  }

  async getAccount(accountId: string): Promise<Account | undefined> {
    const r = this.stmt('SELECT account_id, name, created_at FROM accounts WHERE account_id=?').get(accountId) as
      | { account_id: string; name: string; created_at: string }
      | undefined;
    return r && { accountId: r.account_id, name: r.name, createdAt: r.created_at };
  }

  async listAccounts(): Promise<Account[]> {
    const rows = this.stmt('SELECT account_id, name, created_at FROM accounts ORDER BY created_at').all() as {
      account_id: string; name: string; created_at: string;
    }[];
    return rows.map((r) => ({ accountId: r.account_id, name: r.name, createdAt: r.created_at }));
  }

  async putCredential(c: Credential): Promise<void> {
    this.stmt(
      'INSERT OR REPLACE INTO credentials (access_key_id, secret, account_id, session_token, expires_at, principal_arn) VALUES (?,?,?,?,?,?)',
    ).run(c.accessKeyId, c.secretAccessKey, c.accountId, c.sessionToken ?? null, c.expiresAt ?? null, c.principalArn);
  }

  async getCredential(accessKeyId: string): Promise<Credential | undefined> {
    const r = this.stmt('SELECT * FROM credentials WHERE access_key_id=?').get(accessKeyId) as
      | { access_key_id: string; secret: string; account_id: string; session_token: string | null; expires_at: string | null; principal_arn: string }
      | undefined;
    return (
      r && {
        accessKeyId: r.access_key_id,
        secretAccessKey: r.secret,
        accountId: r.account_id,
        sessionToken: r.session_token ?? undefined,
        expiresAt: r.expires_at ?? undefined,
        principalArn: r.principal_arn,
      }
    );
  }

  async getIdempotency(scope: Scope, operation: string, token: string): Promise<IdempotencyRecord | undefined> {
    const r = this.stmt(
      'SELECT params_hash, output FROM idempotency WHERE account=? AND region=? AND operation=? AND token=?',
    ).get(scope.account, scope.region, operation, token) as { params_hash: string; output: string } | undefined;
    return r && { paramsHash: r.params_hash, output: r.output };
  }

  async putIdempotency(scope: Scope, operation: string, token: string, rec: IdempotencyRecord): Promise<void> {
    this.stmt(
      'INSERT OR REPLACE INTO idempotency (account, region, operation, token, params_hash, output) VALUES (?,?,?,?,?,?)',
    ).run(scope.account, scope.region, operation, token, rec.paramsHash, rec.output);
  }

  async close(): Promise<void> {
    await this.queue;
    if (this.walFd !== undefined) fs.closeSync(this.walFd);
    this.walFd = undefined;
    this.db.close();
  }
}
