/**
 * Host uid and gid ranges for instances' user namespaces. Each instance maps its ids 0..65535 to a
 * range of host ids no other instance of this installation holds, so its root is an unprivileged
 * host user that owns nothing outside the instance, and two instances share no id on the host.
 * The range is kept in the instance's record (its root volume's files are owned by it) and given
 * back when the instance is destroyed.
 */
export const IDS_PER_INSTANCE = 65_536;
/** Far above the ids of the host's users and of the subordinate ranges useradd hands out (100000…). */
export const FIRST_ID_BASE = 0x4000_0000;
const LAST_ID = 0xffff_fffe; // (uid_t)-1 is no id
const SLOTS = Math.floor((LAST_ID - FIRST_ID_BASE + 1) / IDS_PER_INSTANCE);

export class IdRanges {
  private used?: Set<number>;

  /** `existing` lists the bases instances already hold (read once, on first use). */
  constructor(private readonly existing: () => Iterable<number>) {}

  private bases(): Set<number> {
    this.used ??= new Set([...this.existing()].filter(isIdBase));
    return this.used;
  }

  /** The lowest free range's first host id. */
  allocate(): number {
    const used = this.bases();
    for (let slot = 0; slot < SLOTS; slot++) {
      const base = FIRST_ID_BASE + slot * IDS_PER_INSTANCE;
      if (!used.has(base)) {
        used.add(base);
        return base;
      }
    }
    throw new Error(`no free host id range for another instance (${SLOTS} in use)`);
  }

  /** Marks a base as held (an instance found on disk with one). */
  hold(base: number): void {
    if (isIdBase(base)) this.bases().add(base);
  }

  release(base: number | undefined): void {
    if (base !== undefined) this.bases().delete(base);
  }
}

export function isIdBase(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= FIRST_ID_BASE && n <= LAST_ID - IDS_PER_INSTANCE + 1
    && (n - FIRST_ID_BASE) % IDS_PER_INSTANCE === 0;
}
