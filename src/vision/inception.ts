// InceptionV3 with torchvision's parameter names (Conv2d_1a_3x3 ... Mixed_7c), named endpoints
// that also answer to Keras's names (mixed0 ... mixed10), any input size of at least 75².
import * as T from '../torch/index.js';
import { Tensor } from '../torch/index.js';
import { BatchNorm2d, Conv2d, Linear, Module, ModuleList } from '../nn/index.js';

type Pair = [number, number];

export interface InceptionOptions {
  /**
   * Keras/TF average pooling with 'same' padding divides by the number of real pixels;
   * torchvision's counts the zero padding too. The weights were trained with one of them.
   */
  poolIncludesPadding?: boolean;
  /** Classifier on top: none (features only), torchvision's ImageNet fc, or nsfwjs's 3-layer head. */
  head?: 'none' | 'imagenet' | 'nsfwjs';
  /** Channel multiplier, for tests with tiny networks; 1 is the real InceptionV3. */
  width?: number;
}

/** Convolution without bias, batch normalisation (eps 0.001, as both Keras and torchvision), ReLU. */
export class BasicConv2d extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(
    inC: number,
    outC: number,
    kernel: number | Pair,
    opts: { stride?: number; padding?: number | Pair } = {},
  ) {
    super();
    this.conv = this.registerModule(
      'conv',
      new Conv2d(inC, outC, kernel, { bias: false, stride: opts.stride, padding: opts.padding }),
    );
    this.bn = this.registerModule('bn', new BatchNorm2d(outC, { eps: 0.001 }));
  }
  override forward(x: Tensor): Tensor {
    return this.bn.forward(this.conv.forward(x)).relu_(); // in place, as torchvision: one activation less in memory
  }
}

type Block = Module<[Tensor], Tensor> & { outChannels: number };

class Pooling {
  constructor(readonly includePadding: boolean) {}
  avg3(x: Tensor): Tensor {
    return T.avgPool2d(x, [3, 3], [1, 1], [1, 1], false, this.includePadding);
  }
}
const maxPool = (x: Tensor): Tensor => T.maxPool2d(x, [3, 3], [2, 2]);

class InceptionA extends Module {
  readonly outChannels: number;
  private readonly c: Record<string, BasicConv2d> = {};
  constructor(
    inC: number,
    poolFeatures: number,
    w: (c: number) => number,
    private readonly pool: Pooling,
  ) {
    super();
    const c = this.c;
    c.b1 = this.registerModule('branch1x1', new BasicConv2d(inC, w(64), 1));
    c.b5_1 = this.registerModule('branch5x5_1', new BasicConv2d(inC, w(48), 1));
    c.b5_2 = this.registerModule('branch5x5_2', new BasicConv2d(w(48), w(64), 5, { padding: 2 }));
    c.d1 = this.registerModule('branch3x3dbl_1', new BasicConv2d(inC, w(64), 1));
    c.d2 = this.registerModule('branch3x3dbl_2', new BasicConv2d(w(64), w(96), 3, { padding: 1 }));
    c.d3 = this.registerModule('branch3x3dbl_3', new BasicConv2d(w(96), w(96), 3, { padding: 1 }));
    c.p = this.registerModule('branch_pool', new BasicConv2d(inC, poolFeatures, 1));
    this.outChannels = w(64) + w(64) + w(96) + poolFeatures;
  }
  override forward(x: Tensor): Tensor {
    const c = this.c;
    return T.cat(
      [
        c.b1.forward(x),
        c.b5_2.forward(c.b5_1.forward(x)),
        c.d3.forward(c.d2.forward(c.d1.forward(x))),
        c.p.forward(this.pool.avg3(x)),
      ],
      1,
    );
  }
}

