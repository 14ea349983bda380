// The studio: one local web page over the library. Jobs run as CLI child processes (jobs.ts);
// interactive views (VAE latent plane, GAN samples) decode in-process, which takes
// milliseconds. The browser names runs and uploads, never paths: nothing it sends reaches
// outside the studio's runs/ and uploads/ folders.
import { spawn } from 'node:child_process';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import * as T from '../torch/index.js';
import { imageGrid, toBytes } from '../io/images.js';
import { BUILTIN_IMAGES } from '../io/builtin-images.js';
import { BUILTIN_CORPORA, decodeText } from '../io/corpus.js';
import { VAE_OPTIONS, loadVae, loadVaeData, walk } from '../models/vae/index.js';
import type { ImageDataset } from '../io/datasets.js';
import { DcganGenerator, GAN_OPTIONS, classIndex, cyclingLabels, loadGenerator } from '../models/gan/index.js';
import { TEXT_OPTIONS } from '../models/text/index.js';
import { studioOptions, type StudioKind } from '../models/options.js';
import { CLI, JobQueue, imagesUnder, type JobEvent } from './jobs.js';
import { makeFolder } from '../io/files.js';
import { probeVideo } from '../io/video.js';
import { freePort } from '../distributed/index.js';
import { exportRun } from '../export/index.js';
import { createRequire } from 'node:module';

export const UPLOAD_LIMIT = 8 * 1024 * 1024;
/** Videos are larger: a few minutes of phone video. */
export const VIDEO_UPLOAD_LIMIT = 256 * 1024 * 1024;
/** Video uploads the studio takes, by type, and the extension each is stored under. */
const VIDEO_TYPES: Record<string, string> = {
  'video/mp4': 'mp4',
  'video/webm': 'webm',
  'video/quicktime': 'mov',
  'video/x-matroska': 'mkv',
};
/** Uploaded videos' extensions, as a regular-expression alternative, and the patterns built on it once. */
const VIDEO_UPLOAD_EXT = Object.values(VIDEO_TYPES).join('|');
const VIDEO_ARG = new RegExp(`^upload:[0-9a-f]{40}\\.(${VIDEO_UPLOAD_EXT})$`);
const VIDEO_FILE = new RegExp(`\\.(${VIDEO_UPLOAD_EXT})$`);
const UPLOAD_FILE = new RegExp(`^[0-9a-f]{40}\\.(png|${VIDEO_UPLOAD_EXT})$`);
/** Text generations that run at once; more wait their turn, and past the queue get a 429. */
export const GENERATE_CONCURRENCY = 2;
export const GENERATE_QUEUE = 8;
/** Jobs the studio remembers; the oldest finished ones are forgotten first. */
export const JOB_HISTORY = 100;
const BUILTIN_DATA = ['builtin:mnist', 'builtin:fashion-mnist'];

/** The page's HTML, CSS and compiled script (the build copies them beside this file). */
const PAGE_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'page');

/**
 * Browser builds the page loads from node_modules (never from a CDN): onnxruntime-web's
 * WebAssembly build, and Vega with Vega-Lite for the live charts. Each package's files are
 * found beside the module that `from` resolves to.
 */
const VENDOR: Record<string, { from: string; files: Record<string, string> }> = {
  'onnxruntime-web': {
    from: 'onnxruntime-web/ort-wasm-simd-threaded.wasm',
    files: {
      'ort.wasm.min.js': 'text/javascript',
      'ort-wasm-simd-threaded.mjs': 'text/javascript',
      'ort-wasm-simd-threaded.wasm': 'application/wasm',
    },
  },
  vega: { from: 'vega', files: { 'vega.min.js': 'text/javascript' } },
  'vega-lite': { from: 'vega-lite', files: { 'vega-lite.min.js': 'text/javascript' } },
};

/** A vendored file's path and type, or null when the package is not installed. */
function vendorFile(pkg: string, file: string): { path: string; type: string } | null {
  const v = Object.hasOwn(VENDOR, pkg) ? VENDOR[pkg] : undefined;
  const type = v && Object.hasOwn(v.files, file) ? v.files[file] : undefined;
  if (!v || !type)
    throw new HttpError(404, `no such file; the studio serves ${Object.keys(VENDOR).join(', ')}'s browser builds`);
  try {
    return { path: path.join(path.dirname(createRequire(import.meta.url).resolve(v.from)), file), type };
  } catch {
    return null;
  }
}

