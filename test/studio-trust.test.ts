// The studio against hostile or broken input: links and loops under runs/, requests without
// the session token, bad generation and job requests, stale cached models, a stopped studio's
// jobs, and a fuzz over every route. Jobs here run a stand-in script, never a training.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { GENERATE_CONCURRENCY, GENERATE_QUEUE, JOB_LIMIT, startStudio, type Studio } from '../src/studio/server.js';
import { JobQueue, imagesUnder, type JobEvent } from '../src/studio/jobs.js';
import { VAE_DEFAULTS, trainVae } from '../src/models/vae/index.js';
import { repoRoot } from './helpers.js';

interface Answer {
  status: number;
  body: string;
  headers: http.IncomingHttpHeaders;
}

/** A raw request (paths as given, no normalisation); an event stream is cut after its headers. */
function request(
  studio: Studio,
  method: string,
  p: string,
  body?: Buffer | string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const u = new URL(studio.url);
  // A body's length is declared, as clients do (Node sends a DELETE's body unframed otherwise).
  if (body !== undefined) headers = { 'content-length': String(Buffer.byteLength(body)), ...headers };
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path: p, headers }, (res) => {
      const chunks: Buffer[] = [];
      const done = () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers });
      if (String(res.headers['content-type']).startsWith('text/event-stream')) {
        res.destroy();
        return done();
      }
      res.on('data', (c: Buffer) => chunks.push(c)).on('end', done);
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}
/** A dream job: its folder is made by the studio, and the stand-in CLI runs it. */
const DREAM = JSON.stringify({ system: 'dream', options: { image: 'builtin:dog' } });
const bearer = (studio: Studio) => ({ authorization: `Bearer ${studio.token}` });
const jsonHeaders = (studio: Studio) => ({ ...bearer(studio), 'content-type': 'application/json' });

/**
 * A stand-in for the CLI: prints a JSON record once it watches SIGINT, writes the tie to its
 * starter (LOOM_PARENT_PID) and, on SIGINT, "saved" into its --out folder, then exits.
 * With STUBBORN in its arguments it ignores SIGINT.
 */
const FAKE_CLI = `
const fs = require('node:fs');
const given = process.argv[process.argv.indexOf('--out') + 1] ?? '.';
const path = require('node:path');
const out = path.extname(given) ? path.dirname(given) : given;
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(out + '/parent.txt', String(process.env.LOOM_PARENT_PID) + ' ' + process.pid);
process.on('SIGINT', () => {
  if (process.argv.includes('STUBBORN')) return;
  fs.writeFileSync(out + '/saved.txt', 'saved');
  process.exit(0);
});
setInterval(() => {}, 1000);
console.log(JSON.stringify({ ready: true }));
`;

function tempRoot(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'loom-trust-'));
  writeFileSync(path.join(root, 'fake-cli.cjs'), FAKE_CLI);
  return root;
}

/**
 * The studio's event stream, open once its greeting has arrived (so no later event is missed):
 * `next` waits for the next record for which `want` holds.
 */
