// Run folders as the trainers leave them, written by hand for the studio's runs tests: states
// come from fake run.lock files (a live pid, a dead one) and file times set here, never a clock.
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Studio } from '../src/studio/server.js';
import { StyleNet } from '../src/models/style/fast-net.js';
import { saveCheckpoint } from '../src/io/checkpoint.js';

/** A pid no process has: above any pid_max, so kill(pid, 0) fails with ESRCH. */
export const DEAD_PID = 2147483646;
/** A 1x1 PNG, so the page's thumbnails load as pictures. */
export const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

export interface Fixture {
  config?: Record<string, unknown>;
  metrics?: Record<string, unknown>[];
  checkpoint?: boolean;
  /** The pid in run.lock. */
  lock?: number;
  /** Files under samples/, oldest first (their times are set a second apart). */
  samples?: string[];
  /** Seconds since the run last wrote: its files' and folder's times are set so. */
  age?: number;
  /** Seconds it ran: config.json is written that long before its last log line. */
  ran?: number;
}

/** A run folder as a trainer leaves it. */
export function writeRun(dir: string, f: Fixture): void {
  mkdirSync(dir, { recursive: true });
  const last = Date.now() / 1000 - (f.age ?? 0);
  const at = (file: string, t: number) => existsSync(file) && utimesSync(file, t, t);
  if (f.config) writeFileSync(path.join(dir, 'config.json'), JSON.stringify(f.config));
  if (f.metrics)
    writeFileSync(path.join(dir, 'metrics.jsonl'), f.metrics.map((m) => JSON.stringify(m) + '\n').join(''));
  if (f.checkpoint) writeFileSync(path.join(dir, 'checkpoint.safetensors'), 'weights');
  if (f.lock !== undefined) writeFileSync(path.join(dir, 'run.lock'), `${f.lock}\n`);
  (f.samples ?? []).forEach((s, i) => {
    mkdirSync(path.join(dir, 'samples'), { recursive: true });
    writeFileSync(path.join(dir, 'samples', s), s.endsWith('.png') ? PNG : 'text');
    at(path.join(dir, 'samples', s), last - 100 + i);
  });
  for (const file of ['metrics.jsonl', 'checkpoint.safetensors', 'run.lock', 'samples', '.'])
    at(path.join(dir, file), last);
  at(path.join(dir, 'config.json'), last - (f.ran ?? 0));
}

export const textLog = (steps: number, bpc: number[]) => [
  ...bpc.flatMap((v, i) => [
    { step: (i + 1) * steps, epoch: i + 1, loss: 1.5 - i * 0.1, bpc: 2.2 - i * 0.1, ms_per_step: 100 },
    { epoch: i + 1, step: (i + 1) * steps, train_bpc: 2.2 - i * 0.1, val_bpc: v, best: true },
  ]),
];

/** Text, VAE and GAN runs in each of the four states, and a dream's picture. */
export function writeRuns(runs: string): void {
  writeRun(path.join(runs, 'text-live'), {
    config: { system: 'text', epochs: 10, lr: 0.002, batch: 32, minutes: null },
    metrics: textLog(50, [2.5, 2.1]),
    checkpoint: true,
    lock: process.pid,
    samples: ['epoch-001.txt', 'step-000010.png', 'step-000020.png', 'epoch-002.txt'],
  });
  writeRun(path.join(runs, 'text-killed'), {
    config: { system: 'text', epochs: 10, lr: 0.01, batch: 32, minutes: null },
    metrics: textLog(50, [2.6]),
    checkpoint: true,
    lock: DEAD_PID,
  });
  writeRun(path.join(runs, 'text-broke'), {
    config: { system: 'text', epochs: 10, lr: 0.002, batch: 32 },
    metrics: [{ step: 10, loss: 3, ms_per_step: 90 }],
    lock: DEAD_PID,
  });
  writeRun(path.join(runs, 'vae-done'), {
    config: { system: 'vae', epochs: 2, latent: 2 },
    metrics: [
      { step: 100, epoch: 1, loss: 190, ms_per_step: 5 },
      { epoch: 1, step: 100, test_elbo_nats: 170.5 },
      { step: 200, epoch: 2, loss: 160, ms_per_step: 5 },
      { epoch: 2, step: 200, test_elbo_nats: 150.25 },
    ],
    checkpoint: true,
    age: 3600,
    samples: ['epoch-001-grid.png', 'epoch-002-grid.png'],
  });
  // Stopped after a minute of its 10 and one epoch of its 5.
  writeRun(path.join(runs, 'vae-short'), {
    config: { system: 'vae', epochs: 5, minutes: 10, latent: 2 },
    metrics: [{ epoch: 1, step: 100, test_elbo_nats: 171 }],
    checkpoint: true,
    ran: 60,
  });
  // Ended by its --minutes (one), 2 minutes after it started: done, far from its steps.
  writeRun(path.join(runs, 'gan-minutes'), {
    config: { system: 'gan', steps: 1_000_000, minutes: 1 },
    metrics: [
      { step: 100, d_loss: 0.6, a_loss: 1.2, ms_per_step: 40 },
      { step: 200, fd: 31.5, confident: 0.42, classes: 9, warnings: [] },
    ],
    checkpoint: true,
    ran: 120,
    samples: ['real.png', 'step-000200.png'],
  });
  // Killed at its last step, before it let its lock go: stopped, though its steps were reached.
  writeRun(path.join(runs, 'gan-killed'), {
    config: { system: 'gan', steps: 200 },
    metrics: [{ step: 200, d_loss: 0.6, a_loss: 1.2, ms_per_step: 40 }],
    checkpoint: true,
    lock: DEAD_PID,
  });
  mkdirSync(path.join(runs, 'dream-20250101-000000-abcd'));
  writeFileSync(path.join(runs, 'dream-20250101-000000-abcd', 'dream.png'), PNG);
}

/** A GET with the studio's token. */
export function get(studio: Studio, p: string): Promise<{ status: number; body: string }> {
  const u = new URL(studio.url);
  return new Promise((resolve, reject) => {
    http
      .get({ host: u.hostname, port: u.port, path: p, headers: { authorization: `Bearer ${studio.token}` } }, (res) => {
        let data = '';
        res
          .setEncoding('utf8')
          .on('data', (c) => (data += c))
          .on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      })
      .on('error', reject);
  });
}

/** A fast style run of a tiny net: untrained weights run the same operators as trained ones. */
export function writeStyleNetRun(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const shape = { width: 4, residualBlocks: 1 };
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ system: 'style', ...shape }));
  using net = new StyleNet(shape);
  saveCheckpoint(path.join(dir, 'checkpoint.safetensors'), { modules: { net } }, { step: 0, config: shape });
}