/** Trainers the studio can run data-parallel, as `loom launch` ranks on this machine. */
const DATA_PARALLEL = ['text', 'vae', 'gan'];

/**
 * `loom launch ... --` for a job of several processes (at most one per core), on a free
 * loopback port; nothing for one process.
 */
async function launchArgs(system: string, processes: unknown): Promise<string[]> {
  if (processes === undefined || processes === null || processes === '' || Number(processes) === 1) return [];
  const most = Math.max(2, os.availableParallelism());
  const n = Number(processes);
  if (!DATA_PARALLEL.includes(system))
    throw new HttpError(400, `only ${DATA_PARALLEL.join(', ')} train on several processes`);
  if (!Number.isInteger(n) || n < 1 || n > most)
    throw new HttpError(400, `processes must be a whole number from 1 to ${most} (this machine's cores)`);
  return ['launch', '--nproc-per-node', String(n), '--master-port', String(await freePort()), '--'];
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Options the page may set, per system, and how the CLI spells the job ('guide': an image
 * passed by flag; 'media': an image or an uploaded video, positional; 'video': an uploaded
 * video, positional; 'run': a run folder's name, positional, first; 'mask': an image that
 * confines the image positional before it, as the CLI's STYLE:MASK).
 */
type OptionKind = StudioKind | 'guide' | 'media' | 'video' | 'run' | 'mask';
const SYSTEMS: Record<string, { verb: string[]; options: Record<string, OptionKind>; out: 'folder' | 'file' }> = {
  text: { verb: ['text', 'train'], out: 'folder', options: studioOptions(TEXT_OPTIONS) },
  vae: { verb: ['vae', 'train'], out: 'folder', options: studioOptions(VAE_OPTIONS) },
  gan: { verb: ['gan', 'train'], out: 'folder', options: studioOptions(GAN_OPTIONS) },
  dream: {
    verb: ['dream'],
    out: 'file',
    options: {
      image: 'media',
      layers: 'word',
      channels: 'word',
      guide: 'guide',
      'lap-levels': 'int',
      octaves: 'int',
      'octave-scale': 'number',
      steps: 'int',
      'step-size': 'number',
      'max-loss': 'number',
      jitter: 'int',
      'max-side': 'int',
      seed: 'int',
    },
  },
  style: {
    verb: ['style'],
    out: 'file',
    options: {
      content: 'image',
      style: 'image',
      mask: 'mask',
      height: 'int',
      iterations: 'int',
      'max-evals': 'int',
      optimizer: 'word',
      'preserve-colors': 'bool',
      'color-match': 'word',
      init: 'word',
      'colour-weight': 'number',
      'style-weight': 'number',
      'content-weight': 'number',
      seed: 'int',
    },
  },
  // A fast style net over a video, frame by frame (the page runs nets on photos itself).
  'style-video': {
    verb: ['style', 'apply'],
    out: 'file',
    options: { run: 'run', video: 'video', 'color-match': 'word' },
  },
};

export interface StudioOptions {
  root: string;
  port?: number;
  host?: string;
  /** The largest video upload in bytes (VIDEO_UPLOAD_LIMIT; smaller in tests). */
  videoUploadLimit?: number;
}

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

export interface Studio {
  url: string;
  /** The session token the studio's page carries; other clients (tests, scripts) send it too. */
  token: string;
  root: string;
  close(): Promise<void>;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(data),
  });
  res.end(data);
}

