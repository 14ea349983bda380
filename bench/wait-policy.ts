// How OpenMP's idle workers wait, measured on Loom's training steps on an idle machine and on
// a busy one (as many busy processes as cores beside it: a build, a browser, another run).
// libgomp's default spins for about 300,000 iterations before sleeping: on an idle machine that
// saves a wake-up per parallel region, but when another process holds a core, a worker spins
// on a barrier while the worker it waits for is not running, and steps of many small ops
// slow by one to two orders of magnitude. Each setting runs in a fresh process (libgomp reads
// its environment once). Usage: npm run bench -- wait-policy [--quick] [--only text,gpt,...]
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { TEXT_MODELS } from '../src/models/text/index.js';
import { dcganStepWorkload } from './gan.js';
import { gptStepWorkload } from './gpt.js';
import { styleApplyWorkload } from './style.js';
import { textStepWorkload } from './text.js';
import { vaeStepWorkload } from './vae.js';
import { printTable, repoRoot, workloadMs, type Workload } from './util.js';

/** The settings compared; each sets the variable that libgomp reads, so Loom's own choice steps aside. */
const SETTINGS: Record<string, Record<string, string>> = {
  "spin 300k (libgomp's default)": { GOMP_SPINCOUNT: '300000' },
  'spin 10k': { GOMP_SPINCOUNT: '10000' },
  'spin 1k': { GOMP_SPINCOUNT: '1000' },
  passive: { OMP_WAIT_POLICY: 'PASSIVE' },
};

/** The workloads: small ops (the transformer, the LSTM, the demo's GAN) and large convolutions. */
const WORKLOADS: Record<string, { title: string; make: () => Workload }> = {
  gpt: {
    title: 'char transformer step',
    // The defaults' shape (TEXT_MODELS.gpt also carries embed, heads, layers, block, batch).
    make: () => gptStepWorkload({ vocab: 65, ...TEXT_MODELS.gpt }),
  },
  text: {
    title: 'char LSTM step',
    make: () => textStepWorkload({ vocab: 57, units: 128, maxlen: 60, batch: 128 }),
  },
  gan: { title: "demo's GAN step", make: () => dcganStepWorkload() },
  vae: { title: 'VAE step', make: () => vaeStepWorkload(128) },
  apply: { title: 'fast style 512²', make: () => styleApplyWorkload() },
};

/** Median ms of each named workload, in this process (the child's side). */
export function waitPolicyProbe(names: string[], runs: number): number[] {
  T.setNumThreads(os.availableParallelism());
  return names.map((n) => workloadMs(WORKLOADS[n].make(), runs, 2));
}

/** `n` processes (default: one per core), each spinning in a loop, until stopped. */
export function busyProcesses(n = os.availableParallelism()): ChildProcess[] {
  return Array.from({ length: n }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
}

export function waitPolicyBench(quick: boolean, only: string[] | null): void {
  const names = only ?? Object.keys(WORKLOADS);
  const unknown = names.find((n) => !(n in WORKLOADS));
  if (unknown) throw new Error(`no workload ${unknown}; there are ${Object.keys(WORKLOADS).join(', ')}`);
  const script = path.join(repoRoot, 'dist', 'bench', 'wait-policy-child.js');
  const clean = { ...process.env };
  delete clean.OMP_WAIT_POLICY;
  delete clean.GOMP_SPINCOUNT;
  const head = ['waiting', ...names.map((n) => `${WORKLOADS[n].title}, ms`)];
  for (const busy of [false, true]) {
    // Busy steps can take seconds each: fewer runs there.
    const runs = busy ? (quick ? 3 : 5) : quick ? 5 : 15;
    const load = busy ? busyProcesses() : [];
    const rows: string[][] = [];
    try {
      for (const [name, env] of Object.entries(SETTINGS)) {
        const out = execFileSync(process.execPath, [script, names.join(','), String(runs)], {
          encoding: 'utf8',
          env: { ...clean, ...env },
        });
        rows.push([name, ...(JSON.parse(out) as number[]).map((ms) => ms.toFixed(1))]);
        console.log(rows[rows.length - 1].join('  '));
      }
    } finally {
      for (const p of load) p.kill('SIGKILL');
    }
    const state = busy ? `busy (${load.length} spinning processes beside it)` : 'idle';
    console.log(`\n${os.cpus()[0].model}, ${os.availableParallelism()} threads, ${state}, median of ${runs}`);
    printTable(head, rows);
  }
}

/**
 * The user's view: `loom text train` (the transformer) and `loom gan train` (the demo's
 * recipe) for `minutes` beside 0, 1 and `cores` busy processes, with every core fixed
 * (`--threads N`, as before Loom fitted the count) and with Loom's default, which drops
 * threads while other processes hold cores. Prints the last logged ms per step.
 */
export function busyTrainingBench(minutes: number): void {
  const cores = os.availableParallelism();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'loom-busy-'));
  const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
  const commands: [string, string[]][] = [
    ['char transformer', ['text', 'train', '--corpus', 'builtin:sotu', '--log-every', '20']],
    ["demo's GAN", ['gan', 'train', '--log-every', '20', '--sample-every', '100000']],
  ];
  const rows: string[][] = [];
  for (const others of [0, 1, cores]) {
    for (const [title, args] of commands) {
      const row = [`${title}, ${others} busy`];
      for (const threads of [[`--threads`, String(cores)], []]) {
        const load = busyProcesses(others);
        try {
          const out = path.join(dir, `${rows.length}-${threads.length}`);
          const r = spawnSync(
            process.execPath,
            [cli, ...args, '--out', out, '--minutes', String(minutes), '--json', ...threads],
            {
              encoding: 'utf8',
            },
          );
          const ms = [...r.stdout.matchAll(/"ms_per_step":([\d.]+)/g)].map((m) => Number(m[1]));
          const switched = /other processes keep ([\d.]+) cores busy: (\d+) thread/.exec(r.stderr);
          row.push(`${ms.length ? ms[ms.length - 1].toFixed(1) : '-'}${switched ? ` (${switched[2]} thr)` : ''}`);
        } finally {
          for (const p of load) p.kill('SIGKILL');
        }
      }
      rows.push(row);
      console.log(row.join('  '));
    }
  }
  rmSync(dir, { recursive: true, force: true });
  console.log(`\n${os.cpus()[0].model}, ${cores} cores, ${minutes} min each, the last logged ms per step`);
  printTable(['training, processes beside it', `--threads ${cores}`, "Loom's default (fitted)"], rows);
}