class InceptionB extends Module {
  readonly outChannels: number;
  private readonly c: Record<string, BasicConv2d> = {};
  constructor(inC: number, w: (c: number) => number) {
    super();
    const c = this.c;
    c.b3 = this.registerModule('branch3x3', new BasicConv2d(inC, w(384), 3, { stride: 2 }));
    c.d1 = this.registerModule('branch3x3dbl_1', new BasicConv2d(inC, w(64), 1));
    c.d2 = this.registerModule('branch3x3dbl_2', new BasicConv2d(w(64), w(96), 3, { padding: 1 }));
    c.d3 = this.registerModule('branch3x3dbl_3', new BasicConv2d(w(96), w(96), 3, { stride: 2 }));
    this.outChannels = w(384) + w(96) + inC;
  }
  override forward(x: Tensor): Tensor {
    const c = this.c;
    return T.cat([c.b3.forward(x), c.d3.forward(c.d2.forward(c.d1.forward(x))), maxPool(x)], 1);
  }
}

class InceptionC extends Module {
  readonly outChannels: number;
  private readonly c: Record<string, BasicConv2d> = {};
  constructor(
    inC: number,
    c7: number,
    w: (c: number) => number,
    private readonly pool: Pooling,
  ) {
    super();
    const c = this.c;
    const row: { padding: Pair } = { padding: [0, 3] };
    const col: { padding: Pair } = { padding: [3, 0] };
    c.b1 = this.registerModule('branch1x1', new BasicConv2d(inC, w(192), 1));
    c.s1 = this.registerModule('branch7x7_1', new BasicConv2d(inC, c7, 1));
    c.s2 = this.registerModule('branch7x7_2', new BasicConv2d(c7, c7, [1, 7], row));
    c.s3 = this.registerModule('branch7x7_3', new BasicConv2d(c7, w(192), [7, 1], col));
    c.d1 = this.registerModule('branch7x7dbl_1', new BasicConv2d(inC, c7, 1));
    c.d2 = this.registerModule('branch7x7dbl_2', new BasicConv2d(c7, c7, [7, 1], col));
    c.d3 = this.registerModule('branch7x7dbl_3', new BasicConv2d(c7, c7, [1, 7], row));
    c.d4 = this.registerModule('branch7x7dbl_4', new BasicConv2d(c7, c7, [7, 1], col));
    c.d5 = this.registerModule('branch7x7dbl_5', new BasicConv2d(c7, w(192), [1, 7], row));
    c.p = this.registerModule('branch_pool', new BasicConv2d(inC, w(192), 1));
    this.outChannels = 4 * w(192);
  }
  override forward(x: Tensor): Tensor {
    const c = this.c;
    return T.cat(
      [
        c.b1.forward(x),
        c.s3.forward(c.s2.forward(c.s1.forward(x))),
        c.d5.forward(c.d4.forward(c.d3.forward(c.d2.forward(c.d1.forward(x))))),
        c.p.forward(this.pool.avg3(x)),
      ],
      1,
    );
  }
}

class InceptionD extends Module {
  readonly outChannels: number;
  private readonly c: Record<string, BasicConv2d> = {};
  constructor(inC: number, w: (c: number) => number) {
    super();
    const c = this.c;
    c.a1 = this.registerModule('branch3x3_1', new BasicConv2d(inC, w(192), 1));
    c.a2 = this.registerModule('branch3x3_2', new BasicConv2d(w(192), w(320), 3, { stride: 2 }));
    c.b1 = this.registerModule('branch7x7x3_1', new BasicConv2d(inC, w(192), 1));
    c.b2 = this.registerModule('branch7x7x3_2', new BasicConv2d(w(192), w(192), [1, 7], { padding: [0, 3] }));
    c.b3 = this.registerModule('branch7x7x3_3', new BasicConv2d(w(192), w(192), [7, 1], { padding: [3, 0] }));
    c.b4 = this.registerModule('branch7x7x3_4', new BasicConv2d(w(192), w(192), 3, { stride: 2 }));
    this.outChannels = w(320) + w(192) + inC;
  }
  override forward(x: Tensor): Tensor {
    const c = this.c;
    return T.cat(
      [c.a2.forward(c.a1.forward(x)), c.b4.forward(c.b3.forward(c.b2.forward(c.b1.forward(x)))), maxPool(x)],
      1,
    );
  }
}

