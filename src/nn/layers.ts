// Layers with PyTorch's parameter names, shapes and default initialisation.
import * as T from '../torch/index.js';
import { Tensor } from '../torch/index.js';
import { Module } from './module.js';
import { glorotUniform_, pytorchDefault_, type Initializer, zeros_, normal_, uniform_ } from './init.js';

type Pair = number | [number, number];

function weightInit(w: Tensor, init: Initializer | undefined, fanIn?: number): void {
  if (init === 'glorot') glorotUniform_(w);
  else pytorchDefault_(w, fanIn);
}

/**
 * A layer's weight of `shape` and its bias of `outputs` (none when opts.bias is false),
 * registered and initialised as PyTorch does (the bias uniform in ±1/sqrt(fanIn)), or
 * Glorot with a zero bias.
 */
function weightAndBias(
  register: (name: string, t: Tensor) => Tensor,
  shape: number[],
  outputs: number,
  fanIn: number,
  opts: { bias?: boolean; init?: Initializer },
): [Tensor, Tensor | null] {
  const weight = register('weight', T.empty(shape));
  weightInit(weight, opts.init);
  const bias = (opts.bias ?? true) ? register('bias', T.empty([outputs])) : null;
  if (bias && opts.init === 'glorot') zeros_(bias);
  else if (bias) pytorchDefault_(bias, fanIn);
  return [weight, bias];
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: { bias?: boolean; init?: Initializer } = {},
  ) {
    super();
    const register = (name: string, t: Tensor) => this.registerParameter(name, t);
    [this.weight, this.bias] = weightAndBias(register, [outFeatures, inFeatures], outFeatures, inFeatures, opts);
  }
  override forward(x: Tensor): Tensor {
    return T.linear(x, this.weight, this.bias);
  }
}

export interface ConvOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
  init?: Initializer;
}

const pair = (p: Pair): [number, number] => (typeof p === 'number' ? [p, p] : p);

/**
 * What Conv2d and ConvTranspose2d share: the geometry, and a weight in PyTorch's layout,
 * (out, in/groups, kh, kw) or, transposed, (in, out/groups, kh, kw), whose fan-in is its
 * second dimension times the kernel's size.
 */
export abstract class Convolution extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    kernelSize: Pair,
    opts: ConvOptions,
    transposed: boolean,
  ) {
    super();
    const [kh, kw] = pair(kernelSize);
    this.stride = pair(opts.stride ?? 1);
    this.padding = pair(opts.padding ?? 0);
    this.dilation = pair(opts.dilation ?? 1);
    this.groups = opts.groups ?? 1;
    const [first, second] = transposed ? [inChannels, outChannels] : [outChannels, inChannels];
    const perGroup = second / this.groups;
    const register = (name: string, t: Tensor) => this.registerParameter(name, t);
    const shape = [first, perGroup, kh, kw];
    [this.weight, this.bias] = weightAndBias(register, shape, outChannels, perGroup * kh * kw, opts);
  }
}

export class Conv2d extends Convolution {
  constructor(inChannels: number, outChannels: number, kernelSize: Pair, opts: ConvOptions = {}) {
    super(inChannels, outChannels, kernelSize, opts, false);
  }
  override forward(x: Tensor): Tensor {
    return T.conv2d(x, this.weight, this.bias, this.stride, this.padding, this.dilation, this.groups);
  }
}

export class ConvTranspose2d extends Convolution {
  readonly outputPadding: [number, number];
  constructor(
    inChannels: number,
    outChannels: number,
    kernelSize: Pair,
    opts: ConvOptions & { outputPadding?: Pair } = {},
  ) {
    super(inChannels, outChannels, kernelSize, opts, true);
    this.outputPadding = pair(opts.outputPadding ?? 0);
  }
  override forward(x: Tensor): Tensor {
    return T.convTranspose2d(
      x,
      this.weight,
      this.bias,
      this.stride,
      this.padding,
      this.outputPadding,
      this.groups,
      this.dilation,
    );
  }
}

export class BatchNorm2d extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  readonly numBatchesTracked: Tensor;
  constructor(
    readonly numFeatures: number,
    readonly opts: { eps?: number; momentum?: number; affine?: boolean } = {},
  ) {
    super();
    const affine = opts.affine ?? true;
    this.weight = affine ? this.registerParameter('weight', T.ones([numFeatures])) : null;
    this.bias = affine ? this.registerParameter('bias', T.zeros([numFeatures])) : null;
    this.runningMean = this.registerBuffer('running_mean', T.zeros([numFeatures]));
    this.runningVar = this.registerBuffer('running_var', T.ones([numFeatures]));
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked', T.zeros([], { dtype: 'int64' }));
  }
  override forward(x: Tensor): Tensor {
    if (this.training) T.noGrad(() => this.numBatchesTracked.add_(1));
    return T.batchNorm(
      x,
      this.weight,
      this.bias,
      this.runningMean,
      this.runningVar,
      this.training,
      this.opts.momentum ?? 0.1,
      this.opts.eps ?? 1e-5,
      false,
    );
  }
}

/** Instance normalisation (per sample and channel), affine by default as fast style nets use it. */
export class InstanceNorm2d extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  constructor(
    readonly numFeatures: number,
    readonly opts: { eps?: number; affine?: boolean } = {},
  ) {
    super();
    const affine = opts.affine ?? true;
    this.weight = affine ? this.registerParameter('weight', T.ones([numFeatures])) : null;
    this.bias = affine ? this.registerParameter('bias', T.zeros([numFeatures])) : null;
  }
  override forward(x: Tensor): Tensor {
    return T.instanceNorm(x, this.weight, this.bias, null, null, true, 0.1, this.opts.eps ?? 1e-5, false);
  }
}

