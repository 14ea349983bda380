// The routes over trained runs: text generation (a CLI child per request, streamed, a few at
// once), and in-process work that takes milliseconds: the VAE's decoder and interpolation, GAN
// samples, and a run's export as ONNX for the page to run itself.
import { spawn } from 'node:child_process';
import path from 'node:path';
import sharp from 'sharp';
import * as T from '../torch/index.js';
import { tiedToMe } from '../cli/parent.js';
import { exportRun } from '../export/index.js';
import { imageGrid, toBytes } from '../io/images.js';
import type { ImageDataset } from '../io/datasets.js';
import { classIndex, cyclingLabels, loadGenerator } from '../models/gan/index.js';
import { loadVae, loadVaeData, walk } from '../models/vae/index.js';
import { HttpError, readJson, type Req, type Res } from './http.js';
import { CLI } from './jobs.js';
import { RunCache } from './run-cache.js';
import type { RunFolders } from './runs.js';

/** Text generations that run at once; more wait their turn, and past the queue get a 429. */
export const GENERATE_CONCURRENCY = 2;
export const GENERATE_QUEUE = 8;
/** The longest prime a generation takes, in characters. */
const PRIME_LIMIT = 500;

/** At most `size` holders at once; up to `queue` more wait; beyond that, a 429. */
class Gate {
  private active = 0;
  private waiting: (() => void)[] = [];
  constructor(
    readonly size: number,
    readonly queue: number,
  ) {}
  acquire(): Promise<void> {
    if (this.active < this.size) {
      this.active++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.queue)
      throw new HttpError(429, 'too many generations at once; try again when one has finished');
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}

/** An image tensor [1, C, H, W] in [0, 1] as a PNG answer, each pixel `scale` x `scale`; the tensor is disposed. */
async function png(res: Res, img: T.Tensor, scale: number): Promise<void> {
  const { data, width, height, channels } = toBytes(img);
  img.dispose();
  const out = await sharp(data, { raw: { width, height, channels } })
    .resize(width * scale, height * scale, { kernel: 'nearest' })
    .png()
    .toBuffer();
  res.writeHead(200, { 'content-type': 'image/png', 'content-length': out.length, 'cache-control': 'no-store' });
  res.end(out);
}

export class ModelRoutes {
  private readonly generations = new Gate(GENERATE_CONCURRENCY, GENERATE_QUEUE);
  /** Generation children, stopped when the studio closes. */
  private readonly generating = new Set<ReturnType<typeof spawn>>();
  private readonly vaes = new RunCache<ReturnType<typeof loadVae>>((v) => v.model.dispose());
  private readonly vaeTests = new RunCache<ImageDataset>((t) => t.dispose());
  private readonly gans = new RunCache<ReturnType<typeof loadGenerator>>((g) => g.dispose());

  constructor(
    private readonly root: string,
    private readonly runs: RunFolders,
    private readonly cli = CLI,
  ) {
    runs.caches.push(this.vaes, this.vaeTests, this.gans);
  }

  private vaeOf(v: unknown) {
    const { dir, id } = this.runs.checkpoint(v);
    return { dir, id, ...this.vaes.get(dir, id, () => loadVae(dir)) };
  }

  /** POST /api/text/generate: the run's text, streamed as the CLI samples it. */
  generateText = async (req: Req, res: Res): Promise<void> => {
    const b = await readJson(req);
    const dir = this.runs.dir(b.run);
    if (b.prime !== undefined && b.prime !== null && typeof b.prime !== 'string')
      throw new HttpError(400, 'prime must be text');
    const prime = typeof b.prime === 'string' ? b.prime.slice(0, PRIME_LIMIT) : '';
    // A process argument cannot hold a NUL; other control characters are the model's business.
    if (prime.includes('\0')) throw new HttpError(400, 'prime may not contain a NUL character');
    const args = [
      this.cli,
      'text',
      'generate',
      path.relative(this.root, dir),
      '--length',
      String(Math.min(2000, Math.max(1, Number(b.length) || 200))),
      '--temperature',
      String(Number(b.temperature) >= 0 ? Number(b.temperature) : 0.5),
    ];
    if (prime.length) args.push('--prime', prime);
    if (Number(b.topK) > 0) args.push('--top-k', String(Math.floor(Number(b.topK))));
    if (Number(b.topP) > 0 && Number(b.topP) <= 1) args.push('--top-p', String(Number(b.topP)));
    if (Number.isInteger(b.seed)) args.push('--seed', String(b.seed));
    await this.generations.acquire();
    // The slot is released exactly once, whichever way the generation ends.
    let held = true;
    const release = () => {
      if (held) this.generations.release();
      held = false;
    };
    try {
      if (res.closed || res.destroyed) return; // the browser left while it waited
      const child = spawn(process.execPath, args, {
        cwd: this.root,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...tiedToMe() },
      });
      this.generating.add(child);
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      let header = true;
      let err = '';
      child.stdout!.setEncoding('utf8').on('data', (c: string) => {
        // Drop the CLI's "--- temperature T ---" header line; stream the rest as it comes.
        if (header) {
          const nl = c.indexOf('\n');
          if (nl < 0) return;
          c = c.slice(nl + 1);
          header = false;
        }
        res.write(c);
      });
      child.stderr!.setEncoding('utf8').on('data', (c: string) => (err = (err + c).slice(-2000)));
      child.on('error', () => (err ||= 'the generation could not be started'));
      held = false; // from here the child's end releases the slot
      child.on('close', (code) => {
        this.generating.delete(child);
        this.generations.release();
        const last = err
          .trim()
          .split('\n')
          .filter(Boolean)
          .pop()
          ?.replace(/^loom: /, '');
        res.end(code === 0 ? '' : `\n[${last || `exit ${code}`}]`);
      });
      res.on('close', () => child.exitCode === null && child.kill()); // the browser went away
    } finally {
      release();
    }
  };

