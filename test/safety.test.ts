// Nothing the user has is overwritten or deleted, memory is bounded by what was asked for
// rather than by the input file, and every refusal is one sentence with exit code 2 (#21).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { repoRoot } from './helpers.js';

const CLI = path.join(repoRoot, 'dist', 'src', 'cli', 'main.js');
const dir = mkdtempSync(path.join(tmpdir(), 'loom-safety-'));

function loom(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
}

/** Exit code 2, one line on stderr, no stack trace. */
function refused(r: ReturnType<typeof loom>, re: RegExp): void {
  assert.equal(r.status, 2, `exit ${r.status} (${r.signal}): ${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], re);
  assert.doesNotMatch(r.stderr, /\n\s+at |enforce fail|c10::/);
}

/** A PNG whose header claims width x height (and whose pixels are never there): 80 bytes. */
function claimedPng(file: string, width: number, height: number): string {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const idat = chunk('IDAT', deflateSync(Buffer.alloc(1 + 3 * Math.min(width, 16))));
  writeFileSync(
    file,
    Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      chunk('IHDR', ihdr),
      idat,
      chunk('IEND', Buffer.alloc(0)),
    ]),
  );
  return file;
}

test('images past the pixel budget are refused before they are decoded', () => {
  const huge = claimedPng(path.join(dir, 'huge.png'), 16000, 16000);
  const photo = claimedPng(path.join(dir, 'photo.png'), 8000, 6000);
  refused(
    loom('dream', huge, '--out', path.join(dir, 'd.png'), '--octaves', '1', '--steps', '1'),
    /16000x16000 \(256 megapixels\); Loom reads images of at most 100 megapixels/,
  );
  refused(loom('style', huge, 'builtin:scream', '--out', path.join(dir, 's.png'), '--height', '100'), /256 megapixels/);
  refused(
    loom('dream', photo, '--out', path.join(dir, 'd.png')),
    /8000x6000, over Loom's budget of 24 megapixels.*--max-side/,
  );
});

test('verbs that write a file refuse an existing one without --force; --force on a folder never deletes what Loom did not write', () => {
  const notes = path.join(dir, 'notes.txt');
  writeFileSync(notes, 'precious');
  refused(
    loom('vae', 'grid', path.join(dir, 'no-run'), '--out', notes),
    /notes.txt exists; choose another --out or add --force/,
  );
  refused(loom('gan', 'sample', path.join(dir, 'no-run'), '--out', notes), /exists/);
  refused(loom('dream', 'builtin:kite', '--out', notes), /exists/);
  assert.equal(readFileSync(notes, 'utf8'), 'precious');
  const album = path.join(dir, 'album');
  mkdirSync(path.join(album, 'photos'), { recursive: true });
  writeFileSync(path.join(album, 'photos', 'wedding.jpg'), 'hi');
  refused(loom('demo', '--out', album, '--force', '--minutes', '0.1'), /holds no Loom gallery/);
  assert.equal(readFileSync(path.join(album, 'photos', 'wedding.jpg'), 'utf8'), 'hi');
});

test('impossible output folders and bad options are one sentence, before any work', () => {
  refused(
    loom('text', 'train', '--out', '/proc/loom/run', '--steps', '1'),
    /cannot create the folder \/proc\/loom\/run/,
  );
  refused(loom('dream', 'builtin:kite', '--out', '/proc/loom/dream.png'), /cannot create the folder/);
  const file = path.join(dir, 'a-file');
  writeFileSync(file, 'x');
  refused(loom('text', 'train', '--out', file, '--steps', '1'), /is a file, not a folder/);
  refused(loom('info', '--bogus'), /unknown option --bogus/);
  refused(loom('vae', 'train', '--toString', '5'), /unknown option --toString/);
  refused(
    loom('text', 'train', '--threads', '100000', '--out', path.join(dir, 't')),
    /--threads must be auto or a whole number in 1\.\./,
  );
  refused(loom('text', 'train', '--threads', '2.5', '--out', path.join(dir, 't')), /--threads must be auto/);
  refused(
    loom('style', 'builtin:horses', 'builtin:scream', '--height', '32', '--out', path.join(dir, 's32.png')),
    /--height must be at least 75/,
  );
  refused(
    loom('dream', 'builtin:kite', '--zoom-frames', '3', '--zoom', '0', '--out', path.join(dir, 'z.gif')),
    /--zoom must be/,
  );
});

test('a run that fails before its first checkpoint does not block the next; damaged weights get a sentence', () => {
  const run = path.join(dir, 'run');
  const tiny = ['--model', 'lstm', '--units', '8', '--batch', '4', '--maxlen', '8', '--sample-length', '5'];
  refused(
    loom('text', 'train', '--out', run, '--lr', '1e308', '--steps', '3', ...tiny),
    /--lr must be at most 3.40e\+38/,
  );
  refused(loom('text', 'train', '--out', run, '--lr', '1e38', '--steps', '3', ...tiny), /the loss became/);
  let r = loom('text', 'train', '--out', run, '--steps', '2', ...tiny);
  assert.equal(r.status, 0, r.stderr);
  // A resume that names another learning rate is told the run keeps its own; naming the
  // run's own settings again, or how long to go on, says nothing.
  r = loom('text', 'train', '--out', run, '--resume', '--steps', '3', '--lr', '0.05', ...tiny);
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stderr,
    /--lr 0\.05 does not apply to a resumed run, which keeps its 0\.01 \(a resumed run takes only --epochs, --steps, --minutes/,
  );
  r = loom('text', 'train', '--out', run, '--resume', '--steps', '4', '--lr', '0.01', ...tiny);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /does not apply/);
  // Overwrite one weight with NaN: the header still parses.
  const file = path.join(run, 'checkpoint.safetensors');
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const key = Object.keys(header).find((k) => k.startsWith('module.') && header[k].dtype === 'F32')!;
  buf.writeFloatLE(NaN, 8 + n + header[key].data_offsets[0]);
  writeFileSync(file, buf);
  refused(
    loom('text', 'generate', run, '--length', '5'),
    new RegExp(`is damaged: ${key.replace(/\./g, '\\.')} holds values that are not finite`),
  );
  r = loom('text', 'train', '--out', run, '--resume', '--steps', '5');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /is damaged/);
  assert.ok(existsSync(file), 'the damaged checkpoint is left for the user');
});
