/**
 * Parsed documents kept between reads, for answers that only read them. A describe of everything
 * spent about a third of its time reading and parsing documents it had parsed the time before.
 *
 * An entry is the document as committed: a write forgets its entry at once (so a rolled-back one
 * leaves only a miss), nothing is kept that a transaction read after writing documents itself (it
 * may not commit), and a commit by another connection (the CLI) empties the cache. Entries are
 * deep-frozen because every reader shares them: a change would throw instead of corrupting the
 * next answer.
 */

/** How many documents are kept at most: a fleet of 10,000 instances with their interfaces. */
const MAX_DOCUMENTS = 20_000;
/**
 * The longest list of a scope's documents kept whole: a region's subnets, groups or VPCs, which
 * every launch reads, not its instances, which change with every launch anyway.
 */
const MAX_LISTED = 256;

const scopeKey = (kind: string, account: string, region: string) => `${kind}\u0000${account}\u0000${region}`;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export class DocumentCache {
  private readonly scopes = new Map<string, Map<string, unknown>>();
  /** Whole lists of a scope's documents of a kind, in id order, until any of the kind is written in the scope. */
  private readonly lists = new Map<string, readonly unknown[]>();
  private size = 0;
  /** The database's data_version when the entries were read. */
  private version: number | undefined;

  /** Drops everything when another connection has committed since the entries were read. */
  validate(dataVersion: number): void {
    if (this.version !== dataVersion) this.clear();
    this.version = dataVersion;
  }

  /** The kept documents of these ids, in their order; undefined where none is kept. */
  lookup(kind: string, account: string, region: string, ids: readonly string[]): unknown[] {
    const docs = this.scopes.get(scopeKey(kind, account, region));
    return docs ? ids.map((id) => docs.get(id)) : new Array<unknown>(ids.length).fill(undefined);
  }

  /** Freezes the document and keeps it, while there is room. Returns it frozen either way. */
  keep<T>(kind: string, account: string, region: string, id: string, doc: T): T {
    deepFreeze(doc);
    if (this.size >= MAX_DOCUMENTS) return doc;
    const key = scopeKey(kind, account, region);
    let docs = this.scopes.get(key);
    if (!docs) this.scopes.set(key, (docs = new Map()));
    if (!docs.has(id)) this.size++;
    docs.set(id, doc);
    return doc;
  }

  /** The kept list of every document of the kind in the scope, if one is kept. */
  list(kind: string, account: string, region: string): readonly unknown[] | undefined {
    return this.lists.get(scopeKey(kind, account, region));
  }

  /** Keeps the scope's whole list of the kind (its documents kept already), if it is short. */
  keepList(kind: string, account: string, region: string, docs: readonly unknown[]): void {
    if (docs.length <= MAX_LISTED) this.lists.set(scopeKey(kind, account, region), Object.freeze(docs));
  }

  forget(kind: string, account: string, region: string, id: string): void {
    const key = scopeKey(kind, account, region);
    this.lists.delete(key);
    if (this.scopes.get(key)?.delete(id)) this.size--;
  }

  clear(): void {
    this.scopes.clear();
    this.lists.clear();
    this.size = 0;
  }
}
