// Video in and out through ffmpeg's pipes: frames are decoded to raw RGB one at a time, each
// transformed and encoded as it comes, so memory stays flat however long the video; the
// input's audio is copied into the output.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import * as T from '../torch/index.js';
import { Tensor, tidy } from '../torch/index.js';
import { toBytes } from './images.js';

/** Files whose name says they are video. */
export const VIDEO_EXT = /\.(mp4|m4v|mov|mkv|webm|avi)$/i;

export interface VideoInfo {
  width: number;
  height: number;
  /** Frames per second, as ffmpeg's fraction ("30000/1001"). */
  rate: string;
  hasAudio: boolean;
  /** How many frames, as the container says or its duration times the rate; null if neither says. */
  frames: number | null;
}

function needFfmpeg(): void {
  const r = spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' });
  if (r.error || r.status !== 0)
    throw new Error("video needs ffmpeg; install Debian's: sudo apt-get install ffmpeg (scripts/setup.sh does)");
}

/** The first video stream's size and rate, and whether there is audio; one sentence if unreadable. */
export function probeVideo(file: string): VideoInfo {
  needFfmpeg();
  const r = spawnSync(
    'ffprobe',
    [
      ...['-v', 'error', '-show_entries', 'stream=codec_type,width,height,r_frame_rate,nb_frames:format=duration'],
      ...['-of', 'json', file],
    ],
    {
      encoding: 'utf8',
    },
  );
  const probed = (() => {
    try {
      return JSON.parse(r.stdout) as {
        streams?: { codec_type: string; width?: number; height?: number; r_frame_rate?: string; nb_frames?: string }[];
        format?: { duration?: string };
      };
    } catch {
      return {};
    }
  })();
  const streams = probed.streams ?? [];
  const v = streams.find((s) => s.codec_type === 'video');
  if (r.status !== 0 || !v?.width || !v.height)
    throw new Error(`cannot read video ${file}: ${(r.stderr || 'no video stream').trim().split('\n')[0]}`);
  const rate = v.r_frame_rate ?? '25/1';
  const [num, den] = rate.split('/').map(Number);
  const byDuration = Math.round((Number(probed.format?.duration) * num) / (den || 1));
  const counted = Number(v.nb_frames);
  return {
    width: v.width,
    height: v.height,
    rate,
    hasAudio: streams.some((s) => s.codec_type === 'audio'),
    frames: counted > 0 ? counted : byDuration > 0 ? byDuration : null,
  };
}

/** Reads exactly `n` bytes at a time from a stream; null at its end. */
class ExactReader {
  private chunks: Buffer[] = [];
  private have = 0;
  private ended = false;
  private wake: (() => void) | null = null;
  constructor(stream: NodeJS.ReadableStream) {
    stream.on('data', (b: Buffer) => {
      this.chunks.push(b);
      this.have += b.length;
      this.wake?.();
    });
    stream.on('end', () => {
      this.ended = true;
      this.wake?.();
    });
  }
  async read(n: number): Promise<Buffer | null> {
    while (this.have < n && !this.ended) await new Promise<void>((r) => (this.wake = r));
    this.wake = null;
    if (this.have < n) return null;
    const all = Buffer.concat(this.chunks);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.have = all.length - n;
    return all.subarray(0, n);
  }
}

/** Waits for a child to exit; rejects with its last error line when it fails. */
function finished(p: ChildProcess, what: string, stderr: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    p.on('error', reject);
    p.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`${what} failed: ${stderr().trim().split('\n').pop() ?? `exit ${code}`}`)),
    );
  });
}

/**
 * Decodes `input`, passes each frame ([1, 3, H, W] in [0, 1]) through `transform` (which
 * must return a new tensor of the same size), and encodes the results as H.264 into `output`
 * with the input's rate and audio. Written through a temporary file beside `output`, renamed
 * at the end: a failed or stopped run leaves no half-written video under the output's name.
 * Returns the frame count and the flicker ratio: mean |out(t) - out(t-1)| / mean |in(t) - in(t-1)|.
 */
export async function transformVideo(
  input: string,
  output: string,
  transform: (frame: Tensor) => Tensor | Promise<Tensor>,
  opts: { onFrame?: (index: number, total: number | null) => void; shouldStop?: () => boolean } = {},
): Promise<{ frames: number; flicker: number | null; info: VideoInfo }> {
  const info = probeVideo(input);
  const { width: w, height: h } = info;
  const tmp = path.join(path.dirname(output), `.${path.basename(output)}.part${path.extname(output)}`);
  let decErr = '';
  let encErr = '';
  const dec = spawn(
    'ffmpeg',
    ['-v', 'error', '-i', input, '-map', '0:v:0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  dec.stderr.on('data', (b: Buffer) => (decErr += b.toString()));
  // yuv420p (what players expect) needs even sides: an odd side gets one padded pixel.
  const enc = spawn(
    'ffmpeg',
    [
      ...['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${w}x${h}`, '-r', info.rate, '-i', '-'],
      ...['-i', input, '-map', '0:v:0', ...(info.hasAudio ? ['-map', '1:a:0', '-c:a', 'copy'] : [])],
      ...['-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-shortest', tmp],
    ],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  );
  enc.stderr.on('data', (b: Buffer) => (encErr += b.toString()));
  const decoded = finished(dec, `decoding ${input}`, () => decErr);
  const encoded = finished(enc, `encoding ${output}`, () => encErr);
  encoded.catch(() => undefined); // awaited below; a write error must not go unhandled meanwhile
  // An encoder that dies breaks its pipe: the write error is its exit's to report (below),
  // not an uncaught exception.
  enc.stdin!.on('error', () => undefined);
  decoded.catch(() => undefined);
  const reader = new ExactReader(dec.stdout);
  let frames = 0;
  let inDiff = 0;
  let outDiff = 0;
  let prev: [Tensor, Tensor] | null = null;
  try {
    for (;;) {
      if (opts.shouldStop?.()) break;
      const bytes = await reader.read(w * h * 3);
      if (!bytes) break;
      const frame = tidy(() =>
        T.tensor(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), { shape: [h, w, 3] })
          .permute([2, 0, 1])
          .unsqueeze(0)
          .float()
          .div(255),
      );
      let out: Tensor;
      try {
        out = await transform(frame);
      } catch (e) {
        frame.dispose();
        throw e;
      }
      if (prev) {
        const [pi, po] = prev;
        inDiff += tidy(() => frame.sub(pi).abs().mean().item());
        outDiff += tidy(() => out.sub(po).abs().mean().item());
        pi.dispose();
        po.dispose();
      }
      prev = [frame, out];
      const { data } = toBytes(out);
      // Back-pressure; an encoder that exits instead of draining ends the wait with its error.
      if (!enc.stdin!.write(data)) await Promise.race([new Promise((r) => enc.stdin!.once('drain', r)), encoded]);
      // Counted apart from the call: `f?.(frames++)` skips the increment when there is no f.
      const index = frames++;
      opts.onFrame?.(index, info.frames);
    }
  } catch (e) {
    dec.kill();
    enc.kill();
    rmSync(tmp, { force: true });
    throw e;
  } finally {
    for (const t of prev ?? []) t.dispose();
  }
  dec.kill(); // stopped early: the decoder may still be writing
  enc.stdin!.end();
  try {
    await encoded;
    if (frames === 0) await decoded;
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  if (frames === 0) {
    rmSync(tmp, { force: true });
    throw new Error(`${input} holds no frames`);
  }
  renameSync(tmp, output);
  return { frames, flicker: frames > 1 && inDiff > 0 ? outDiff / inDiff : null, info };
}
