// Bad sizes, bad flags and unwritable outputs end `loom` with one sentence (exit 2), before
// any work; Ctrl-C ends style transfer and the demo promptly with what they made.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from './helpers.js';
import * as T from '../src/torch/index.js';
import { saveSafetensors } from '../src/io/safetensors.js';
import { cacheFolder } from '../src/vision/weights.js';
import { LBFGS } from '../src/optim/index.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const dir = mkdtempSync(path.join(tmpdir(), 'loom-sentences-'));
const env = { ...process.env, LOOM_THREADS: '1' };

/** `loom ARGS`; a run that outlives the bound is killed (a hang fails the test, not the suite). */
const loom = (args: string[], extraEnv: Record<string, string> = {}): SpawnSyncReturns<string> =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 90_000, env: { ...env, ...extraEnv } });

/** Exit code 2 and one line on stderr: no stack, no 'internal error', no libtorch or sharp text. */
function sentence(r: SpawnSyncReturns<string>, expected: RegExp): void {
  assert.equal(r.status, 2, `exit ${r.status} (${r.signal}): ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^loom: /);
  assert.doesNotMatch(lines[0], /internal error|RangeError|Storage size|c10|system error|\bat .*:\d+:\d+/);
  assert.match(lines[0], expected);
}

// Tiny trained runs for the verbs that read one (a few seconds each).
const textRun = path.join(dir, 'text');
const vaeRun = path.join(dir, 'vae');
before(() => {
  const t = loom([
    'text',
    'train',
    '--model',
    'lstm',
    '--out',
    textRun,
    '--units',
    '8',
    '--batch',
    '4',
    '--maxlen',
    '8',
    '--steps',
    '2',
    '--sample-length',
    '2',
  ]);
  assert.equal(t.status, 0, t.stderr);
  const v = loom(['vae', 'train', '--out', vaeRun, '--limit', '32', '--batch', '8', '--epochs', '1']);
  assert.equal(v.status, 0, v.stderr);
});

// Each once ran out of memory, overflowed a size or threw a RangeError with a stack.
const BOUNDS: [string, string[], RegExp][] = [
  ['dream --octaves', ['dream', 'builtin:kite', '--octaves', '1e12', '--out', path.join(dir, 'd.png')], /--octaves/],
  [
    'dream --zoom-frames',
    ['dream', 'builtin:kite', '--zoom-frames', '1e9', '--out', path.join(dir, 'z.gif')],
    /--zoom-frames/,
  ],
  [
    'style --height',
    ['style', 'builtin:horses', 'builtin:scream', '--height', '1e9', '--out', path.join(dir, 's.png')],
    /--height/,
  ],
  [
    'style apply --height',
    ['style', 'apply', path.join(dir, 'none'), 'builtin:horses', '--height', '1e9', '--out', path.join(dir, 'a.png')],
    /--height/,
  ],
  ['vae grid --size', ['vae', 'grid', vaeRun, '--size', '100000', '--out', path.join(dir, 'g.png')], /--size/],
  ['vae sample --count', ['vae', 'sample', vaeRun, '--count', '1e9', '--out', path.join(dir, 'v.png')], /--count/],
  [
    'vae interpolate --steps',
    ['vae', 'interpolate', vaeRun, '0', '1', '--steps', '1e9', '--out', path.join(dir, 'i.png')],
    /--steps/,
  ],
  [
    'gan sample --count',
    ['gan', 'sample', path.join(dir, 'none'), '--count', '1e9', '--out', path.join(dir, 'n.png')],
    /--count/,
  ],
  [
    'gan walk --frames',
    ['gan', 'walk', path.join(dir, 'none'), '--frames', '1e9', '--out', path.join(dir, 'w.gif')],
    /--frames/,
  ],
  ['text generate --length', ['text', 'generate', textRun, '--length', '1e12'], /--length/],
  ['text generate --count', ['text', 'generate', textRun, '--count', '1e6'], /--count/],
  ['vae eval --iw-samples', ['vae', 'eval', vaeRun, '--iw-samples', '1e9'], /--iw-samples/],
  [
    'style train --size',
    ['style', 'train', '--style', 'builtin:scream', '--size', '100000', '--out', path.join(dir, 'st')],
    /--size must be at most 4096/,
  ],
  [
    'style train --width',
    ['style', 'train', '--style', 'builtin:scream', '--width', '100000', '--out', path.join(dir, 'sw')],
    /--width must be at most 1024/,
  ],
  ['vae sample into /proc', ['vae', 'sample', vaeRun, '--count', '2', '--out', '/proc/loom-samples/'], /cannot/],
];
for (const [name, args, expected] of BOUNDS) {
  test(`${name} too large: one sentence`, () => sentence(loom(args), expected));
}

test('text generate refuses a bad sampling flag before printing any sample', () => {
  for (const flags of [
    ['--top-p', '2'],
    ['--temperature', '0.5,-1'],
    ['--top-k', '-3'],
  ]) {
    const r = loom(['text', 'generate', textRun, '--length', '20', ...flags]);
    sentence(r, /top-p|temperature|top-k/);
    assert.equal(r.stdout, '', `printed before refusing ${flags.join(' ')}`);
  }
});

test("a TF.js model whose shard path leaves the model's folder is refused", () => {
  const model = path.join(dir, 'tfjs', 'model');
  mkdirSync(model, { recursive: true });
  writeFileSync(path.join(dir, 'tfjs', 'outside.bin'), Buffer.alloc(16));
  for (const shard of ['../outside.bin', path.join(dir, 'tfjs', 'outside.bin')]) {
    const manifest = { modelTopology: {}, weightsManifest: [{ paths: [shard], weights: [] }] };
    writeFileSync(path.join(model, 'model.json'), JSON.stringify(manifest));
    sentence(loom(['weights', 'import', model, '--as', 'inception']), /leaves its folder/);
  }
});

test('weights list shows the digit judge Loom keeps in the weights cache', () => {
  const cache = path.join(dir, 'cache');
  mkdirSync(cache, { recursive: true });
  // A judge file as the GAN's quality check writes it: no backbone metadata.
  saveSafetensors(path.join(cache, 'judge-mnist.safetensors'), new Map([['w', T.zeros([2])]]), {
    shape: '[1,28,28,10]',
    accuracy: '0.99',
    source: 'builtin:mnist, 3 epochs; accuracy on its test split',
  });
  const inception = path.join(cacheFolder(), 'inception-nsfwjs.safetensors');
  if (existsSync(inception)) symlinkSync(inception, path.join(cache, 'inception-nsfwjs.safetensors'));
  const r = loom(['weights', 'list'], { LOOM_CACHE: cache });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /judge-mnist\.safetensors/);
  if (existsSync(inception)) assert.match(r.stdout, /^inception .*nsfwjs/m);
});

// An output folder that exists but cannot hold a file: refused before the work, which here
// would run for many minutes (so a check that came only at the end fails by the time bound).
const UNWRITABLE = '/proc/loom-test.png';
const OUT_FIRST: [string, string[]][] = [
  ['dream', ['dream', 'builtin:kite', '--max-side', '120', '--octaves', '1', '--steps', '1000000', '--max-loss', '0']],
  ['style', ['style', 'builtin:horses', 'builtin:scream', '--height', '80', '--iterations', '1000000']],
  ['vae grid', ['vae', 'grid', vaeRun]],
];
for (const [name, args] of OUT_FIRST) {
  test(`${name} --out ${UNWRITABLE}: one sentence before the work`, () => {
    sentence(loom([...args, '--out', UNWRITABLE]), /\/proc/);
    assert.ok(!existsSync(UNWRITABLE));
  });
}

interface Stopped {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts `loom ARGS`; `delayMs` after its first line on stdout, sends one SIGINT. */
function interruptAfterFirstLine(args: string[], delayMs: number): Promise<Stopped> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    let sent = false;
    // A bound against hangs only: the stop itself takes a loss evaluation or a training step.
    const kill = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      if (sent) return;
      sent = true;
      setTimeout(() => child.kill('SIGINT'), delayMs);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(kill);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

test('Ctrl-C during a long L-BFGS iteration writes the image so far and exits', async () => {
  // One iteration of a million loss evaluations: only a stop between evaluations ends it
  // before the hang bound. The first line is printed just before the optimisation starts;
  // the delay lets the first evaluations begin (a stop before them must work too).
  const out = path.join(dir, 'stopped.png');
  const r = await interruptAfterFirstLine(
    [
      'style',
      'builtin:horses',
      'builtin:scream',
      '--height',
      '80',
      '--iterations',
      '1',
      '--max-evals',
      '1000000',
      '--out',
      out,
    ],
    2000,
  );
  assert.equal(r.code, 0, `exit ${r.code} (${r.signal}): ${r.stderr}`);
  assert.match(r.stderr, /best image so far/);
  assert.ok(existsSync(out), 'the image was written');
});

test('Ctrl-C during the demo ends it as a whole: the gallery shows what finished', async () => {
  // The first line announces the dream; the signal lands while it runs. The other four systems
  // (minutes of work at this budget) are skipped.
  const gallery = path.join(dir, 'gallery');
  const r = await interruptAfterFirstLine(['demo', '--out', gallery, '--minutes', '10'], 0);
  assert.equal(r.code, 0, `exit ${r.code} (${r.signal}): ${r.stderr}`);
  const entries = JSON.parse(readFileSync(path.join(gallery, 'demo.json'), 'utf8')) as { system: string }[];
  assert.deepEqual(
    entries.map((e) => e.system),
    ['dream'],
  );
  const html = readFileSync(path.join(gallery, 'index.html'), 'utf8');
  assert.match(html, /<section id="dream">/);
  assert.doesNotMatch(html, /<section id="(text|vae|gan|style)">/);
  assert.ok(existsSync(path.join(gallery, 'dream.png')));
});

test('L-BFGS stops between loss evaluations, at the lowest loss it evaluated', () => {
  // Rosenbrock from (-1.5, 2): the strong-Wolfe search takes several evaluations per iteration,
  // so stops after k evaluations land inside line searches as well as between iterations.
  const rosenbrock = (x: T.Tensor) => {
    const [a, b] = x.unbind(0);
    return a
      .neg()
      .add(1)
      .pow(2)
      .add(b.sub(a.pow(2)).pow(2).mul(100));
  };
  for (let k = 1; k <= 12; k++) {
    const x = T.tensor([-1.5, 2], { dtype: 'float64', requiresGrad: true });
    const seen: number[] = [];
    const opt = new LBFGS([x], { maxIter: 100, lineSearch: 'strong_wolfe', shouldStop: () => seen.length >= k });
    const closure = () =>
      T.tidy(() => {
        opt.zeroGrad();
        const l = rosenbrock(x);
        l.backward();
        seen.push(l.item());
        return seen[seen.length - 1];
      });
    opt.step(closure);
    assert.equal(seen.length, k, `evaluations after a stop at ${k}`);
    const now = T.tidy(() => T.noGrad(() => rosenbrock(x).item()));
    assert.ok(now <= seen[0], `k=${k}: ${now} above the start's ${seen[0]}`);
    assert.ok(
      seen.some((f) => Math.abs(f - now) <= 1e-12 * Math.max(1, Math.abs(f))),
      `k=${k}: the parameters' loss ${now} was never evaluated (${seen.join(', ')})`,
    );
    opt.dispose();
  }
});
