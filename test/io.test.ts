// Weight files and checkpoints: safetensors, torch.save .pth, atomic Loom checkpoints; video frames.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as T from '../src/torch/index.js';
import * as nn from '../src/nn/index.js';
import { loadPth } from '../src/io/pth.js';
import { probeVideo, transformVideo } from '../src/io/video.js';
import { spawnSync } from 'node:child_process';
import { decodeSafetensors, encodeSafetensors, loadSafetensors, saveSafetensors } from '../src/io/safetensors.js';
import { assertClose, fromEnc, golden, repoRoot } from './helpers.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'loom-io-'));

test('safetensors round-trips every dtype and metadata, byte-exactly as the spec lays it out', () => {
  const ts = new Map<string, T.Tensor>([
    [
      'a',
      T.tensor([
        [1.5, -2],
        [3, 4],
      ]),
    ],
    ['b', T.tensor([1, 2, 3], { dtype: 'int64' })],
    ['c', T.tensor([true, false])],
    ['d', T.tensor([0.5, 2], { dtype: 'float16' })],
    ['e', T.tensor([0.5, 2], { dtype: 'bfloat16' })],
    ['f', T.tensor(new Uint8Array([1, 255]))],
    ['g', T.tensor([1, 2], { dtype: 'float64' })],
  ]);
  const bytes = encodeSafetensors(ts, { note: 'hi' });
  const n = Number(bytes.readBigUInt64LE(0));
  assert.equal((8 + n) % 8, 0, 'data starts 8-byte aligned');
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString());
  assert.deepEqual(header.a, { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] });
  assert.deepEqual(header.__metadata__, { note: 'hi' });
  assert.deepEqual([...bytes.subarray(8 + n, 8 + n + 4)], [0, 0, 0xc0, 0x3f], 'little-endian 1.5');
  const back = decodeSafetensors(bytes);
  assert.deepEqual(back.metadata, { note: 'hi' });
  for (const [k, t] of ts) {
    assert.equal(back.tensors.get(k)!.dtype, t.dtype, k);
    assert.deepEqual(back.tensors.get(k)!.toFlatArray(), t.toFlatArray(), k);
  }
});

test('bad safetensors files get one clear sentence', () => {
  const dir = tmp();
  const good = encodeSafetensors(new Map([['w', T.ones([4])]]));
  writeFileSync(path.join(dir, 'trunc.safetensors'), good.subarray(0, good.length - 3));
  assert.throws(
    () => loadSafetensors(path.join(dir, 'trunc.safetensors')),
    /trunc.safetensors is not a valid safetensors file: .*data offsets/,
  );
  writeFileSync(path.join(dir, 'text.safetensors'), 'hello, this is not a tensor file at all');
  assert.throws(() => loadSafetensors(path.join(dir, 'text.safetensors')), /not a valid safetensors file/);
  assert.throws(
    () => loadSafetensors(path.join(dir, 'missing.safetensors')),
    /cannot read .*missing.safetensors: no such file/,
  );
  saveSafetensors(path.join(dir, 'ok.safetensors'), new Map([['w', T.ones([2])]]));
  assert.deepEqual(loadSafetensors(path.join(dir, 'ok.safetensors')).tensors.get('w')!.toFlatArray(), [1, 1]);
});

test('a state_dict written by torch.save loads by name into the matching Loom module and gives the same outputs', () => {
  const net = new nn.Sequential(
    new nn.Conv2d(2, 3, 3),
    new nn.BatchNorm2d(3),
    new nn.ReLU(),
    new nn.Flatten(),
    new nn.Linear(48, 5),
  );
  const sd = loadPth(path.join(repoRoot, 'test', 'golden', 'small_net.pth'));
  assert.deepEqual(net.loadStateDict(sd), { missing: [], unexpected: [] });
  net.eval();
  const e = golden('pth_expected.json');
  assertClose(net.forward(fromEnc(e.x)), e.out, 1e-5, 1e-4, 'output');
});

test('.pth checkpoints with nested dicts, float64 and strided tensors; partial loading reports keys', () => {
  const sd = loadPth(path.join(repoRoot, 'test', 'golden', 'checkpoint_dict.pth'));
  const extra = sd.get('extra')!;
  assert.equal(extra.dtype, 'float64');
  assert.deepEqual(extra.toArray(), [
    [1, 2],
    [4, 5],
  ]);
  const net = new nn.Sequential(new nn.Conv2d(2, 3, 3), new nn.BatchNorm2d(3));
  const sub = new Map([...sd].filter(([k]) => k.startsWith('model.')).map(([k, v]) => [k.slice(6), v]));
  assert.throws(() => net.loadStateDict(sub), /unexpected 4.weight, 4.bias/);
  assert.deepEqual(net.loadStateDict(sub, { strict: false }), { missing: [], unexpected: ['4.weight', '4.bias'] });
  assert.equal(net.stateDict().get('1.num_batches_tracked')!.item(), 3);
});

test('bad .pth files get one clear sentence', () => {
  const dir = tmp();
  const good = readFileSync(path.join(repoRoot, 'test', 'golden', 'small_net.pth'));
  writeFileSync(path.join(dir, 'cut.pth'), good.subarray(0, good.length >> 1));
  assert.throws(() => loadPth(path.join(dir, 'cut.pth')), /cut.pth is not a readable ZIP archive/);
  writeFileSync(path.join(dir, 'junk.pth'), 'junk');
  assert.throws(() => loadPth(path.join(dir, 'junk.pth')), /not a readable ZIP archive/);
  assert.throws(() => loadPth(path.join(dir, 'nope.pth')), /no such file/);
  assert.ok(!existsSync(path.join(dir, 'nope.pth')));
});

test('video: every frame goes through once, with or without a per-frame hook; the live tensor count stays flat', async () => {
  const dir = tmp();
  const clip = path.join(dir, 'clip.mp4');
  // 6 frames of a moving test pattern, 12 per second.
  const made = spawnSync(
    'ffmpeg',
    ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=48x32:rate=12', '-frames:v', '6', '-pix_fmt', 'yuv420p', clip],
    { encoding: 'utf8' },
  );
  assert.equal(made.status, 0, made.stderr);
  const before = T.liveTensors().undisposed;
  const live: number[] = [];
  const invert = (f: T.Tensor) => {
    live.push(T.liveTensors().undisposed);
    return T.tidy(() => f.neg().add(1));
  };
  const quiet = await transformVideo(clip, path.join(dir, 'a.mp4'), invert);
  assert.equal(quiet.frames, 6);
  assert.ok(
    quiet.flicker !== null && Math.abs(quiet.flicker - 1) < 1e-6,
    `an inverted clip flickers as much: ${quiet.flicker}`,
  );
  const seen: number[] = [];
  const hooked = await transformVideo(clip, path.join(dir, 'b.mp4'), invert, {
    onFrame: (i, n) => seen.push(i * 10 + n!),
  });
  assert.equal(hooked.frames, 6);
  assert.deepEqual(seen, [6, 16, 26, 36, 46, 56]); // index and total
  assert.equal(probeVideo(clip).frames, 6);
  assert.deepEqual(probeVideo(path.join(dir, 'b.mp4')), probeVideo(clip));
  // One frame pair held between frames (for the flicker), no more; nothing left after.
  const flat = (from: number) => live.slice(from + 2, from + 6).every((n) => n === live[from + 1]);
  assert.ok(flat(0) && flat(6), `live tensors per frame: ${live}`);
  assert.equal(T.liveTensors().undisposed, before);
});
