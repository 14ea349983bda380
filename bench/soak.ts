// `npm run bench -- soak [--minutes N] [--only NAME,...]`: every long loop, run as a user runs
// it (the `loom` command), for N minutes each (default 30), while its resident memory is
// sampled every second from outside. Prints memory at warm-up, the maximum, the slope and
// the step-time drift. Issue 13: the C heap fragmented and a run on a play grew to 4 GB.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { printTable, repoRoot } from './util.js';
import { builtinJudge } from '../src/models/gan/index.js';
import { StyleNet } from '../src/models/style/fast-net.js';
import { saveCheckpoint } from '../src/io/checkpoint.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');

export interface SoakResult {
  name: string;
  seconds: number;
  /**
   * Resident MB after warm-up (a fifth of the run, at least 10 s) until the loop's nominal
   * end: the peak of that window's first quarter, the most seen, and the last quarter's peak.
   */
  startMb: number;
  maxMb: number;
  lastMb: number;
  /** Resident-memory samples in the window after warm-up: the figures above rest on them. */
  samples: number;
  signal: NodeJS.Signals | null;
  /** Least-squares slope of resident MB per minute after warm-up. */
  slopeMbPerMin: number;
  /** Mean step time in the last quarter over the first quarter after warm-up (null: no steps logged). */
  drift: number | null;
  /** Step records the loop logged (or units of work its driver reported). */
  steps: number;
  exitCode: number | null;
  /** What went wrong in the driver's requests, if anything. */
  driverError: string | null;
}

/** Deterministic text of a few shapes, from the built-in corpus's words. */
export function soakCorpus(shape: 'play' | 'long-lines' | 'unicode', chars: number): string {
  const dir = path.join(repoRoot, 'node_modules', '@stdlib', 'datasets-sotu', 'data');
  const words = readFileSync(path.join(dir, '1946_harry_s_truman_d.txt'), 'utf8').split(/\s+/).filter(Boolean);
  let seed = 1;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pick = (n: number) => {
    const at = Math.floor(rand() * (words.length - n));
    return words.slice(at, at + n).join(' ');
  };
  const names = ['HAMLET', 'OPHELIA', 'POLONIUS', 'HORATIO', 'LAERTES', 'KING', 'QUEEN', 'GHOST'];
  const accents: [RegExp, string][] = [
    [/a/g, 'á'],
    [/e/g, 'ë'],
    [/o/g, 'ø'],
    [/s/g, 'ß'],
    [/c/g, 'ç'],
  ];
  let out = '';
  while (out.length < chars) {
    if (shape === 'play') {
      out += `\n${names[Math.floor(rand() * names.length)]}.\n`;
      for (let i = 0, n = 1 + Math.floor(rand() * 5); i < n; i++) out += pick(4 + Math.floor(rand() * 6)) + '\n';
    } else if (shape === 'long-lines') {
      out += pick(800) + ' '; // paragraphs thousands of characters long, no line breaks
    } else {
      let line = pick(8);
      for (const [re, to] of accents) if (rand() < 0.5) line = line.replace(re, to);
      out += `${line} ${['Ж', 'λ', '→', '漢', '🙂'][Math.floor(rand() * 5)]}\n`;
    }
  }
  return out.slice(0, chars);
}

export const STUDIO_LOOP = 'studio 100 jobs';

