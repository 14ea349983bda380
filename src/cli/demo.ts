// `loom demo`: every system that exists, briefly, on built-in data, within a time budget;
// a gallery folder with the pictures and texts and an index.html that shows them with their
// settings and timings. Orchestration only: the work is the library's.
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as T from '../torch/index.js';
import { loadBackbone, type Backbone } from '../vision/weights.js';
import { SYSTEMS } from '../systems/registry.js';
import type { DemoContext, DemoEntry, DemoPart } from '../systems/demo.js';
import type { System } from '../systems/system.js';
import { COMMON, parseCommand, type CommandHelp, type OptSpecs } from './args.js';
import { UserError } from './errors.js';
import { applyCommon, onInterrupt } from './common.js';
import { makeFolder } from '../io/files.js';

const OPTS: OptSpecs = {
  out: { type: 'string', help: 'gallery folder', default: 'gallery', meta: 'DIR' },
  minutes: { type: 'number', help: 'time budget for all the training together', default: 10 },
  force: { type: 'bool', help: 'replace a gallery already in --out' },
  ...COMMON,
};

const OPTS_HELP: CommandHelp = {
  usage: 'loom demo [--out gallery] [--minutes 10]',
  about: 'Runs every system briefly on built-in data and writes a gallery with an index.html.',
  options: OPTS,
};

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** Marks a folder as a demo gallery, so --force knows what it may replace. */
const GALLERY_MARK = '.loom-gallery';
/** What a demo writes, which --force replaces (and nothing else). */
const galleryFiles = (): string[] => [
  'index.html',
  'demo.json',
  ...demoParts().flatMap(([s, p]) => [...p.files, `runs/${s.name}`]),
];

type Part = [System, DemoPart];
/** Every registered system's part of the demo. */
const demoParts = (): Part[] => SYSTEMS.flatMap((s): Part[] => (s.demo ? [[s, s.demo]] : []));

/**
 * The trainings' minutes, by system: what the capped parts (`spentSeconds`) leave of the budget,
 * less 2.5% for the passes after each training, in the trainings' shares; never under 5% of the
 * budget each, so a slow machine on which the capped parts overran still gets every picture.
 */
export function trainingMinutes(
  minutes: number,
  spentSeconds: number,
  shares: Record<string, number> = Object.fromEntries(
    demoParts().flatMap(([s, p]) => ('share' in p.budget ? [[s.name, p.budget.share]] : [])),
  ),
): Record<string, number> {
  const left = Math.max(0, minutes * 0.975 - spentSeconds / 60);
  return Object.fromEntries(
    Object.entries(shares).map(([name, part]) => [name, Math.max(left * part, minutes * 0.05)]),
  );
}

export async function demoCommand(args: string[]): Promise<void> {
  const parsed = parseCommand(args, OPTS_HELP);
  if (!parsed) return;
  const { values: o, positionals } = parsed;
  if (positionals.length) throw new UserError(`unexpected argument '${positionals[0]}'`);
  if (!(o.minutes > 0)) throw new UserError(`--minutes must be a number > 0, got ${o.minutes}`);
  applyCommon(o);
  const out: string = o.out;
  if (existsSync(out) && readdirSync(out).length > 0) {
    const isGallery = existsSync(path.join(out, GALLERY_MARK)) || existsSync(path.join(out, 'demo.json'));
    if (!isGallery) throw new UserError(`${out} is not empty and holds no Loom gallery; choose another --out`);
    if (!o.force) throw new UserError(`${out} holds a gallery; pass --force to replace it, or choose another --out`);
    // Only what a demo writes goes; anything else the user put there stays.
    for (const f of galleryFiles()) rmSync(path.join(out, f), { recursive: true, force: true });
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
  let backbone: Backbone | null = null;
  const ctx: DemoContext = {
    out,
    runs: path.join(out, 'runs'),
    seed: o.seed ?? 0,
    minutes: o.minutes,
    stop,
    say,
    // Imported from nsfwjs on first use, outside the caps.
    backbone: () => (backbone ??= loadBackbone('inception')),
  };
  // The capped parts (dream, style) run first, each under a share of the budget that they
  // rarely reach; the time they leave, less 2.5% for the test passes, samples and charts after
  // each training, goes to the trainings, which use every minute they get.
  const parts = demoParts();
  const done = new Map<string, DemoEntry>();
  try {
    for (const [s, p] of parts)
      if ('cap' in p.budget && !stop()) {
        const e = await p.run(ctx, o.minutes * p.budget.cap);
        if (e) done.set(s.name, e);
      }
  } finally {
    (backbone as Backbone | null)?.net.dispose();
  }
  const spent = [...done.values()].reduce((t, e) => t + e.seconds, 0);
  const shares = trainingMinutes(o.minutes, spent);
  for (const [s, p] of parts)
    if ('share' in p.budget && !stop()) {
      const e = await p.run(ctx, shares[s.name]);
      if (e) done.set(s.name, e);
    }
  // The gallery shows the trainings first, then the capped parts.
  const entries = [...parts.filter(([, p]) => 'share' in p.budget), ...parts.filter(([, p]) => 'cap' in p.budget)]
    .map(([s]) => done.get(s.name))
    .filter((e): e is DemoEntry => e !== undefined);

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
