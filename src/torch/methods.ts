// Hand-written Tensor methods where PyTorch's API takes a Tensor or a number, or has
// several overloads behind one name; each picks the generated op that fits.
import * as ops from './ops.generated.js';
import { backward, type BackwardOptions } from './autograd.js';
import { Tensor } from './tensor.js';
import type { DType } from './dtype.js';

type Operand = Tensor | number;

export interface ReduceOptions {
  dim?: number | number[];
  keepdim?: boolean;
}

declare module './tensor.js' {
  interface Tensor {
    add(other: Operand, alpha?: number): Tensor;
    sub(other: Operand, alpha?: number): Tensor;
    mul(other: Operand): Tensor;
    div(other: Operand): Tensor;
    pow(exponent: Operand): Tensor;
    add_(other: Operand, alpha?: number): Tensor;
    sub_(other: Tensor, alpha?: number): Tensor;
    mul_(other: Operand): Tensor;
    div_(other: Operand): Tensor;
    eq(other: Operand): Tensor;
    lt(other: Operand): Tensor;
    gt(other: Operand): Tensor;
    le(other: number): Tensor;
    ge(other: number): Tensor;
    ne(other: number): Tensor;
    sum(opts?: ReduceOptions | number): Tensor;
    mean(opts?: ReduceOptions | number): Tensor;
    max(): Tensor;
    max(dim: number, keepdim?: boolean): [Tensor, Tensor];
    min(): Tensor;
    min(dim: number, keepdim?: boolean): [Tensor, Tensor];
    /** Converts dtype and/or device; returns this same tensor when nothing changes. */
    to(target: DType | string | { dtype?: DType; device?: string }): Tensor;
    float(): Tensor;
    long(): Tensor;
    backward(gradient?: Tensor, opts?: BackwardOptions): void;
  }
}

const P = Tensor.prototype;

P.add = function (this: Tensor, other: Operand, alpha?: number) {
  return typeof other === 'number' ? ops.addScalar(this, other, alpha) : ops.addTensor(this, other, alpha);
};
P.sub = function (this: Tensor, other: Operand, alpha?: number) {
  return typeof other === 'number' ? ops.subScalar(this, other, alpha) : ops.subTensor(this, other, alpha);
};
P.mul = function (this: Tensor, other: Operand) {
  return typeof other === 'number' ? ops.mulScalar(this, other) : ops.mulTensor(this, other);
};
P.div = function (this: Tensor, other: Operand) {
  return typeof other === 'number' ? ops.divScalar(this, other) : ops.divTensor(this, other);
};
P.pow = function (this: Tensor, exponent: Operand) {
  return typeof exponent === 'number' ? ops.powScalar(this, exponent) : ops.powTensor(this, exponent);
};
P.add_ = function (this: Tensor, other: Operand, alpha?: number) {
  return typeof other === 'number' ? ops.addScalar_(this, other, alpha) : ops.addTensor_(this, other, alpha);
};
P.sub_ = function (this: Tensor, other: Tensor, alpha?: number) {
  return ops.subTensor_(this, other, alpha);
};
P.mul_ = function (this: Tensor, other: Operand) {
  return typeof other === 'number' ? ops.mulScalar_(this, other) : ops.mulTensor_(this, other);
};
P.div_ = function (this: Tensor, other: Operand) {
  return typeof other === 'number' ? ops.divScalar_(this, other) : ops.divTensor_(this, other);
};
P.eq = function (this: Tensor, other: Operand) {
  return typeof other === 'number' ? ops.eqScalar(this, other) : ops.eqTensor(this, other);
};
P.lt = function (this: Tensor, other: Operand) {
  return typeof other === 'number' ? ops.ltScalar(this, other) : ops.ltTensor(this, other);
};
P.gt = function (this: Tensor, other: Operand) {
  return typeof other === 'number' ? ops.gtScalar(this, other) : ops.gtTensor(this, other);
};
P.le = function (this: Tensor, other: number) {
  return ops.leScalar(this, other);
};
P.ge = function (this: Tensor, other: number) {
  return ops.geScalar(this, other);
};
P.ne = function (this: Tensor, other: number) {
  return ops.neScalar(this, other);
};

function reduceArgs(opts: ReduceOptions | number | undefined): ReduceOptions | undefined {
  return typeof opts === 'number' ? { dim: opts } : opts;
}
P.sum = function (this: Tensor, opts?: ReduceOptions | number) {
  const o = reduceArgs(opts);
  return o?.dim === undefined ? ops.sumAll(this) : ops.sumDim(this, o.dim, o.keepdim);
};
P.mean = function (this: Tensor, opts?: ReduceOptions | number) {
  const o = reduceArgs(opts);
  return o?.dim === undefined ? ops.meanAll(this) : ops.meanDim(this, o.dim, o.keepdim);
};
P.max = function (this: Tensor, dim?: number, keepdim?: boolean): any {
  return dim === undefined ? ops.maxAll(this) : ops.maxDim(this, dim, keepdim);
};
P.min = function (this: Tensor, dim?: number, keepdim?: boolean): any {
  return dim === undefined ? ops.minAll(this) : ops.minDim(this, dim, keepdim);
};

const DTYPES = new Set([
  'uint8',
  'int8',
  'int16',
  'int32',
  'int64',
  'float16',
  'float32',
  'float64',
  'bool',
  'bfloat16',
]);
P.to = function (this: Tensor, target: DType | string | { dtype?: DType; device?: string }) {
  const t =
    typeof target === 'string' ? (DTYPES.has(target) ? { dtype: target as DType } : { device: target }) : target;
  const dtype = t.dtype ?? this.dtype;
  const device = t.device ?? this.device;
  if (dtype === this.dtype && device === this.device) return this;
  return ops.toDevice(this, device, dtype);
};
P.float = function (this: Tensor) {
  return ops.toDtype(this, 'float32');
};
P.long = function (this: Tensor) {
  return ops.toDtype(this, 'int64');
};
P.backward = function (this: Tensor, gradient?: Tensor, opts?: BackwardOptions) {
  backward(this, gradient ?? null, opts);
};
