// Uploads: texts (a corpus), images (stored as PNG) and videos, each stored under the hash of
// its bytes in uploads/, so the browser names an upload (upload:<hash>.<ext>) and never a
// path; and the checks that turn what the browser names into a job's file argument.
import { randomBytes, createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { BUILTIN_IMAGES, resolveImage } from '../io/builtin-images.js';
import { BUILTIN_CORPORA, decodeText } from '../io/corpus.js';
import { probeVideo } from '../io/video.js';
import { HttpError, ownStat, readBody, receiveFile, sendJson, type Req, type Res } from './http.js';

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

/** Whether the browser's name is a video's (an upload stored as one). */
export const isVideo = (v: unknown): boolean => typeof v === 'string' && VIDEO_FILE.test(v);

export class Uploads {
  constructor(
    readonly dir: string,
    private readonly videoLimit: number,
  ) {}

  /** Stores an upload under the hash of its bytes, so the browser names it and never a path. */
  private save(bytes: Buffer, ext: string): string {
    const name = `${createHash('sha1').update(bytes).digest('hex')}.${ext}`;
    writeFileSync(path.join(this.dir, name), bytes);
    return name;
  }

  /** An upload's file, which must exist. */
  private file(v: string): string {
    const f = path.join(this.dir, v.slice(7));
    if (!existsSync(f)) throw new HttpError(404, `no upload ${v}`);
    return f;
  }

  corpusArg(v: unknown): string {
    if (typeof v === 'string' && (BUILTIN_CORPORA as readonly string[]).includes(v)) return v;
    if (typeof v === 'string' && /^upload:[0-9a-f]{40}\.txt$/.test(v)) return this.file(v);
    throw new HttpError(400, `corpus must be a built-in corpus (${BUILTIN_CORPORA.join(', ')}) or an uploaded text`);
  }
  imageArg(v: unknown, what: string): string {
    if (typeof v === 'string' && v.startsWith('builtin:') && BUILTIN_IMAGES.includes(v.slice(8))) return v;
    if (typeof v === 'string' && /^upload:[0-9a-f]{40}\.png$/.test(v)) return this.file(v);
    throw new HttpError(400, `${what} must be a built-in image (builtin:dog, ...) or an upload`);
  }
  videoArg(v: unknown, what: string): string {
    if (typeof v === 'string' && VIDEO_ARG.test(v)) return this.file(v);
    throw new HttpError(400, `${what} must be an uploaded video`);
  }
  /** A mask is an uploaded image (a built-in photo is no mask); its path ends in .png, as STYLE:MASK needs. */
  maskArg(v: unknown, what: string): string {
    if (typeof v === 'string' && v.startsWith('upload:')) return this.imageArg(v, what);
    throw new HttpError(400, `${what} must be an uploaded image`);
  }

  /** GET /api/images: the built-in images, then the uploaded images and videos. */
  images = async (_req: Req, res: Res): Promise<void> => {
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch {
      /* no uploads folder: no uploads */
    }
    const ups = names
      .filter((f) => UPLOAD_FILE.test(f) && ownStat(path.join(this.dir, f))?.isFile())
      .map((f) => `upload:${f}`);
    return sendJson(res, 200, [...BUILTIN_IMAGES.map((n) => `builtin:${n}`), ...ups]);
  };

  /** GET /api/images/file?name=builtin:NAME or upload:HASH.png: the picture, to show beside a result. */
  imageFile = (_req: Req, res: Res, url: URL): void => {
    let file: string;
    try {
      file = resolveImage(this.imageArg(url.searchParams.get('name'), 'name'));
    } catch (e) {
      throw e instanceof HttpError ? e : new HttpError(404, (e as Error).message);
    }
    const body = readFileSync(file);
    res.writeHead(200, {
      'content-type': file.endsWith('.png') ? 'image/png' : 'image/jpeg',
      'content-length': body.length,
      'cache-control': 'no-store',
    });
    res.end(body);
  };

  /** POST /api/upload: plain text (a corpus), an image (stored as PNG) or a video ffprobe can read; nothing else. */
  upload = async (req: Req, res: Res): Promise<void> => {
    const videoType = String(req.headers['content-type'] ?? '').toLowerCase();
    if (Object.hasOwn(VIDEO_TYPES, videoType)) {
      // Streamed to a temporary name, probed, and renamed to its hash only if ffprobe finds a
      // video stream.
      const part = path.join(this.dir, `.${randomBytes(8).toString('hex')}.part`);
      const name = `${await receiveFile(req, this.videoLimit, part)}.${VIDEO_TYPES[videoType]}`;
      try {
        probeVideo(part);
      } catch {
        rmSync(part, { force: true });
        throw new HttpError(400, 'the upload is not a readable video');
      }
      renameSync(part, path.join(this.dir, name));
      return sendJson(res, 201, { id: `upload:${name}`, url: `/files/uploads/${name}` });
    }
    if (/^text\/plain\s*(;|$)/i.test(String(req.headers['content-type'] ?? ''))) {
      const body = await readBody(req, UPLOAD_LIMIT);
      try {
        decodeText(body, 'the upload');
      } catch (e) {
        throw new HttpError(400, (e as Error).message);
      }
      return sendJson(res, 201, { id: `upload:${this.save(body, 'txt')}` });
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
    const name = this.save(pngBytes, 'png');
    return sendJson(res, 201, { id: `upload:${name}`, url: `/files/uploads/${name}` });
  };
}
