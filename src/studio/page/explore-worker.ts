// The page's models run here, off its thread, so that the page never freezes while one
// computes: onnxruntime-web's WebAssembly build, one session per exported run (and part), and
// the text models' sampling loop, which sends characters back as it makes them.
import type { ExploreReply, ExploreRequest, Frame, GenerateRequest } from './explore-api.js';

interface OrtTensor {
  data: Float32Array | BigInt64Array;
  dims: readonly number[];
}
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
}
interface Ort {
  env: { wasm: { wasmPaths: string; numThreads: number } };
  Tensor: new (type: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: number[]) => OrtTensor;
  InferenceSession: { create(model: Uint8Array): Promise<OrtSession> };
}
/** Loom's own sampling (src/models/text/sampling.ts), seeded generator and units, served as they are. */
interface Sampling {
  reweight(logits: ArrayLike<number>, opts: { temperature: number; topK?: number; topP?: number }): Float64Array;
  draw(p: Float64Array, rng: { next(): number }): number;
}
/** The text models' units (src/models/text/vocab.ts): characters, then subword merges. */
interface Vocabulary {
  Vocab: new (
    chars: string[],
    merges: [number, number][],
  ) => { unknown(text: string): string[]; encode(text: string): Int32Array };
}
interface Random {
  Rng: new (...seeds: number[]) => { next(): number; gaussian(): number };
}
interface Scope {
  onmessage: ((e: MessageEvent<ExploreRequest>) => void) | null;
  postMessage(m: ExploreReply, transfer?: Transferable[]): void;
  crossOriginIsolated: boolean;
  navigator: { hardwareConcurrency: number };
}
const scope = self as unknown as Scope;

const ORT_PATH = '/vendor/onnxruntime-web/';
let ortLoaded: Promise<Ort> | null = null;
function loadOrt(): Promise<Ort> {
  ortLoaded ??= (import(ORT_PATH + 'ort.wasm.min.mjs') as Promise<Ort>).then(
    (ort) => {
      ort.env.wasm.wasmPaths = ORT_PATH;
      // Threads need a cross-origin-isolated page (the studio sends the headers for it).
      ort.env.wasm.numThreads = scope.crossOriginIsolated ? Math.min(4, scope.navigator.hardwareConcurrency) : 1;
      return ort;
    },
    (e: Error) => {
      ortLoaded = null;
      throw e;
    },
  );
  return ortLoaded;
}
const lib = <T>(name: string): Promise<T> => import(`/lib/${name}.js`) as Promise<T>;

interface Model {
  session: OrtSession;
  /** The export's metadata (loom.kind, loom.vocabulary, ...). */
  meta: Record<string, string>;
}
const models = new Map<string, Promise<Model>>();
/** A run exported by the studio as ONNX, in a session kept per run and part. */
function modelOf(run: string, part = ''): Promise<Model> {
  const key = run + '|' + part;
  let m = models.get(key);
  if (!m) {
    m = (async () => {
      const ort = await loadOrt();
      const r = await fetch('/api/export?run=' + encodeURIComponent(run) + (part ? '&part=' + part : ''));
      if (!r.ok) throw new Error(((await r.json()) as { error: string }).error);
      const meta = JSON.parse(decodeURIComponent(r.headers.get('x-loom-metadata') ?? '%7B%7D')) as Record<
        string,
        string
      >;
      return { session: await ort.InferenceSession.create(new Uint8Array(await r.arrayBuffer())), meta };
    })();
    m.catch(() => models.delete(key)); // a later try starts afresh
    models.set(key, m);
  }
  return m;
}