/** The loops, each a `loom` command that runs far longer than the soak unless it has --minutes. */
export function soakLoops(dir: string, minutes: number): Record<string, string[]> {
  const corpus = (shape: 'play' | 'long-lines' | 'unicode') => {
    const f = path.join(dir, `${shape}.txt`);
    if (!existsSync(f)) writeFileSync(f, soakCorpus(shape, 1_100_000));
    return f;
  };
  const m = String(minutes);
  // A video twice the soak's length (192x128, 12 frames/s, a test pattern and a tone) and an
  // untrained fast style net (the same work per frame as a trained one).
  const video = () => {
    const f = path.join(dir, `clip-${minutes}.mp4`);
    if (existsSync(f)) return f;
    const made = spawnSync('ffmpeg', [
      ...[
        '-v',
        'error',
        '-f',
        'lavfi',
        '-i',
        'testsrc=size=192x128:rate=12',
        '-f',
        'lavfi',
        '-i',
        'sine=frequency=440',
      ],
      ...['-t', String(minutes * 120), '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', f],
    ]);
    if (made.status !== 0) throw new Error(`ffmpeg could not make the soak's video: ${made.stderr}`);
    return f;
  };
  // Evaluations (samples, the judge, a checkpoint) often, so the first one, which grows the
  // large-block cache to its peak once and ends warm-up, comes early on a busy machine.
  const ganLoop = (out: string, ...extra: string[]) => [
    ...['gan', 'train', ...extra, '--out', path.join(dir, out), '--minutes', m, '--steps', '100000000'],
    ...['--log-every', '10', '--sample-every', '50'],
  ];
  const styleNet = () => {
    const run = path.join(dir, 'fast-untrained');
    if (existsSync(run)) return run;
    mkdirSync(run);
    const shape = { width: 32, residualBlocks: 5 };
    writeFileSync(path.join(run, 'config.json'), JSON.stringify({ system: 'style', ...shape }));
    using net = new StyleNet(shape);
    saveCheckpoint(path.join(run, 'checkpoint.safetensors'), { modules: { net } }, { step: 0, config: shape });
    return run;
  };
  const text = (name: string, src: string, model = 'lstm') => [
    'text',
    'train',
    '--model',
    model,
    '--corpus',
    src,
    '--out',
    path.join(dir, name),
    '--minutes',
    m,
    '--eval-every',
    '500',
    '--log-every',
    '10',
  ];
  return {
    'text sotu': text('text-sotu', 'builtin:sotu'),
    'text play': text('text-play', corpus('play')),
    'text play gpt': text('text-play-gpt', corpus('play'), 'gpt'),
    'text long lines': text('text-long', corpus('long-lines')),
    'text non-ASCII': text('text-unicode', corpus('unicode')),
    'text generate': [
      'text',
      'generate',
      path.join(dir, 'text-play'),
      '--length',
      '1000000',
      '--temperature',
      '0.8',
      '--seed',
      '1',
    ],
    'vae train': [
      'vae',
      'train',
      '--out',
      path.join(dir, 'vae'),
      '--minutes',
      m,
      '--epochs',
      '100000',
      '--log-every',
      '50',
    ],
    'gan train': ganLoop('gan'),
    // Without labels: the clustered recipe, whose k-means runs before the first step.
    'gan unlabelled': ganLoop('gan-unlabelled', '--no-conditional'),
    'style train': [
      'style',
      'train',
      '--out',
      path.join(dir, 'fast'),
      '--size',
      '128',
      '--steps',
      '100000000',
      '--sample-every',
      '200',
    ],
    'style video': ['style', 'apply', styleNet(), video(), '--out', path.join(dir, 'styled.mp4'), '--force'],
    'style (L-BFGS)': [
      'style',
      'builtin:horses',
      'builtin:scream',
      '--out',
      path.join(dir, 'style.png'),
      '--height',
      '160',
      '--iterations',
      '100000',
    ],
    [STUDIO_LOOP]: ['studio', '--port', '0', '--root', path.join(dir, 'studio')],
    'dream zoom': [
      'dream',
      'builtin:kite',
      '--out',
      path.join(dir, 'zoom.gif'),
      '--max-side',
      '240',
      '--octaves',
      '2',
      '--zoom-frames',
      '100000',
      '--steps',
      '5',
    ],
  };
}

function residentMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Work that a soak does to a server it started: `waitFor` resolves once the server's
 * stdout matches; the driver sends requests and reports each unit of work's milliseconds;
 * when it resolves, the server gets its Ctrl-C.
 */
export type Driver = (waitFor: (re: RegExp) => Promise<RegExpExecArray>, step: (ms: number) => void) => Promise<void>;

/**
 * Loops whose first evaluation grows memory to a plateau it keeps (the allocator's cache of
 * large blocks): warm-up lasts until their first record with this key, however long the
 * machine's load makes that.
 */
const WARM_UNTIL: Record<string, string> = { 'gan train': 'samples', 'gan unlabelled': 'samples' };

