// The Tensor class: a JS owner of one native tensor handle, and the scopes that free
// tensors in bulk. Ops are attached to the prototype by ops.generated.ts and methods.ts.
import { native, type Handle } from './native.js';
import { dtypeCode, dtypeName, viewAs, type AnyTypedArray, type DType } from './dtype.js';
import { scopeTrack, scopeForget, type Owned } from './scope.js';
import { halfToFloat } from './float16.js';

export class Tensor {
  /** The native handle; stays set after dispose(), when the addon refuses it. */
  readonly h: Handle;
  /** The scope that will free this tensor (see scope.ts). */
  scope: Set<Owned> | null = null;

  constructor(h: Handle) {
    this.h = h;
    scopeTrack(this);
  }

  get shape(): number[] {
    return native.shape(this.h);
  }
  get ndim(): number {
    return native.shape(this.h).length;
  }
  get numel(): number {
    return native.shape(this.h).reduce((a, b) => a * b, 1);
  }
  get dtype(): DType {
    return dtypeName(native.dtype(this.h));
  }
  get device(): string {
    return native.device(this.h);
  }
  /** Size of one dimension; negative counts from the end. */
  size(dim: number): number {
    const s = this.shape;
    const d = dim < 0 ? s.length + dim : dim;
    if (d < 0 || d >= s.length) throw new Error(`dimension ${dim} is out of range for a ${s.length}-d tensor`);
    return s[d];
  }