class InceptionE extends Module {
  readonly outChannels: number;
  private readonly c: Record<string, BasicConv2d> = {};
  constructor(
    inC: number,
    w: (c: number) => number,
    private readonly pool: Pooling,
  ) {
    super();
    const c = this.c;
    c.b1 = this.registerModule('branch1x1', new BasicConv2d(inC, w(320), 1));
    c.s1 = this.registerModule('branch3x3_1', new BasicConv2d(inC, w(384), 1));
    c.s2a = this.registerModule('branch3x3_2a', new BasicConv2d(w(384), w(384), [1, 3], { padding: [0, 1] }));
    c.s2b = this.registerModule('branch3x3_2b', new BasicConv2d(w(384), w(384), [3, 1], { padding: [1, 0] }));
    c.d1 = this.registerModule('branch3x3dbl_1', new BasicConv2d(inC, w(448), 1));
    c.d2 = this.registerModule('branch3x3dbl_2', new BasicConv2d(w(448), w(384), 3, { padding: 1 }));
    c.d3a = this.registerModule('branch3x3dbl_3a', new BasicConv2d(w(384), w(384), [1, 3], { padding: [0, 1] }));
    c.d3b = this.registerModule('branch3x3dbl_3b', new BasicConv2d(w(384), w(384), [3, 1], { padding: [1, 0] }));
    c.p = this.registerModule('branch_pool', new BasicConv2d(inC, w(192), 1));
    this.outChannels = w(320) + 4 * w(384) + w(192);
  }
  override forward(x: Tensor): Tensor {
    const c = this.c;
    const s = c.s1.forward(x);
    const d = c.d2.forward(c.d1.forward(x));
    return T.cat(
      [
        c.b1.forward(x),
        T.cat([c.s2a.forward(s), c.s2b.forward(s)], 1),
        T.cat([c.d3a.forward(d), c.d3b.forward(d)], 1),
        c.p.forward(this.pool.avg3(x)),
      ],
      1,
    );
  }
}

/** Keras's block names, in network order, for the torchvision blocks. */
export const INCEPTION_KERAS_NAMES: Record<string, string> = {
  mixed0: 'Mixed_5b',
  mixed1: 'Mixed_5c',
  mixed2: 'Mixed_5d',
  mixed3: 'Mixed_6a',
  mixed4: 'Mixed_6b',
  mixed5: 'Mixed_6c',
  mixed6: 'Mixed_6d',
  mixed7: 'Mixed_6e',
  mixed8: 'Mixed_7a',
  mixed9: 'Mixed_7b',
  mixed10: 'Mixed_7c',
};

export class InceptionV3 extends Module {
  readonly arch = 'inception' as const;
  /** Stages in order: [name, forward]; the endpoints are their outputs. */
  private readonly stages: [string, (x: Tensor) => Tensor][] = [];
  readonly headKind: 'none' | 'imagenet' | 'nsfwjs';
  private readonly headLayers: Linear[] = [];
  readonly featureChannels: number;

