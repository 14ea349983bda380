// A decoder-only character transformer (GPT): token and learned position embeddings, pre-norm
// blocks of causal multi-head self-attention and a GELU MLP, a final layer norm, and an
// output layer tied to the token embedding. Attention is libtorch's fused
// scaled_dot_product_attention where the libtorch has it (2.x) in float32, else its matmul
// and masked softmax, over all heads at once. The same forward fills a key/value cache when given one,
// so generation costs one position's work per character (see KvCache).
import * as T from '../../torch/index.js';
import { Tensor, keep } from '../../torch/index.js';
import { Module, ModuleList, Linear, Embedding, LayerNorm, Dropout, crossEntropy } from '../../nn/index.js';
import { normal_, zeros_ } from '../../nn/init.js';
import type { CharModel, Objective, Scored, TextStepper } from './char-model.js';
import { charGptGraph } from './onnx.js';

export interface CharGptConfig {
  vocabSize: number;
  /** Context length: the most characters the model attends over. */
  block: number;
  embed: number;
  heads: number;
  layers: number;
  dropout: number;
}

/** Per layer, keys and values of the positions seen so far: [N, heads, block, head size]. */
export class KvCache {
  readonly k: Tensor[];
  readonly v: Tensor[];
  /** Positions filled. */
  length = 0;
  constructor(config: CharGptConfig, n: number) {
    const shape = [n, config.heads, config.block, config.embed / config.heads];
    this.k = Array.from({ length: config.layers }, () => keep(T.zeros(shape)));
    this.v = Array.from({ length: config.layers }, () => keep(T.zeros(shape)));
  }
  dispose(): void {
    for (const t of [...this.k, ...this.v]) t.dispose();
  }
}

/** The heads split the embedding evenly, or the model cannot be built. */
export function checkHeads(embed: number, heads: number): void {
  if (embed % heads !== 0) throw new Error(`--embed (${embed}) must be a multiple of --heads (${heads})`);
}

/** [n, n]: 0 where a query (row) may see a key (column), -inf where the key is in its future. */
export function causalBias(n: number): Tensor {
  return T.noGrad(() => T.tidy(() => T.zeros([n, n]).maskedFill(T.tril(T.ones([n, n])).eq(0), -Infinity)));
}

/**
 * Whether attention uses libtorch's fused kernel: on where the libtorch has one (2.x), and
 * not under bf16 autocast unless `evenUnderAutocast`. Tests and the attention benchmark set
 * these to compare the two paths.
 */
export const attentionKernel = { fused: T.hasOp('aten::scaled_dot_product_attention'), evenUnderAutocast: false };

class CausalSelfAttention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly drop: Dropout;
  constructor(
    private readonly c: CharGptConfig,
    private readonly layer: number,
  ) {
    super();
    this.qkv = this.registerModule('qkv', new Linear(c.embed, 3 * c.embed));
    this.proj = this.registerModule('proj', new Linear(c.embed, c.embed));
    this.drop = this.registerModule('drop', new Dropout(c.dropout));
  }

  /** x [B, L, E] at positions start..start+L-1 (start = the cache's length, else 0). */
  override forward(x: Tensor, causal: Tensor, cache?: KvCache): Tensor {
    const [B, L, E] = x.shape;
    const H = this.c.heads;
    const heads = (t: Tensor) => t.view([B, L, H, E / H]).transpose(1, 2); // [B, H, L, hd]
    const [q, k, v] = this.qkv.forward(x).split(E, -1).map(heads);
    let keys = k;
    let values = v;
    let start = 0;
    if (cache) {
      start = cache.length;
      cache.k[this.layer].narrow(2, start, L).copy_(k);
      cache.v[this.layer].narrow(2, start, L).copy_(v);
      keys = cache.k[this.layer].narrow(2, 0, start + L);
      values = cache.v[this.layer].narrow(2, 0, start + L);
    }
    const S = start + L;
    // The fused kernel's causal mask is the square one: every query from position 0 on, or
    // one query that sees every key. Under bf16 autocast the matmul path is the faster one
    // (npm run bench -- attention).
    if (
      attentionKernel.fused &&
      (start === 0 || L === 1) &&
      (attentionKernel.evenUnderAutocast || !T.isAutocastEnabled())
    ) {
      const p = this.training ? this.c.dropout : 0;
      const y = T.callOp('aten::scaled_dot_product_attention', q, keys, values, null, p, L > 1) as Tensor;
      return this.drop.forward(this.proj.forward(y.transpose(1, 2).reshape([B, L, E])));
    }
    const scale = 1 / Math.sqrt(E / H);
    // Query start+i sees keys 0..start+i: the causal bias (0 or -inf) is added by the same
    // GEMM call that scales q·k (baddbmm), so no separate scaling or masking pass over the
    // [B, H, L, S] scores. One query at the cache's end sees everything.
    const att =
      L > 1
        ? T.baddbmm(
            causal.narrow(0, start, L).narrow(1, 0, S),
            q.reshape([B * H, L, E / H]),
            keys.reshape([B * H, S, E / H]).transpose(1, 2),
            1,
            scale,
          ).view([B, H, L, S])
        : T.matmul(q.mul(scale), keys.transpose(-2, -1));
    const y = T.matmul(this.drop.forward(T.softmax(att, -1)), values); // [B, H, L, hd]
    return this.drop.forward(this.proj.forward(y.transpose(1, 2).reshape([B, L, E])));
  }
}