  /** GET /api/export: a run as ONNX bytes, for the page to run in onnxruntime-web (no server work after that). */
  exportModel = (_req: Req, res: Res, url: URL): void => {
    const dir = this.runs.dir(url.searchParams.get('run'));
    const part = url.searchParams.get('part');
    if (part !== null && part !== 'decoder' && part !== 'encoder')
      throw new HttpError(400, 'part must be decoder or encoder');
    let bytes: Uint8Array;
    let metadata: Record<string, string>;
    try {
      const e = exportRun(dir, part);
      bytes = e.graph.encode(e.metadata, e.doc);
      metadata = e.metadata;
    } catch (e) {
      throw new HttpError(400, (e as Error).message.replaceAll(this.root, '.'));
    }
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': bytes.length,
      'cache-control': 'no-store',
      // What the page needs to use the model (a text model's vocabulary, a GAN's classes), which
      // onnxruntime-web does not read out of the file; escaped, as a header holds only ASCII.
      'x-loom-metadata': encodeURIComponent(JSON.stringify(metadata)),
    });
    res.end(bytes);
  };

  /** GET /api/vae/decode: the decoder's image at (x, y) of the latent plane. */
  vaeDecode = async (_req: Req, res: Res, url: URL): Promise<void> => {
    const x = Number(url.searchParams.get('x'));
    const y = Number(url.searchParams.get('y'));
    if (!Number.isFinite(x) || !Number.isFinite(y)) throw new HttpError(400, 'x and y must be numbers');
    const { model } = this.vaeOf(url.searchParams.get('run'));
    const latent = model.config.latent;
    const z = new Float32Array(latent);
    z[0] = x;
    if (latent > 1) z[1] = y;
    const img = T.noGrad(() => T.tidy(() => T.sigmoid(model.decodeLogits(T.tensor(z, { shape: [1, latent] })))));
    return png(res, img, 6);
  };

  /** GET /api/vae/interpolate: a strip: test image a, the decoded walk between their codes, test image b. */
  vaeInterpolate = async (_req: Req, res: Res, url: URL): Promise<void> => {
    const run = url.searchParams.get('run');
    const { dir, id, config } = this.vaeOf(run);
    const test = await this.vaeTests.getAsync(
      dir,
      id,
      async () => (await loadVaeData(config.data, { size: config.size, channels: config.channels as 1 | 3 })).test,
    );
    // Taken after the wait: the run may have been retrained meanwhile, and its old model disposed.
    const { model } = this.vaeOf(run);
    const n = test.images.size(0);
    const [a, b] = ['a', 'b'].map((k) => Number(url.searchParams.get(k)));
    if (![a, b].every((i) => Number.isInteger(i) && i >= 0 && i < n))
      throw new HttpError(400, `a and b must be test-set indices in 0..${n - 1}`);
    const img = T.tidy(() => {
      const [xa, xb] = [test.images.narrow(0, a, 1), test.images.narrow(0, b, 1)];
      return imageGrid(T.cat([xa, walk(model, xa, xb, 8, false), xb], 0), { cols: 10, padValue: 1 });
    });
    return png(res, img, 3);
  };

  /** GET /api/gan/sample: 16 samples for a seed (a conditional run: the asked class, or each class in turn). */
  ganSample = async (_req: Req, res: Res, url: URL): Promise<void> => {
    const seed = Number(url.searchParams.get('seed') ?? 0);
    if (!Number.isInteger(seed)) throw new HttpError(400, 'seed must be a whole number');
    const { dir, id } = this.runs.checkpoint(url.searchParams.get('run'));
    const g = this.gans.get(dir, id, () => loadGenerator(dir));
    const label = url.searchParams.get('label');
    let only: number | null;
    try {
      only = classIndex(g, label ?? undefined);
    } catch (e) {
      throw new HttpError(400, (e as Error).message);
    }
    const classes = g.classes;
    const img = await T.withRngFork(() => {
      T.manualSeed(seed);
      return T.noGrad(() =>
        T.tidy(() => {
          const z = T.randn([16, g.config.latent]);
          const y = classes ? cyclingLabels(16, classes, only, g.config.classWeights) : undefined;
          return imageGrid(g.forward(z, y).add(1).div(2), { cols: 4 });
        }),
      );
    });
    return png(res, img, 3);
  };

  /** Stops the generations and drops what was loaded (the studio is closing). */
  close(): void {
    for (const child of this.generating) child.kill();
  }
  clearCaches(): void {
    for (const c of [this.vaes, this.vaeTests, this.gans]) c.clear();
  }
}