  constructor(readonly opts: InceptionOptions = {}) {
    super();
    const width = opts.width ?? 1;
    const w = (c: number): number => Math.max(1, Math.round(c * width));
    const pool = new Pooling(opts.poolIncludesPadding ?? true);
    const conv = (name: string, m: BasicConv2d): void => {
      this.registerModule(name, m);
      this.stages.push([name, (x) => m.forward(x)]);
    };
    conv('Conv2d_1a_3x3', new BasicConv2d(3, w(32), 3, { stride: 2 }));
    conv('Conv2d_2a_3x3', new BasicConv2d(w(32), w(32), 3));
    conv('Conv2d_2b_3x3', new BasicConv2d(w(32), w(64), 3, { padding: 1 }));
    this.stages.push(['maxpool1', maxPool]);
    conv('Conv2d_3b_1x1', new BasicConv2d(w(64), w(80), 1));
    conv('Conv2d_4a_3x3', new BasicConv2d(w(80), w(192), 3));
    this.stages.push(['maxpool2', maxPool]);
    let c = w(192);
    const block = (name: string, m: Block): void => {
      this.registerModule(name, m);
      this.stages.push([name, (x) => m.forward(x)]);
      c = m.outChannels;
    };
    block('Mixed_5b', new InceptionA(c, w(32), w, pool));
    block('Mixed_5c', new InceptionA(c, w(64), w, pool));
    block('Mixed_5d', new InceptionA(c, w(64), w, pool));
    block('Mixed_6a', new InceptionB(c, w));
    block('Mixed_6b', new InceptionC(c, w(128), w, pool));
    block('Mixed_6c', new InceptionC(c, w(160), w, pool));
    block('Mixed_6d', new InceptionC(c, w(160), w, pool));
    block('Mixed_6e', new InceptionC(c, w(192), w, pool));
    block('Mixed_7a', new InceptionD(c, w));
    block('Mixed_7b', new InceptionE(c, w, pool));
    block('Mixed_7c', new InceptionE(c, w, pool));
    this.featureChannels = c;
    this.headKind = opts.head ?? 'none';
    if (this.headKind === 'imagenet') {
      this.headLayers.push(this.registerModule('fc', new Linear(c, 1000)));
    } else if (this.headKind === 'nsfwjs') {
      const head = this.registerModule('head', new ModuleList<Linear>());
      for (const [i, o] of [
        [c, w(256)],
        [w(256), w(128)],
        [w(128), 5],
      ]) {
        const l = new Linear(i, o);
        head.push(l);
        this.headLayers.push(l);
      }
    }
    this.eval();
  }

  /** Endpoint names a user may ask for: Keras's and torchvision's. */
  get endpointNames(): string[] {
    return [...Object.keys(INCEPTION_KERAS_NAMES), ...this.stages.map(([n]) => n)];
  }

  private stageIndex(name: string): number {
    const canonical = INCEPTION_KERAS_NAMES[name] ?? name;
    return this.stages.findIndex(([n]) => n === canonical);
  }

  hasEndpoint(name: string): boolean {
    return this.stageIndex(name) >= 0;
  }

  /** Runs the network only as far as the deepest requested endpoint. */
  endpoints(x: Tensor, names: string[]): Map<string, Tensor> {
    const wanted = new Map<number, string[]>();
    for (const n of names) {
      const i = this.stageIndex(n);
      if (i < 0) throw new Error(`InceptionV3 has no layer "${n}"; valid layers: ${this.endpointNames.join(', ')}`);
      wanted.set(i, [...(wanted.get(i) ?? []), n]);
    }
    const last = Math.max(...wanted.keys());
    const out = new Map<string, Tensor>();
    let y = x;
    for (let i = 0; i <= last; i++) {
      const input = y;
      // Each stage in a scope of its own, and a stage's output freed once the next has read it
      // (unless asked for): what autograd saved lives on in its graph, the rest goes back to the
      // cache while still in the CPU's caches, as PyTorch's reference counting frees it.
      y = T.tidy(() => this.stages[i][1](input));
      if (i > 0 && !wanted.has(i - 1)) input.dispose();
      for (const n of wanted.get(i) ?? []) out.set(n, y);
    }
    return out;
  }

  /** Class probabilities (softmax) from the classifier head. */
  classify(x: Tensor): Tensor {
    if (this.headKind === 'none') throw new Error('this InceptionV3 has no classifier head');
    let y = this.endpoints(x, ['Mixed_7c']).get('Mixed_7c')!;
    y = T.flatten(T.adaptiveAvgPool2d(y, [1, 1]), 1);
    this.headLayers.forEach((l, i) => {
      y = l.forward(y);
      if (i < this.headLayers.length - 1) y = T.relu(y);
    });
    return T.softmax(y, 1);
  }
}
