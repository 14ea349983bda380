// Exported models run in this page, in a worker (explore-worker.ts) so that the page stays
// responsive: the VAE's decoder on the latent plane, the GAN's latent walk, text generation,
// and a fast style net on a photo or the webcam, none of which leaves the page.
import { $, field } from './dom.js';
import type { ExploreReply, ExploreRequest, Frame } from './explore-api.js';
import { runConfigs } from './pickers.js';

type Ask = ExploreRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

let worker: Worker | null = null;
let nextId = 1;
const waiting = new Map<number, { text?: (piece: string) => void; settle: (r: ExploreReply) => void }>();

/** Sends a request to the model worker (started on first use); resolves with its last answer. */
function ask(q: Ask, onText?: (piece: string) => void): { id: number; reply: Promise<ExploreReply> } {
  if (!worker) {
    worker = new Worker('/page/explore-worker.js', { type: 'module' });
    worker.onmessage = (e: MessageEvent<ExploreReply>) => {
      const r = e.data;
      const w = waiting.get(r.id);
      if (!w) return;
      if ('text' in r) return w.text?.(r.text);
      waiting.delete(r.id);
      w.settle(r);
    };
  }
  const id = nextId++;
  const reply = new Promise<ExploreReply>((settle) => waiting.set(id, { text: onText, settle }));
  worker.postMessage({ ...q, id } as ExploreRequest, 'frame' in q ? [q.frame.rgba.buffer] : []);
  return { id, reply };
}

/** The picture an answer carries, or its error as a thrown Error. */
async function frameOf(reply: Promise<ExploreReply>): Promise<Extract<ExploreReply, { frame: Frame }>> {
  const r = await reply;
  if ('error' in r) throw new Error(r.error);
  if (!('frame' in r)) throw new Error('the model worker answered without a picture');
  return r;
}

/** A frame on a canvas, each pixel `scale` x `scale`. */
function drawFrame(canvas: HTMLCanvasElement, f: Frame, scale = 1): void {
  const small = scale === 1 ? canvas : document.createElement('canvas');
  [small.width, small.height] = [f.width, f.height];
  small
    .getContext('2d')!
    .putImageData(new ImageData(f.rgba as Uint8ClampedArray<ArrayBuffer>, f.width, f.height), 0, 0);
  if (scale === 1) return;
  [canvas.width, canvas.height] = [f.width * scale, f.height * scale];
  const g = canvas.getContext('2d')!;
  g.imageSmoothingEnabled = false;
  g.drawImage(small, 0, 0, canvas.width, canvas.height);
}

/** A frame as a PNG data URL, each pixel `scale` x `scale`. */
function frameUrl(f: Frame, scale = 1): string {
  const canvas = document.createElement('canvas');
  drawFrame(canvas, f, scale);
  return canvas.toDataURL();
}

/** The VAE's decoder at (x, y) of the plane, computed in this page. */
export async function decodeInPage(run: string, x: number, y: number): Promise<string> {
  const latent = Number(runConfigs.get(run)?.latent) || 2;
  const z = new Array<number>(latent).fill(0);
  z[0] = x;
  if (latent > 1) z[1] = y;
  return frameUrl((await frameOf(ask({ op: 'vae', run, z }).reply)).frame, 6);
}

/** The GAN's generator a fraction t of the way between two seeds' latent points; with its class names. */
export async function walkInPage(
  run: string,
  seeds: [number, number],
  t: number,
  label: number,
): Promise<{ url: string; classes: string[] }> {
  const r = await frameOf(ask({ op: 'gan', run, seeds, t, label }).reply);
  return { url: frameUrl(r.frame, 8), classes: r.classes ?? [] };
}

let generating = 0;
/** A text run's continuation, each piece passed on as it is sampled; a new call stops the one before. */
export async function generateInPage(
  q: Omit<Extract<Ask, { op: 'generate' }>, 'op'>,
  onText: (piece: string) => void,
): Promise<void> {
  if (generating) ask({ op: 'cancel', of: generating });
  const { id, reply } = ask({ op: 'generate', ...q }, onText);
  generating = id;
  const r = await reply;
  if (generating === id) generating = 0;
  if ('error' in r) throw new Error(r.error);
}

/** The pixels of a picture drawn at w x h. */
function framePixels(source: CanvasImageSource, w: number, h: number): Frame {
  const canvas = document.createElement('canvas');
  [canvas.width, canvas.height] = [w, h];
  const g = canvas.getContext('2d', { willReadFrequently: true })!;
  g.drawImage(source, 0, 0, w, h);
  return { width: w, height: h, rgba: g.getImageData(0, 0, w, h).data };
}

/** Sides scaled so the longest is at most `side`, each a multiple of 4: the net halves the sides twice. */
function netSides(width: number, height: number, side: number): [number, number] {
  const scale = Math.min(1, side / Math.max(width, height));
  return [width, height].map((s) => Math.max(4, Math.round((s * scale) / 4) * 4)) as [number, number];
}

// A fast style net on a photo chosen here: the photo is read and stylised in the page.
$('fast-go').onclick = async () => {
  const status = $('fast-status');
  const run = $<HTMLSelectElement>('fast-run').value;
  const file = field('fast-photo').files?.[0];
  if (!run || !file) {
    status.textContent = 'choose a trained style net and a photo';
    return;
  }
  status.textContent = 'stylising in this page...';
  try {
    const photo = await createImageBitmap(file);
    const [w, h] = netSides(photo.width, photo.height, Number(field('fast-side').value) || 256);
    const r = await frameOf(ask({ op: 'style', run, frame: framePixels(photo, w, h) }).reply);
    $<HTMLImageElement>('fast-out').src = frameUrl(r.frame);
    status.textContent = `${w}x${h} in ${Math.round(r.ms ?? 0)} ms, in this page`;
  } catch (e) {
    status.textContent = (e as Error).message;
  }
};

// The webcam through a fast style net: one frame in the worker at a time, the newest frame next.
let camera: MediaStream | null = null;
$('cam-start').onclick = async () => {
  const status = $('cam-status');
  const run = $<HTMLSelectElement>('fast-run').value;
  if (!run) {
    status.textContent = 'choose a trained style net first';
    return;
  }
  if (camera) return;
  try {
    camera = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 }, audio: false });
  } catch (e) {
    status.textContent = `no camera: ${(e as Error).message}`;
    return;
  }
  const video = $<HTMLVideoElement>('cam-video');
  video.srcObject = camera;
  await video.play();
  const out = $<HTMLCanvasElement>('cam-out');
  out.hidden = false;
  const side = Number(field('fast-side').value) || 256;
  const done: number[] = []; // when each of the last frames came back, for the rate
  status.textContent = 'starting...';
  while (camera) {
    const [w, h] = netSides(video.videoWidth, video.videoHeight, side);
    try {
      const r = await frameOf(ask({ op: 'style', run, frame: framePixels(video, w, h) }).reply);
      drawFrame(out, r.frame);
    } catch (e) {
      status.textContent = (e as Error).message;
      break;
    }
    done.push(performance.now());
    if (done.length > 20) done.shift();
    const seconds = (done[done.length - 1] - done[0]) / 1000;
    if (done.length > 1)
      status.textContent = `${w}x${h}, ${((done.length - 1) / seconds).toFixed(1)} frames a second, in this page`;
    out.dataset.frames = String(Number(out.dataset.frames ?? 0) + 1);
  }
  stopCamera();
};
function stopCamera(): void {
  camera?.getTracks().forEach((t) => t.stop());
  camera = null;
}
$('cam-stop').onclick = stopCamera;
