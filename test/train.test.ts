// The training harness every trainer stands on, driven by a toy system (a linear regression
// on noisy data): exact resume, trimmed metrics, the stop conditions, and disposal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import { Linear } from '../src/nn/index.js';
import { SGD } from '../src/optim/index.js';
import { RunFolder } from '../src/io/run-folder.js';
import { Training } from '../src/train/index.js';
import { ProcessGroup, freePort } from '../src/distributed/index.js';
import {
  canonicalConfig,
  checkOptions,
  cliSpecs,
  configFromCli,
  defaultsOf,
  type OptionTable,
} from '../src/models/options.js';
import { COMMON, parseOptions } from '../src/cli/args.js';
import { TEXT_DEFAULTS, TEXT_OPTIONS } from '../src/models/text/index.js';
import { VAE_DEFAULTS, VAE_OPTIONS } from '../src/models/vae/index.js';
import { GAN_DEFAULTS, GAN_OPTIONS } from '../src/models/gan/index.js';
import { FAST_DEFAULTS, FAST_OPTIONS } from '../src/models/style/index.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'loom-train-'));

interface ToyConfig {
  steps: number;
  lr: number;
  logEvery: number;
  minutes: number | null;
  seed: number;
}
const TOY: ToyConfig = { steps: 8, lr: 0.05, logEvery: 2, minutes: null, seed: 3 };

/** A trainer written on the harness as the systems' are: returns the final weights. */
async function trainToy(
  config: ToyConfig,
  dir: string,
  mode: { resume?: boolean; given?: ReadonlySet<string> } = {},
  stop?: () => boolean,
  poison = -1,
  more: { group?: ProcessGroup; onStep?: () => void; signal?: AbortSignal; onNote?: (m: string) => void } = {},
): Promise<number[]> {
  using t = Training.open({
    system: 'toy',
    config,
    defaults: TOY,
    outDir: dir,
    mode,
    fromCommand: ['steps', 'minutes'],
    shouldStop: stop,
    signal: more.signal,
    onNote: more.onNote,
    advice: 'lower --lr',
    group: more.group,
    validate: (c) => {
      if (!(c.lr > 0)) throw new Error('--lr must be a number > 0');
    },
  });
  T.manualSeed(t.cfg.seed);
  const model = t.own(new Linear(3, 1));
  const opt = t.own(new SGD(model.parameters(), { lr: t.cfg.lr }));
  t.begin({ modules: { model }, optimizers: { opt } });
  for await (const step of t.steps(t.cfg.steps)) {
    const loss = T.tidy(() => {
      const x = T.randn([16, 3]); // drawn from the RNG the checkpoint restores
      const y = x.sum({ dim: 1, keepdim: true }).add(T.randn([16, 1]).mul(0.1));
      const l = T.mseLoss(model.forward(x), y);
      opt.backwardStep(l);
      return step === poison ? NaN : l.item();
    });
    const due = t.advance({ loss }, t.cfg.steps);
    if (due) t.run.log({ step: t.step, loss: due.mean.loss, ...t.distributedLog(16, due) });
    more.onStep?.();
  }
  t.save();
  return T.tidy(() => model.weight.toFlatArray() as number[]);
}

test('a run resumed from its checkpoint ends with the same weights as one that never stopped, and lists each step once', async () => {
  const straight = await trainToy(TOY, tmp());
  const dir = tmp();
  await trainToy({ ...TOY, steps: 4 }, dir);
  // A kill after step 4's checkpoint but before the next left lines for steps the resume replays.
  appendFileSync(path.join(dir, 'metrics.jsonl'), JSON.stringify({ step: 6, loss: 1 }) + '\n{"step": 7, "lo');
  const resumed = await trainToy({ ...TOY, lr: 99 }, dir, { resume: true }); // lr is the run's, not the command's
  assert.deepEqual(resumed, straight);
  const steps = new RunFolder(dir).readMetrics().map((m) => m.step);
  assert.deepEqual(steps, [2, 4, 6, 8]);
});

