// safetensors: an 8-byte little-endian header length, a JSON header, then raw little-endian
// tensor bytes (https://github.com/huggingface/safetensors, format section).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { readFileOrExplain, writeFileAtomic } from './files.js';
import { tensor, type Tensor, type DType } from '../torch/index.js';
import { viewAs } from '../torch/dtype.js';

const TO_ST: Record<DType, string> = {
  float64: 'F64',
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const FROM_ST = new Map(Object.entries(TO_ST).map(([k, v]) => [v, k as DType]));
const SIZE: Record<DType, number> = {
  float64: 8,
  float32: 4,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

export interface SafetensorsContents {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/** Serialises tensors (and string metadata) to safetensors bytes. */
export function encodeSafetensors(tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const name of [...tensors.keys()].sort()) {
    const t = tensors.get(name)!;
    const data = t.data();
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    header[name] = { dtype: TO_ST[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8); // keeps the data 8-byte aligned
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([head, Buffer.from(json), ...chunks]);
}

/** Parses safetensors bytes; `what` names the source in error messages. */
export function decodeSafetensors(buf: Buffer, what = 'the data'): SafetensorsContents {
  const bad = (why: string) => new Error(`${what} is not a valid safetensors file: ${why}`);
  if (buf.length < 8) throw bad('it is shorter than its 8-byte header length');
  const n = buf.readBigUInt64LE(0);
  if (n > BigInt(buf.length - 8)) throw bad(`its header claims ${n} bytes but the file has ${buf.length - 8}`);
  let header: Record<string, any>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + Number(n)).toString('utf8'));
  } catch {
    throw bad('its header is not JSON');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    throw bad('its header is not a JSON object');
  const data = buf.subarray(8 + Number(n));
  const tensors = new Map<string, Tensor>();
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const dtype = FROM_ST.get(info?.dtype);
    if (!dtype) throw bad(`tensor ${name} has an unsupported dtype ${JSON.stringify(info?.dtype)}`);
    const shape = info.shape as number[];
    const [begin, end] = info.data_offsets as [number, number];
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
      throw bad(`tensor ${name} has a bad shape`);
    const numel = shape.reduce((a, b) => a * b, 1);
    if (!(
      Number.isInteger(begin) &&
      Number.isInteger(end) &&
      begin >= 0 &&
      end <= data.length &&
      end - begin === numel * SIZE[dtype]
    )) {
      throw bad(`tensor ${name}'s data offsets [${begin}, ${end}] do not fit its shape or the file`);
    }
    // Copy into an aligned buffer: the file's bytes need not sit at a multiple of the element size.
    const bytes = new Uint8Array(end - begin);
    bytes.set(data.subarray(begin, end));
    tensors.set(name, rawTensor(bytes, dtype, shape));
  }
  return { tensors, metadata };
}

/** A tensor from raw little-endian bytes of a dtype. */
export function rawTensor(bytes: Uint8Array, dtype: DType, shape: number[]): Tensor {
  // A copy (a Buffer may be a view into a shared pool), aligned for its element type;
  // 16-bit floats go in as their bits, bool as bytes.
  return tensor(viewAs(dtype, new Uint8Array(bytes).buffer), { shape, dtype });
}

export function saveSafetensors(
  path: string,
  tensors: Map<string, Tensor>,
  metadata: Record<string, string> = {},
): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

export function loadSafetensors(path: string): SafetensorsContents {
  return decodeSafetensors(readFileOrExplain(path), path);
}

/** Only the metadata of a safetensors file: its header is read, not its tensors. */
export function loadSafetensorsMetadata(path: string): Record<string, string> {
  const fd = openSync(path, 'r');
  try {
    const size = Buffer.alloc(8);
    if (readSync(fd, size, 0, 8, 0) < 8)
      throw new Error(`${path} is not a valid safetensors file: it is shorter than its 8-byte header length`);
    const n = Number(size.readBigUInt64LE(0));
    if (n > fstatSync(fd).size - 8)
      throw new Error(`${path} is not a valid safetensors file: its header claims ${n} bytes but the file is shorter`);
    const header = Buffer.alloc(n);
    readSync(fd, header, 0, n, 8);
    try {
      return (JSON.parse(header.toString('utf8')).__metadata__ ?? {}) as Record<string, string>;
    } catch {
      throw new Error(`${path} is not a valid safetensors file: its header is not JSON`);
    }
  } finally {
    closeSync(fd);
  }
}
