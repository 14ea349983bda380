// The studio: one local web page over the library. Jobs run as CLI child processes (jobs.ts,
// started by start-job.ts); interactive views (VAE latent plane, GAN samples) decode
// in-process, which takes milliseconds (model-routes.ts). The browser names runs and uploads,
// never paths: nothing it sends reaches outside the studio's runs/ and uploads/ folders.
// This file puts the parts together: the route table, the checks every request passes
// (auth.ts), the error answers, and starting and stopping.
import http from 'node:http';
import path from 'node:path';
import { makeFolder } from '../io/files.js';
import { Guard } from './auth.js';
import { stopOutsideRun } from './stop-run.js';
import { PageFiles, serveFile, serveVendor } from './files.js';
import { compareRuns } from './compare.js';
import { HttpError, ownStat, readJson, sendJson, type Req, type Res } from './http.js';
import { CLI, JOB_LIMIT, JobQueue, STOP_GRACE_MS, unfinished, type JobEvent } from './jobs.js';
import { ModelRoutes } from './model-routes.js';
import { RunFolders } from './runs.js';
import { resumeJob, startJob } from './start-job.js';
import { viewOf } from './run-view.js';
import { systemsAnswer } from './systems-api.js';
import { Uploads, VIDEO_UPLOAD_LIMIT } from './uploads.js';

export { GENERATE_CONCURRENCY, GENERATE_QUEUE } from './model-routes.js';
export { UPLOAD_LIMIT, VIDEO_UPLOAD_LIMIT } from './uploads.js';
export { JOB_LIMIT };
/** Jobs the studio remembers; the oldest finished ones are forgotten first. */
export const JOB_HISTORY = 100;

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
  /**
   * Other folders of runs to list beside the root's runs/ (where the studio's jobs write);
   * by default the demo's gallery/runs under the root.
   */
  runs?: string[];
}

export interface Studio {
  /** The studio's address, without credentials. */
  url: string;
  /** The session token: as ?token= once (a browser then keeps a cookie) or as `Authorization: Bearer`. */
  token: string;
  /** The address to open: `url` with the token, as the studio prints it. */
  link: string;
  root: string;
  /** The folders of runs it lists: the root's runs/ first (where its jobs write), then the others. */
  runFolders: string[];
  /** What the studio answers: each route's method and path (a pattern for a family of paths). */
  routes: readonly { method: string; path: string | RegExp }[];
  /** Stops the jobs (each saves, as on Ctrl-C; killed after the grace), the generations and the server. */
  close(): Promise<void>;
}

type Handler = (req: Req, res: Res, url: URL, match: string[]) => unknown;

