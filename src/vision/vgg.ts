// VGG19's convolutional part with torchvision's parameter names (features.0 ... features.34)
// and Keras's endpoint names (block1_conv1 ... block5_conv4, block1_pool ... block5_pool).
import * as T from '../torch/index.js';
import { Tensor } from '../torch/index.js';
import { Conv2d, Module, ModuleDict } from '../nn/index.js';

const BLOCKS = [2, 2, 4, 4, 4];
const CHANNELS = [64, 128, 256, 512, 512];

export class VGG19 extends Module {
  readonly arch = 'vgg19' as const;
  /** Stages in network order: a convolution (with its ReLU) or a pooling, each with its Keras name. */
  private readonly stages: { name: string; conv?: Conv2d }[] = [];

  /** `width` shrinks every layer's channels, for tests with tiny networks. */
  constructor(opts: { width?: number } = {}) {
    super();
    const width = opts.width ?? 1;
    // torchvision's sparse indices ("0", "2", "5", ...): its ReLUs and pools count as layers.
    const features = this.registerModule('features', new ModuleDict<Conv2d>());
    let index = 0;
    let inC = 3;
    BLOCKS.forEach((convs, b) => {
      const outC = Math.max(1, Math.round(CHANNELS[b] * width));
      for (let i = 0; i < convs; i++) {
        const conv = features.set(String(index), new Conv2d(inC, outC, 3, { padding: 1 }));
        this.stages.push({ name: `block${b + 1}_conv${i + 1}`, conv });
        index += 2; // torchvision counts the ReLU as a layer
        inC = outC;
      }
      this.stages.push({ name: `block${b + 1}_pool` });
      index += 1;
    });
    this.eval();
  }

  get endpointNames(): string[] {
    return this.stages.map((s) => s.name);
  }

  hasEndpoint(name: string): boolean {
    return this.stages.some((s) => s.name === name);
  }

  endpoints(x: Tensor, names: string[]): Map<string, Tensor> {
    const idx = names.map((n) => {
      const i = this.stages.findIndex((s) => s.name === n);
      if (i < 0) throw new Error(`VGG19 has no layer "${n}"; valid layers: ${this.endpointNames.join(', ')}`);
      return i;
    });
    const last = Math.max(...idx);
    const out = new Map<string, Tensor>();
    let y = x;
    for (let i = 0; i <= last; i++) {
      const s = this.stages[i];
      y = s.conv ? s.conv.forward(y).relu_() : T.maxPool2d(y, [2, 2], [2, 2]);
      idx.forEach((j, k) => j === i && out.set(names[k], y));
    }
    return out;
  }
}