/** An image tensor [1, C, H, W] as RGBA pixels; `signed` images are in [-1, 1], others in [0, 1]. */
function toFrame(t: OrtTensor, signed: boolean): Frame {
  const [, c, h, w] = t.dims;
  const data = t.data as Float32Array;
  const rgba = new Uint8ClampedArray(4 * h * w);
  for (let i = 0; i < h * w; i++) {
    for (let k = 0; k < 3; k++) {
      const v = data[(c === 1 ? 0 : k) * h * w + i];
      rgba[4 * i + k] = Math.round(255 * (signed ? v / 2 + 0.5 : v));
    }
    rgba[4 * i + 3] = 255;
  }
  return { width: w, height: h, rgba };
}

/** RGBA pixels as the float image [1, 3, H, W] in [0, 1] that a style net takes. */
function fromFrame(f: Frame): Float32Array {
  const n = f.width * f.height;
  const x = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < 3; k++) x[k * n + i] = f.rgba[4 * i + k] / 255;
  return x;
}

/** Standard normal latent points from a seed, by Loom's own seeded generator: a seed is the same point every time. */
async function latentOf(seed: number, size: number): Promise<Float32Array> {
  const { Rng } = await lib<Random>('random');
  const rng = new Rng(seed);
  return Float32Array.from({ length: size }, () => rng.gaussian());
}

/** Spherical interpolation: the walk between two Gaussian points keeps a typical point's length. */
function slerp(a: Float32Array, b: Float32Array, t: number): Float32Array {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) [dot, na, nb] = [dot + a[i] * b[i], na + a[i] * a[i], nb + b[i] * b[i]];
  const omega = Math.acos(Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb))));
  if (omega < 1e-6) return a.map((v, i) => v + t * (b[i] - v));
  const [sa, sb] = [Math.sin((1 - t) * omega), Math.sin(t * omega)].map((s) => s / Math.sin(omega));
  return a.map((v, i) => sa * v + sb * b[i]);
}

/** Generations in flight by request id; a newer request of the page cancels an older one. */
const cancelled = new Set<number>();

/** A text run's continuation of the prime, sent back in pieces as it is sampled (as `loom text generate` does). */
async function generate(id: number, q: GenerateRequest): Promise<void> {
  const [ort, { session, meta }, sampling, { Rng }, { Vocab }] = await Promise.all([
    loadOrt(),
    modelOf(q.run),
    lib<Sampling>('sampling'),
    lib<Random>('random'),
    lib<Vocabulary>('vocab'),
  ]);
  const tokens = JSON.parse(meta['loom.vocabulary']) as string[];
  const merges = meta['loom.merges']
    ? (JSON.parse(meta['loom.merges']) as { characters: number; pairs: [number, number][] })
    : null;
  const vocab = new Vocab(tokens.slice(0, merges?.characters ?? tokens.length), merges?.pairs ?? []);
  if (q.prime.length === 0) throw new Error('generation needs a prime of at least one character');
  const unknown = vocab.unknown(q.prime);
  if (unknown.length)
    throw new Error(
      `the prime has characters the model never saw: ${unknown.map((c) => JSON.stringify(c)).join(', ')}`,
    );
  let ids = [...vocab.encode(q.prime)];
  // Subword units: the prime's last unit is read back as the start of the first new one, as the library does.
  const heal = merges && ids.length > 1 ? tokens[ids[ids.length - 1]] : '';
  if (heal) ids = ids.slice(0, -1);
  const rng = new Rng(q.seed);
  const V = tokens.length;
  const opts = { temperature: q.temperature, topK: q.topK, topP: q.topP };

  const lstm = meta['loom.kind'] === 'text-lstm-step';
  const block = Number(meta['loom.block']);
  const [L, H] = [Number(meta['loom.layers']), Number(meta['loom.units'])];
  const state: { h: Float32Array; c: Float32Array } | null = lstm
    ? { h: new Float32Array(L * H), c: new Float32Array(L * H) }
    : null;
  /** The logits after the ids so far (the LSTM is stepped over ids not yet read). */
  let read = 0;
  let context: number[] = [];
  const logitsAfter = async (): Promise<Float32Array> => {
    if (state) {
      let logits: Float32Array = new Float32Array(V);
      for (; read < ids.length; read++) {
        const out = await session.run({
          char: new ort.Tensor('int64', BigInt64Array.of(BigInt(ids[read])), [1]),
          h: new ort.Tensor('float32', state.h, [L, 1, H]),
          c: new ort.Tensor('float32', state.c, [L, 1, H]),
        });
        [state.h, state.c] = [out.h_out.data as Float32Array, out.c_out.data as Float32Array];
        logits = out.logits.data as Float32Array;
      }
      return logits;
    }
    // As the library's stepper: the context starts from the prime's last block and, when the
    // block is full, restarts from its last half (learned positions cannot slide).
    if (context.length === 0) context = ids.slice(-block);
    else context.push(ids[ids.length - 1]);
    if (context.length > block) context = context.slice(context.length - Math.ceil(block / 2));
    const out = await session.run({
      ids: new ort.Tensor('int64', BigInt64Array.from(context, BigInt), [1, context.length]),
    });
    return (out.logits.data as Float32Array).subarray((context.length - 1) * V);
  };

  let left = q.length;
  for (let first = true; left > 0 && !cancelled.has(id); first = false) {
    const logits = Float32Array.from(await logitsAfter());
    if (first && heal) for (let k = 0; k < V; k++) if (!tokens[k].startsWith(heal)) logits[k] = -Infinity;
    const next = sampling.draw(sampling.reweight(logits, opts), rng);
    const unit = [...(first && heal ? tokens[next].slice(heal.length) : tokens[next])];
    const piece = unit.slice(0, left).join('');
    left -= unit.length;
    ids.push(next);
    scope.postMessage({ id, text: piece });
  }
  cancelled.delete(id);
}

