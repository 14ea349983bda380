// Nothing a user had is lost: a full disk leaves every replaced file whole and says so in one
// sentence; one process writes a run at a time; --force removes only what Loom wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { prepareOutputFile, writeFileAtomic } from '../src/io/files.js';
import { repoRoot } from './helpers.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const dir = mkdtempSync(path.join(tmpdir(), 'loom-trust-'));
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

function loom(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
}

/** Exit code 2, one line on stderr that matches, no stack trace or C++ text. */
function refused(r: { status: number | null; stderr: string }, re: RegExp): void {
  assert.equal(r.status, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], re);
  assert.doesNotMatch(r.stderr, /\n\s+at |internal error|c10::/);
}

/**
 * Runs `script` (sh) with `mount` holding a fresh tmpfs of `kb` KiB, in a mount namespace of
 * its own (unshare), so nothing needs cleaning up; $LOOM is the CLI. Null where the machine
 * lets no process make a namespace.
 */
function onSmallDisk(mount: string, kb: number, script: string) {
  mkdirSync(mount, { recursive: true });
  const r = spawnSync(
    'unshare',
    ['-rm', 'sh', '-c', `mount -t tmpfs -o size=${kb}k tmpfs "${mount}" || exit 99\n${script}`],
    { encoding: 'utf8', env: { ...process.env, LOOM: `${process.execPath} ${CLI}` }, timeout: 180_000 },
  );
  return r.status === 99 || r.error ? null : r;
}

/** Shell that fills the disk at `mount` but for one block: every file larger than a block gets short writes. */
const fill = (mount: string) =>
  `head -c $(( ($(stat -f -c '%a' "${mount}") - 1) * $(stat -f -c '%S' "${mount}") )) /dev/zero > "${mount}/filler"`;

/** The lines `key=value` that a small-disk script printed. */
const printed = (out: string) =>
  Object.fromEntries(
    out
      .split('\n')
      .map((l) => /^(\w+)=(.*)$/.exec(l))
      .filter((m) => m !== null)
      .map((m) => [m[1], m[2]]),
  );

const corpus = path.join(dir, 'corpus.txt');
writeFileSync(corpus, 'the cat sat on the mat and the dog sat on the log. '.repeat(200));
const lstm = ['--corpus', corpus, '--model', 'lstm', '--units', '8', '--maxlen', '20'];

test('a file is replaced whole or not at all, with a sentence when it cannot be', () => {
  const file = path.join(dir, 'whole.bin');
  writeFileSync(file, 'old');
  const notFolder = path.join(dir, 'not-a-folder');
  writeFileSync(notFolder, '');
  assert.throws(
    () => writeFileAtomic(path.join(notFolder, 'x.bin'), 'new'),
    /^Error: cannot write .*x\.bin: its folder cannot hold files; nothing was written$/,
  );
  writeFileAtomic(file, 'new');
  assert.equal(readFileSync(file, 'utf8'), 'new');
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes('.tmp-')),
    [],
    'no temporary file is left',
  );
});

test('a killed writer leaves a temporary file that the next command writing there removes', () => {
  // A pid that no process holds: one that has just exited.
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  // An output file: checked before a command's work.
  const file = path.join(dir, 'stale.bin');
  writeFileSync(`${file}.tmp-${gone.stdout}`, 'half');
  writeFileSync(`${file}.tmp-${process.ppid}`, 'a live writer');
  prepareOutputFile(file, true);
  assert.ok(!existsSync(`${file}.tmp-${gone.stdout}`), 'the dead writer’s file is gone');
  assert.ok(existsSync(`${file}.tmp-${process.ppid}`), 'a live writer’s file stays');
  // A run folder: a checkpoint cut short by a kill, swept when the run is opened again.
  const run = path.join(dir, 'stale-run');
  const first = loom('text', 'train', ...lstm, '--out', run, '--steps', '5');
  assert.equal(first.status, 0, first.stderr);
  const half = path.join(run, `checkpoint.safetensors.tmp-${gone.stdout}`);
  writeFileSync(half, 'half');
  const mine = path.join(run, `notes.md.tmp-${gone.stdout}`);
  writeFileSync(mine, 'a user’s file that looks like one');
  const again = loom('text', 'train', ...lstm, '--out', run, '--resume', '--steps', '6');
  assert.equal(again.status, 0, again.stderr);
  assert.ok(!existsSync(half), 'the killed checkpoint write is gone');
  assert.ok(existsSync(mine), 'only what Loom writes is swept');
});