test('the loop stops when asked or when the minutes are up, and a non-finite loss is one sentence that keeps the checkpoint', async () => {
  let calls = 0;
  const dir = tmp();
  await trainToy(TOY, dir, {}, () => ++calls > 3);
  assert.equal(new RunFolder(dir).readMetrics().at(-1)?.step, 2, 'three steps, logged every two');
  const timed = tmp();
  // A million steps would take minutes; 50 ms of --minutes ends the run long before.
  const t0 = Date.now();
  await trainToy({ ...TOY, steps: 1_000_000, minutes: 50 / 60000 }, timed);
  const logged = new RunFolder(timed).readMetrics().length * TOY.logEvery;
  assert.ok(Date.now() - t0 < 20_000 && logged < 1_000_000, `stopped by the clock after ${logged} steps`);
  const nan = tmp();
  await trainToy({ ...TOY, steps: 4 }, nan);
  await assert.rejects(
    () => trainToy(TOY, nan, { resume: true }, undefined, 5),
    /^Error: the loss became NaN at step 6 \(loss\); lower --lr \(the last checkpoint is kept\)$/,
  );
  assert.ok(existsSync(path.join(nan, 'checkpoint.safetensors')));
});

test('an AbortSignal aborted from a timer stops the loop at a step, with a checkpoint that resumes to the same weights', async () => {
  const dir = tmp();
  const controller = new AbortController();
  // The loop must let the timer run for the abort to be seen; a million steps would take minutes.
  setTimeout(() => controller.abort(), 300);
  await trainToy({ ...TOY, steps: 1_000_000, logEvery: 1 }, dir, {}, undefined, -1, { signal: controller.signal });
  const done = new RunFolder(dir).readMetrics().length;
  assert.ok(done > 0 && done < 1_000_000, `stopped after ${done} steps`);
  const straight = await trainToy({ ...TOY, steps: done + 3, logEvery: 1 }, tmp());
  const resumed = await trainToy({ ...TOY, steps: done + 3, logEvery: 1 }, dir, { resume: true });
  assert.deepEqual(resumed, straight);
  // Aborted before the first step: no step is taken.
  const early = tmp();
  await trainToy(TOY, early, {}, undefined, -1, { signal: AbortSignal.abort() });
  assert.equal(new RunFolder(early).readMetrics().length, 0);
});

test("a resumed run's kept settings reach onNote, and nothing is written to stderr", async () => {
  const dir = tmp();
  await trainToy({ ...TOY, steps: 2 }, dir);
  const notes: string[] = [];
  const written: unknown[] = [];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: unknown) => written.push(chunk) > 0) as typeof process.stderr.write;
  try {
    await trainToy({ ...TOY, lr: 0.5 }, dir, { resume: true, given: new Set(['lr']) }, undefined, -1, {
      onNote: (m) => notes.push(m),
    });
    await trainToy({ ...TOY, steps: 12, lr: 0.5 }, dir, { resume: true, given: new Set(['lr']) });
  } finally {
    process.stderr.write = write;
  }
  assert.deepEqual(written, []);
  assert.equal(notes.length, 1);
  assert.match(notes[0], /^--lr 0\.5 does not apply to a resumed run, which keeps its 0\.05/);
});

test('every tensor the training owns is freed when it ends, by an error too', async () => {
  const before = T.liveTensors().undisposed;
  await trainToy(TOY, tmp());
  assert.equal(T.liveTensors().undisposed, before);
  const nan = tmp();
  await assert.rejects(() => trainToy(TOY, nan, {}, undefined, 1), /the loss became NaN/);
  assert.equal(T.liveTensors().undisposed, before);
  await assert.rejects(() => trainToy({ ...TOY, lr: -1 }, tmp()), /--lr must be/);
  await assert.rejects(() => trainToy(TOY, tmp(), { resume: true }), /there is no checkpoint to resume/);
  assert.equal(T.liveTensors().undisposed, before);
});