/** Runs one loop for `minutes` (then Ctrl-C, if it has not stopped by itself) and measures it. */
export function soakOne(name: string, args: string[], minutes: number, drive?: Driver): Promise<SoakResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    // Memory is measured here, not numbers: the loops fit their threads to the free cores
    // (--threads auto), so that a busy machine slows them less and the window still holds steps.
    const child = spawn(process.execPath, [CLI, ...args, ...(drive ? [] : ['--json'])], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LOOM_THREADS: process.env.LOOM_THREADS ?? 'auto' },
    });
    const rss: [number, number][] = [];
    // [seconds, ms per step]: from records that carry ms_per_step, else from line spacing.
    const timed: [number, number][] = [];
    const spaced: [number, number][] = [];
    let lastLine = 0;
    let firstStep: number | null = null;
    let lastStep: number | null = null;
    let evaluated: number | null = null;
    let stderr = '';
    let buffered = '';
    let driverError: string | null = null;
    child.stdout.setEncoding('utf8');
    if (!drive)
      child.stdout.on('data', (c: string) => {
        buffered += c;
        for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (!line.startsWith('{')) continue;
          try {
            const r = JSON.parse(line);
            const now = (performance.now() - t0) / 1000;
            // A step, or a video's frame.
            const step = typeof r.step === 'number' || typeof r.frame === 'number';
            if (typeof r.ms_per_step === 'number' || step) firstStep ??= now;
            if (name in WARM_UNTIL && r[WARM_UNTIL[name]!] !== undefined) evaluated ??= now;
            // A training's final records (its test score, samples) carry a step too: the
            // loop itself ends with its last timed step or frame.
            if (typeof r.ms_per_step === 'number' || typeof r.frame === 'number') lastStep = now;
            if (typeof r.ms_per_step === 'number') timed.push([now, r.ms_per_step]);
            else if (step && lastLine) spaced.push([now, (now - lastLine) * 1000]);
            lastLine = now;
          } catch {
            // generated text, not a record
          }
        }
        if (buffered.length > 1e6) buffered = buffered.slice(-1e5);
      });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-4000)));
    if (drive) {
      let said = '';
      const waiting: [RegExp, (m: RegExpExecArray) => void][] = [];
      child.stdout.on('data', (c: string) => {
        said = (said + c).slice(-10_000);
        for (const [re, done] of waiting) {
          const m = re.exec(said);
          if (m) done(m);
        }
      });
      const waitFor = (re: RegExp) =>
        new Promise<RegExpExecArray>((done, fail) => {
          const m = re.exec(said);
          if (m) return done(m);
          waiting.push([re, done]);
          child.on('close', () => fail(new Error(`it ended before saying ${re}`)));
        });
      drive(waitFor, (ms) => {
        const now = (performance.now() - t0) / 1000;
        firstStep ??= now;
        lastStep = now;
        spaced.push([now, ms]);
      })
        .catch((e: unknown) => {
          driverError = (e as Error).message;
          console.error(`soak: ${name}: ${driverError}`);
        })
        .finally(() => child.kill('SIGINT'));
    }
    const sampler = setInterval(() => {
      const mb = residentMb(child.pid!);
      if (mb !== null) rss.push([(performance.now() - t0) / 1000, mb]);
    }, 1000);
    // Loops without --minutes get a Ctrl-C at the end (a second one after a minute); those
    // with it must return by themselves, within the wall the issue sets: M + max(0.5, M/20).
    // A driven server is stopped by its driver, which keeps its own time; this is a fallback.
    const wall = args.includes('--minutes') ? minutes + Math.max(0.5, minutes / 20) : drive ? minutes + 1 : minutes;
    const stop = setTimeout(() => {
      child.kill('SIGINT');
      setTimeout(() => child.kill('SIGKILL'), 60_000).unref();
    }, wall * 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearInterval(sampler);
      clearTimeout(stop);
      const seconds = (performance.now() - t0) / 1000;
      // The window: after warm-up, until the loop's nominal end (its final evaluation and
      // pictures are a bounded spike, not growth; the table's minutes column shows the wall).
      // Warm-up lasts a fifth of the run, at least 10 s, and at least until the loop's first
      // logged step: on a loaded machine, loading a network can outlast any fixed time. For
      // the same reason it lasts until the first evaluation of a loop in WARM_UNTIL, and the
      // window runs on to the last timed step when that comes later: a
      // loop's own clock starts after its loading, so on a slow machine its steps all come
      // after the nominal end, and a window that stopped there would hold no sample.
      const end = Math.max(minutes * 60, lastStep ?? 0);
      const steps = timed.length ? timed : spaced;
      const warm = Math.max(10, end / 5, firstStep ?? 0, evaluated ?? 0);
      const after = rss.filter(([t]) => t >= warm && t <= end);
      // A step allocates and frees its working set, so resident memory saws up and down:
      // compare the peaks of the window's first and last quarters, not two single samples.
      const quarter = Math.max(1, Math.floor(after.length / 4));
      const peak = (xs: [number, number][]) => Math.max(0, ...xs.map(([, m]) => m));
      const startMb = after.length ? peak(after.slice(0, quarter)) : (rss.at(-1)?.[1] ?? 0);
      const maxMb = Math.max(startMb, peak(after));
      const lastMb = after.length ? peak(after.slice(-quarter)) : startMb;
      const n = after.length;
      const mt = after.reduce((s, [t]) => s + t, 0) / n;
      const mm = after.reduce((s, [, m]) => s + m, 0) / n;
      const cov = after.reduce((s, [t, m]) => s + (t - mt) * (m - mm), 0);
      const vt = after.reduce((s, [t]) => s + (t - mt) ** 2, 0);
      const ms = steps.filter(([t]) => t >= warm && t <= end).map(([, x]) => x);
      const q = Math.floor(ms.length / 4);
      const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
      if (code !== 0) console.error(`soak: ${name} exited with ${code}: ${stderr.trim().split('\n').pop()}`);
      resolve({
        name,
        seconds,
        startMb,
        maxMb,
        lastMb,
        signal,
        samples: n,
        slopeMbPerMin: n > 2 && vt > 0 ? (cov / vt) * 60 : 0,
        drift: q >= 2 ? mean(ms.slice(-q)) / mean(ms.slice(0, q)) : null,
        steps: steps.length,
        exitCode: code,
        driverError,
      });
    });
  });
}

