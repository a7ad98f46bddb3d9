/**
 * Progress of a debootstrap run, and a terminal display of it.
 *
 * debootstrap is run with `--debian-installer`, which makes it write machine-readable progress on
 * file descriptor 3 (its human log goes to stdout/stderr, which the builder keeps in a log file):
 *
 *   P: <now> <end> [<STAGE>]      a stage starts or advances (without STAGE: the current one,
 *   PA: <arg> … PF: <format>       e.g. the bytes of the .debs downloaded so far)
 *   I: <NAME>  IA: <arg> … IF: <printf format>      an info message ("Retrieving %s %s")
 *   W: / WA: / WF:, E: / EA: / EF:                  warnings and errors, likewise
 *
 * `DebootstrapProgress` turns those lines into `BuildProgress` events: the phase (Retrieving,
 * Validating, Extracting, Unpacking, Configuring …), its N/M and an overall percentage weighted by
 * how long each stage takes. `ProgressDisplay` draws them: on a TTY one line redrawn in place
 * with a bar; otherwise plain lines, one per phase and every tenth of it.
 */

export interface BuildProgress {
  /** A short human name of the phase ("Retrieving packages", "Configuring base system", …). */
  phase: string;
  /** Progress within the phase: now of end (end 0: unknown). */
  now: number;
  end: number;
  /** The unit of now/end. */
  unit: 'items' | 'bytes';
  /** The latest detail (a package name, "Validating libc6 2.36-9", …). */
  detail: string;
  /** 0–100 over the whole build. */
  percent: number;
}

interface Stage {
  phase: string;
  /** Share of the whole build this stage takes (they sum to about 100 with the builder's own steps). */
  weight: number;
  unit: 'items' | 'bytes';
}

/** debootstrap's stages, in the order they run, with a rough share of a build's time. */
const STAGES: Record<string, Stage> = {
  DOWNREL: { phase: 'Retrieving Release file', weight: 1, unit: 'items' },
  DOWNRELSIG: { phase: 'Retrieving Release signature', weight: 1, unit: 'items' },
  DOWNPKGS: { phase: 'Retrieving Packages indices', weight: 2, unit: 'bytes' },
  DOWNMAINPKGS: { phase: 'Retrieving Packages index', weight: 2, unit: 'items' },
  SIZEDEBS: { phase: 'Sizing packages', weight: 1, unit: 'items' },
  DOWNDEBS: { phase: 'Retrieving packages', weight: 22, unit: 'bytes' },
  EXTRACTPKGS: { phase: 'Extracting packages', weight: 8, unit: 'items' },
  INSTCORE: { phase: 'Installing core packages', weight: 2, unit: 'items' },
  UNPACKREQ: { phase: 'Unpacking required packages', weight: 10, unit: 'items' },
  CONFREQ: { phase: 'Configuring required packages', weight: 10, unit: 'items' },
  UNPACKBASE: { phase: 'Unpacking base system', weight: 15, unit: 'items' },
  CONFBASE: { phase: 'Configuring base system', weight: 20, unit: 'items' },
};
const ORDER = Object.keys(STAGES);
/** What the builder's own steps after debootstrap are worth. */
export const DEBOOTSTRAP_SHARE = 93;
const TOTAL_WEIGHT = ORDER.reduce((s, k) => s + STAGES[k]!.weight, 0);

/** printf's %s (and %d, %%) with args, as debootstrap's messages use them. */
function format(fmt: string, args: string[]): string {
  let i = 0;
  return fmt.replace(/%[sd%]/g, (m) => (m === '%%' ? '%' : args[i++] ?? ''));
}

export class DebootstrapProgress {
  private stage = '';
  private now = 0;
  private end = 0;
  private detail = '';
  private percent = 0;
  private pending: { kind: string; name: string; nums: string[]; args: string[] } | undefined;
  private buffer = '';
  /** Warnings and errors debootstrap reported, as text. */
  readonly warnings: string[] = [];
  readonly errors: string[] = [];

  constructor(private readonly emit: (p: BuildProgress) => void) {}

