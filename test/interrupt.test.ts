// Ctrl-C stops every long command within a step, with what it has written; a second Ctrl-C
// ends it at once. The loops are synchronous, so this needs the native signal counter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './helpers.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

interface Stopped {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Seconds from the (first) SIGINT to the exit. */
  seconds: number;
  stderr: string;
}

/** Starts `loom ARGS`, waits for its first line of progress, sends SIGINT `times` times. */
function interrupt(args: string[], times = 1): Promise<Stopped> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args, '--json', '--threads', '1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let sentAt = 0;
    const kill = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.stdout.setEncoding('utf8').on('data', () => {
      if (sentAt) return;
      sentAt = performance.now();
      child.kill('SIGINT');
      // Signals of one kind that arrive together merge into one: space them out.
      for (let i = 1; i < times; i++) setTimeout(() => child.kill('SIGINT'), 300 * i);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(kill);
      if (!sentAt) return reject(new Error(`exited (${code}) before any progress: ${stderr}`));
      resolve({ code, signal, seconds: (performance.now() - sentAt) / 1000, stderr });
    });
  });
}

const dir = mkdtempSync(path.join(tmpdir(), 'loom-int-'));
// Each run would go on for many minutes; one step of each takes well under a second here.
const LONG: Record<string, { args: string[]; writes?: string }> = {
  'text train': {
    args: [
      'text',
      'train',
      '--model',
      'lstm',
      '--out',
      path.join(dir, 'text'),
      '--units',
      '16',
      '--batch',
      '8',
      '--maxlen',
      '16',
      '--steps',
      '1000000',
      '--log-every',
      '1',
      '--sample-length',
      '5',
    ],
    writes: 'text/checkpoint.safetensors',
  },
  'vae train': {
    args: [
      'vae',
      'train',
      '--out',
      path.join(dir, 'vae'),
      '--limit',
      '512',
      '--batch',
      '8',
      '--epochs',
      '10000',
      '--log-every',
      '1',
    ],
    writes: 'vae/checkpoint.safetensors',
  },
  'gan train': {
    args: [
      'gan',
      'train',
      '--out',
      path.join(dir, 'gan'),
      '--limit',
      '512',
      '--batch',
      '8',
      '--g-filters',
      '8',
      '--d-filters',
      '8',
      '--steps',
      '1000000',
      '--log-every',
      '1',
      '--sample-every',
      '100000',
    ],
    writes: 'gan/checkpoint.safetensors',
  },
  'style train': {
    args: [
      'style',
      'train',
      '--out',
      path.join(dir, 'fast'),
      '--size',
      '64',
      '--batch',
      '1',
      '--width',
      '4',
      '--residual-blocks',
      '1',
      '--steps',
      '1000000',
      '--sample-every',
      '100000',
    ],
    writes: 'fast/checkpoint.safetensors',
  },
  style: {
    args: [
      'style',
      'builtin:horses',
      'builtin:scream',
      '--out',
      path.join(dir, 'style.png'),
      '--height',
      '80',
      '--iterations',
      '100000',
    ],
    writes: 'style.png',
  },
  dream: {
    args: [
      'dream',
      'builtin:kite',
      '--out',
      path.join(dir, 'dream.png'),
      '--max-side',
      '160',
      '--octaves',
      '1',
      '--steps',
      '100000',
      '--max-loss',
      '0',
    ],
    writes: 'dream.png',
  },
};

for (const [name, { args, writes }] of Object.entries(LONG)) {
  test(`Ctrl-C stops ${name} within a step and keeps what it had`, async () => {
    const r = await interrupt(args);
    assert.equal(r.code, 0, `exit code ${r.code} (${r.signal}): ${r.stderr}`);
    assert.ok(r.seconds < 30, `stopped ${r.seconds.toFixed(1)} s after Ctrl-C`);
    if (writes) assert.ok(existsSync(path.join(dir, writes)), `${writes} was written`);
  });
}

test('a second Ctrl-C ends a run at once, with exit code 130', async () => {
  // After the first Ctrl-C the run would sample 4 x 200,000 characters: far longer than the
  // 0.3 s before the second, on any machine, so the second always lands during the wind-down.
  const r = await interrupt(
    [
      'text',
      'train',
      '--model',
      'lstm',
      '--out',
      path.join(dir, 'text2'),
      '--units',
      '16',
      '--batch',
      '8',
      '--maxlen',
      '16',
      '--steps',
      '1000000',
      '--log-every',
      '1',
      '--sample-length',
      '200000',
    ],
    2,
  );
  assert.equal(r.code, 130, `exit code ${r.code}: ${r.stderr}`);
  assert.ok(r.seconds < 5, `ended ${r.seconds.toFixed(1)} s after the first Ctrl-C`);
});
