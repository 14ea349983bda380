// The studio's HTTP helpers: errors with a status, JSON answers, bodies read within a limit
// (or streamed to a file), and looks at files that never follow a link.
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import type http from 'node:http';

/** An error the studio answers with its status and its one-sentence message. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type Req = http.IncomingMessage;
export type Res = http.ServerResponse;

export function sendJson(res: Res, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(data),
  });
  res.end(data);
}

export async function readBody(req: Req, limit: number): Promise<Buffer> {
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
export async function receiveFile(req: Req, limit: number, file: string): Promise<string> {
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

export async function readJson(req: Req): Promise<Record<string, any>> {
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

/** An entry's own status (a link is not followed), or null when it is gone or unreadable. */
export function ownStat(p: string): ReturnType<typeof lstatSync> | null {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}

/** A regular file's text (never through a link), or null when there is none or it cannot be read. */
export function readPlain(file: string): string | null {
  if (!ownStat(file)?.isFile()) return null;
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
