// Exported models run in this page: onnxruntime-web, served by the studio from node_modules.
// The VAE's decoder on the latent plane, and a fast style net on a photo that never leaves the page.
import { $, field, loadScript } from './dom.js';
import { runConfigs } from './pickers.js';

interface OrtTensor {
  data: Float32Array;
  dims: readonly number[];
}
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
}
interface Ort {
  env: { wasm: { wasmPaths: string; numThreads: number } };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => OrtTensor;
  InferenceSession: { create(model: Uint8Array): Promise<OrtSession> };
}

const ORT_PATH = '/vendor/onnxruntime-web/';

let ortLoaded: Promise<Ort> | null = null;
/** onnxruntime-web's WebAssembly build, loaded once, on first use. */
function loadOrt(): Promise<Ort> {
  ortLoaded ??= loadScript(ORT_PATH + 'ort.wasm.min.js').then(
    () => {
      const ort = (window as unknown as { ort: Ort }).ort;
      ort.env.wasm.wasmPaths = ORT_PATH;
      ort.env.wasm.numThreads = 1; // threads need a cross-origin-isolated page
      return ort;
    },
    (e: Error) => {
      ortLoaded = null;
      throw e;
    },
  );
  return ortLoaded;
}

const sessions = new Map<string, Promise<OrtSession>>();
/** A run exported by the studio as ONNX, in an inference session of this page (kept per run). */
function sessionOf(run: string, part = ''): Promise<OrtSession> {
  const key = run + '|' + part;
  let s = sessions.get(key);
  if (!s) {
    s = (async () => {
      const ort = await loadOrt();
      const r = await fetch('/api/export?run=' + encodeURIComponent(run) + (part ? '&part=' + part : ''));
      if (!r.ok) throw new Error((await r.json()).error);
      return ort.InferenceSession.create(new Uint8Array(await r.arrayBuffer()));
    })();
    s.catch(() => sessions.delete(key)); // a later try starts afresh
    sessions.set(key, s);
  }
  return s;
}

/** An image [1, C, H, W] in [0, 1] as a PNG data URL, each pixel `scale` x `scale`. */
function imageUrl(t: OrtTensor, scale = 1): string {
  const [, c, h, w] = t.dims;
  const small = document.createElement('canvas');
  [small.width, small.height] = [w, h];
  const pixels = new ImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    for (let k = 0; k < 3; k++) pixels.data[4 * i + k] = Math.round(255 * t.data[(c === 1 ? 0 : k) * h * w + i]);
    pixels.data[4 * i + 3] = 255;
  }
  small.getContext('2d')!.putImageData(pixels, 0, 0);
  if (scale === 1) return small.toDataURL();
  const big = document.createElement('canvas');
  [big.width, big.height] = [w * scale, h * scale];
  const g = big.getContext('2d')!;
  g.imageSmoothingEnabled = false;
  g.drawImage(small, 0, 0, big.width, big.height);
  return big.toDataURL();
}

/** The VAE's decoder at (x, y) of the plane, computed in this page. */
export async function decodeInPage(run: string, x: number, y: number): Promise<string> {
  const ort = await loadOrt();
  const session = await sessionOf(run, 'decoder');
  const latent = Number(runConfigs.get(run)?.latent) || 2;
  const z = new Float32Array(latent);
  z[0] = x;
  if (latent > 1) z[1] = y;
  const { image } = await session.run({ z: new ort.Tensor('float32', z, [1, latent]) });
  return imageUrl(image, 6);
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
    const [ort, session, photo] = await Promise.all([loadOrt(), sessionOf(run), createImageBitmap(file)]);
    // The net halves the sides twice: multiples of 4 keep it exact.
    const scale = Math.min(1, (Number(field('fast-side').value) || 256) / Math.max(photo.width, photo.height));
    const [w, h] = [photo.width, photo.height].map((s) => Math.max(4, Math.round((s * scale) / 4) * 4));
    const canvas = document.createElement('canvas');
    [canvas.width, canvas.height] = [w, h];
    const g = canvas.getContext('2d')!;
    g.drawImage(photo, 0, 0, w, h);
    const rgba = g.getImageData(0, 0, w, h).data;
    const x = new Float32Array(3 * h * w);
    for (let i = 0; i < h * w; i++) for (let k = 0; k < 3; k++) x[k * h * w + i] = rgba[4 * i + k] / 255;
    const t0 = performance.now();
    const { stylised } = await session.run({ image: new ort.Tensor('float32', x, [1, 3, h, w]) });
    $<HTMLImageElement>('fast-out').src = imageUrl(stylised);
    status.textContent = `${w}x${h} in ${Math.round(performance.now() - t0)} ms, in this page`;
  } catch (e) {
    status.textContent = (e as Error).message;
  }
};