export async function startStudio(opts: StudioOptions): Promise<Studio> {
  const root = path.resolve(opts.root);
  const runs = new RunFolders(root, opts.runs);
  const uploads = new Uploads(path.join(root, 'uploads'), opts.videoUploadLimit ?? VIDEO_UPLOAD_LIMIT);
  makeFolder(runs.runs);
  makeFolder(uploads.dir);
  const queue = new JobQueue(root, JOB_HISTORY, opts.jobLimit ?? JOB_LIMIT, opts.jobCli ?? CLI);
  /** The studio's newest job writing into a run folder (a training, or its resume). */
  const jobOf = (dir: string) => queue.jobs.filter((j) => path.resolve(root, j.folder) === dir).pop();
  // The runs list knows how the studio's own jobs ended.
  runs.jobOutcome = (dir) => jobOf(dir)?.status;
  /** The folders files are served from, by the first part of their path: uploads/ and the folders of runs. */
  const fileFolder = (label: string): string | null =>
    label === 'uploads' ? (ownStat(uploads.dir)?.isDirectory() ? uploads.dir : null) : runs.folderPath(label);
  const guard = new Guard();
  const page = new PageFiles();
  const models = new ModelRoutes(root, runs);
  const clients = new Set<Res>();
  queue.on('event', (e: JobEvent) => {
    const data = `data: ${JSON.stringify(e)}\n\n`;
    for (const c of clients) c.write(data);
  });
  /** GET /api/events: the jobs' events as server-sent events, after a greeting with the jobs so far. */
  const events = async (req: Req, res: Res): Promise<void> => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(`data: ${JSON.stringify({ type: 'hello', jobs: queue.jobs })}\n\n`);
    clients.add(res);
    req.on('close', () => clients.delete(res));
  };
  const cancelJob: Handler = (_req, res, _url, [, id]) => {
    const job = queue.cancel(id);
    if (!job) throw new HttpError(404, `no job ${id}`);
    sendJson(res, 200, job);
  };

  /** What the studio answers: method, path (or pattern, its groups passed on) and handler. */
  const routes: { method: string; path: string | RegExp; handler: Handler }[] = [
    { method: 'GET', path: '/', handler: page.page },
    { method: 'GET', path: '/index.html', handler: page.page },
    { method: 'GET', path: /^\/page\/([a-z-]+\.js)$/, handler: page.module },
    { method: 'GET', path: '/page.css', handler: page.stylesheet },
    { method: 'GET', path: /^\/lib\/([a-z-]+\.js)$/, handler: page.lib },
    { method: 'GET', path: /^\/vendor\/([a-z-]+)\/([a-z0-9.-]+)$/, handler: serveVendor },
    { method: 'GET', path: '/api/events', handler: events },
    { method: 'GET', path: '/api/systems', handler: (_req, res) => sendJson(res, 200, systemsAnswer()) },
    { method: 'GET', path: '/api/jobs', handler: (_req, res) => sendJson(res, 200, queue.jobs) },
    {
      method: 'POST',
      path: '/api/jobs',
      handler: async (req, res) =>
        sendJson(res, 201, await startJob({ root, queue, runs, uploads }, await readJson(req))),
    },
    { method: 'DELETE', path: /^\/api\/jobs\/([a-z0-9]+)$/, handler: cancelJob },
    { method: 'GET', path: '/api/runs', handler: (_req, res) => sendJson(res, 200, runs.list()) },
    {
      method: 'GET',
      path: '/api/runs/view',
      handler: (_req, res, url) => {
        const name = url.searchParams.get('run');
        const run = runs.read(name);
        sendJson(res, 200, viewOf({ name: name!, ...run }, jobOf(run.dir)));
      },
    },
    {
      method: 'POST',
      path: '/api/runs/resume',
      handler: async (req, res) =>
        sendJson(res, 201, await resumeJob({ root, queue, runs, uploads }, await readJson(req))),
    },
    {
      method: 'POST',
      path: '/api/runs/stop',
      handler: async (req, res) => {
        const body = await readJson(req);
        const { dir } = runs.read(body.run);
        const job = jobOf(dir);
        // The studio's own job stops as its stop button stops it; any other writer by its lock.
        if (job && unfinished(job)) return sendJson(res, 200, { stopping: `job ${queue.cancel(job.id)!.id}` });
        sendJson(res, 200, { stopping: stopOutsideRun(dir, String(body.run)) });
      },
    },
    {
      method: 'GET',
      path: '/api/runs/compare',
      handler: (_req, res, url) => sendJson(res, 200, compareRuns(runs, url.searchParams.getAll('run'))),
    },
    { method: 'GET', path: '/api/images', handler: uploads.images },
    { method: 'GET', path: '/api/images/file', handler: uploads.imageFile },
    { method: 'POST', path: '/api/upload', handler: uploads.upload },
    {
      method: 'GET',
      path: /^\/files\/(.+)$/,
      handler: (_req, res, _url, [, file]) => serveFile(fileFolder, res, file),
    },
    { method: 'POST', path: '/api/text/generate', handler: models.generateText },
    { method: 'GET', path: '/api/export', handler: models.exportModel },
    { method: 'GET', path: '/api/vae/decode', handler: models.vaeDecode },
    { method: 'GET', path: '/api/vae/interpolate', handler: models.vaeInterpolate },
    { method: 'GET', path: '/api/gan/sample', handler: models.ganSample },
  ];

  const handle = async (req: Req, res: Res) => {
    const url = new URL(req.url ?? '/', 'http://studio');
    // Every route needs the token, and a request of the studio's own host and origin.
    if (guard.check(req, res, url)) return;
    const p = url.pathname;
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
  guard.listenOn(host, addr.port);
  const url = `http://${host}:${addr.port}/`;
  let closing: Promise<void> | null = null;
  const close = async (): Promise<void> => {
    // New requests are refused from here; the running job saves (SIGINT) before the server goes.
    server.close();
    for (const c of clients) c.end();
    models.close();
    await queue.close(opts.stopGraceMs ?? STOP_GRACE_MS);
    models.clearCaches();
    server.closeAllConnections();
  };
  return {
    url,
    token: guard.token,
    link: `${url}?token=${guard.token}`,
    root,
    runFolders: runs.folders.map((f) => path.join(f.base, ...f.parts)),
    routes: routes.map(({ method, path }) => ({ method, path })),
    close: () => (closing ??= close()),
  };
}
