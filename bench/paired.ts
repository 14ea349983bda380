// Loom and PyTorch taking turns: each side's workload lives in a process of its own, built
// once, and the parent asks each for one step in turn (the order rotating every round), so
// every pair of steps meets the same moment of a shared, noisy machine. The ratio reported
// is the median of the per-round ratios, with its interquartile range: on this VM whole runs
// a minute apart differ by ±20%, steps taken side by side far less.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { median } from './util.js';

/** A process that runs one step of a workload per request and answers with its milliseconds. */
export class StepWorker {
  private stderr = '';
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly lines: AsyncIterator<string>,
    readonly name: string,
  ) {
    child.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-2000)));
  }

  /** Starts the process and waits until it says it is built and warmed up. */
  static async start(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): Promise<StepWorker> {
    const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const w = new StepWorker(child, createInterface({ input: child.stdout })[Symbol.asyncIterator](), name);
    const first = await w.next();
    if (first !== 'ready') throw new Error(`${name}: expected "ready", got ${JSON.stringify(first)}`);
    return w;
  }

  private async next(): Promise<string> {
    const r = await this.lines.next();
    if (r.done) {
      await new Promise((resolve) => setTimeout(resolve, 50)); // let stderr's last chunk arrive
      throw new Error(`${this.name} ended: ${this.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    }
    return r.value;
  }

  /** Milliseconds of one step. */
  async step(): Promise<number> {
    this.child.stdin.write('step\n');
    const ms = Number(await this.next());
    if (!Number.isFinite(ms)) throw new Error(`${this.name} answered something that is not a time`);
    return ms;
  }

  close(): void {
    this.child.stdin.end();
    this.child.kill();
  }
}

export interface PairedResult {
  name: string;
  /** Median milliseconds of this side's steps. */
  ms: number;
  /** Median over rounds of this side's time divided by the reference side's in the same round. */
  ratio: number;
  /** The ratios' 25th and 75th percentiles. */
  low: number;
  high: number;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))];
}

/** Steps every worker once per round, rotating who goes first; ratios are against workers[ref]. */
export async function runPaired(workers: StepWorker[], rounds: number, ref: number): Promise<PairedResult[]> {
  const times = workers.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < workers.length; k++) {
      const i = (r + k) % workers.length;
      times[i].push(await workers[i].step());
    }
  }
  return workers.map((w, i) => {
    const ratios = times[i].map((t, r) => t / times[ref][r]);
    return {
      name: w.name,
      ms: median(times[i]),
      ratio: median(ratios),
      low: quantile(ratios, 0.25),
      high: quantile(ratios, 0.75),
    };
  });
}
