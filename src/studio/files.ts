// What the studio serves as files: its page (HTML, CSS and the page's script modules), the
// chart specification, browser builds from node_modules (never a CDN), and images, videos and
// text files in the folders of runs it lists and uploads/ (never through a link, never outside them).
import { readFileSync, readdirSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpError, ownStat, type Req, type Res } from './http.js';

/** The page's HTML, CSS and compiled modules (the build copies them beside this file). */
const PAGE_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'page');

/**
 * Browser builds the page loads from node_modules: onnxruntime-web's WebAssembly build, and
 * Vega with Vega-Lite for the live charts. Each package's files are found beside the module
 * that `from` resolves to.
 */
const VENDOR: Record<string, { from: string; files: Record<string, string> }> = {
  'onnxruntime-web': {
    from: 'onnxruntime-web/ort-wasm-simd-threaded.wasm',
    files: {
      'ort.wasm.min.js': 'text/javascript',
      'ort.wasm.min.mjs': 'text/javascript',
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

/** GET /vendor/<package>/<file>. */
export function serveVendor(_req: Req, res: Res, _url: URL, [, pkg, file]: string[]): void {
  const found = vendorFile(pkg, file);
  if (!found) throw new HttpError(404, `${pkg} is not installed (npm install ${pkg})`);
  const body = readFileSync(found.path);
  res.writeHead(200, {
    'content-type': found.type,
    'content-length': body.length,
    'cache-control': 'max-age=3600',
    ...ISOLATED,
  });
  res.end(body);
}

/**
 * A cross-origin-isolated page may share memory with its workers, which onnxruntime-web's
 * threads need. The page loads nothing from other sites, so isolation costs it nothing; the
 * workers' scripts must say so too.
 */
const ISOLATED = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

/** Loom's own modules that the page's scripts import as they are: no Node.js, no imports of their own. */
const LIBRARY: Record<string, string> = {
  'chart-spec.js': '../../io/chart-spec.js',
  'sampling.js': '../../models/text/sampling.js',
  'random.js': '../../util/random.js',
  'vocab.js': '../../models/text/vocab.js',
};

/** The page and its assets, read once when the studio starts. The page holds no token. */
export class PageFiles {
  private readonly html = readFileSync(path.join(PAGE_DIR, 'index.html'), 'utf8');
  private readonly css = readFileSync(path.join(PAGE_DIR, 'page.css'));
  /** The page's script modules by file name (main.js imports its siblings). */
  private readonly modules = new Map(
    readdirSync(PAGE_DIR)
      .filter((f) => f.endsWith('.js'))
      .map((f) => [f, readFileSync(path.join(PAGE_DIR, f))]),
  );
  /** Loom's modules the page uses: the gallery's chart specifications, text sampling, the seeded generator. */
  private readonly library = new Map(
    Object.entries(LIBRARY).map(([name, file]) => [name, readFileSync(path.join(PAGE_DIR, file))]),
  );

  page = (_req: Req, res: Res): void => {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'x-frame-options': 'DENY',
      ...ISOLATED,
    });
    res.end(this.html);
  };
  stylesheet = (_req: Req, res: Res): void => send(res, this.css, 'text/css');
  /** GET /lib/<module>.js: one of Loom's modules the page imports. */
  lib = (_req: Req, res: Res, _url: URL, [, name]: string[]): void => {
    const body = this.library.get(name);
    if (!body) throw new HttpError(404, `the page imports no module ${name}`);
    send(res, body, 'text/javascript');
  };
  /** GET /page/<module>.js: one of the page's own modules, nothing else. */
  module = (_req: Req, res: Res, _url: URL, [, name]: string[]): void => {
    const body = this.modules.get(name);
    if (!body) throw new HttpError(404, `the page has no module ${name}`);
    send(res, body, 'text/javascript');
  };
}

function send(res: Res, body: Buffer, type: string): void {
  res.writeHead(200, {
    'content-type': `${type}; charset=utf-8`,
    'content-length': body.length,
    'cache-control': 'no-store',
    ...ISOLATED,
  });
  res.end(body);
}

const TYPES: Record<string, string> = {
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

/**
 * GET /files/<folder>/<path>: an image, video or text file in a folder the studio lists: runs
 * (its own runs/), uploads, or another folder of runs by its label. `folder` answers a label's
 * folder, or null for a label it does not list.
 */
export function serveFile(folder: (label: string) => string | null, res: Res, rel: string): void {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rel);
  } catch {
    throw new HttpError(400, 'bad file name');
  }
  if (decoded.includes('\0') || decoded.split(/[\\/]/).includes('..') || path.isAbsolute(decoded))
    throw new HttpError(400, 'file names may not leave the runs and uploads folders');
  const [label, ...parts] = decoded.split(/[\\/]/).filter(Boolean);
  const dir = label !== undefined && parts.length ? folder(label) : null;
  if (!dir) throw new HttpError(403, 'only files in the runs and uploads folders are served');
  // Every part below the folder is looked at itself: a link (to elsewhere, dangling, a loop) is never followed.
  for (let i = 1; i <= parts.length; i++) {
    const st = ownStat(path.join(dir, ...parts.slice(0, i)));
    if (!st || st.isSymbolicLink() || (i < parts.length ? !st.isDirectory() : !st.isFile()))
      throw new HttpError(404, `there is no file ${decoded}`);
  }
  let real: string;
  let realDir: string;
  try {
    real = realpathSync(path.join(dir, ...parts));
    realDir = realpathSync(dir);
  } catch {
    throw new HttpError(404, `there is no file ${decoded}`);
  }
  if (!real.startsWith(realDir + path.sep))
    throw new HttpError(403, 'only files in the runs and uploads folders are served');
  const ext = path.extname(real).toLowerCase();
  const type = Object.hasOwn(TYPES, ext) ? TYPES[ext] : undefined;
  if (!type) throw new HttpError(403, 'only images, videos and text files are served');
  let data: Buffer;
  try {
    data = readFileSync(real);
  } catch {
    throw new HttpError(404, `the file ${decoded} cannot be read`);
  }
  res.writeHead(200, { 'content-type': type, 'content-length': data.length, 'cache-control': 'no-store' });
  res.end(data);
}
