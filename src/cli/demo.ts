// `loom demo`: every system that exists, briefly, on built-in data, within a time budget;
// a gallery folder with the pictures and texts and an index.html that shows them with their
// settings and timings. Orchestration only: the work is the library's.
import { existsSync, readdirSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import path from 'node:path';
import * as T from '../torch/index.js';
import { Rng } from '../util/random.js';
import { writeOwned } from '../io/images.js';
import {
  TEXT_DEFAULTS,
  TEXT_OPTIONS,
  generate,
  loadTextModel,
  trainText,
  withModel,
  writeTextCurves,
} from '../models/text/index.js';
import { VAE_DEFAULTS, VAE_OPTIONS, latentGrid, loadVae, sampleGrid, trainVae } from '../models/vae/index.js';
import {
  GAN_DEFAULTS,
  GAN_OPTIONS,
  builtinJudge,
  trainGan,
  withRecipe,
  type GanSampleLog,
} from '../models/gan/index.js';
import { describeSettings } from '../models/options.js';
import { DREAM_DEFAULTS, dream } from '../models/dream/index.js';
import { STYLE_DEFAULTS, transferStyle } from '../models/style/index.js';
import { lineChartSpec, writeChart } from '../io/chart.js';
import { readImage, writeImage } from '../io/images.js';
import { resolveImage } from '../io/builtin-images.js';
import { loadBackbone } from '../vision/weights.js';
import { COMMON, helpText, parseOptions, type OptSpecs } from './args.js';
import { UserError } from './errors.js';
import { applyCommon, noteOnStderr, onInterrupt } from './common.js';
import { makeFolder } from '../io/files.js';

const OPTS: OptSpecs = {
  out: { type: 'string', help: 'gallery folder', default: 'gallery', meta: 'DIR' },
  minutes: { type: 'number', help: 'time budget for all the training together', default: 10 },
  force: { type: 'bool', help: 'replace a gallery already in --out' },
  ...COMMON,
};

interface Entry {
  system: string;
  title: string;
  settings: string;
  seconds: number;
  images: string[];
  texts: { label: string; text: string }[];
  note: string;
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** Marks a folder as a demo gallery, so --force knows what it may replace. */
const GALLERY_MARK = '.loom-gallery';
const GALLERY_FILES = [
  'index.html',
  'demo.json',
  'text-curves.png',
  'vae-grid.png',
  'vae-samples.png',
  'vae-curves.png',
  'gan-samples.png',
  'gan-losses.png',
  'dream-original.png',
  'dream.png',
  'style-painting.png',
  'style.png',
  'style-losses.png',
  'runs/text',
  'runs/vae',
  'runs/gan',
];

/**
 * The three trainings' minutes: what dream and style (`spentSeconds`) leave of the budget, less
 * 2.5% for the passes after each training, as text 3/8, VAE 3/8, GAN 2/8; never under 5% of the
 * budget each, so a slow machine on which dream and style overran still gets every picture.
 */
export function trainingMinutes(minutes: number, spentSeconds: number): { text: number; vae: number; gan: number } {
  const left = Math.max(0, minutes * 0.975 - spentSeconds / 60);
  const share = (part: number) => Math.max(left * part, minutes * 0.05);
  return { text: share(3 / 8), vae: share(3 / 8), gan: share(2 / 8) };
}

export async function demoCommand(args: string[]): Promise<void> {
  const { values: o, positionals } = parseOptions(args, OPTS);
  if (o.help) {
    return void console.log(
      helpText(
        'loom demo [--out gallery] [--minutes 10]',
        'Runs every system briefly on built-in data and writes a gallery with an index.html.',
        OPTS,
      ),
    );
  }
  if (positionals.length) throw new UserError(`unexpected argument '${positionals[0]}'`);
  if (!(o.minutes > 0)) throw new UserError(`--minutes must be a number > 0, got ${o.minutes}`);
  applyCommon(o);
  const out: string = o.out;
  if (existsSync(out) && readdirSync(out).length > 0) {
    const isGallery = existsSync(path.join(out, GALLERY_MARK)) || existsSync(path.join(out, 'demo.json'));
    if (!isGallery) throw new UserError(`${out} is not empty and holds no Loom gallery; choose another --out`);
    if (!o.force) throw new UserError(`${out} holds a gallery; pass --force to replace it, or choose another --out`);
    // Only what a demo writes goes; anything else the user put there stays.
    for (const f of GALLERY_FILES) rmSync(path.join(out, f), { recursive: true, force: true });
  }
  makeFolder(out);
  writeFileSync(path.join(out, GALLERY_MARK), 'a gallery written by `loom demo`; --force replaces only its files\n');
  // The first Ctrl-C ends the demo as a whole: the running system stops early and keeps what
  // it made, the systems not yet started are skipped, and the gallery shows what finished.
  // A second Ctrl-C ends the process at once (the native handler).
  const stop = onInterrupt(() =>
    console.error('loom: stopping the demo; the gallery will show what finished (Ctrl-C again quits at once)'),
  );
  const say = (s: string) => (o.json ? undefined : console.log(s));
  const ctx: Context = { out, runs: path.join(out, 'runs'), seed: o.seed ?? 0, minutes: o.minutes, stop, say };
  // dream and style run first, each under a cap (10% and 20% of the budget) that they rarely
  // reach (12 s and 80 s of their 60 and 120 on 2 cores); the time they leave, less 2.5% for
  // the test passes, samples and charts after each training, goes to the three trainings, which
  // use every minute they get: text and the VAE 3/8 of it each (the VAE's goal of 155 nats
  // needs more than 2 minutes), the GAN 2/8 (its digits are read well before).
  const [dreamEntry, styleEntry] = await dreamAndStyle(ctx);
  const shares = trainingMinutes(o.minutes, (dreamEntry?.seconds ?? 0) + (styleEntry?.seconds ?? 0));
  const textEntry = stop() ? null : await textDemo(ctx, shares.text);
  const vaeEntry = stop() ? null : await vaeDemo(ctx, shares.vae);
  const ganEntry = stop() ? null : await ganDemo(ctx, shares.gan);
  const entries = [textEntry, vaeEntry, ganEntry, dreamEntry, styleEntry].filter((e): e is Entry => e !== null);

  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Loom demo</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
section{border-top:1px solid #ddd;padding:1em 0}img{image-rendering:pixelated;max-width:46%;margin:0 1% 0 0;border:1px solid #eee}
pre{white-space:pre-wrap;background:#f7f7f7;padding:.6em;border-radius:4px}.meta{color:#666;font-size:13px}</style></head>
<body><h1>Loom demo</h1><p class="meta">${esc(new Date().toISOString())}, ${T.getNumThreads()} threads, budget ${o.minutes} minutes.</p>
${entries
  .map(
    (e) => `<section id="${e.system}"><h2>${esc(e.title)}</h2>
<p class="meta">${esc(e.settings)} &middot; ${e.seconds.toFixed(0)} s &middot; ${esc(e.note)}</p>
${e.images.map((i) => `<img src="${esc(i)}" alt="${esc(i)}">`).join('\n')}
${e.texts.map((t) => `<h3>${esc(t.label)}</h3><pre>${esc(t.text)}</pre>`).join('\n')}</section>`,
  )
  .join('\n')}
</body></html>
`;
  writeFileSync(path.join(out, 'index.html'), html);
  writeFileSync(path.join(out, 'demo.json'), JSON.stringify(entries, null, 2));
  if (o.json)
    console.log(
      JSON.stringify({
        gallery: path.join(out, 'index.html'),
        entries: entries.map(({ texts, ...e }) => ({ ...e, texts: texts.length })),
      }),
    );
  else console.log(`gallery: ${path.join(out, 'index.html')}`);
}

/** What every system's part of the demo needs. */
interface Context {
  out: string;
  runs: string;
  seed: number;
  /** The whole demo's budget; the capped systems' caps are shares of it. */
  minutes: number;
  stop: () => boolean;
  say: (line: string) => void;
}

/** Stops at Ctrl-C or when `minutes` have passed. */
function deadline(ctx: Context, minutes: number): () => boolean {
  const end = Date.now() + minutes * 60_000;
  return () => ctx.stop() || Date.now() > end;
}

async function textDemo(ctx: Context, minutes: number): Promise<Entry> {
  const { seed, say } = ctx;
  say(`text: training the book's LSTM(128) on builtin:sotu for ${minutes.toFixed(1)} minutes`);
  const t0 = Date.now();
  const textRun = path.join(ctx.runs, 'text');
  // The demo shows the book's system: its LSTM, not the transformer that `text train` defaults to.
  const textCfg = { ...TEXT_DEFAULTS, model: 'lstm' as const, minutes, seed, sampleLength: 200, logEvery: 100 };
  const tr = await trainText(textCfg, textRun, {}, { shouldStop: ctx.stop, onNote: noteOnStderr });
  const textModel = loadTextModel(textRun);
  const rng = new Rng(seed);
  const prime = textModel.primes[0] ?? '\n';
  const texts = [0.2, 0.5, 1.0, 1.2].map((temperature) => ({
    label: `temperature ${temperature}`,
    text: prime + generate(textModel.model, textModel.vocab, { length: 400, prime, temperature }, rng)[0],
  }));
  textModel.model.dispose();
  const images: string[] = [];
  if (await writeTextCurves(textRun)) {
    copyFileSync(path.join(textRun, 'curves.png'), path.join(ctx.out, 'text-curves.png'));
    images.push('text-curves.png');
  }
  return {
    system: 'text',
    title: 'Character-level LSTM on 233 State of the Union addresses',
    settings: `the book's LSTM with RMSprop: ${describeSettings(TEXT_OPTIONS, withModel(textCfg), ['units', 'maxlen', 'step', 'batch', 'lr', 'schedule'])}; ${tr.steps} steps`,
    seconds: (Date.now() - t0) / 1000,
    images,
    texts,
    note: `held-out ${tr.valBpc === null ? 'n/a' : tr.valBpc.toFixed(3)} bits per character; the first 60 characters of each sample are the prime`,
  };
}

async function vaeDemo(ctx: Context, minutes: number): Promise<Entry> {
  const { seed, say } = ctx;
  say(`vae: training the book's VAE (latent 2) on builtin:mnist for ${minutes.toFixed(1)} minutes`);
  const t0 = Date.now();
  const vaeRun = path.join(ctx.runs, 'vae');
  // In a 2-minute share batch 32 at 1.5e-3 beat the 10-minute defaults (batch 16, 1e-3) by
  // about 2.5 nats (docs/benchmarks.md); both with the anneal recipe's warm-up and final decay.
  const vaeCfg = { ...VAE_DEFAULTS, batch: 32, lr: 1.5e-3, minutes, seed, logEvery: 500 };
  const vr = await trainVae(vaeCfg, vaeRun, {}, { shouldStop: ctx.stop, onNote: noteOnStderr });
  const vae = loadVae(vaeRun);
  T.manualSeed(seed);
  await writeOwned(path.join(ctx.out, 'vae-grid.png'), latentGrid(vae.model, 15));
  await writeOwned(path.join(ctx.out, 'vae-samples.png'), sampleGrid(vae.model, 64));
  vae.model.dispose();
  const images = ['vae-grid.png', 'vae-samples.png'];
  if (existsSync(path.join(vaeRun, 'curves.png'))) {
    copyFileSync(path.join(vaeRun, 'curves.png'), path.join(ctx.out, 'vae-curves.png'));
    images.push('vae-curves.png');
  }
  return {
    system: 'vae',
    title: 'Variational autoencoder on MNIST: the 2-D latent plane',
    settings: `the book's convolutional VAE with RMSprop: ${describeSettings(VAE_OPTIONS, vaeCfg, ['latent', 'batch', 'lr', 'recipe'])}; ${vr.steps} steps (${vr.epochs.toFixed(2)} epochs)`,
    seconds: (Date.now() - t0) / 1000,
    images,
    texts: [],
    note: `test -ELBO ${vr.test.elbo.toFixed(1)} nats; left: decoded points at Gaussian quantiles, right: samples from the prior`,
  };
}

async function ganDemo(ctx: Context, minutes: number): Promise<Entry | null> {
  const { seed, say } = ctx;
  // The judge that scores the GAN's digits is trained once per machine, outside the GAN's share.
  (
    await builtinJudge('builtin:mnist', {
      onTrain: () => say('gan: training the digit judge once (about half a minute)'),
      shouldStop: ctx.stop,
    })
  )?.net.dispose();
  // Stopped while the judge trained: the GAN has not started, so it is left out.
  if (ctx.stop()) return null;
  say(`gan: training a DCGAN on builtin:mnist for ${minutes.toFixed(1)} minutes`);
  const t0 = Date.now();
  const ganRun = path.join(ctx.runs, 'gan');
  const ganCfg = { ...GAN_DEFAULTS, steps: 1_000_000, minutes, sampleEvery: 200, seed };
  let judged: GanSampleLog | null = null;
  const gr = await trainGan(
    ganCfg,
    ganRun,
    {},
    {
      shouldStop: ctx.stop,
      onNote: noteOnStderr,
      onSample: (l) => (judged = l),
    },
  );
  const last = readdirSync(path.join(ganRun, 'samples'))
    .filter((f) => f.startsWith('step-'))
    .sort()
    .pop()!;
  copyFileSync(path.join(ganRun, 'samples', last), path.join(ctx.out, 'gan-samples.png'));
  const images = ['gan-samples.png'];
  if (existsSync(path.join(ganRun, 'losses.png'))) {
    copyFileSync(path.join(ganRun, 'losses.png'), path.join(ctx.out, 'gan-losses.png'));
    images.push('gan-losses.png');
  }
  const score = judged as GanSampleLog | null;
  return {
    system: 'gan',
    title: 'Conditional DCGAN on MNIST: 8 fixed latent points (rows) drawn as each digit (columns)',
    settings: `${describeSettings(GAN_OPTIONS, withRecipe(ganCfg), ['recipe', 'conditional', 'gFilters', 'dFilters', 'batch', 'dLr', 'gLr', 'ema'])}; ${gr.steps} steps`,
    seconds: (Date.now() - t0) / 1000,
    images,
    texts: [],
    note:
      (score?.confident != null
        ? `an MNIST classifier (${((score.judge_accuracy ?? 0) * 100).toFixed(1)}% on the test set) reads ${(score.confident * 100).toFixed(0)}% of 256 samples with confidence 0.9 or more, ${score.classes} digit classes among them; Fréchet distance of its features ${score.fd?.toFixed(1)}. `
        : '') + 'right: both losses per logged step, raw (faint) and smoothed',
  };
}

/** DeepDream and style transfer, which share the built-in InceptionV3, each under its cap. */
async function dreamAndStyle(ctx: Context): Promise<[Entry | null, Entry | null]> {
  const { seed, say } = ctx;
  if (ctx.stop()) return [null, null];
  // Imported from nsfwjs on first use, outside the caps.
  const backbone = loadBackbone('inception');
  try {
    const side = ctx.minutes >= 6 ? 500 : ctx.minutes >= 2 ? 300 : 200;
    say(`dream: DeepDream of builtin:giraffe at ${side} pixels for at most ${(ctx.minutes * 0.1).toFixed(1)} minutes`);
    let t0 = Date.now();
    const photo = await readImage(resolveImage('builtin:giraffe'), { maxSide: side });
    const dreamCfg = { ...DREAM_DEFAULTS, octaves: side >= 300 ? 3 : 2, seed };
    let dreamSteps = 0;
    const dreamed = await dream(backbone, photo, dreamCfg, {
      shouldStop: deadline(ctx, ctx.minutes * 0.1),
      onNote: noteOnStderr,
      onStep: () => void dreamSteps++,
    });
    await writeImage(path.join(ctx.out, 'dream-original.png'), photo);
    await writeImage(path.join(ctx.out, 'dream.png'), dreamed);
    for (const t of [photo, dreamed]) t.dispose();
    const dreamEntry: Entry = {
      system: 'dream',
      title: 'DeepDream of a built-in photo',
      settings: `InceptionV3 (nsfwjs's ImageNet-initialised weights), layers ${Object.entries(dreamCfg.layers)
        .map(([k, v]) => `${k}=${v}`)
        .join(
          ', ',
        )}; ${dreamCfg.octaves} octaves of scale ${dreamCfg.octaveScale}, up to ${dreamCfg.steps} steps of ${dreamCfg.stepSize}, max loss ${dreamCfg.maxLoss}, jitter ${dreamCfg.jitter}; ${dreamSteps} steps`,
      seconds: (Date.now() - t0) / 1000,
      images: ['dream-original.png', 'dream.png'],
      texts: [],
      note: "left: the photo (from Debian's darknet package), right: the dream",
    };

    if (ctx.stop()) return [dreamEntry, null];
    const height = ctx.minutes >= 6 ? 256 : ctx.minutes >= 2 ? 160 : 96;
    say(
      `style: builtin:horses in the style of builtin:scream at height ${height} for at most ${(ctx.minutes * 0.2).toFixed(1)} minutes`,
    );
    t0 = Date.now();
    const content = await readImage(resolveImage('builtin:horses'));
    const painting = await readImage(resolveImage('builtin:scream'));
    const styleCfg = { ...STYLE_DEFAULTS, height, seed };
    let iterations = 0;
    let lastLoss = NaN;
    const terms = { total: [] as number[], content: [] as number[], style: [] as number[], colour: [] as number[] };
    const styled = await transferStyle(backbone, content, [{ image: painting, weight: 1 }], styleCfg, {
      shouldStop: deadline(ctx, ctx.minutes * 0.2),
      onIteration: (it) => {
        iterations++;
        lastLoss = it.loss;
        terms.total.push(it.loss);
        terms.content.push(it.content_loss);
        terms.style.push(it.style_loss);
        terms.colour.push(it.colour_loss);
      },
    });
    await writeImage(path.join(ctx.out, 'style-painting.png'), painting);
    await writeImage(path.join(ctx.out, 'style.png'), styled);
    const styleImages = ['style-painting.png', 'style.png'];
    if (iterations > 1) {
      const x = terms.total.map((_, i) => i + 1);
      const curves = Object.entries(terms).map(([name, y]) => ({ name, x, y, smooth: 1 }));
      await writeChart(
        path.join(ctx.out, 'style-losses.png'),
        lineChartSpec(curves, { x: 'L-BFGS iteration', y: 'loss (log scale)', log: true }),
      );
      styleImages.push('style-losses.png');
    }
    for (const t of [content, painting, styled]) t.dispose();
    const styleEntry: Entry = {
      system: 'style',
      title: "Neural style transfer: a built-in photo in the style of Munch's Scream",
      settings: `Gatys et al. on the built-in InceptionV3 (content, relative sliced-Wasserstein style on 7 layers from Conv2d_1a to mixed4, colour-statistics and total-variation losses, from the photo in the painting's colours; L-BFGS with ${styleCfg.maxEvals} evaluations per iteration); height ${height}; ${iterations} iterations`,
      seconds: (Date.now() - t0) / 1000,
      images: styleImages,
      texts: [],
      note: `final loss ${Number.isFinite(lastLoss) ? lastLoss.toExponential(3) : 'n/a'}; left: the painting, then the result and its losses per iteration (the total weighted, the terms as they are)`,
    };
    return [dreamEntry, styleEntry];
  } finally {
    backbone.net.dispose();
  }
}
