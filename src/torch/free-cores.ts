// The thread count that fits the cores other processes leave free. OpenMP's workers meet at
// a barrier after every parallel region; when another process holds one of the cores, the
// worker there runs late and the others wait for it (spinning, with libgomp's default), so
// on 2 cores with one busy process beside it, a training step of small ops ran 2.5 to 6x
// slower with 2 threads than with 1 (docs/benchmarks.md, "A busy machine"). Linux only: it reads the
// machine's CPU time from /proc/stat; elsewhere it never asks for a change.
import { readFileSync } from 'node:fs';

/** Threads for `cores` cores when other processes keep `othersBusy` cores' worth busy. */
export function threadsFor(cores: number, othersBusy: number): number {
  return Math.max(1, Math.min(cores, cores - Math.floor(othersBusy + 0.5)));
}

/** CPU seconds: all processes' busy time on our CPUs, and this process's own (all its threads). */
export interface CpuTimes {
  machine: number;
  own: number;
}

/**
 * Decides, from CPU time sampled once a window, when the thread count should change: when
 * the threads that fit differ from the current count in two windows in a row (a passing
 * burst, such as a compiler starting, changes nothing).
 */
export class FreeCores {
  private last: (CpuTimes & { at: number }) | null = null;
  private pending: number | null = null;
  /** Cores' worth of CPU that other processes used in the last window. */
  othersBusy = 0;

  constructor(
    readonly cores: number,
    private readonly sample: () => CpuTimes | null,
    readonly windowMs = 3000,
  ) {}

  /** Cheap unless a window has passed. Returns the thread count to switch to, or null to stay. */
  check(current: number, now: number): number | null {
    if (this.last && now - this.last.at < this.windowMs) return null;
    const s = this.sample();
    if (s === null) return null;
    const prev = this.last;
    this.last = { ...s, at: now };
    // A window much longer than asked for spans a pause between loops (a test awaiting
    // a child process, a user's code between two trainings): it says nothing of this loop.
    if (prev === null || now - prev.at > 4 * this.windowMs) {
      this.pending = null;
      return null;
    }
    const seconds = (now - prev.at) / 1000;
    this.othersBusy = Math.max(0, s.machine - prev.machine - (s.own - prev.own)) / seconds;
    const want = threadsFor(this.cores, this.othersBusy);
    if (want === current || this.pending !== want) {
      this.pending = want === current ? null : want;
      return null;
    }
    this.pending = null;
    return want;
  }
}

/** The CPUs this process may run on, from /proc/self/status ("0-3,8"); null if unknown. */
function allowedCpus(): Set<number> | null {
  try {
    const m = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (!m) return null;
    const cpus = new Set<number>();
    for (const part of m[1].split(',')) {
      const [a, b] = part.split('-').map(Number);
      for (let c = a; c <= (b ?? a); c++) cpus.add(c);
    }
    return cpus;
  } catch {
    return null;
  }
}

/**
 * Busy CPU time on the allowed CPUs (user, nice, system, irq, softirq and steal ticks of
 * /proc/stat's per-CPU lines, at Linux's 100 per second) and this process's own.
 */
function cpuTimes(cpus: Set<number>): CpuTimes | null {
  try {
    let ticks = 0;
    for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
      const m = /^cpu(\d+)\s+(.*)$/.exec(line);
      if (!m || !cpus.has(Number(m[1]))) continue;
      const [user, nice, system, , , irq, softirq, steal] = m[2].split(/\s+/).map(Number);
      ticks += user + nice + system + irq + softirq + (steal || 0);
    }
    const own = process.cpuUsage();
    return { machine: ticks / 100, own: (own.user + own.system) / 1e6 };
  } catch {
    return null;
  }
}

/**
 * A FreeCores for this machine when it can be measured: Linux, and the CPUs this process
 * may use are exactly the `threads` it runs (a CPU quota over a larger machine is not).
 */
export function freeCoresHere(threads: number, windowMs = 3000): FreeCores | null {
  const cpus = allowedCpus();
  if (cpus === null || cpus.size !== threads || threads < 2 || cpuTimes(cpus) === null) return null;
  return new FreeCores(threads, () => cpuTimes(cpus), windowMs);
}