async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new HttpError(413, `the upload is ${declared} bytes; the limit is ${limit}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new HttpError(413, `the upload is over the limit of ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Streams a request body into `file` (never the whole body in memory: videos may be hundreds of
 * megabytes) and returns the SHA-1 of its bytes. Over the limit, or if the client goes away,
 * the partial file is removed and the request fails.
 */
async function receiveFile(req: http.IncomingMessage, limit: number, file: string): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new HttpError(413, `the upload is ${declared} bytes; the limit is ${limit}`);
  const hash = createHash('sha1');
  let size = 0;
  // Opened and written synchronously, so no write is in flight when the file is removed.
  const fd = openSync(file, 'wx');
  try {
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > limit) throw new HttpError(413, `the upload is over the limit of ${limit} bytes`);
      hash.update(c as Buffer);
      writeSync(fd, c as Buffer);
    }
    if (!req.complete) throw new HttpError(400, 'the upload was cut off');
  } catch (e) {
    closeSync(fd);
    rmSync(file, { force: true });
    throw e;
  }
  closeSync(fd);
  return hash.digest('hex');
}

async function readJson(req: http.IncomingMessage): Promise<Record<string, any>> {
  // Only JSON typed as JSON: a cross-site <form> can send text/plain without a preflight.
  if (!/^application\/json\s*(;|$)/i.test(String(req.headers['content-type'] ?? ''))) {
    throw new HttpError(415, 'the request body must be JSON, sent with Content-Type: application/json');
  }
  const body = await readBody(req, 64 * 1024);
  try {
    const v = JSON.parse(body.toString('utf8'));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v;
  } catch {
    throw new HttpError(400, 'the request body must be a JSON object');
  }
}

/** A run's name from the browser: one folder name under runs/, nothing else. */
function runName(v: unknown): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$/.test(v) || v.includes('..'))
    throw new HttpError(400, 'a run is named by its folder name under runs/');
  return v;
}