class Mlp extends Module {
  readonly fc: Linear;
  readonly proj: Linear;
  readonly drop: Dropout;
  constructor(c: CharGptConfig) {
    super();
    this.fc = this.registerModule('fc', new Linear(c.embed, 4 * c.embed));
    this.proj = this.registerModule('proj', new Linear(4 * c.embed, c.embed));
    this.drop = this.registerModule('drop', new Dropout(c.dropout));
  }
  override forward(x: Tensor): Tensor {
    return this.drop.forward(this.proj.forward(T.gelu(this.fc.forward(x))));
  }
}

class Block extends Module {
  readonly ln1: LayerNorm;
  readonly attn: CausalSelfAttention;
  readonly ln2: LayerNorm;
  readonly mlp: Mlp;
  constructor(c: CharGptConfig, layer: number) {
    super();
    this.ln1 = this.registerModule('ln1', new LayerNorm(c.embed));
    this.attn = this.registerModule('attn', new CausalSelfAttention(c, layer));
    this.ln2 = this.registerModule('ln2', new LayerNorm(c.embed));
    this.mlp = this.registerModule('mlp', new Mlp(c));
  }
  /** `causal`: the additive mask of causalBias(block). */
  override forward(x: Tensor, causal: Tensor, cache?: KvCache): Tensor {
    const y = x.add(this.attn.forward(this.ln1.forward(x), causal, cache));
    return y.add(this.mlp.forward(this.ln2.forward(y)));
  }
}

export class CharGPT extends Module implements CharModel {
  readonly wte: Embedding;
  readonly wpe: Embedding;
  readonly drop: Dropout;
  readonly blocks: ModuleList<Block>;
  readonly lnF: LayerNorm;
  /** -inf above the diagonal: the future each position must not see. [block, block]. */
  private readonly causal: Tensor;

  constructor(readonly config: CharGptConfig) {
    super();
    const c = config;
    checkHeads(c.embed, c.heads);
    this.wte = this.registerModule('wte', new Embedding(c.vocabSize, c.embed));
    this.wpe = this.registerModule('wpe', new Embedding(c.block, c.embed));
    this.drop = this.registerModule('drop', new Dropout(c.dropout));
    this.blocks = this.registerModule(
      'blocks',
      new ModuleList(Array.from({ length: c.layers }, (_, l) => new Block(c, l))),
    );
    this.lnF = this.registerModule('ln_f', new LayerNorm(c.embed));
    this.causal = keep(causalBias(c.block));
    // GPT-2's initialisation: N(0, 0.02), zero biases, the residual projections scaled down
    // by the depth so the residual stream's variance does not grow with the layers.
    T.noGrad(() => {
      for (const [name, p] of this.namedParameters()) {
        if (name.endsWith('.bias')) zeros_(p);
        else if (name.startsWith('ln') || name.includes('.ln')) continue;
        else normal_(p, 0, name.endsWith('proj.weight') ? 0.02 / Math.sqrt(2 * c.layers) : 0.02);
      }
    });
  }

  /** Final hidden states [B, L, E] for indices [B, L]; with a cache, positions follow its length. */
  hidden(ids: Tensor, cache?: KvCache): Tensor {
    const L = ids.size(1);
    const start = cache?.length ?? 0;
    if (start + L > this.config.block)
      throw new Error(`the context is ${this.config.block} characters; got ${start + L}`);
    let x = this.drop.forward(this.wte.forward(ids).add(this.wpe.forward(T.arange(start, start + L).long())));
    for (const b of this.blocks.items) x = b.forward(x, this.causal, cache);
    if (cache) cache.length += L;
    return this.lnF.forward(x);
  }

  /** Logits [B, L, V] at every position (the output layer is the token embedding, tied). */
  override forward(ids: Tensor, cache?: KvCache): Tensor {
    return T.linear(this.hidden(ids, cache), this.wte.weight);
  }

  /** Every position predicts the next unit (the book's 'last' objective is the LSTM's only). */
  loss(batch: Tensor, objective: Objective = 'all'): Tensor {
    if (objective !== 'all') throw new Error("--objective last is the LSTM's; the transformer predicts every position");
    const len = batch.size(1) - 1;
    const logits = this.forward(batch.narrow(1, 0, len));
    return crossEntropy(logits.reshape([-1, this.config.vocabSize]), batch.narrow(1, 1, len).reshape([-1]));
  }

