// Progress on a terminal (one rewritten line with speed and time left), plain lines otherwise.

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec)) return '?';
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** "  2 processes, global batch 64" in a data-parallel run's progress line; '' for one process. */
export function distributedNote(l: { processes?: number; global_batch?: number }): string {
  return l.processes ? `  ${l.processes} processes, global batch ${l.global_batch}` : '';
}

export class Progress {
  private readonly tty: boolean;
  private readonly start: number;
  private drawn = false;
  /** A data-parallel rank other than 0 keeps quiet: rank 0 reports for the job. */
  private readonly quiet = (Number(process.env.RANK) || 0) > 0;

  /**
   * `minutes`: the run's time budget (--minutes), which caps the time left that the steps
   * imply; `now`: the clock, in milliseconds (a test's own, so its figures do not depend on timing).
   */
  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly minutes: number | null = null,
    private readonly now: () => number = Date.now,
  ) {
    this.tty = Boolean(out.isTTY);
    this.start = now();
  }

  /** Reports progress; `done`/`total` give the bar and the time left when total is known. */
  update(done: number, total: number | null, detail: string): void {
    if (this.quiet) return;
    const elapsed = (this.now() - this.start) / 1000;
    const frac = total ? Math.min(1, done / total) : null;
    const bySteps = frac ? (elapsed / frac) * (1 - frac) : Infinity;
    const byClock = this.minutes ? Math.max(0, this.minutes * 60 - elapsed) : Infinity;
    const left = Number.isFinite(Math.min(bySteps, byClock)) ? formatDuration(Math.min(bySteps, byClock)) : null;
    if (this.tty) {
      const width = 24;
      const bar =
        frac === null
          ? ''
          : `[${'='.repeat(Math.round(frac * width)).padEnd(width)}] ${(frac * 100).toFixed(0).padStart(3)}% `;
      const line = `${bar}${done}${total ? '/' + total : ''}  ${detail}${left ? `  ETA ${left}` : ''}`;
      this.out.write(`\r\x1b[2K${line.slice(0, (this.out.columns || 120) - 1)}`);
      this.drawn = true;
    } else {
      this.out.write(`${done}${total ? '/' + total : ''}  ${detail}${left ? `  time left ${left}` : ''}\n`);
    }
  }

  /** Prints a line of its own (the bar is redrawn on the next update). */
  line(text: string, to: NodeJS.WriteStream = process.stdout): void {
    if (this.quiet) return;
    this.clear();
    to.write(text + '\n');
  }

  clear(): void {
    if (this.tty && this.drawn) {
      this.out.write('\r\x1b[2K');
      this.drawn = false;
    }
  }
}
