// The feed-forward style network of Johnson et al., with Ulyanov's instance normalisation:
// three convolutions down, residual blocks, two upsampling convolutions and one out.
import * as T from '../../torch/index.js';
import { Tensor } from '../../torch/index.js';
import { Conv2d, InstanceNorm2d, Module, ModuleList, ReflectionPad2d } from '../../nn/index.js';
import { resize } from '../../io/images.js';

/** Reflection padding, convolution, instance norm, optional ReLU; optional ×2 nearest upsample first. */
export class ConvLayer extends Module {
  readonly pad: ReflectionPad2d;
  readonly conv: Conv2d;
  readonly norm: InstanceNorm2d | null;
  constructor(
    inC: number,
    outC: number,
    k: number,
    opts: { stride?: number; upsample?: boolean; norm?: boolean; relu?: boolean } = {},
  ) {
    super();
    this.pad = this.registerModule('pad', new ReflectionPad2d(Math.floor(k / 2)));
    this.conv = this.registerModule('conv', new Conv2d(inC, outC, k, { stride: opts.stride ?? 1 }));
    this.norm = opts.norm === false ? null : this.registerModule('norm', new InstanceNorm2d(outC));
    this.upsample = Boolean(opts.upsample);
    this.relu = opts.relu !== false;
  }
  readonly upsample: boolean;
  readonly relu: boolean;
  override forward(x: Tensor): Tensor {
    // Nearest upsampling then a convolution: transposed convolutions leave checkerboards.
    let y = this.upsample ? T.upsampleNearest2d(x, null, [2, 2]) : x;
    y = this.conv.forward(this.pad.forward(y));
    if (this.norm) y = this.norm.forward(y);
    return this.relu ? T.relu(y) : y;
  }
}

export class Residual extends Module {
  readonly a: ConvLayer;
  readonly b: ConvLayer;
  constructor(c: number) {
    super();
    this.a = this.registerModule('a', new ConvLayer(c, c, 3));
    this.b = this.registerModule('b', new ConvLayer(c, c, 3, { relu: false }));
  }
  override forward(x: Tensor): Tensor {
    return this.b.forward(this.a.forward(x)).add(x);
  }
}

export interface StyleNetShape {
  /** Channels of the first layer (32 in Johnson et al.); the rest are 2x and 4x. */
  width: number;
  residualBlocks: number;
}

/** Image in [0, 1] → stylised image in [0, 1] (sigmoid output), any size (multiples of 4 keep it exact). */
export class StyleNet extends Module {
  readonly layers: ModuleList;
  constructor(readonly shape: StyleNetShape = { width: 32, residualBlocks: 5 }) {
    super();
    const c = shape.width;
    const l = new ModuleList();
    l.push(new ConvLayer(3, c, 9));
    l.push(new ConvLayer(c, 2 * c, 3, { stride: 2 }));
    l.push(new ConvLayer(2 * c, 4 * c, 3, { stride: 2 }));
    for (let i = 0; i < shape.residualBlocks; i++) l.push(new Residual(4 * c));
    l.push(new ConvLayer(4 * c, 2 * c, 3, { upsample: true }));
    l.push(new ConvLayer(2 * c, c, 3, { upsample: true }));
    l.push(new ConvLayer(c, 3, 9, { norm: false, relu: false }));
    this.layers = this.registerModule('layers', l);
  }
  override forward(x: Tensor): Tensor {
    const [, , h, w] = x.shape;
    let y = x;
    for (const m of this.layers.items) y = (m as ConvLayer).forward(y);
    // Strided layers round odd sizes down; bring the output back to the input's size.
    if (y.shape[2] !== h || y.shape[3] !== w) y = resize(y, h, w);
    return T.sigmoid(y);
  }
}