  /**
   * Windows of the block that overlap by half, each scoring only the units the window before
   * did not, `streams` windows a batch (its own block sets the length, not `length`).
   */
  heldOutNats(ids: Int32Array, { streams: batch }: { length: number; streams: number }): Scored | null {
    const n = ids.length - 1; // targets: unit i + 1 predicted from units 0..i
    if (n < 1) return null;
    const block = this.config.block;
    const stride = Math.max(1, Math.floor(block / 2));
    const windows: { start: number; length: number; from: number }[] = [];
    for (let start = 0, covered = 0; covered < n; start += stride) {
      const length = Math.min(block, n - start);
      windows.push({ start, length, from: covered - start });
      covered = start + length;
    }
    const wasTraining = this.training;
    this.eval();
    let total = 0;
    T.noGrad(() => {
      for (let i = 0; i < windows.length;) {
        // A batch of consecutive windows of one shape (the first and the last may differ).
        const { length, from } = windows[i];
        let j = i;
        while (j < windows.length && j - i < batch && windows[j].length === length && windows[j].from === from) j++;
        const b = j - i;
        const x = new Int32Array(b * length);
        const y = new Int32Array(b * length);
        for (let k = 0; k < b; k++) {
          const s = windows[i + k].start;
          x.set(ids.subarray(s, s + length), k * length);
          y.set(ids.subarray(s + 1, s + length + 1), k * length);
        }
        T.tidy(() => {
          const logits = this.forward(T.tensor(x, { shape: [b, length] }).long()).narrow(1, from, length - from);
          const targets = T.tensor(y, { shape: [b, length] })
            .long()
            .narrow(1, from, length - from);
          total += crossEntropy(logits.reshape([b * (length - from), -1]), targets.reshape([-1]), {
            reduction: 'sum',
          }).item();
        });
        i = j;
      }
    });
    this.train(wasTraining);
    return { nats: total, count: n };
  }

  startGeneration(prime: Int32Array, n: number, opts: { cached: boolean }): [Tensor, TextStepper] {
    const stepper = new GptStepper(this, n, opts);
    try {
      return [stepper.prime(prime), stepper];
    } catch (e) {
      stepper.dispose();
      throw e;
    }
  }

  /** The whole context in, logits at every position out (no key/value cache). */
  exportGraph(vocab: string[]) {
    return charGptGraph(this, vocab);
  }

  override dispose(): void {
    super.dispose();
    this.causal.dispose();
  }
}

/**
 * Generation for N samples at once. The context is the characters since the last reset; each
 * new character adds one position to the key/value cache. When the context fills the block,
 * it restarts from its last half (one batched pass), since learned positions cannot slide;
 * so a character costs one position's work, plus a half-block pass every block/2 characters.
 * With `cached: false` every character re-reads the whole context (the same function, slower;
 * for tests and benchmarks).
 */
export class GptStepper {
  private readonly cache: KvCache | null;
  private context: number[][];

  constructor(
    private readonly model: CharGPT,
    n: number,
    opts: { cached?: boolean } = {},
  ) {
    this.cache = (opts.cached ?? true) ? new KvCache(model.config, n) : null;
    this.context = Array.from({ length: n }, () => []);
  }

  /** Reads the prime (the same for every sample); returns the next-character logits [N, V]. */
  prime(ids: Int32Array): Tensor {
    const tail = Array.from(ids.subarray(Math.max(0, ids.length - this.model.config.block)));
    this.context = this.context.map(() => [...tail]);
    return this.read(true);
  }

  /** Feeds one character per sample; returns the next-character logits, [N, V]. */
  step(ids: Int32Array): Tensor {
    const block = this.model.config.block;
    this.context.forEach((c, j) => c.push(ids[j]));
    const full = this.context[0].length > block;
    if (full) this.context = this.context.map((c) => c.slice(c.length - Math.ceil(block / 2)));
    return this.read(full);
  }

  /** Runs the new positions (all of the context after a reset, else the last one). */
  private read(reset: boolean): Tensor {
    const n = this.context.length;
    const whole = reset || this.cache === null;
    if (this.cache && reset) this.cache.length = 0;
    const L = whole ? this.context[0].length : 1;
    const x = new Int32Array(n * L);
    this.context.forEach((c, j) => x.set(c.slice(c.length - L), j * L));
    return T.noGrad(() =>
      T.tidy(() => this.model.forward(T.tensor(x, { shape: [n, L] }).long(), this.cache ?? undefined).select(1, -1)),
    );
  }

  dispose(): void {
    this.cache?.dispose();
  }
}