  /** Feeds a chunk of fd 3's output. */
  write(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      this.line(this.buffer.slice(0, nl));
      this.buffer = this.buffer.slice(nl + 1);
    }
  }

  /** Flushes a last unterminated line and a pending message. */
  finish(): void {
    if (this.buffer) this.line(this.buffer);
    this.buffer = '';
    this.flush();
  }

  /** The whole build's percentage for a stage and its progress. */
  static percent(stage: string, now: number, end: number): number {
    const idx = ORDER.indexOf(stage);
    if (idx < 0) return 0;
    const before = ORDER.slice(0, idx).reduce((s, k) => s + STAGES[k]!.weight, 0);
    const frac = end > 0 ? Math.min(1, Math.max(0, now / end)) : 0;
    return ((before + STAGES[stage]!.weight * frac) / TOTAL_WEIGHT) * DEBOOTSTRAP_SHARE;
  }

  private line(raw: string): void {
    const line = raw.replace(/\r$/, '');
    const m = /^([A-Z]{1,2}):\s?(.*)$/.exec(line);
    if (!m) return;
    const [, tag, rest = ''] = m;
    switch (tag) {
      case 'P': {
        this.flush();
        const parts = rest.trim().split(/\s+/);
        const [now, end, name] = parts;
        if (name) this.pending = { kind: 'P', name, nums: [now ?? '0', end ?? '0'], args: [] };
        else this.progress(this.stage, Number(now), Number(end)); // a sub-step (download bytes) of the current stage
        break;
      }
      case 'I':
      case 'W':
      case 'E':
        this.flush();
        this.pending = { kind: tag, name: rest.trim(), nums: [], args: [] };
        break;
      case 'PA':
      case 'IA':
      case 'WA':
      case 'EA':
        this.pending?.args.push(rest);
        break;
      case 'PF':
      case 'IF':
      case 'WF':
      case 'EF': {
        const p = this.pending;
        this.pending = undefined;
        if (!p) break;
        const text = format(rest, p.args);
        if (p.kind === 'P') this.progress(p.name, Number(p.nums[0]), Number(p.nums[1]));
        else this.message(p.kind, p.name, text);
        break;
      }
    }
  }

  /** A P: or I: whose format line never came (debootstrap omits PF: for some P: lines). */
  private flush(): void {
    const p = this.pending;
    this.pending = undefined;
    if (!p) return;
    if (p.kind === 'P') this.progress(p.name, Number(p.nums[0]), Number(p.nums[1]));
    else this.message(p.kind, p.name, p.args.join(' '));
  }

  private progress(stage: string, now: number, end: number): void {
    if (!stage) return;
    if (stage !== this.stage) this.detail = '';
    this.stage = stage;
    this.now = Number.isFinite(now) ? now : 0;
    this.end = Number.isFinite(end) ? end : 0;
    this.send();
  }

  private message(kind: string, name: string, text: string): void {
    if (kind === 'W') this.warnings.push(text);
    if (kind === 'E') this.errors.push(text);
    if (kind !== 'I') return;
    // Retrieving/Validating/Extracting/Unpacking/Configuring <package>: the detail of the stage.
    if (/^(RETRIEVING|VALIDATING|EXTRACTING|UNPACKING|CONFIGURING)$/.test(name)) {
      this.detail = text.replace(/\.\.\.$/, '');
      if (this.stage) this.send();
    } else if (!this.stage || /^(BASESUCCESS|RESOLVEREQ|RESOLVEBASE|CHECKINGSIZES|RELEASESIG|VALIDRELSIG)$/.test(name)) {
      this.detail = text.replace(/\.\.\.$/, '');
      if (this.stage) this.send();
    }
  }

  private send(): void {
    const s = STAGES[this.stage];
    // A stage this table does not know (a newer debootstrap): shown by its name, the percentage held.
    if (s) this.percent = DebootstrapProgress.percent(this.stage, this.now, this.end);
    this.emit({
      phase: s?.phase ?? this.stage.toLowerCase(),
      now: this.now,
      end: this.end,
      unit: s?.unit ?? 'items',
      detail: this.detail,
      percent: this.percent,
    });
  }
}

export interface ProgressStream {
  write(s: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

const mib = (n: number) => (n / 1048576).toFixed(1);

/** "12/230" or "3.1/57.2 MiB". */
export function counter(p: BuildProgress): string {
  if (p.end <= 0) return '';
  return p.unit === 'bytes' ? `${mib(p.now)}/${mib(p.end)} MiB` : `${p.now}/${p.end}`;
}

/**
 * Draws build progress on a terminal: on a TTY a single line redrawn in place
 * (`[#####-----]  42% Configuring base system 35/120  libfoo`); elsewhere plain lines, one when a
 * phase begins and one each time it passes another tenth, so logs stay short.
 */
export class ProgressDisplay {
  private readonly tty: boolean;
  private lastPhase = '';
  private lastTenth = -1;
  private lastDraw = 0;
  private drawn = false;
  private readonly t0 = Date.now();

  constructor(private readonly out: ProgressStream = process.stdout, opts: { tty?: boolean } = {}) {
    this.tty = opts.tty ?? Boolean(out.isTTY);
  }

  update(p: BuildProgress): void {
    const pct = Math.floor(Math.min(100, Math.max(0, p.percent)));
    if (this.tty) {
      const now = Date.now();
      if (p.phase === this.lastPhase && now - this.lastDraw < 80) return; // at most ~12 redraws a second
      this.lastPhase = p.phase;
      this.lastDraw = now;
      const width = 24;
      const filled = Math.round((pct / 100) * width);
      const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
      const text = `${bar} ${String(pct).padStart(3)}% ${p.phase} ${counter(p)}${p.detail ? `  ${p.detail}` : ''}`;
      const cols = Math.max(20, (this.out.columns ?? 80) - 1);
      this.out.write(`\r\x1b[K${text.length > cols ? text.slice(0, cols) : text}`);
      this.drawn = true;
      return;
    }
    const tenth = p.end > 0 ? Math.floor((p.now / p.end) * 10) : 0;
    if (p.phase === this.lastPhase && tenth <= this.lastTenth) return;
    this.lastPhase = p.phase;
    this.lastTenth = tenth;
    const c = counter(p);
    this.out.write(`  ${String(pct).padStart(3)}% ${p.phase}${c ? ` ${c}` : ''}\n`);
  }

  /** A line of its own (a step of the builder), above the progress line on a TTY. */
  log(line: string): void {
    if (this.tty && this.drawn) this.out.write('\r\x1b[K');
    this.out.write(`  ${line}\n`);
    this.drawn = false;
    this.lastDraw = 0;
  }

  /** Ends the display (the cursor goes to a fresh line). */
  done(): void {
    if (this.tty && this.drawn) this.out.write('\n');
    this.drawn = false;
  }

  elapsedMs(): number {
    return Date.now() - this.t0;
  }
}