/** Layer normalisation over the last dimension, with PyTorch's names (weight, bias). */
export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.weight = this.registerParameter('weight', T.ones([dim]));
    this.bias = this.registerParameter('bias', T.zeros([dim]));
  }
  override forward(x: Tensor): Tensor {
    return T.layerNorm(x, [this.dim], this.weight, this.bias, this.eps);
  }
}

export class Embedding extends Module {
  readonly weight: Tensor;
  constructor(
    readonly numEmbeddings: number,
    readonly dim: number,
  ) {
    super();
    this.weight = this.registerParameter('weight', T.empty([numEmbeddings, dim]));
    normal_(this.weight);
  }
  override forward(indices: Tensor): Tensor {
    return T.embedding(this.weight, indices);
  }
}

export interface LSTMOptions {
  numLayers?: number;
  bias?: boolean;
  batchFirst?: boolean;
  dropout?: number;
}

/** LSTM state: h and c, each (layers, batch, hidden). */
export type LSTMState = [Tensor, Tensor];

/** A multi-layer LSTM on the fused aten::lstm; names weight_ih_l0, weight_hh_l0, bias_ih_l0, ... as PyTorch. */
export class LSTM extends Module {
  readonly numLayers: number;
  readonly batchFirst: boolean;
  readonly dropout: number;
  readonly hasBias: boolean;
  readonly flat: Tensor[] = [];
  constructor(
    readonly inputSize: number,
    readonly hiddenSize: number,
    opts: LSTMOptions = {},
  ) {
    super();
    this.numLayers = opts.numLayers ?? 1;
    this.batchFirst = opts.batchFirst ?? false;
    this.dropout = opts.dropout ?? 0;
    this.hasBias = opts.bias ?? true;
    const bound = 1 / Math.sqrt(hiddenSize);
    for (let l = 0; l < this.numLayers; l++) {
      const inp = l === 0 ? inputSize : hiddenSize;
      const shapes: [string, number[]][] = [
        [`weight_ih_l${l}`, [4 * hiddenSize, inp]],
        [`weight_hh_l${l}`, [4 * hiddenSize, hiddenSize]],
      ];
      if (this.hasBias) shapes.push([`bias_ih_l${l}`, [4 * hiddenSize]], [`bias_hh_l${l}`, [4 * hiddenSize]]);
      for (const [name, shape] of shapes) {
        const p = this.registerParameter(name, T.empty(shape));
        uniform_(p, -bound, bound);
        this.flat.push(p);
      }
    }
  }
  /** Zero state for a batch. */
  initialState(batch: number): LSTMState {
    const s = [this.numLayers, batch, this.hiddenSize];
    const dev = this.flat[0].device;
    return [T.zeros(s, { device: dev }), T.zeros(s, { device: dev })];
  }
  /** Runs the sequence; returns the top layer's outputs and the final state (to carry on). */
  override forward(x: Tensor, state?: LSTMState): [Tensor, LSTMState] {
    const batch = x.size(this.batchFirst ? 0 : 1);
    const [h0, c0] = state ?? this.initialState(batch);
    const [out, h, c] = T.lstm(
      x,
      [h0, c0],
      this.flat,
      this.hasBias,
      this.numLayers,
      this.dropout,
      this.training,
      false,
      this.batchFirst,
    );
    return [out, [h, c]];
  }
}

export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
  }
  override forward(x: Tensor): Tensor {
    return this.training && this.p > 0 ? T.dropout(x, this.p, true) : x;
  }
}

export class ReLU extends Module {
  override forward(x: Tensor): Tensor {
    return x.relu();
  }
}
export class LeakyReLU extends Module {
  constructor(readonly negativeSlope = 0.01) {
    super();
  }
  override forward(x: Tensor): Tensor {
    return x.leakyRelu(this.negativeSlope);
  }
}
export class Tanh extends Module {
  override forward(x: Tensor): Tensor {
    return x.tanh();
  }
}
export class Sigmoid extends Module {
  override forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}
export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }
  override forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
}
/** Reshapes dimension `dim` into `sizes` (torch.nn.Unflatten); Reshape is the batch-keeping form. */
export class Unflatten extends Module {
  constructor(
    readonly dim: number,
    readonly sizes: number[],
  ) {
    super();
  }
  override forward(x: Tensor): Tensor {
    return x.unflatten(this.dim, this.sizes);
  }
}
export class Reshape extends Module {
  constructor(readonly shape: number[]) {
    super();
  }
  override forward(x: Tensor): Tensor {
    return x.reshape([x.size(0), ...this.shape]);
  }
}
export class Upsample extends Module {
  constructor(
    readonly scaleFactor: number,
    readonly mode: 'nearest' | 'bilinear' = 'nearest',
  ) {
    super();
  }
  override forward(x: Tensor): Tensor {
    const s = [this.scaleFactor, this.scaleFactor];
    return this.mode === 'nearest' ? T.upsampleNearest2d(x, null, s) : T.upsampleBilinear2d(x, null, false, s);
  }
}
export class ReflectionPad2d extends Module {
  readonly padding: number[];
  constructor(padding: number | [number, number, number, number]) {
    super();
    this.padding = typeof padding === 'number' ? [padding, padding, padding, padding] : padding;
  }
  override forward(x: Tensor): Tensor {
    return T.reflectionPad2d(x, this.padding);
  }
}