test('on a full disk, a resumed run, an export, samples and an animation leave the old files whole', async (t) => {
  const run = path.join(dir, 'run');
  const first = loom('text', 'train', ...lstm, '--out', run, '--steps', '30', '--json');
  assert.equal(first.status, 0, first.stderr);
  const checkpoint = sha(path.join(run, 'checkpoint.safetensors'));
  const best = sha(path.join(run, 'best.safetensors'));
  const mount = path.join(dir, 'small');
  const r = onSmallDisk(
    mount,
    1024,
    `cp -r "${run}" "${mount}/run" && ${fill(mount)} && $LOOM text train --out "${mount}/run" --resume --steps 200 --json >/dev/null 2>"${mount}/err"
echo status=$?
echo err=$(cat "${mount}/err")
echo checkpoint=$(sha256sum < "${mount}/run/checkpoint.safetensors" | cut -d' ' -f1)
echo best=$(sha256sum < "${mount}/run/best.safetensors" | cut -d' ' -f1)
echo left=$(ls "${mount}/run" | grep -c tmp-)`,
  );
  if (r === null) return t.skip('this machine makes no mount namespaces (unshare -rm)');
  const o = printed(r.stdout);
  assert.equal(o.status, '2', r.stdout + r.stderr);
  assert.match(o.err, /^loom: cannot write .*: the disk is full(; the previous file is unchanged)?$/);
  assert.equal(o.checkpoint, checkpoint, 'the checkpoint is the one before');
  assert.equal(o.best, best);
  assert.equal(o.left, '0', 'no temporary file is left');

  // An export, a sample grid and an animation over files the user already has (--force).
  const run2 = path.join(dir, 'gan');
  const data = path.join(dir, 'imgs');
  mkdirSync(data);
  for (let i = 0; i < 16; i++)
    await sharp(Buffer.alloc(24 * 24, i % 2 ? 230 : 25), { raw: { width: 24, height: 24, channels: 1 } })
      .png()
      .toFile(path.join(data, `${i}.png`));
  const small = [
    '--latent',
    '4',
    '--batch',
    '8',
    '--g-filters',
    '8',
    '--d-filters',
    '8',
    '--size',
    '24',
    '--channels',
    '1',
  ];
  const gan = loom('gan', 'train', '--data', data, '--out', run2, '--steps', '2', '--sample-every', '2', ...small);
  assert.equal(gan.status, 0, gan.stderr);
  const s = onSmallDisk(
    mount,
    1024,
    `for f in a.onnx b.png c.gif; do echo old > "${mount}/$f"; done
${fill(mount)}
$LOOM export "${run}" --out "${mount}/a.onnx" --force 2>"${dir}/e1"; echo export=$?
$LOOM gan sample "${run2}" --count 64 --out "${mount}/b.png" --force 2>"${dir}/e2"; echo sample=$?
$LOOM gan walk "${run2}" --frames 120 --out "${mount}/c.gif" --force 2>"${dir}/e3"; echo walk=$?
echo errs=$(cat "${dir}/e1" "${dir}/e2" "${dir}/e3" | wc -l)
echo full=$(cat "${dir}/e1" "${dir}/e2" "${dir}/e3" | grep -c 'the disk is full; the previous file is unchanged')
echo files=$(cat "${mount}/a.onnx" "${mount}/b.png" "${mount}/c.gif" | tr '\\n' ' ')
echo left=$(ls "${mount}" | grep -c tmp-)`,
  )!;
  const p = printed(s.stdout);
  assert.deepEqual([p.export, p.sample, p.walk], ['2', '2', '2'], s.stdout + s.stderr);
  assert.equal(p.errs, '3', 'one sentence each');
  assert.equal(p.full, '3', s.stdout);
  assert.equal(p.files.trim(), 'old old old', 'each old file is whole');
  assert.equal(p.left, '0');
});

test('one process writes a run at a time; a lock left by a killed one is taken over', async () => {
  const run = path.join(dir, 'locked');
  const first = spawn(process.execPath, [CLI, 'text', 'train', ...lstm, '--out', run, '--minutes', '1', '--json']);
  first.stderr.resume();
  // Wait for the first checkpoint-free moment the run holds its folder: its first log line.
  await new Promise<void>((resolve) => first.stdout.once('data', () => resolve()));
  try {
    for (const mode of ['--resume', '--force']) {
      const r = loom('text', 'train', ...lstm, '--out', run, mode, '--steps', '5');
      refused(r, new RegExp(`is being written by another Loom process \\(pid ${first.pid}\\)`));
    }
  } finally {
    first.kill('SIGKILL');
    await new Promise((r) => first.once('close', r));
  }
  assert.equal(readFileSync(path.join(run, 'run.lock'), 'utf8').trim(), String(first.pid), 'the killed run’s lock');
  mkdirSync(path.join(run, 'samples'), { recursive: true });
  const again = loom('text', 'train', ...lstm, '--out', run, '--force', '--steps', '5', '--json');
  assert.equal(again.status, 0, again.stderr);
  assert.ok(!existsSync(path.join(run, 'run.lock')), 'released at the end');
  const lines = readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').trim().split('\n');
  const steps = lines.map((l) => JSON.parse(l).step).filter((s) => typeof s === 'number');
  assert.deepEqual(
    steps,
    [...steps].sort((a, b) => a - b),
    'one writer: steps in order',
  );
});

test('--force removes what a run wrote and keeps what the user put in its folder, samples/ included', () => {
  const run = path.join(dir, 'forced');
  assert.equal(loom('text', 'train', ...lstm, '--out', run, '--steps', '10').status, 0);
  const samples = path.join(run, 'samples');
  const ours = readdirSync(samples);
  assert.ok(ours.length > 0);
  writeFileSync(path.join(samples, 'mine.txt'), 'my notes');
  mkdirSync(path.join(samples, 'sub'));
  writeFileSync(path.join(samples, 'sub', 'keep.txt'), 'mine too');
  writeFileSync(path.join(run, 'notes.md'), 'mine');
  const r = loom('text', 'train', ...lstm, '--out', run, '--force', '--steps', '10', '--seed', '3');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readFileSync(path.join(samples, 'mine.txt'), 'utf8'), 'my notes');
  assert.equal(readFileSync(path.join(samples, 'sub', 'keep.txt'), 'utf8'), 'mine too');
  assert.equal(readFileSync(path.join(run, 'notes.md'), 'utf8'), 'mine');
  assert.equal(JSON.parse(readFileSync(path.join(run, 'config.json'), 'utf8')).seed, 3, 'the new run');
});