test("each system's option table gives defaults that pass its checks, a CLI flag per setting that reaches the config, and one-sentence refusals", () => {
  const tables: Record<string, OptionTable> = {
    text: TEXT_OPTIONS,
    vae: VAE_OPTIONS,
    gan: GAN_OPTIONS,
    style: FAST_OPTIONS,
  };
  for (const [system, table] of Object.entries(tables)) {
    const defaults = defaultsOf(table);
    checkOptions(table, defaults);
    const specs = {
      ...cliSpecs(table),
      ...COMMON,
      backbone: { type: 'string' as const, help: '' },
      weights: { type: 'string' as const, help: '' },
    };
    for (const [key, def] of Object.entries(table)) {
      const flag = def.flag ?? key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      const value =
        def.type === 'bool'
          ? undefined
          : def.type === 'choice'
            ? String(def.choices.at(-1))
            : def.type === 'numbers'
              ? '0.7,0.9'
              : def.type === 'string'
                ? 'x'
                : '7';
      const args = value === undefined ? [`--${flag}`] : [`--${flag}`, value];
      const cfg = configFromCli(table, parseOptions(args, specs).values);
      const expected =
        def.type === 'bool'
          ? true
          : def.type === 'numbers'
            ? [0.7, 0.9]
            : def.type === 'string'
              ? 'x'
              : def.type === 'choice'
                ? def.choices.at(-1)
                : 7;
      assert.deepEqual((cfg as Record<string, unknown>)[key], expected, `${system}: --${flag} reaches ${key}`);
    }
  }
  assert.throws(
    () => checkOptions(TEXT_OPTIONS, { ...TEXT_DEFAULTS, objective: 'first' as 'all' }),
    /^Error: --objective must be all or last, got first$/,
  );
  assert.throws(
    () => checkOptions(GAN_OPTIONS, { ...GAN_DEFAULTS, labelNoise: 0.5 }),
    /^Error: --label-noise must be in \[0, 0.5\), got 0.5$/,
  );
  assert.throws(
    () => checkOptions(VAE_OPTIONS, { ...VAE_DEFAULTS, batch: 1.5 }),
    /^Error: --batch must be a whole number >= 1, got 1.5$/,
  );
  assert.throws(
    () => checkOptions(FAST_OPTIONS, { ...FAST_DEFAULTS, minutes: -1 }),
    /^Error: --minutes must be a number > 0, got -1$/,
  );
  assert.doesNotThrow(
    () => checkOptions(TEXT_OPTIONS, { ...TEXT_DEFAULTS, steps: null }),
    'unset is allowed where the default is unset',
  );
});

test("a choice's former spelling (aliases) reads as today's: from the CLI, in a saved config, never in help", () => {
  const specs = { ...cliSpecs(GAN_OPTIONS), ...COMMON };
  const cli = configFromCli(GAN_OPTIONS, parseOptions(['--recipe', 'seed'], specs).values);
  assert.equal(cli.recipe, 'keras');
  const vae = configFromCli(
    VAE_OPTIONS,
    parseOptions(['--recipe', 'seed', '--loss', 'seed'], { ...cliSpecs(VAE_OPTIONS), ...COMMON }).values,
  );
  assert.deepEqual([vae.recipe, vae.loss], ['keras', 'keras']);
  const saved = { system: 'vae', ...VAE_DEFAULTS, recipe: 'seed', loss: 'seed' } as unknown as typeof VAE_DEFAULTS;
  assert.deepEqual(canonicalConfig(VAE_OPTIONS, saved), { ...saved, recipe: 'keras', loss: 'keras' });
  assert.doesNotThrow(() => checkOptions(VAE_OPTIONS, canonicalConfig(VAE_OPTIONS, saved)));
  assert.doesNotMatch(cliSpecs(GAN_OPTIONS).recipe.help, /\bseed\b/);
});

test("a data-parallel step's collectives (over c10d, one rank here) leave no tensor behind, and such a run repeats itself", async () => {
  const env = {
    rank: 0,
    world: 1,
    localRank: 0,
    localWorld: 1,
    masterAddr: '127.0.0.1',
    masterPort: await freePort(),
    timeoutS: 30,
  };
  using group = ProcessGroup.join(env);
  const counts: number[] = [];
  const dir = tmp();
  const weights = await trainToy({ ...TOY, steps: 12 }, dir, {}, undefined, -1, {
    group,
    onStep: () => counts.push(T.liveTensors().undisposed),
  });
  assert.equal(counts.length, 12);
  assert.equal(counts[11], counts[2], `live tensors per step: ${counts.join(', ')}`);
  const lines = new RunFolder(dir).readMetrics().filter((m) => typeof m.loss === 'number');
  assert.ok(
    lines.every((m) => m.processes === 1 && m.collective_ms_per_step >= 0),
    'log lines carry the group',
  );
  // The ranks reseed from (seed, step, rank) after begin(), so a group's run repeats itself.
  const again = await trainToy({ ...TOY, steps: 12 }, tmp(), {}, undefined, -1, { group });
  assert.deepEqual(again, weights);
});

test("progress: a run's --minutes caps the time left that its steps imply", async () => {
  const { Progress } = await import('../src/cli/progress.js');
  const lines: string[] = [];
  const out = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
  let ms = 0; // a clock of the test's own
  const clock = () => ms;
  const byBudget = new Progress(out, 2, clock);
  const bySteps = new Progress(out, null, clock);
  ms = 30_000;
  byBudget.update(1, 100_000, 'loss 1'); // 100,000 steps at 30 s each would take 833 hours
  bySteps.update(1, 100_000, 'loss 1');
  assert.match(lines[0], /time left 1m30s\n$/);
  assert.match(lines[1], /time left 833h19m\n$/);
});
