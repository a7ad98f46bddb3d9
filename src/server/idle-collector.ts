/**
 * Gives memory back once the server goes quiet. V8 collects its old generation only as more is
 * allocated, so after a burst of requests the heap stays at its high-water mark (garbage the burst
 * promoted, and the wrappers of large answers' buffers with the buffers behind them) until the
 * next burst, and malloc keeps what was freed: a server that then idles for hours holds its peak
 * for hours. So, after requests, once none has come for a moment and the resident set has grown
 * since the last time, memory is released once (src/server/memory-release.ts): the policy of the JVM's
 * periodic collections for idle services (JEP 346), which also uncommit the heap. It never runs
 * while requests arrive; one that comes during a release (tens of milliseconds) waits for it.
 */
/** How long without a request counts as quiet. */
const QUIET_MS = 1000;
/**
 * Growth of the resident set since the last release that is worth releasing. The resident set, not
 * the heap in use: a burst's garbage is often collected by the time the server is quiet, and what it
 * leaves behind is heap and malloc memory that is committed but free, which only the release gives back.
 */
const WORTH_BYTES = 8 * 1024 * 1024;

const residentBytes = () => process.memoryUsage.rss();

export class IdleCollector {
  private lastActivity = 0;
  private timer?: NodeJS.Timeout;
  private afterLastRelease = residentBytes();

  constructor(private readonly release: () => void) {}

  /** A request arrived. */
  activity(): void {
    this.lastActivity = performance.now();
    if (!this.timer) this.checkIn(QUIET_MS);
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private checkIn(ms: number): void {
    this.timer = setTimeout(() => this.check(), ms);
    this.timer.unref();
  }

  private check(): void {
    const quietFor = performance.now() - this.lastActivity;
    if (quietFor < QUIET_MS) return this.checkIn(QUIET_MS - quietFor);
    this.timer = undefined;
    if (residentBytes() - this.afterLastRelease < WORTH_BYTES) return;
    this.release();
    this.afterLastRelease = residentBytes();
  }
}
