// The studio: one local web page over the library. Jobs run as CLI child processes (jobs.ts);
// interactive views (VAE latent plane, GAN samples) decode in-process, which takes
// milliseconds. The browser names runs and uploads, never paths: nothing it sends reaches
// outside the studio's runs/ and uploads/ folders.
import { spawn } from 'node:child_process';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  closeSync,
  existsSync,
  lstatSync,
  openSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
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
import { loadVae, loadVaeData, walk } from '../models/vae/index.js';
import type { ImageDataset } from '../io/datasets.js';
import { classIndex, cyclingLabels, loadGenerator } from '../models/gan/index.js';
import { CLI, JOB_LIMIT, JobQueue, STOP_GRACE_MS, imagesUnder, type JobEvent } from './jobs.js';
import { tiedToMe } from '../cli/parent.js';
import { makeFolder } from '../io/files.js';
import { probeVideo } from '../io/video.js';
import { freePort } from '../distributed/index.js';
import { exportRun } from '../export/index.js';
import type { StudioJob } from '../systems/system.js';
import { jobNamed, jobNames, systemsAnswer } from './systems-api.js';
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
export { JOB_LIMIT };
/** The longest prime a generation takes, in characters. */
const PRIME_LIMIT = 500;
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

/**
 * `loom launch ... --` for a job of several processes (at most one per core), on a free
 * loopback port; nothing for one process.
 */
