// Spectral normalisation (Miyato et al. 2018) as torch.nn.utils.spectral_norm does it: the
// layer's weight is divided by an estimate of its largest singular value, kept by power
// iteration whose vectors u and v are buffers (so checkpoints carry them). One iteration per
// forward in training; none in evaluation. State-dict names are PyTorch's: weight_orig, bias,
// weight_u, weight_v.
import * as T from '../torch/index.js';
import { Tensor, noGrad, tidy } from '../torch/index.js';
import { Module } from './module.js';
import { Conv2d, ConvTranspose2d, Linear } from './layers.js';

/** The layers spectral normalisation applies to. */
export type SpectralLayer = Linear | Conv2d | ConvTranspose2d;

/** x / max(|x|, eps), as torch.nn.functional.normalize. */
function normalize(x: Tensor, eps: number): Tensor {
  return x.div(T.norm(x).clamp(eps));
}

export class SpectralNorm extends Module<[Tensor], Tensor> {
  /** The unnormalised weight (PyTorch's weight_orig), trained. */
  readonly weightOrig: Tensor;
  readonly bias: Tensor | null;
  /** The power iteration's left and right singular vector estimates. */
  readonly u: Tensor;
  readonly v: Tensor;
  /** The weight's dimension that becomes the matrix's rows: 1 for a transposed convolution, as PyTorch. */
  readonly dim: number;
  constructor(
    readonly layer: SpectralLayer,
    readonly opts: { eps?: number; powerIterations?: number } = {},
  ) {
    super();
    this.dim = layer instanceof ConvTranspose2d ? 1 : 0;
    // The layer's own tensors, re-registered here under PyTorch's names; the layer is not a child.
    this.weightOrig = this.registerParameter('weight_orig', layer.weight);
    this.bias = layer.bias ? this.registerParameter('bias', layer.bias) : null;
    const [h, w] = this.matrixShape();
    const eps = this.eps;
    this.u = this.registerBuffer(
      'weight_u',
      tidy(() => normalize(T.randn([h]), eps)),
    );
    this.v = this.registerBuffer(
      'weight_v',
      tidy(() => normalize(T.randn([w]), eps)),
    );
  }
  private get eps(): number {
    return this.opts.eps ?? 1e-12;
  }
  private matrixShape(): [number, number] {
    const shape = this.weightOrig.shape;
    const rows = shape[this.dim];
    return [rows, shape.reduce((a, b) => a * b, 1) / rows];
  }
  /** The weight as a matrix [rows, rest], rows along `dim`. */
  private matrix(): Tensor {
    const w = this.dim === 0 ? this.weightOrig : this.weightOrig.transpose(0, this.dim);
    return w.reshape([w.size(0), -1]);
  }
  /** The normalised weight; in training, first one power-iteration step (per forward) updates u and v in place. */
  weight(): Tensor {
    const m = this.matrix();
    if (this.training) {
      noGrad(() => {
        for (let i = 0; i < (this.opts.powerIterations ?? 1); i++) {
          this.v.copy_(normalize(T.matmul(m.t(), this.u), this.eps));
          this.u.copy_(normalize(T.matmul(m, this.v), this.eps));
        }
      });
    }
    const sigma = T.dot(this.u, T.matmul(m, this.v));
    return this.weightOrig.div(sigma);
  }
  override forward(x: Tensor): Tensor {
    const l = this.layer;
    const w = this.weight();
    if (l instanceof Linear) return T.linear(x, w, this.bias);
    if (l instanceof Conv2d) return T.conv2d(x, w, this.bias, l.stride, l.padding, l.dilation, l.groups);
    return T.convTranspose2d(x, w, this.bias, l.stride, l.padding, l.outputPadding, l.groups, l.dilation);
  }
}

/** The layer with its weight spectrally normalised (torch.nn.utils.spectral_norm). */
export function spectralNorm(
  layer: SpectralLayer,
  opts: { eps?: number; powerIterations?: number } = {},
): SpectralNorm {
  return new SpectralNorm(layer, opts);
}
