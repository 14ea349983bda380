// Reads TF.js LayersModels: the standard layout (model.json + .bin shards) and nsfwjs's, where
// the JSON and each shard are CommonJS modules (model.min.js exports the JSON, each
// group1-shardNofM.min.js a base64 string). Quantised weights are dequantised here.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { halfToFloat } from '../torch/float16.js';
import { addKerasArray, type KerasWeights } from './keras-weights.js';

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: 'uint8' | 'uint16' | 'float16'; min?: number; scale?: number };
}
export interface TfjsModel {
  /** The Keras model topology (model_config etc.). */
  topology: any;
  specs: TfjsWeightSpec[];
  data: Buffer;
}

const require = createRequire(import.meta.url);

/** Loads a TF.js LayersModel from a folder (or a model.json / model.min.js file). */
export function readTfjsModel(where: string): TfjsModel {
  if (!existsSync(where)) throw new Error(`cannot read TF.js model ${where}: no such file or folder`);
  const dir = where.endsWith('.js') || where.endsWith('.json') ? path.dirname(where) : where;
  const jsonFile = ['model.json', 'model.min.js'].map((f) => path.join(dir, f)).find((f) => existsSync(f));
  if (!jsonFile) throw new Error(`${dir} holds no TF.js model (model.json or model.min.js)`);
  let manifest: any;
  try {
    manifest = jsonFile.endsWith('.json')
      ? JSON.parse(readFileSync(jsonFile, 'utf8'))
      : require(path.resolve(jsonFile));
  } catch (e) {
    throw new Error(`cannot read TF.js model ${jsonFile}: ${(e as Error).message.split('\n')[0]}`, { cause: e });
  }
  if (!manifest?.modelTopology || !Array.isArray(manifest.weightsManifest)) {
    throw new Error(`${jsonFile} is not a TF.js LayersModel (no modelTopology or weightsManifest)`);
  }
  const specs: TfjsWeightSpec[] = [];
  const shards: Buffer[] = [];
  for (const group of manifest.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths as string[]) shards.push(readShard(dir, p));
  }
  return { topology: manifest.modelTopology, specs, data: Buffer.concat(shards) };
}

function readShard(dir: string, p: string): Buffer {
  // A shard is named relative to the model's folder: a path that leaves it (../, absolute)
  // would read any file the user can, so it is refused.
  const inside = path.relative(path.resolve(dir), path.resolve(dir, String(p)));
  if (typeof p !== 'string' || inside === '' || inside.startsWith('..') || path.isAbsolute(inside))
    throw new Error(`the TF.js model's weight shard path '${p}' leaves its folder ${dir}; shards must lie inside it`);
  const bin = path.join(dir, p);
  if (existsSync(bin)) return readFileSync(bin);
  const js = path.join(dir, `${p}.min.js`);
  if (existsSync(js)) {
    const b64 = require(path.resolve(js));
    if (typeof b64 !== 'string') throw new Error(`${js} does not export a base64 weight shard`);
    return Buffer.from(b64, 'base64');
  }
  const near = readdirSync(dir).filter((f) => f.startsWith(path.basename(p)));
  throw new Error(
    `the TF.js model's weight shard ${p} is missing from ${dir}${near.length ? ` (found ${near.join(', ')})` : ''}`,
  );
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, uint8: 1, uint16: 2, float16: 2, bool: 1 };

/** Every weight as float32, keyed by Keras layer and weight name. */
export function tfjsWeights(model: TfjsModel): KerasWeights {
  const kw: KerasWeights = new Map();
  let offset = 0;
  for (const spec of model.specs) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const q = spec.quantization;
    const bytes = n * BYTES[q ? q.dtype : spec.dtype];
    if (!bytes && n) throw new Error(`weight ${spec.name} has an unsupported type ${q?.dtype ?? spec.dtype}`);
    if (offset + bytes > model.data.length) {
      throw new Error(
        `the TF.js weight shards end early: ${spec.name} needs bytes ${offset}..${offset + bytes}, the shards hold ${model.data.length}`,
      );
    }
    const raw = model.data.subarray(offset, offset + bytes);
    const out = new Float32Array(n);
    if (!q) {
      if (spec.dtype !== 'float32')
        throw new Error(`weight ${spec.name} is ${spec.dtype}; only float32 weights are read`);
      out.set(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + bytes)));
    } else if (q.dtype === 'float16') {
      for (let i = 0; i < n; i++) out[i] = halfToFloat(raw.readUInt16LE(2 * i));
    } else {
      // Affine quantisation: value = q * scale + min.
      const { min = 0, scale = 1 } = q;
      for (let i = 0; i < n; i++) out[i] = (q.dtype === 'uint8' ? raw[i] : raw.readUInt16LE(2 * i)) * scale + min;
    }
    addKerasArray(kw, spec.name, { shape: spec.shape, data: out });
    offset += bytes;
  }
  return kw;
}

/** nsfwjs's models, shipped inside the npm package, by their folder names; with the names users know. */
const NSFWJS_MODELS = { inception_v3: 'InceptionV3', mobilenet_v2: 'MobileNetV2' } as const;

/** One of nsfwjs's models (inception_v3, mobilenet_v2), shipped inside the npm package. */
export function nsfwjsModelFolder(model: keyof typeof NSFWJS_MODELS): string {
  let pkg: string;
  try {
    pkg = require.resolve('nsfwjs'); // dist/cjs/index.js
  } catch {
    throw new Error(
      `the built-in ${NSFWJS_MODELS[model]} comes from the npm package nsfwjs, which is not installed (run npm install)`,
    );
  }
  return path.join(path.dirname(path.dirname(pkg)), 'models', model);
}

export const nsfwjsInceptionFolder = (): string => nsfwjsModelFolder('inception_v3');