async function launchArgs(job: StudioJob, processes: unknown): Promise<string[]> {
  if (processes === undefined || processes === null || processes === '' || Number(processes) === 1) return [];
  const most = Math.max(2, os.availableParallelism());
  const n = Number(processes);
  if (!job.dataParallel) {
    const parallel = systemsAnswer().flatMap((s) => s.jobs.filter((j) => j.dataParallel).map((j) => j.name));
    throw new HttpError(400, `only ${parallel.join(', ')} train on several processes`);
  }
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

export interface StudioOptions {
  root: string;
  port?: number;
  host?: string;
  /** The largest video upload in bytes (VIDEO_UPLOAD_LIMIT; smaller in tests). */
  videoUploadLimit?: number;
  /** How long closing waits for a running job to save before killing it (STOP_GRACE_MS). */
  stopGraceMs?: number;
  /** Jobs that may wait or run at once (JOB_LIMIT; smaller in tests). */
  jobLimit?: number;
  /** The script a job runs (the CLI; tests give a stand-in that trains nothing). */
  jobCli?: string;
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
  /** The studio's address, without credentials. */
  url: string;
  /** The session token: as ?token= once (a browser then keeps a cookie) or as `Authorization: Bearer`. */
  token: string;
  /** The address to open: `url` with the token, as the studio prints it. */
  link: string;
  root: string;
  /** What the studio answers: each route's method and path (a pattern for a family of paths). */
  routes: readonly { method: string; path: string | RegExp }[];
  /** Stops the jobs (each saves, as on Ctrl-C; killed after the grace), the generations and the server. */
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

/** An entry's own status (a link is not followed), or null when it is gone or unreadable. */
function ownStat(p: string): ReturnType<typeof lstatSync> | null {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}

/** A regular file's text (never through a link), or null when there is none or it cannot be read. */
function readPlain(file: string): string | null {
  if (!ownStat(file)?.isFile()) return null;
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/**
 * What the studio loaded from runs (models, test sets), one per run folder, kept under the
 * identity of the run's checkpoint: a run retrained with --force or replaced has another, and
 * the old value is disposed and loaded afresh.
 */
class RunCache<V> {
  private entries = new Map<string, { id: string; value: V }>();
  constructor(private readonly dispose: (v: V) => void) {}
  private fresh(dir: string, id: string): V | undefined {
    const e = this.entries.get(dir);
    if (e?.id === id) return e.value;
    if (e) this.forget(dir);
    return undefined;
  }
  get(dir: string, id: string, load: () => V): V {
    const had = this.fresh(dir, id);
    if (had !== undefined) return had;
    const value = load();
    this.entries.set(dir, { id, value });
    return value;
  }
  async getAsync(dir: string, id: string, load: () => Promise<V>): Promise<V> {
    const had = this.fresh(dir, id);
    if (had !== undefined) return had;
    const value = await load();
    // Another request may have loaded the same checkpoint meanwhile: keep one.
    const other = this.fresh(dir, id);
    if (other !== undefined) {
      this.dispose(value);
      return other;
    }
    this.entries.set(dir, { id, value });
    return value;
  }
  forget(dir: string): void {
    const e = this.entries.get(dir);
    this.entries.delete(dir);
    if (e) this.dispose(e.value);
  }
  clear(): void {
    for (const dir of [...this.entries.keys()]) this.forget(dir);
  }
}

export async function startStudio(opts: StudioOptions): Promise<Studio> {
  const root = path.resolve(opts.root);
  const runs = path.join(root, 'runs');
  const uploads = path.join(root, 'uploads');
  makeFolder(runs);
  makeFolder(uploads);
  const realRoot = realpathSync(root);
  const videoUploadLimit = opts.videoUploadLimit ?? VIDEO_UPLOAD_LIMIT;
  const queue = new JobQueue(root, JOB_HISTORY, opts.jobLimit ?? JOB_LIMIT, opts.jobCli ?? CLI);
  const token = randomBytes(24).toString('base64url');
  const tokenBytes = Buffer.from(token);
  // The page holds no token: the browser proves itself with the cookie it got from the link.
  const page = readFileSync(path.join(PAGE_DIR, 'index.html'), 'utf8');
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
  /** Generation children, stopped when the studio closes. */
  const generating = new Set<ReturnType<typeof spawn>>();
  const vaes = new RunCache<ReturnType<typeof loadVae>>((v) => v.model.dispose());
  const vaeTests = new RunCache<ImageDataset>((t) => t.dispose());
  const gans = new RunCache<ReturnType<typeof loadGenerator>>((g) => g.dispose());
  const caches = [vaes, vaeTests, gans];

  /** A run's folder from the browser: a folder under runs/ itself, never a link; else a 404. */
  const runDir = (v: unknown): string => {
    const name = runName(v);
    const dir = path.join(runs, name);
    if (!ownStat(dir)?.isDirectory()) {
      for (const c of caches) c.forget(dir);
      throw new HttpError(404, `there is no run ${name}`);
    }
    return dir;
  };
  /** A run's folder and its checkpoint's identity (path, size, time, inode), the key of what is cached from it. */
  const checkpointOf = (v: unknown): { dir: string; id: string } => {
    const dir = runDir(v);
    const file = path.join(dir, 'checkpoint.safetensors');
    const st = ownStat(file);
    if (!st?.isFile()) {
      for (const c of caches) c.forget(dir);
      throw new HttpError(404, `the run ${path.basename(dir)} has no checkpoint`);
    }
    return { dir, id: `${file}:${st.size}:${st.mtimeMs}:${st.ino}` };
  };
  const vaeOf = (v: unknown) => {
    const { dir, id } = checkpointOf(v);
    return { dir, id, ...vaes.get(dir, id, () => loadVae(dir)) };
  };

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

  const refuseWhenFull = (): void => {
    if (queue.full)
      throw new HttpError(429, `the studio holds at most ${queue.limit} waiting or running jobs; stop one or wait`);
  };
  const startJob = async (body: Record<string, any>) => {
    refuseWhenFull();
    const spec = typeof body.system === 'string' ? jobNamed(body.system) : undefined;
    if (!spec) throw new HttpError(400, `unknown system ${JSON.stringify(body.system)}; use ${jobNames().join(', ')}`);
    const options = (body.options ?? {}) as Record<string, unknown>;
    if (typeof options !== 'object' || options === null || Array.isArray(options))
      throw new HttpError(400, 'options must be an object');
    const args = [...spec.verb];
    const launch = await launchArgs(spec, options.processes);
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
      if (kind === 'run') positional.push(path.relative(root, runDir(v)));
      else if (kind === 'video' || (kind === 'media' && isVideo(v))) positional.push(videoArg(v, k));
      else if (kind === 'image' || kind === 'media') positional.push(imageArg(v, k));
      // A mask confines the image before it: the CLI's STYLE:MASK.
      else if (kind === 'mask' && v !== null && v !== undefined && v !== '')
        positional[positional.length - 1] += `:${maskArg(v, k)}`;
    }
    const video = Object.entries(spec.options).some(
      ([k, kind]) => kind === 'video' || (kind === 'media' && isVideo(options[k])),
    );
    // Checked again after the awaits above, and before any folder is made for the job.
    refuseWhenFull();
    const folder = `runs/${body.system}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')}-${Math.random().toString(36).slice(2, 6)}`;
    if (spec.out === 'file') {
      makeFolder(path.join(root, folder));
      args.push(...positional, '--out', `${folder}/${body.system}.${video ? 'mp4' : 'png'}`);
      args.push(...(spec.extraArgs?.(video) ?? []));
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
    // Every part below the root is looked at itself: a link (to elsewhere, dangling, a loop) is never followed.
    const parts = decoded.split(/[\\/]/).filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const st = ownStat(path.join(root, ...parts.slice(0, i)));
      if (!st || st.isSymbolicLink() || (i < parts.length ? !st.isDirectory() : !st.isFile()))
        throw new HttpError(404, `there is no file ${decoded}`);
    }
    const abs = path.resolve(root, decoded);
    let real: string;
    try {
      real = realpathSync(abs);
    } catch {
      throw new HttpError(404, `there is no file ${decoded}`);
    }
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
    let data: Buffer;
    try {
      data = readFileSync(real);
    } catch {
      throw new HttpError(404, `the file ${decoded} cannot be read`);
    }
    res.writeHead(200, { 'content-type': type, 'content-length': data.length, 'cache-control': 'no-store' });
    res.end(data);
  };

  const vendor = (_req: http.IncomingMessage, res: http.ServerResponse, _url: URL, [, pkg, file]: string[]): void => {
    const found = vendorFile(pkg, file);
    if (!found) throw new HttpError(404, `${pkg} is not installed (npm install ${pkg})`);
    const body = readFileSync(found.path);
    res.writeHead(200, { 'content-type': found.type, 'content-length': body.length, 'cache-control': 'max-age=3600' });
    res.end(body);
  };

  /**
   * The run folders: folders under runs/ themselves (a link, to elsewhere or nowhere, is no
   * run), each read on its own, so one unreadable entry or file never fails the list.
   */
  const listRuns = () => {
    let names: string[];
    try {
      names = readdirSync(runs);
    } catch {
      return [];
    }
    return names
      .filter((d) => ownStat(path.join(runs, d))?.isDirectory())
      .sort()
      .map((name) => {
        const dir = path.join(runs, name);
        let config: Record<string, unknown> = {};
        try {
          const c = JSON.parse(readPlain(path.join(dir, 'config.json')) ?? '{}');
          if (c && typeof c === 'object' && !Array.isArray(c)) config = c;
        } catch {
          /* dream and style outputs have no config */
        }
        const metrics = (readPlain(path.join(dir, 'metrics.jsonl')) ?? '')
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
          .filter(Boolean);
        return {
          name,
          system: typeof config.system === 'string' ? config.system : name.split('-')[0],
          config,
          metrics,
          images: imagesUnder(root, `runs/${name}`),
          checkpoint: ownStat(path.join(dir, 'checkpoint.safetensors'))?.isFile() ?? false,
        };
      });
  };

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
    let names: string[] = [];
    try {
      names = readdirSync(uploads);
    } catch {
      /* no uploads folder: no uploads */
    }
    const ups = names
      .filter((f) => UPLOAD_FILE.test(f) && ownStat(path.join(uploads, f))?.isFile())
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
    const dir = runDir(b.run);
    if (b.prime !== undefined && b.prime !== null && typeof b.prime !== 'string')
      throw new HttpError(400, 'prime must be text');
    const prime = typeof b.prime === 'string' ? b.prime.slice(0, PRIME_LIMIT) : '';
    // A process argument cannot hold a NUL; other control characters are the model's business.
    if (prime.includes('\0')) throw new HttpError(400, 'prime may not contain a NUL character');
    const args = [
      CLI,
      'text',
      'generate',
      path.relative(root, dir),
      '--length',
      String(Math.min(2000, Math.max(1, Number(b.length) || 200))),
      '--temperature',
      String(Number(b.temperature) >= 0 ? Number(b.temperature) : 0.5),
    ];
    if (prime.length) args.push('--prime', prime);
    if (Number(b.topK) > 0) args.push('--top-k', String(Math.floor(Number(b.topK))));
    if (Number(b.topP) > 0 && Number(b.topP) <= 1) args.push('--top-p', String(Number(b.topP)));
    if (Number.isInteger(b.seed)) args.push('--seed', String(b.seed));
    await generations.acquire();
    // The slot is released exactly once, whichever way the generation ends.
    let held = true;
    const release = () => {
      if (held) generations.release();
      held = false;
    };
    try {
      if (res.closed || res.destroyed) return; // the browser left while it waited
      const child = spawn(process.execPath, args, {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...tiedToMe() },
      });
      generating.add(child);
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
        generating.delete(child);
        generations.release();
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
  /** A run as ONNX bytes, for the page to run in onnxruntime-web (no server work after that). */
  const exportModel = (_req: http.IncomingMessage, res: http.ServerResponse, url: URL): void => {
    const dir = runDir(url.searchParams.get('run'));
    const part = url.searchParams.get('part');
    if (part !== null && part !== 'decoder' && part !== 'encoder')
      throw new HttpError(400, 'part must be decoder or encoder');
    let bytes: Uint8Array;
    try {
      const e = exportRun(dir, part);
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
    const x = Number(url.searchParams.get('x'));
    const y = Number(url.searchParams.get('y'));
    if (!Number.isFinite(x) || !Number.isFinite(y)) throw new HttpError(400, 'x and y must be numbers');
    const { model } = vaeOf(url.searchParams.get('run'));
    const latent = model.config.latent;
    const z = new Float32Array(latent);
    z[0] = x;
    if (latent > 1) z[1] = y;
    const img = T.noGrad(() => T.tidy(() => T.sigmoid(model.decodeLogits(T.tensor(z, { shape: [1, latent] })))));
    return png(res, img, 6);
  };
  const vaeInterpolate = async (_req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    // A strip: test image a, the decoded walk between their codes, test image b.
    const run = url.searchParams.get('run');
    const { dir, id, config } = vaeOf(run);
    const test = await vaeTests.getAsync(
      dir,
      id,
      async () => (await loadVaeData(config.data, { size: config.size, channels: config.channels as 1 | 3 })).test,
    );
    // Taken after the wait: the run may have been retrained meanwhile, and its old model disposed.
    const { model } = vaeOf(run);
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
    const seed = Number(url.searchParams.get('seed') ?? 0);
    if (!Number.isInteger(seed)) throw new HttpError(400, 'seed must be a whole number');
    const { dir, id } = checkpointOf(url.searchParams.get('run'));
    const g = gans.get(dir, id, () => loadGenerator(dir));
    // A conditional run draws the asked class (a number), or every class in turn.
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
    { method: 'GET', path: '/api/systems', handler: (_req, res) => sendJson(res, 200, systemsAnswer()) },
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

  /** Whether `sent` is the session token (compared in constant time). */
  const isToken = (sent: string | null | undefined): boolean => {
    const b = Buffer.from(sent ?? '');
    return b.length === tokenBytes.length && timingSafeEqual(b, tokenBytes);
  };
  // Named by port: cookies ignore ports, and two studios on one machine keep a cookie each.
  let cookieName = 'loom-studio';
  /** The session token a request carries, by cookie or `Authorization: Bearer`. */
  const carried = (req: http.IncomingMessage): string[] => {
    const out: string[] = [];
    for (const part of String(req.headers.cookie ?? '').split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === cookieName) out.push(part.slice(eq + 1).trim());
    }
    const auth = /^Bearer\s+(\S+)\s*$/i.exec(String(req.headers.authorization ?? ''));
    if (auth) out.push(auth[1]);
    return out;
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://studio');
    const p = url.pathname;
    // DNS rebinding: a page of another site whose name now points here sends its own Host.
    const hostHeader = String(req.headers.host ?? '').toLowerCase();
    if (!allowedHosts.has(hostHeader)) {
      throw new HttpError(403, `the studio answers only to ${[...allowedHosts][0]} and localhost`);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const origin = req.headers.origin;
      if (origin !== undefined && !allowedOrigins.has(origin.toLowerCase()))
        throw new HttpError(403, 'requests from other sites are refused');
    }
    // Every route needs the token, as Jupyter does: the printed link's ?token= once (a GET then
    // gets a cookie and goes on to the clean address), then the cookie, or a script's Bearer header.
    const asked = url.searchParams.get('token');
    if (asked !== null) {
      if (!isToken(asked)) throw new HttpError(403, "this link's token is not the studio's session token");
      if (req.method === 'GET') {
        url.searchParams.delete('token');
        res.writeHead(303, {
          location: `http://${hostHeader}${p}${url.search}`,
          'set-cookie': `${cookieName}=${token}; Path=/; HttpOnly; SameSite=Strict`,
          'cache-control': 'no-store',
          'content-length': 0,
        });
        return void res.end();
      }
    } else if (!carried(req).some(isToken)) {
      throw new HttpError(403, "this request lacks the studio's session token; open the link the studio printed");
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
      // Library errors about bad input are plain Errors: a 400. A system error (it has a code:
      // ENOENT, ELOOP, ...) or anything else is the studio's fault: a 500 that says no more.
      const plain = e instanceof Error && e.constructor === Error && !('code' in e);
      const status = e instanceof HttpError ? e.status : plain ? 400 : 500;
      if (status === 500) console.error(`loom: studio: ${req.method} ${req.url}:`, e);
      // The page never learns where the studio's files live on the server.
      const message =
        status === 500
          ? 'the studio failed on this request; its terminal shows why'
          : (e instanceof Error ? e.message.split('\n')[0] : String(e))
              .split(root + path.sep)
              .join('')
              .split(root)
              .join('.')
              .slice(0, 300);
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
  cookieName = `loom-studio-${addr.port}`;
  const url = `http://${host}:${addr.port}/`;
  let closing: Promise<void> | null = null;
  const close = async (): Promise<void> => {
    // New requests are refused from here; the running job saves (SIGINT) before the server goes.
    server.close();
    for (const c of clients) c.end();
    for (const child of generating) child.kill();
    await queue.close(opts.stopGraceMs ?? STOP_GRACE_MS);
    for (const c of caches) c.clear();
    server.closeAllConnections();
  };
  return {
    url,
    token,
    link: `${url}?token=${token}`,
    root,
    routes: routes.map(({ method, path }) => ({ method, path })),
    close: () => (closing ??= close()),
  };
}