async function answer(q: ExploreRequest): Promise<void> {
  const { id } = q;
  try {
    switch (q.op) {
      case 'cancel':
        cancelled.add(q.of);
        return;
      case 'generate':
        await generate(id, q);
        scope.postMessage({ id, done: true });
        return;
      case 'vae': {
        const [ort, { session }] = await Promise.all([loadOrt(), modelOf(q.run, 'decoder')]);
        const { image } = await session.run({ z: new ort.Tensor('float32', Float32Array.from(q.z), [1, q.z.length]) });
        const frame = toFrame(image, false);
        scope.postMessage({ id, frame }, [frame.rgba.buffer]);
        return;
      }
      case 'gan': {
        const [ort, { session, meta }] = await Promise.all([loadOrt(), modelOf(q.run)]);
        const latent = Number(meta['loom.latent']);
        const z = slerp(await latentOf(q.seeds[0], latent), await latentOf(q.seeds[1], latent), q.t);
        const feeds: Record<string, OrtTensor> = { z: new ort.Tensor('float32', z, [1, latent]) };
        const classes = meta['loom.classes'] ? (JSON.parse(meta['loom.classes']) as string[]) : [];
        if (classes.length) {
          const label = new Float32Array(classes.length);
          label[Math.min(classes.length - 1, Math.max(0, q.label))] = 1;
          feeds.label = new ort.Tensor('float32', label, [1, classes.length]);
        }
        const frame = toFrame((await session.run(feeds)).image, true);
        scope.postMessage({ id, frame, classes }, [frame.rgba.buffer]);
        return;
      }
      case 'style': {
        const [ort, { session }] = await Promise.all([loadOrt(), modelOf(q.run)]);
        const t0 = performance.now();
        const { stylised } = await session.run({
          image: new ort.Tensor('float32', fromFrame(q.frame), [1, 3, q.frame.height, q.frame.width]),
        });
        const frame = toFrame(stylised, false);
        scope.postMessage({ id, frame, ms: performance.now() - t0 }, [frame.rgba.buffer]);
        return;
      }
    }
  } catch (e) {
    cancelled.delete(id);
    scope.postMessage({ id, error: (e as Error).message });
  }
}

scope.onmessage = (e) => void answer(e.data);