/**
 * The studio serving `jobs` small text trainings one after another (each a child process):
 * the server's own memory over its queue, event stream and job list.
 */
export function studioDriver(jobs: number, minutes: number): Driver {
  return async (waitFor, step) => {
    // The printed link carries the token; scripts send it as a bearer credential.
    const link = new URL((await waitFor(/Loom studio at (\S+)/))[1]);
    const url = `${link.origin}/`;
    const auth = { authorization: `Bearer ${link.searchParams.get('token')}` };
    const headers = { 'content-type': 'application/json', ...auth };
    const end = Date.now() + minutes * 60_000;
    for (let i = 0; i < jobs && Date.now() < end; i++) {
      const t = performance.now();
      const body = JSON.stringify({
        system: 'text',
        options: { model: 'lstm', steps: 1, batch: 8, maxlen: 16, units: 16, 'sample-length': 20 },
      });
      const job = await (await fetch(`${url}api/jobs`, { method: 'POST', headers, body })).json();
      if (!job.id) throw new Error(`the studio refused a job: ${JSON.stringify(job)}`);
      for (;;) {
        await new Promise((r) => setTimeout(r, 200));
        const all: { id: string; status: string; error?: string }[] = await (
          await fetch(`${url}api/jobs`, { headers: auth })
        ).json();
        const s = all.find((j) => j.id === job.id);
        if (s?.status === 'failed') throw new Error(`job ${i + 1} failed: ${s.error}`);
        if (s?.status === 'done') break;
      }
      step(performance.now() - t);
    }
  };
}

export async function soakBench(minutes: number, only: string[] | null): Promise<SoakResult[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'loom-soak-'));
  mkdirSync(dir, { recursive: true });
  const loops = soakLoops(dir, minutes);
  console.log(
    `\nsoak: each loop for ${minutes} min, resident memory sampled every second (${new Date().toISOString().slice(0, 10)})`,
  );
  const results: SoakResult[] = [];
  try {
    for (const [name, args] of Object.entries(loops)) {
      if (only && !only.includes(name)) continue;
      // The judge is trained once per machine: not inside the loop's measured minutes.
      if (name.startsWith('gan ')) (await builtinJudge('builtin:mnist'))?.net.dispose();
      const r = await soakOne(name, args, minutes, name === STUDIO_LOOP ? studioDriver(100, minutes) : undefined);
      results.push(r);
      console.log(
        `  ${name}: ${r.startMb.toFixed(0)} -> max ${r.maxMb.toFixed(0)} MB, ${r.slopeMbPerMin.toFixed(1)} MB/min, ${r.steps} steps logged`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  printTable(
    [
      'loop',
      'minutes',
      'RSS after warm-up (MB)',
      'max (MB)',
      'last (MB)',
      'slope (MB/min)',
      'step-time drift',
      'records',
      'exit',
    ],
    results.map((r) => [
      r.name,
      (r.seconds / 60).toFixed(1),
      r.startMb.toFixed(0),
      r.maxMb.toFixed(0),
      r.lastMb.toFixed(0),
      r.slopeMbPerMin.toFixed(2),
      r.drift === null ? '-' : `${r.drift.toFixed(2)}x`,
      String(r.steps),
      String(r.exitCode ?? r.signal),
    ]),
  );
  return results;
}