  get isDisposed(): boolean {
    return !native.isAlive(this.h);
  }
  /** Frees the native tensor now. Safe to call twice. */
  dispose(): void {
    native.dispose(this.h);
    scopeForget(this);
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
  /** No scope frees it now (scope.ts): its bytes count toward the GC's collections from here. */
  unscoped(): void {
    native.collectable(this.h);
  }

  /** A copy of the elements in row-major order (16-bit floats as raw bits, bool as 0/1). */
  data(): AnyTypedArray {
    return viewAs(this.dtype, native.toBuffer(this.h));
  }
  /** The elements as a flat array of numbers (float16/bfloat16 decoded). */
  toFlatArray(): number[] {
    const dt = this.dtype;
    if (dt === 'float16' || dt === 'bfloat16') {
      const f = native.toBuffer(this.h);
      return Array.from(new Uint16Array(f), dt === 'float16' ? halfToFloat : bfloatToFloat);
    }
    return Array.from(this.data() as ArrayLike<number | bigint>, Number);
  }
  /** The elements as nested arrays, shaped like the tensor. */
  toArray(): NestedArray {
    return nest(this.toFlatArray(), this.shape);
  }
  /** The value of a one-element tensor. */
  item(): number {
    return native.item(this.h);
  }

  get requiresGrad(): boolean {
    return native.requiresGrad(this.h);
  }
  get isLeaf(): boolean {
    return native.isLeaf(this.h);
  }
  /** The accumulated gradient, or null. Each read makes a new handle: dispose it or read it in a scope. */
  get grad(): Tensor | null {
    const g = native.grad(this.h);
    return g === null ? null : new Tensor(g);
  }
  set grad(g: Tensor | null) {
    native.setGrad(this.h, g === null ? null : g.h);
  }

  toString(): string {
    return format(this);
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.isDisposed ? 'tensor(<disposed>)' : format(this);
  }
}

export type NestedArray = number | NestedArray[];

/** Wraps a handle that an op returned (tracked by the current scope). */
export function wrap(h: Handle): Tensor {
  return new Tensor(h);
}
export function wrapAll(hs: Handle[]): Tensor[] {
  return hs.map((h) => new Tensor(h));
}
export function hs(ts: Tensor[]): Handle[] {
  return ts.map((t) => t.h);
}
export function hsOpt(ts: (Tensor | null)[]): (Handle | null)[] {
  return ts.map((t) => (t === null ? null : t.h));
}

// ---- creation from JS data ----------------------------------------------------------------

export type TensorData = NestedArray | boolean | boolean[] | AnyTypedArray;

export interface TensorOptions {
  dtype?: DType;
  shape?: number[];
  device?: string;
  requiresGrad?: boolean;
}

function naturalDtype(data: AnyTypedArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'uint8';
  throw new Error('a Uint16Array is ambiguous: pass dtype float16 or bfloat16');
}

function flatten(data: NestedArray | boolean | boolean[], shape: number[], out: (number | boolean)[], depth = 0): void {
  if (!Array.isArray(data)) {
    if (depth !== shape.length && shape.length > 0)
      throw new Error('nested arrays are ragged: every row must have the same length');
    out.push(data);
    return;
  }
  if (depth === shape.length) shape.push(data.length);
  else if (shape[depth] !== data.length)
    throw new Error('nested arrays are ragged: every row must have the same length');
  for (const d of data) flatten(d as NestedArray, shape, out, depth + 1);
}

/**
 * A new tensor from JS data: nested number arrays (float32 unless dtype says otherwise),
 * booleans, or a typed array (its own dtype, or the one given; `shape` reshapes it).
 */
export function tensor(data: TensorData, opts: TensorOptions = {}): Tensor {
  let h: Handle;
  let natural: DType;
  if (ArrayBuffer.isView(data)) {
    const ta = data as AnyTypedArray;
    natural = ta instanceof Uint16Array ? (opts.dtype === 'bfloat16' ? 'bfloat16' : 'float16') : naturalDtype(ta);
    const shape = opts.shape ?? [ta.length];
    h = native.fromBuffer(ta, shape, dtypeCode(natural));
  } else {
    const shape: number[] = [];
    const flat: (number | boolean)[] = [];
    flatten(data as NestedArray, shape, flat);
    if (flat.length > 0 && typeof flat[0] === 'boolean') {
      natural = 'bool';
      h = native.fromBuffer(
        Uint8Array.from(flat, (b) => (b ? 1 : 0)),
        shape,
        dtypeCode('bool'),
      );
    } else {
      const want = opts.dtype ?? 'float32';
      natural = want === 'float64' || want === 'int64' ? 'float64' : want === 'int32' ? 'int32' : 'float32';
      const arr =
        natural === 'float64'
          ? Float64Array.from(flat as number[])
          : natural === 'int32'
            ? Int32Array.from(flat as number[])
            : Float32Array.from(flat as number[]);
      h = native.fromBuffer(arr, shape, dtypeCode(natural));
    }
    if (opts.shape) {
      const t = new Tensor(h);
      const r = reshapeHandle(t, opts.shape);
      t.dispose();
      h = r.h;
      scopeForget(r);
    }
  }
  let t = new Tensor(h);
  const target = opts.dtype ?? natural;
  if (target !== natural || (opts.device && opts.device !== 'cpu')) {
    const moved = convert(t, target, opts.device ?? 'cpu');
    t.dispose();
    t = moved;
  }
  if (opts.requiresGrad) native.call(requiresGradOp(), t.h, true);
  return t;
}

// Minimal op access for creation, so this module does not import the generated ops.
let toOp: ReturnType<typeof native.op> | undefined;
let reshapeOp: ReturnType<typeof native.op> | undefined;
let reqOp: ReturnType<typeof native.op> | undefined;
function convert(t: Tensor, dtype: DType, device: string): Tensor {
  return new Tensor(native.call((toOp ??= native.op('aten::to', 'device')), t.h, device, dtypeCode(dtype)));
}
function reshapeHandle(t: Tensor, shape: number[]): Tensor {
  return new Tensor(native.call((reshapeOp ??= native.op('aten::reshape', '')), t.h, shape));
}
function requiresGradOp() {
  return (reqOp ??= native.op('aten::requires_grad_', ''));
}

// ---- display --------------------------------------------------------------------------------

function nest(flat: number[], shape: number[]): NestedArray {
  if (shape.length === 0) return flat[0];
  let level: NestedArray[] = flat;
  for (let d = shape.length - 1; d >= 1; d--) {
    const n = shape[d];
    const next: NestedArray[] = [];
    for (let i = 0; i < level.length; i += n) next.push(level.slice(i, i + n));
    level = next;
  }
  return level;
}

function formatNumber(x: number, floating: boolean, decimals: number): string {
  if (!floating) return String(x);
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  return x.toFixed(decimals);
}

// Like PyTorch's repr: rows aligned, long dimensions summarised with "...".
function format(t: Tensor): string {
  const shape = t.shape;
  const dt = t.dtype;
  const floating = dt.startsWith('float') || dt === 'bfloat16';
  const flat = t.toFlatArray();
  const big = flat.length > 1000;
  const maxAbs = flat.reduce((m, x) => (Number.isFinite(x) ? Math.max(m, Math.abs(x)) : m), 0);
  const sci = floating && (maxAbs >= 1e8 || (maxAbs > 0 && maxAbs < 1e-4));
  const cell = (x: number) =>
    dt === 'bool' ? (x ? 'True' : 'False') : sci ? x.toExponential(4) : formatNumber(x, floating, 4);
  const width = flat.reduce((w, x) => Math.max(w, cell(x).length), 0);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const render = (dim: number, offset: number, indent: string): string => {
    if (dim === shape.length) return cell(flat[offset]).padStart(width);
    const n = shape[dim];
    const idx = big && n > 6 ? [0, 1, 2, -1, n - 3, n - 2, n - 1] : Array.from({ length: n }, (_, i) => i);
    const parts = idx.map((i) => (i < 0 ? '...' : render(dim + 1, offset + i * strides[dim], indent + ' ')));
    const sep = dim === shape.length - 1 ? ', ' : ',' + '\n'.repeat(shape.length - dim - 1) + indent + ' ';
    return '[' + parts.join(sep) + ']';
  };
  const body = render(0, 0, ' '.repeat(7));
  const extras: string[] = [];
  if (dt !== 'float32' && dt !== 'int64' && dt !== 'bool') extras.push(`dtype=${dt}`);
  if (t.device !== 'cpu') extras.push(`device='${t.device}'`);
  if (t.requiresGrad) extras.push('requires_grad=True');
  if (shape.includes(0)) extras.unshift(`size=(${shape.join(', ')})`);
  return `tensor(${body}${extras.length ? ', ' + extras.join(', ') : ''})`;
}

function bfloatToFloat(b: number): number {
  const buf = new DataView(new ArrayBuffer(4));
  buf.setUint32(0, b << 16);
  return buf.getFloat32(0);
}
