// The pace of a training loop: letting the event loop run between steps, the means and time
// per step between log lines, values made once per epoch, and the thread count fitted to the
// cores other processes leave free.
import * as T from '../torch/index.js';

/** The longest a training loop computes without letting the event loop run (timers, aborts, I/O). */
export const BREATHE_MS = 150;

/**
 * For a long synchronous loop in an async function: `await breather.breathe()` between steps
 * lets timers, I/O and an AbortSignal's abort run, at most once every BREATHE_MS.
 */
export class Breather {
  private last = performance.now();
  async breathe(): Promise<void> {
    if (performance.now() - this.last < BREATHE_MS) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.last = performance.now();
  }
}

/** The fields a data-parallel run's log lines add (see Training.distributedLog). */
export interface DistributedLog {
  processes?: number;
  global_batch?: number;
  /** Each rank's milliseconds per step over the line, in rank order. */
  rank_ms_per_step?: number[];
  collective_ms_per_step?: number;
  /** How the gradients are averaged over the ranks from here on (ProcessGroup.gradientPath). */
  gradients?: string;
}

export interface StepMeans {
  /** Each value's mean over the steps since the last line. */
  mean: Record<string, number>;
  steps: number;
  msPerStep: number;
}

/** Means of step values and the time per step, between log lines. */
export class StepMeter {
  private sums: Record<string, number> = {};
  private n = 0;
  private since = performance.now();

  add(values: Record<string, number>): void {
    for (const [k, v] of Object.entries(values)) this.sums[k] = (this.sums[k] ?? 0) + v;
    this.n++;
  }
  flush(): StepMeans {
    const n = Math.max(1, this.n);
    const mean = Object.fromEntries(Object.entries(this.sums).map(([k, v]) => [k, v / n]));
    const out = { mean, steps: this.n, msPerStep: (performance.now() - this.since) / n };
    this.sums = {};
    this.n = 0;
    this.since = performance.now();
    return out;
  }
}

/** A value computed once per epoch (the data order), recomputed when the epoch changes. */
export class PerEpoch<T> {
  private epoch = -1;
  private value: T | null = null;
  constructor(private readonly make: (epoch: number) => T) {}
  get(epoch: number): T {
    if (epoch !== this.epoch || this.value === null) {
      this.value = this.make(epoch);
      this.epoch = epoch;
    }
    return this.value;
  }
  /** Forgets the cached value (after a rollback moved the step). */
  reset(): void {
    this.epoch = -1;
    this.value = null;
  }
}

/**
 * For any long loop, between its steps: fits the thread count to the cores other processes
 * leave free (T.fitThreads) and tells `onNote` when it changes.
 */
export function fitThreadsBetweenSteps(onNote?: (message: string) => void): void {
  const fit = T.fitThreads();
  if (fit) onNote?.(threadsNote(fit));
}

/** One sentence on a change of thread count: why, and how to fix the count instead. */
export function threadsNote(fit: { threads: number; othersBusy: number }): string {
  const busy = fit.othersBusy.toFixed(1);
  return `other processes keep ${busy} cores busy: ${fit.threads} thread${fit.threads > 1 ? 's' : ''} from here (OpenMP's threads wait for one another when one shares its core; --threads N keeps a count)`;
}