export async function startStudio(opts: StudioOptions): Promise<Studio> {
  const root = path.resolve(opts.root);
  const runs = path.join(root, 'runs');
  const uploads = path.join(root, 'uploads');
  makeFolder(runs);
  makeFolder(uploads);
  const realRoot = realpathSync(root);
  const videoUploadLimit = opts.videoUploadLimit ?? VIDEO_UPLOAD_LIMIT;
  const queue = new JobQueue(root, JOB_HISTORY);
  const token = randomBytes(24).toString('base64url');
  const tokenBytes = Buffer.from(token);
  const page = readFileSync(path.join(PAGE_DIR, 'index.html'), 'utf8').replace('__LOOM_TOKEN__', token);
  const assets = new Map(['main.js', 'page.css'].map((f) => [f, readFileSync(path.join(PAGE_DIR, f))]));
  // The chart specifications the gallery is drawn from, for the page's live charts.
  assets.set('chart-spec.js', readFileSync(path.join(PAGE_DIR, '..', '..', 'io', 'chart-spec.js')));
  const sendPage = (res: http.ServerResponse): void => {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'x-frame-options': 'DENY',
    });
    res.end(page);
  };
  const sendAsset = (res: http.ServerResponse, name: string, type: string): void => {
    const body = assets.get(name)!;
    res.writeHead(200, {
      'content-type': `${type}; charset=utf-8`,
      'content-length': body.length,
      'cache-control': 'no-store',
    });
    res.end(body);
  };
  // Filled in once the port is known.
  const allowedHosts = new Set<string>();
  const allowedOrigins = new Set<string>();
  const generations = new Gate(GENERATE_CONCURRENCY, GENERATE_QUEUE);
  const clients = new Set<http.ServerResponse>();
  queue.on('event', (e: JobEvent) => {
    const data = `data: ${JSON.stringify(e)}\n\n`;
    for (const c of clients) c.write(data);
  });
  const vaes = new Map<string, ReturnType<typeof loadVae>>();
  const vaeTests = new Map<string, ImageDataset>();
  const vaeOf = (run: string) => {
    if (!vaes.has(run)) vaes.set(run, loadVae(path.join(runs, run)));
    return vaes.get(run)!;
  };
  const gans = new Map<string, ReturnType<typeof loadGenerator>>();

  /** Stores an upload under the hash of its bytes, so the browser names it and never a path. */
  const uploadName = (bytes: Buffer, ext: string): string => `${createHash('sha1').update(bytes).digest('hex')}.${ext}`;
  const saveUpload = (bytes: Buffer, ext: string): string => {
    const name = uploadName(bytes, ext);
    writeFileSync(path.join(uploads, name), bytes);
    return name;
  };
  const corpusArg = (v: unknown): string => {
    if (typeof v === 'string' && (BUILTIN_CORPORA as readonly string[]).includes(v)) return v;
    if (typeof v === 'string' && /^upload:[0-9a-f]{40}\.txt$/.test(v)) {
      const f = path.join(uploads, v.slice(7));
      if (!existsSync(f)) throw new HttpError(404, `no upload ${v}`);
      return f;
    }
    throw new HttpError(400, `corpus must be a built-in corpus (${BUILTIN_CORPORA.join(', ')}) or an uploaded text`);
  };
  const imageArg = (v: unknown, what: string): string => {
    if (typeof v === 'string' && v.startsWith('builtin:') && BUILTIN_IMAGES.includes(v.slice(8))) return v;
    if (typeof v === 'string' && /^upload:[0-9a-f]{40}\.png$/.test(v)) {
      const f = path.join(uploads, v.slice(7));
      if (!existsSync(f)) throw new HttpError(404, `no upload ${v}`);
      return f;
    }
    throw new HttpError(400, `${what} must be a built-in image (builtin:dog, ...) or an upload`);
  };
  const videoArg = (v: unknown, what: string): string => {
    if (typeof v === 'string' && VIDEO_ARG.test(v)) {
      const f = path.join(uploads, v.slice(7));
      if (!existsSync(f)) throw new HttpError(404, `no upload ${v}`);
      return f;
    }
    throw new HttpError(400, `${what} must be an uploaded video`);
  };
  /** A mask is an uploaded image (a built-in photo is no mask); its path ends in .png, as STYLE:MASK needs. */
  const maskArg = (v: unknown, what: string): string => {
    if (typeof v === 'string' && v.startsWith('upload:')) return imageArg(v, what);
    throw new HttpError(400, `${what} must be an uploaded image`);
  };
  const isVideo = (v: unknown) => typeof v === 'string' && VIDEO_FILE.test(v);

  const startJob = async (body: Record<string, any>) => {
    const spec =
      typeof body.system === 'string' && Object.hasOwn(SYSTEMS, body.system) ? SYSTEMS[body.system] : undefined;
    if (!spec)
      throw new HttpError(400, `unknown system ${JSON.stringify(body.system)}; use ${Object.keys(SYSTEMS).join(', ')}`);
    const options = (body.options ?? {}) as Record<string, unknown>;
    if (typeof options !== 'object' || options === null || Array.isArray(options))
      throw new HttpError(400, 'options must be an object');
    const args = [...spec.verb];
    const launch = await launchArgs(body.system, options.processes);
    for (const [k, v] of Object.entries(options)) {
      if (k === 'processes') continue;
      const kind = Object.hasOwn(spec.options, k) ? spec.options[k] : undefined;
      if (!kind)
        throw new HttpError(
          400,
          `${body.system} has no option ${JSON.stringify(k)}; it takes ${Object.keys(spec.options).join(', ')}`,
        );
      if (v === null || v === '' || v === undefined || ['image', 'media', 'video', 'run', 'mask'].includes(kind))
        continue;
      if (kind === 'guide') {
        args.push(`--${k}`, imageArg(v, k));
        continue;
      }
      if (kind === 'bool') {
        if (v === true) args.push(`--${k}`);
        continue;
      }
      if (kind === 'corpus') {
        args.push(`--${k}`, corpusArg(v));
        continue;
      }
      if (kind === 'data') {
        if (typeof v !== 'string' || !BUILTIN_DATA.includes(v))
          throw new HttpError(400, `${k} must be one of ${BUILTIN_DATA.join(', ')}`);
        args.push(`--${k}`, v);
        continue;
      }
      const s = String(v);
      const ok =
        kind === 'word'
          ? /^[A-Za-z0-9_.:,=+@-]{1,200}$/.test(s) && !s.startsWith('-') && !s.includes('..') && !s.includes('/')
          : Number.isFinite(Number(s)) && (kind !== 'int' || Number.isInteger(Number(s)));
      if (!ok) throw new HttpError(400, `option ${k} has a bad value ${JSON.stringify(v)}`);
      args.push(`--${k}`, s);
    }
    // Runs, images and videos are positional arguments, in the CLI's order.
    const positional: string[] = [];
    for (const [k, kind] of Object.entries(spec.options)) {
      const v = options[k];
      if (kind === 'run') positional.push(path.join('runs', runName(v)));
      else if (kind === 'video' || (kind === 'media' && isVideo(v))) positional.push(videoArg(v, k));
      else if (kind === 'image' || kind === 'media') positional.push(imageArg(v, k));
      // A mask confines the image before it: the CLI's STYLE:MASK.
      else if (kind === 'mask' && v !== null && v !== undefined && v !== '')
        positional[positional.length - 1] += `:${maskArg(v, k)}`;
    }
    const video = Object.entries(spec.options).some(
      ([k, kind]) => kind === 'video' || (kind === 'media' && isVideo(options[k])),
    );
    const folder = `runs/${body.system}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')}-${Math.random().toString(36).slice(2, 6)}`;
    if (spec.out === 'file') {
      makeFolder(path.join(root, folder));
      args.push(...positional, '--out', `${folder}/${body.system}.${video ? 'mp4' : 'png'}`);
      if (body.system === 'dream' && !video) args.push('--save-octaves');
      if (body.system === 'style') args.push('--save-every', '1');
    } else {
      args.push('--out', folder);
    }
    args.push('--json');
    return queue.add(body.system, [...launch, ...args], folder);
  };

  const serveFile = (res: http.ServerResponse, rel: string) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(rel);
    } catch {
      throw new HttpError(400, 'bad file name');
    }
    if (decoded.includes('\0') || decoded.split(/[\\/]/).includes('..') || path.isAbsolute(decoded))
      throw new HttpError(400, 'file names may not leave the runs and uploads folders');
    const abs = path.resolve(root, decoded);
    if (!existsSync(abs) || !statSync(abs).isFile()) throw new HttpError(404, `no file ${decoded}`);
    const real = realpathSync(abs);
    const inside = [path.join(realRoot, 'runs'), path.join(realRoot, 'uploads')].some((d) =>
      real.startsWith(d + path.sep),
    );
    if (!inside) throw new HttpError(403, 'only files in the runs and uploads folders are served');
    const types: Record<string, string> = {
      '.png': 'image/png',
      '.jpg': 'image/jpeg',
      '.jpeg': 'image/jpeg',
      '.gif': 'image/gif',
      '.webp': 'image/webp',
      '.mp4': 'video/mp4',
      '.webm': 'video/webm',
      '.mov': 'video/quicktime',
      '.mkv': 'video/x-matroska',
      '.json': 'application/json',
      '.jsonl': 'text/plain; charset=utf-8',
      '.txt': 'text/plain; charset=utf-8',
    };
    const type = types[path.extname(real).toLowerCase()];
    if (!type) throw new HttpError(403, 'only images, videos and text files are served');
    const data = readFileSync(real);
    res.writeHead(200, { 'content-type': type, 'content-length': data.length, 'cache-control': 'no-store' });
    res.end(data);
  };

  const isFolder = (p: string) => {
    try {
      return statSync(p).isDirectory();
    } catch {
      return false; // a dangling link, or gone meanwhile
    }
  };
  const vendor = (_req: http.IncomingMessage, res: http.ServerResponse, _url: URL, [, pkg, file]: string[]): void => {
    const found = vendorFile(pkg, file);
    if (!found) throw new HttpError(404, `${pkg} is not installed (npm install ${pkg})`);
    const body = readFileSync(found.path);
    res.writeHead(200, { 'content-type': found.type, 'content-length': body.length, 'cache-control': 'max-age=3600' });
    res.end(body);
  };

  const listRuns = () =>
    readdirSync(runs)
      .filter((d) => isFolder(path.join(runs, d)))
      .sort()
      .map((name) => {
        const dir = path.join(runs, name);
        let config: Record<string, unknown> = {};
        try {
          config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
        } catch {
          /* dream and style outputs have no config */
        }
        const metricsFile = path.join(dir, 'metrics.jsonl');
        const metrics = existsSync(metricsFile)
          ? readFileSync(metricsFile, 'utf8')
              .trim()
              .split('\n')
              .filter(Boolean)
              .slice(-200)
              .map((l) => {
                try {
                  return JSON.parse(l);
                } catch {
                  return null;
                }
              })
              .filter(Boolean)
          : [];
        return {
          name,
          system: (config.system as string) ?? name.split('-')[0],
          config,
          metrics,
          images: imagesUnder(root, `runs/${name}`),
          checkpoint: existsSync(path.join(dir, 'checkpoint.safetensors')),
        };
      });

  const png = async (res: http.ServerResponse, img: T.Tensor, scale: number) => {
    const { data, width, height, channels } = toBytes(img);
    img.dispose();
    const out = await sharp(data, { raw: { width, height, channels } })
      .resize(width * scale, height * scale, { kernel: 'nearest' })
      .png()
      .toBuffer();
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': out.length, 'cache-control': 'no-store' });
    res.end(out);
  };

  const events = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    res.write(`data: ${JSON.stringify({ type: 'hello', jobs: queue.jobs })}\n\n`);
    clients.add(res);
    req.on('close', () => clients.delete(res));
    return;
  };
  const images = async (_req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const ups = readdirSync(uploads)
      .filter((f) => UPLOAD_FILE.test(f))
      .map((f) => `upload:${f}`);
    return sendJson(res, 200, [...BUILTIN_IMAGES.map((n) => `builtin:${n}`), ...ups]);
  };
  /** Plain text (a corpus), an image (stored as PNG) or a video ffprobe can read; anything else is refused. */
  const upload = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const videoType = String(req.headers['content-type'] ?? '').toLowerCase();
    if (Object.hasOwn(VIDEO_TYPES, videoType)) {
      // Streamed to a temporary name, probed, and renamed to its hash only if ffprobe finds a
      // video stream.
      const part = path.join(uploads, `.${randomBytes(8).toString('hex')}.part`);
      const name = `${await receiveFile(req, videoUploadLimit, part)}.${VIDEO_TYPES[videoType]}`;
      try {
        probeVideo(part);
      } catch {
        rmSync(part, { force: true });
        throw new HttpError(400, 'the upload is not a readable video');
      }
      renameSync(part, path.join(uploads, name));
      return sendJson(res, 201, { id: `upload:${name}`, url: `/files/uploads/${name}` });
    }
    if (/^text\/plain\s*(;|$)/i.test(String(req.headers['content-type'] ?? ''))) {
      const body = await readBody(req, UPLOAD_LIMIT);
      try {
        decodeText(body, 'the upload');
      } catch (e) {
        throw new HttpError(400, (e as Error).message);
      }
      return sendJson(res, 201, { id: `upload:${saveUpload(body, 'txt')}` });
    }
    const type = String(req.headers['content-type'] ?? '');
    if (!/^image\/(png|jpeg|webp|gif)$/.test(type))
      throw new HttpError(
        415,
        `uploads must be PNG, JPEG, WebP or GIF images, MP4, WebM, MOV or MKV videos, or plain text, not ${type || 'untyped data'}`,
      );
    const body = await readBody(req, UPLOAD_LIMIT);
    let pngBytes: Buffer;
    try {
      const meta = await sharp(body, { failOn: 'error' }).metadata();
      if (!meta.width || !meta.height || meta.width * meta.height > 40e6) throw new Error('too large or empty');
      pngBytes = await sharp(body, { failOn: 'error' }).rotate().png().toBuffer();
    } catch {
      throw new HttpError(400, 'the upload is not a readable image');
    }
    const name = saveUpload(pngBytes, 'png');
    return sendJson(res, 201, { id: `upload:${name}`, url: `/files/uploads/${name}` });
  };
  const generateText = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const b = await readJson(req);
    const run = runName(b.run);
    const args = [
      CLI,
      'text',
      'generate',
      path.join('runs', run),
      '--length',
      String(Math.min(2000, Math.max(1, Number(b.length) || 200))),
      '--temperature',
      String(Number(b.temperature) >= 0 ? Number(b.temperature) : 0.5),
    ];
    if (typeof b.prime === 'string' && b.prime.length) args.push('--prime', b.prime.slice(0, 500));
    if (Number(b.topK) > 0) args.push('--top-k', String(Math.floor(Number(b.topK))));
    if (Number(b.topP) > 0 && Number(b.topP) <= 1) args.push('--top-p', String(Number(b.topP)));
    if (Number.isInteger(b.seed)) args.push('--seed', String(b.seed));
    await generations.acquire();
    if (res.closed || res.destroyed) return generations.release(); // the browser left while it waited
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    let header = true;
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      // Drop the CLI's "--- temperature T ---" header line; stream the rest as it comes.
      if (header) {
        const nl = c.indexOf('\n');
        if (nl < 0) return;
        c = c.slice(nl + 1);
        header = false;
      }
      res.write(c);
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.on('close', (code) => {
      generations.release();
      res.end(code === 0 ? '' : `\n[${err.trim().replace(/^loom: /, '') || `exit ${code}`}]`);
    });
    res.on('close', () => child.exitCode === null && child.kill()); // the browser went away
    return;
  };
  /** A run as ONNX bytes, for the page to run in onnxruntime-web (no server work after that). */
  const exportModel = (_req: http.IncomingMessage, res: http.ServerResponse, url: URL): void => {
    const run = runName(url.searchParams.get('run'));
    const part = url.searchParams.get('part');
    if (part !== null && part !== 'decoder' && part !== 'encoder')
      throw new HttpError(400, 'part must be decoder or encoder');
    let bytes: Uint8Array;
    try {
      const e = exportRun(path.join(runs, run), part);
      bytes = e.graph.encode(e.metadata, e.doc);
    } catch (e) {
      throw new HttpError(400, (e as Error).message.replaceAll(root, '.'));
    }
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': bytes.length,
      'cache-control': 'no-store',
    });
    res.end(bytes);
  };

  const vaeDecode = async (_req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    const run = runName(url.searchParams.get('run'));
    const x = Number(url.searchParams.get('x'));
    const y = Number(url.searchParams.get('y'));
    if (!Number.isFinite(x) || !Number.isFinite(y)) throw new HttpError(400, 'x and y must be numbers');
    const { model } = vaeOf(run);
    const latent = model.config.latent;
    const z = new Float32Array(latent);
    z[0] = x;
    if (latent > 1) z[1] = y;
    const img = T.noGrad(() => T.tidy(() => T.sigmoid(model.decodeLogits(T.tensor(z, { shape: [1, latent] })))));
    return png(res, img, 6);
  };
  const vaeInterpolate = async (_req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    // A strip: test image a, the decoded walk between their codes, test image b.
    const run = runName(url.searchParams.get('run'));
    const { model, config } = vaeOf(run);
    if (!vaeTests.has(run))
      vaeTests.set(
        run,
        (await loadVaeData(config.data, { size: config.size, channels: config.channels as 1 | 3 })).test,
      );
    const test = vaeTests.get(run)!;
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
  const ganSample = async (_req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    const run = runName(url.searchParams.get('run'));
    const seed = Number(url.searchParams.get('seed') ?? 0);
    if (!Number.isInteger(seed)) throw new HttpError(400, 'seed must be a whole number');
    if (!gans.has(run)) gans.set(run, loadGenerator(path.join(runs, run)));
    const g = gans.get(run)!;
    // A conditional run draws the asked class (a number), or every class in turn.
    const label = url.searchParams.get('label');
    let only: number | null;
    try {
      only = classIndex(g, label ?? undefined);
    } catch (e) {
      throw new HttpError(400, (e as Error).message);
    }
    const classes = g instanceof DcganGenerator ? g.classes : 0;
    const img = await T.withRngFork(() => {
      T.manualSeed(seed);
      return T.noGrad(() =>
        T.tidy(() => {
          const z = T.randn([16, g.config.latent]);
          const y = classes ? cyclingLabels(16, classes, only) : undefined;
          return imageGrid(g.forward(z, y).add(1).div(2), { cols: 4 });
        }),
      );
    });
    return png(res, img, 3);
  };

  type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL, match: string[]) => unknown;
  /** What the studio answers: method, path (or pattern, its groups passed on) and handler. */
  const routes: { method: string; path: string | RegExp; handler: Handler }[] = [
    { method: 'GET', path: '/', handler: (_req, res) => sendPage(res) },
    { method: 'GET', path: '/index.html', handler: (_req, res) => sendPage(res) },
    { method: 'GET', path: '/page.js', handler: (_req, res) => sendAsset(res, 'main.js', 'text/javascript') },
    { method: 'GET', path: '/page.css', handler: (_req, res) => sendAsset(res, 'page.css', 'text/css') },
    { method: 'GET', path: '/api/events', handler: events },
    { method: 'GET', path: '/api/jobs', handler: (_req, res) => sendJson(res, 200, queue.jobs) },
    {
      method: 'POST',
      path: '/api/jobs',
      handler: async (req, res) => sendJson(res, 201, await startJob(await readJson(req))),
    },
    {
      method: 'DELETE',
      path: /^\/api\/jobs\/([a-z0-9]+)$/,
      handler: (_req, res, _url, [, id]) => {
        const job = queue.cancel(id);
        if (!job) throw new HttpError(404, `no job ${id}`);
        sendJson(res, 200, job);
      },
    },
    { method: 'GET', path: '/api/runs', handler: (_req, res) => sendJson(res, 200, listRuns()) },
    { method: 'GET', path: '/api/images', handler: images },
    { method: 'GET', path: /^\/files\/(.+)$/, handler: (_req, res, _url, [, file]) => serveFile(res, file) },
    { method: 'POST', path: '/api/upload', handler: upload },
    { method: 'POST', path: '/api/text/generate', handler: generateText },
    { method: 'GET', path: '/api/export', handler: exportModel },
    { method: 'GET', path: /^\/vendor\/([a-z-]+)\/([a-z0-9.-]+)$/, handler: vendor },
    {
      method: 'GET',
      path: '/chart-spec.js',
      handler: (_req, res) => sendAsset(res, 'chart-spec.js', 'text/javascript'),
    },
    { method: 'GET', path: '/api/vae/decode', handler: vaeDecode },
    { method: 'GET', path: '/api/vae/interpolate', handler: vaeInterpolate },
    { method: 'GET', path: '/api/gan/sample', handler: ganSample },
  ];

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://studio');
    const p = url.pathname;
    // DNS rebinding: a page of another site whose name now points here sends its own Host.
    if (!allowedHosts.has(String(req.headers.host ?? '').toLowerCase())) {
      throw new HttpError(403, `the studio answers only to ${[...allowedHosts][0]} and localhost`);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const origin = req.headers.origin;
      if (origin !== undefined && !allowedOrigins.has(origin.toLowerCase()))
        throw new HttpError(403, 'requests from other sites are refused');
      const sent = Buffer.from(String(req.headers['x-loom-token'] ?? ''));
      if (sent.length !== tokenBytes.length || !timingSafeEqual(sent, tokenBytes)) {
        throw new HttpError(403, "this request lacks the studio's session token (open the studio's own page)");
      }
    }
    for (const r of routes) {
      if (r.method !== req.method) continue;
      const match = typeof r.path === 'string' ? (r.path === p ? [p] : null) : r.path.exec(p);
      if (match) return void (await r.handler(req, res, url, [...match]));
    }
    throw new HttpError(404, `no such page or API: ${req.method} ${p}`);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      // Library errors about bad input are plain Errors: a 400; anything else is the studio's bug.
      const status = e instanceof HttpError ? e.status : e instanceof Error && e.constructor === Error ? 400 : 500;
      // The page never learns where the studio's files live on the server.
      const message = (e instanceof Error ? e.message.split('\n')[0] : String(e))
        .split(root + path.sep)
        .join('')
        .split(root)
        .join('.');
      if (!res.headersSent) sendJson(res, status, { error: message });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 7860, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as { port: number; address: string };
  const host = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  for (const h of [host, 'localhost', '127.0.0.1', '[::1]']) {
    allowedHosts.add(`${h}:${addr.port}`.toLowerCase());
    allowedOrigins.add(`http://${h}:${addr.port}`.toLowerCase());
  }
  return {
    url: `http://${host}:${addr.port}/`,
    token,
    root,
    close: () =>
      new Promise<void>((resolve) => {
        queue.close();
        for (const c of clients) c.end();
        for (const v of vaes.values()) v.model.dispose();
        for (const t of vaeTests.values()) t.dispose();
        for (const g of gans.values()) g.dispose();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
