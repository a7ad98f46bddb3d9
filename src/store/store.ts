/**
 * The control plane's state. One interface, implemented over SQLite (embedded default) and, for
 * several control-plane replicas, PostgreSQL. Every method is asynchronous so that a networked
 * store can satisfy it; resources are scoped by account and region.
 */

export interface Scope {
  account: string;
  region: string;
}

export interface Tag {
  Key: string;
  Value: string;
}

export interface TagRow extends Tag {
  resourceId: string;
  resourceType: string;
}

export interface TagQuery {
  resourceIds?: string[];
  resourceTypes?: string[];
  keys?: string[];
  values?: string[];
}

export interface Account {
  accountId: string;
  name: string;
  createdAt: string;
}

export interface Credential {
  accessKeyId: string;
  secretAccessKey: string;
  accountId: string;
  /** Session credentials carry a token and an expiry. */
  sessionToken?: string;
  expiresAt?: string;
  /** The principal ARN the credential acts as. */
  principalArn: string;
}

export interface IdempotencyRecord {
  paramsHash: string;
  output: string;
}

export interface TransactionOptions {
  relaxed?: boolean;
}

/** One resource, by where it lives and its id. */
export interface ResourceRef {
  scope: Scope;
  id: string;
}

export interface Store {
  /**
   * Runs `fn` atomically: all its writes land, or none do. Transactions never interleave. A
   * transaction is durable when it returns (it survives power loss) unless `relaxed` is asked for:
   * then it survives a crash of the process at once and power loss from the next durable commit on
   * (SQLite's synchronous=NORMAL, PostgreSQL's synchronous_commit=off). Only state that can be
   * derived again after a loss may be written relaxed (the reconciler's, which it re-reads from
   * the driver).
   */
  transaction<T>(fn: () => Promise<T>, opts?: TransactionOptions): Promise<T>;

  get<T>(kind: string, scope: Scope, id: string): Promise<T | undefined>;
  getMany<T>(kind: string, scope: Scope, ids: readonly string[]): Promise<T[]>;
  /** All resources of a kind in a scope, in id order. */
  list<T>(kind: string, scope: Scope): Promise<T[]>;
  /**
   * The same as `list`, as documents shared by every reader and frozen: for answers that only read
   * them (describes). Documents that did not change since the last such read are not read again.
   */
  listShared<T>(kind: string, scope: Scope): Promise<readonly T[]>;
  /** The same as `getMany`, as shared and frozen documents (see listShared). */
  getManyShared<T>(kind: string, scope: Scope, ids: readonly string[]): Promise<readonly T[]>;
  /**
   * The resources of a kind whose stored text holds the value `value` (a string as JSON writes it,
   * in any field), in id order: the store searches the text and parses only what holds it. A
   * prefilter for a lookup by a value no index keeps (a group's members, an attachment id): the
   * caller still checks the field.
   */
  listHolding<T>(kind: string, scope: Scope, value: string): Promise<T[]>;
  /** Up to `limit` resources of a kind whose ids sort after `after` (all when absent), in id order: one page, read as one. */
  listAfter<T>(kind: string, scope: Scope, after: string | undefined, limit: number): Promise<T[]>;
  /** The ids of a kind's resources that begin with `prefix`, in id order: one read of the index, no documents. */
  idsWithPrefix(kind: string, scope: Scope, prefix: string): Promise<string[]>;
  /** How many of a kind's resources have ids of the form `${group}/…`: kept as they are written, so it reads one row. */
  countInGroup(kind: string, scope: Scope, group: string): Promise<number>;
  count(kind: string, scope: Scope): Promise<number>;
  /**
   * How many resources of a kind have the top-level document field `field` equal to one of
   * `values`. By `state`, the count is kept up to date as resources are written, so it reads no
   * documents and costs the same at any fleet size (`count` too).
   */
  countWhere(kind: string, scope: Scope, field: string, values: readonly string[]): Promise<number>;
  put<T>(kind: string, scope: Scope, id: string, doc: T): Promise<void>;
  remove(kind: string, scope: Scope, id: string): Promise<void>;
  /**
   * Calls `listener` after every commit that wrote or removed resources of `kind`, with which:
   * how a controller knows that what it read is still current without reading it again.
   */
  watch(kind: string, listener: (changed: readonly ResourceRef[]) => void): void;
  /** Resources of a kind across every account and region, for reconcilers. */
  listAll<T>(kind: string): Promise<{ scope: Scope; doc: T }[]>;
  /**
   * Up to `limit` resources of a kind across every account and region, in (account, region, id)
   * order, from the one after `after` (from the first when undefined): a scan of them all in pages.
   */
  listAllAfter<T>(kind: string, after: ResourceRef | undefined, limit: number): Promise<{ scope: Scope; id: string; doc: T }[]>;

  tagsOf(scope: Scope, resourceIds: readonly string[]): Promise<Map<string, Tag[]>>;
  queryTags(scope: Scope, query: TagQuery): Promise<TagRow[]>;
  /** Ids of resources that carry the tag (value undefined: any value). */
  resourcesWithTag(scope: Scope, key: string, value?: string): Promise<string[]>;
  /** Ids of resources with a tag whose key begins with `keyPrefix`: one range of the key index. */
  resourcesWithTagKeyPrefix(scope: Scope, keyPrefix: string): Promise<string[]>;
  /**
   * Ids of resources with a tag whose value begins with `valuePrefix`, under `key` (an index range)
   * or under any key (undefined: a scan of the region's tags).
   */
  resourcesWithTagPrefix(scope: Scope, key: string | undefined, valuePrefix: string): Promise<string[]>;
  setTags(scope: Scope, resourceId: string, resourceType: string, tags: readonly Tag[]): Promise<void>;
  deleteTags(scope: Scope, resourceId: string, tags: readonly { Key: string; Value?: string }[]): Promise<void>;
  deleteAllTags(scope: Scope, resourceId: string): Promise<void>;

  createAccount(account: Account): Promise<void>;
  getAccount(accountId: string): Promise<Account | undefined>;
  listAccounts(): Promise<Account[]>;
  putCredential(cred: Credential): Promise<void>;
  getCredential(accessKeyId: string): Promise<Credential | undefined>;

  getIdempotency(scope: Scope, operation: string, token: string): Promise<IdempotencyRecord | undefined>;
  putIdempotency(scope: Scope, operation: string, token: string, record: IdempotencyRecord): Promise<void>;

  /**
   * Writes a consistent snapshot of the whole store to `file` while others go on reading and
   * writing (an online backup); `nimbus admin restore` brings it back.
   */
  backup(file: string): Promise<void>;

  /** Frees what the store caches and can read again (a quiet server gives its memory back). */
  releaseMemory(): void;

  close(): Promise<void>;
}