async function eventStream(studio: Studio) {
  const u = new URL(studio.url);
  const req = http.get({ host: u.hostname, port: u.port, path: '/api/events', headers: bearer(studio) });
  const [res] = (await once(req, 'response')) as [http.IncomingMessage];
  async function* records(): AsyncGenerator<JobEvent> {
    let buffered = '';
    for await (const c of res.setEncoding('utf8')) {
      buffered += c;
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        yield JSON.parse(buffered.slice(6, end)) as JobEvent;
        buffered = buffered.slice(end + 2);
      }
    }
  }
  const it = records();
  assert.equal(((await it.next()).value as { type: string }).type, 'hello');
  return {
    async next(want: (e: JobEvent) => boolean): Promise<JobEvent> {
      for (;;) {
        const { value, done } = await it.next();
        if (done) throw new Error('the event stream ended');
        if (want(value)) return value;
      }
    },
    close: () => req.destroy(),
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('links under runs/ are never followed: the run list, files and a running job all skip them', async () => {
  const root = tempRoot();
  const elsewhere = mkdtempSync(path.join(os.tmpdir(), 'loom-elsewhere-'));
  writeFileSync(path.join(elsewhere, 'config.json'), '{"system":"text","secret":"s3cret"}');
  writeFileSync(path.join(elsewhere, 'leak.png'), 'not an image');
  const studio = await startStudio({ root, port: 0, jobCli: path.join(root, 'fake-cli.cjs') });
  try {
    const runs = path.join(root, 'runs');
    mkdirSync(path.join(runs, 'r1'));
    writeFileSync(path.join(runs, 'r1', 'config.json'), '{"system":"vae"}');
    writeFileSync(path.join(runs, 'r1', 'a.png'), 'png');
    symlinkSync('/nowhere/at/all', path.join(runs, 'r1', 'dangling.png'));
    symlinkSync(path.join(runs, 'r1'), path.join(runs, 'r1', 'loop'));
    symlinkSync(elsewhere, path.join(runs, 'r1', 'out'));
    symlinkSync(path.join(elsewhere, 'config.json'), path.join(runs, 'r1', 'metrics.jsonl'));
    symlinkSync(elsewhere, path.join(runs, 'linked'));
    symlinkSync('/nowhere/at/all', path.join(runs, 'dangling'));
    symlinkSync(runs, path.join(runs, 'loop'));

    let r = await request(studio, 'GET', '/api/runs', undefined, bearer(studio));
    assert.equal(r.status, 200, r.body);
    const list = JSON.parse(r.body) as { name: string; thumbnail: string | null; system: string }[];
    assert.deepEqual(
      list.map((x) => x.name),
      ['r1'],
    );
    assert.equal(list[0].thumbnail, 'runs/r1/a.png');
    assert.equal(list[0].system, 'vae');
    assert.doesNotMatch(r.body, /s3cret/);
    for (const p of [
      '/files/runs/linked/config.json',
      '/files/runs/r1/out/leak.png',
      '/files/runs/r1/loop/a.png',
      '/files/runs/loop/r1/a.png',
      '/files/runs/r1/dangling.png',
      '/files/runs/r1/metrics.jsonl',
    ]) {
      r = await request(studio, 'GET', p, undefined, bearer(studio));
      assert.equal(r.status, 404, `${p}: ${r.body}`);
      assert.doesNotMatch(r.body, /s3cret|not an image/);
    }
    r = await request(studio, 'GET', '/files/runs/r1/a.png', undefined, bearer(studio));
    assert.equal(r.status, 200);
    for (const p of ['/api/vae/decode?run=linked&x=0&y=0', '/api/gan/sample?run=dangling', '/api/export?run=loop'])
      assert.equal((await request(studio, 'GET', p, undefined, bearer(studio))).status, 404, p);

    // A running job's folder gets a dangling link and a loop before its first image: the job's
    // file timer reports the image and the studio lives on.
    const events = await eventStream(studio);
    r = await request(studio, 'POST', '/api/jobs', DREAM, jsonHeaders(studio));
    assert.equal(r.status, 201, r.body);
    const folder = path.join(root, (JSON.parse(r.body) as { folder: string }).folder);
    symlinkSync('/nowhere/at/all', path.join(folder, 'bad.png'));
    symlinkSync(folder, path.join(folder, 'loop'));
    writeFileSync(path.join(folder, 'good.png'), 'png');
    const e = await events.next((e) => e.type === 'file');
    events.close();
    assert.match(e.file!, /good\.png$/);
    assert.deepEqual(
      imagesUnder(root, path.relative(root, folder)).map((f) => path.basename(f)),
      ['good.png'],
    );
  } finally {
    await studio.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(elsewhere, { recursive: true, force: true });
  }
});

test('every route needs the session token: the link sets an HttpOnly cookie, and the page holds no token', async () => {
  const root = tempRoot();
  const studio = await startStudio({ root, port: 0, jobCli: path.join(root, 'fake-cli.cjs') });
  try {
    const port = new URL(studio.url).port;
    assert.equal(studio.link, `${studio.url}?token=${studio.token}`);
    // Without a credential, every route answers 403 with one sentence, and never the token.
    for (const { method, path: p } of studio.routes) {
      const concrete = typeof p === 'string' ? p : sampleOf(p)[0];
      const wrong: Record<string, string>[] = [
        {},
        { authorization: 'Bearer nope' },
        { cookie: `loom-studio-${port}=nope` },
      ];
      for (const headers of wrong) {
        const r = await request(studio, method, concrete, undefined, headers);
        assert.equal(r.status, 403, `${method} ${concrete}`);
        assert.match(JSON.parse(r.body).error, /^[^.]+$/);
        assert.ok(!r.body.includes(studio.token));
      }
    }
    let r = await request(studio, 'GET', '/?token=wrong');
    assert.equal(r.status, 403);
    r = await request(studio, 'GET', `/api/runs?token=${studio.token}&x=1`);
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, `${studio.url}api/runs?x=1`);
    r = await request(studio, 'GET', `/?token=${studio.token}`);
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, studio.url);
    const cookie = String(r.headers['set-cookie']);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const jar = { cookie: cookie.split(';')[0] };
    for (const p of ['/', '/page/main.js', '/page/forms.js', '/page.css', '/api/systems', '/api/runs', '/api/jobs']) {
      r = await request(studio, 'GET', p, undefined, jar);
      assert.equal(r.status, 200, p);
      assert.ok(!r.body.includes(studio.token), `${p} holds no token`);
    }
    // The cookie does not lift the other protections: a foreign Origin or Host is refused.
    r = await request(studio, 'POST', '/api/jobs', DREAM, {
      ...jar,
      'content-type': 'application/json',
      origin: 'http://evil.example',
    });
    assert.equal(r.status, 403);
    r = await request(studio, 'GET', '/api/runs', undefined, { ...jar, host: `evil.example:${port}` });
    assert.equal(r.status, 403);
    r = await request(studio, 'GET', '/api/jobs', undefined, jar);
    assert.deepEqual(JSON.parse(r.body), [], 'no job was started');
  } finally {
    await studio.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a NUL in a prime is a 400 that holds no generation slot; jobs past the cap are a 429 that makes no folder', async () => {
  const root = tempRoot();
  const studio = await startStudio({ root, port: 0, jobCli: path.join(root, 'fake-cli.cjs') });
  try {
    mkdirSync(path.join(root, 'runs', 't'));
    const gen = (b: unknown) => request(studio, 'POST', '/api/text/generate', JSON.stringify(b), jsonHeaders(studio));
    for (let i = 0; i < GENERATE_CONCURRENCY + GENERATE_QUEUE + 1; i++) {
      const r = await gen({ run: 't', prime: 'a\0b' });
      assert.equal(r.status, 400);
      assert.equal(JSON.parse(r.body).error, 'prime may not contain a NUL character');
    }
    for (const b of [{ run: 't', prime: 5 }, { run: 't', prime: ['a'] }, { run: 'gone', prime: 'a' }, { run: 'a\0' }]) {
      const r = await gen(b);
      assert.ok([400, 404].includes(r.status), `${JSON.stringify(b)}: ${r.status} ${r.body}`);
    }
    // Every slot is free: generations run at once (the run has no model, so each ends with the CLI's sentence).
    const all = await Promise.all(Array.from({ length: GENERATE_CONCURRENCY }, () => gen({ run: 't', prime: 'ab' })));
    for (const r of all) {
      assert.equal(r.status, 200);
      assert.match(r.body, /^\n\[.+\]$/);
    }

    const job = () => request(studio, 'POST', '/api/jobs', DREAM, jsonHeaders(studio));
    const folders = () => readdirSync(path.join(root, 'runs')).filter((d) => d.startsWith('dream-')).length;
    for (let i = 0; i < JOB_LIMIT; i++) assert.equal((await job()).status, 201);
    assert.equal(folders(), JOB_LIMIT);
    for (let i = 0; i < 3; i++) {
      const r = await job();
      assert.equal(r.status, 429);
      assert.match(JSON.parse(r.body).error, new RegExp(`at most ${JOB_LIMIT} waiting or running jobs`));
    }
    assert.equal(folders(), JOB_LIMIT, 'a refused job makes no folder');
  } finally {
    await studio.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a decoded VAE image follows a run retrained with --force, and a deleted run is a 404', async () => {
  const root = tempRoot();
  const run = path.join(root, 'runs', 'v');
  const train = (seed: number) =>
    trainVae({ ...VAE_DEFAULTS, epochs: 1, limit: 16, logEvery: 100, seed }, run, { force: true });
  await train(1);
  const studio = await startStudio({ root, port: 0, jobCli: path.join(root, 'fake-cli.cjs') });
  try {
    const ask = (p: string) => request(studio, 'GET', p, undefined, bearer(studio));
    const decode = '/api/vae/decode?run=v&x=0.5&y=-0.5';
    const first = await ask(decode);
    assert.equal(first.status, 200);
    assert.equal((await ask(decode)).body, first.body, 'the same checkpoint decodes the same image');
    assert.equal((await ask('/api/vae/interpolate?run=v&a=0&b=1')).status, 200);
    await train(2);
    const second = await ask(decode);
    assert.equal(second.status, 200);
    assert.notEqual(second.body, first.body, 'the retrained run decodes with its new weights');
    rmSync(run, { recursive: true });
    for (const p of [decode, '/api/vae/interpolate?run=v&a=0&b=1', '/api/gan/sample?run=v', '/api/export?run=v']) {
      const r = await ask(p);
      assert.equal(r.status, 404, p);
      assert.equal(JSON.parse(r.body).error, 'there is no run v');
    }
  } finally {
    await studio.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('closing the studio stops its job as on Ctrl-C (it saves), or kills it after the grace; jobs are tied to it', async () => {
  const root = tempRoot();
  for (const stubborn of [false, true]) {
    const studio = await startStudio({ root, port: 0, jobCli: path.join(root, 'fake-cli.cjs'), stopGraceMs: 100 });
    const events = await eventStream(studio);
    // The stand-in reads no options; a dream's --out names the folder it writes to.
    const options = { image: 'builtin:dog', ...(stubborn ? { layers: 'STUBBORN' } : {}) };
    const r = await request(
      studio,
      'POST',
      '/api/jobs',
      JSON.stringify({ system: 'dream', options }),
      jsonHeaders(studio),
    );
    assert.equal(r.status, 201, r.body);
    const job = JSON.parse(r.body) as { folder: string };
    await events.next((e) => e.type === 'log' && e.record?.ready === true);
    events.close();
    await studio.close();
    const [parent, pid] = readFileSync(path.join(root, job.folder, 'parent.txt'), 'utf8')
      .split(' ')
      .map(Number);
    assert.equal(parent, process.pid, 'the job carries LOOM_PARENT_PID, so it stops if the studio dies');
    assert.equal(existsSync(path.join(root, job.folder, 'saved.txt')), !stubborn);
    assert.ok(!alive(pid), 'no job outlives a closed studio');
  }
  rmSync(root, { recursive: true, force: true });
});

test('the job queue refuses jobs past its limit; on close its running job saves and a waiting one never starts', async () => {
  const root = tempRoot();
  const queue = new JobQueue(root, 100, 2, path.join(root, 'fake-cli.cjs'));
  const ready = new Promise<void>((resolve) =>
    queue.on('event', (e: JobEvent) => e.type === 'log' && e.record?.ready && resolve()),
  );
  mkdirSync(path.join(root, 'runs'));
  queue.add('dream', ['--out', 'runs/a'], 'runs/a');
  queue.add('dream', ['--out', 'runs/b'], 'runs/b');
  assert.ok(queue.full);
  assert.throws(() => queue.add('dream', [], 'runs/c'), /at most 2 waiting or running jobs/);
  await ready;
  await queue.close();
  assert.deepEqual(
    queue.jobs.map((j) => j.status),
    ['cancelled', 'cancelled'],
  );
  assert.ok(existsSync(path.join(root, 'runs', 'a', 'saved.txt')), 'the running job saved on SIGINT');
  assert.ok(!existsSync(path.join(root, 'runs', 'b')), 'the waiting job never started');
  rmSync(root, { recursive: true, force: true });
});

test('`loom studio` prints its tokened link and, on SIGTERM, stops and exits cleanly', async () => {
  const root = tempRoot();
  const cli = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
  // Other folders of runs: --runs repeated and comma-separated, all listed.
  const others = ['a', 'b', 'c'].map((d) => path.join(root, 'more', d));
  for (const d of others) mkdirSync(d, { recursive: true });
  const child = spawn(
    process.execPath,
    [cli, 'studio', '--port', '0', '--root', root, '--runs', others[0], `--runs=${others[1]},${others[2]}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    let out = '';
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    const link = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (c: string) => {
        out += c;
        const m = /Loom studio at (http:\/\/\S+\?token=\S+)/.exec(out);
        if (m && /too\.\n/.test(out)) resolve(m[1]);
      });
      child.on('exit', () => reject(new Error(`the studio exited: ${err}`)));
    });
    assert.ok(out.includes(`It lists the runs in ${others.map((d) => realpathSync(d)).join(', ')} too.`), out);
    const u = new URL(link);
    const r = await fetch(link, { redirect: 'manual' });
    assert.equal(r.status, 303);
    assert.equal((await fetch(`${u.origin}/api/runs`)).status, 403);
    child.kill('SIGTERM');
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
    assert.equal(signal, null, 'the studio handled SIGTERM');
    assert.equal(code, 0, err);
    assert.doesNotMatch(err, /\n\s+at /, 'no stack trace');
    // A folder that is not there is a sentence and exit code 2.
    const missing = spawnSync(process.execPath, [cli, 'studio', '--port', '0', '--root', root, '--runs', 'no-such'], {
      encoding: 'utf8',
    });
    assert.equal(missing.status, 2, missing.stderr);
    assert.match(missing.stderr, /--runs: there is no folder no-such to list runs from/);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  }
});

/** Concrete paths for each of the studio's path patterns: the fuzz covers every route. */
const PATTERN_SAMPLES: Record<string, string[]> = {
  [String(/^\/api\/jobs\/([a-z0-9]+)$/)]: ['/api/jobs/abc', '/api/jobs/constructor', '/api/jobs/0'],
  [String(/^\/files\/(.+)$/)]: [
    '/files/runs/loop/loop/loop/x.png',
    '/files/runs/dangle',
    '/files/runs/real/out/passwd',
    '/files/runs/real',
    '/files/%00',
    '/files/%',
    '/files/runs/%2e%2e/%2e%2e/x',
    '/files/__proto__',
    '/files/uploads/constructor',
  ],
  [String(/^\/page\/([a-z-]+\.js)$/)]: ['/page/main.js', '/page/nothing.js', '/page/constructor.js'],
  [String(/^\/lib\/([a-z-]+\.js)$/)]: ['/lib/sampling.js', '/lib/nothing.js', '/lib/constructor.js'],
  [String(/^\/vendor\/([a-z-]+)\/([a-z0-9.-]+)$/)]: ['/vendor/vega/x', '/vendor/constructor/a', '/vendor/__proto__/x'],
};
function sampleOf(p: RegExp): string[] {
  const s = PATTERN_SAMPLES[String(p)];
  assert.ok(s, `the fuzz has no sample paths for the route ${p}; add some`);
  return s;
}

const QUERIES = [
  '',
  '?run=%00',
  '?run=__proto__',
  '?run=constructor',
  '?run=..',
  '?run=loop',
  '?run=dangle',
  '?run=real&x=NaN&y=Infinity',
  '?run=real&a=-1&b=1e309',
  '?run=real&seed=1e400&label=__proto__',
  '?run=real&part=constructor',
  '?run=a&run=b',
  '?run=%',
  '?%=%&&=',
];
const BODIES: [string, string | Buffer][] = [
  ['application/json', 'not json'],
  ['application/json', ''],
  ['application/json', JSON.stringify({ pad: 'x'.repeat(70 * 1024) })],
  ['application/json', '[]'],
  ['application/json', '1'],
  ['application/json', 'null'],
  ['application/json', '"text"'],
  ['application/json', '{"__proto__":{"system":"text","run":"real"}}'],
  ['application/json', '{"constructor":{"prototype":{"polluted":1}}}'],
  ['application/json', '{"system":"toString"}'],
  ['application/json', '{"system":"text","options":[]}'],
  ['application/json', '{"system":"text","options":"x"}'],
  ['application/json', '{"system":"text","options":{"__proto__":{"steps":1}}}'],
  ['application/json', '{"system":"text","options":{"steps":"1\\u0000"}}'],
  ['application/json', '{"system":"text\\u0000"}'],
  ['application/json', '{"system":["text"]}'],
  ['application/json', '{"system":"dream","options":{"image":{"a":1}}}'],
  ['application/json', '{"system":"style-video","options":{"run":"loop","video":"upload:x.mp4"}}'],
  ['application/json', '{"run":5}'],
  ['application/json', '{"run":{}}'],
  ['application/json', '{"run":"real\\u0000"}'],
  ['application/json', '{"run":"loop","prime":"x"}'],
  ['application/json', '{"run":"real","prime":"a\\u0000b"}'],
  ['application/json', '{"run":"real","prime":{"toString":1}}'],
  ['text/plain', 'a\0b'],
  ['image/png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0])],
  ['video/mp4', Buffer.alloc(64)],
  ['application/x-unknown', 'x'],
];

test('fuzz: every route answers bad bodies, queries and link paths with a short 2xx or 4xx, and keeps serving', async () => {
  const root = tempRoot();
  const elsewhere = mkdtempSync(path.join(os.tmpdir(), 'loom-elsewhere-'));
  writeFileSync(path.join(elsewhere, 'passwd'), 'secret');
  const studio = await startStudio({ root, port: 0, jobCli: path.join(root, 'fake-cli.cjs'), stopGraceMs: 100 });
  const runs = path.join(root, 'runs');
  mkdirSync(path.join(runs, 'real'));
  symlinkSync(elsewhere, path.join(runs, 'real', 'out'));
  symlinkSync(runs, path.join(runs, 'loop'));
  symlinkSync('/nowhere/at/all', path.join(runs, 'dangle'));
  const seen: string[] = [];
  const check = (what: string, r: Answer) => {
    seen.push(what);
    const ok = (r.status >= 200 && r.status < 300) || (r.status >= 400 && r.status < 500);
    assert.ok(ok, `${what}: ${r.status} ${r.body.slice(0, 200)}`);
    if (r.status >= 400) {
      assert.ok(r.body.length < 400, `${what}: a long answer`);
      let error: unknown;
      try {
        error = JSON.parse(r.body).error;
      } catch {
        assert.fail(`${what}: ${r.status} ${JSON.stringify(r.body)} is not a JSON error`);
      }
      assert.match(String(error), /^[^\n]+$/, what);
    }
    assert.doesNotMatch(r.body, /\n\s+at |node:internal|ERR_|ENOENT|ELOOP|EACCES|secret/, what);
    assert.ok(!r.body.includes(root), `${what}: names a server path`);
  };
  try {
    for (const { method, path: p } of studio.routes) {
      const paths = typeof p === 'string' ? [p] : sampleOf(p);
      for (const base of paths) {
        for (const q of QUERIES)
          check(`${method} ${base}${q}`, await request(studio, method, base + q, undefined, bearer(studio)));
        if (method === 'GET') continue;
        for (const [type, body] of BODIES) {
          const r = await request(studio, method, base, body, { ...bearer(studio), 'content-type': type });
          check(`${method} ${base} ${type} ${String(body).slice(0, 40)}`, r);
        }
      }
    }
    assert.ok(seen.length > 200, 'the fuzz ran');
    // The server still answers, and no prototype was touched.
    const r = await request(studio, 'GET', '/api/runs', undefined, bearer(studio));
    assert.equal(r.status, 200);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  } finally {
    await studio.close();
    rmSync(root, { recursive: true, force: true });
    rmSync(elsewhere, { recursive: true, force: true });
  }
});
