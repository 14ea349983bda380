// An ONNX graph built from Loom's module tree: values are names, each layer of the tree adds
// the ONNX operators that compute what its forward() computes (in evaluation mode), and the
// weights become initializers. A layer without such operators gets a sentence naming it.
import * as T from '../torch/index.js';
import { Tensor } from '../torch/index.js';
import {
  BatchNorm2d,
  Conv2d,
  ConvTranspose2d,
  Dropout,
  InstanceNorm2d,
  Linear,
  Module,
  ReflectionPad2d,
} from '../nn/index.js';
import { AttributeType, DataType, IR_VERSION, ModelProto, OPSET } from './onnx-proto.js';

/** A graph, and what a page needs to know to feed it (written into the file's metadata). */
export interface Exported {
  graph: OnnxGraph;
  metadata: Record<string, string>;
  doc: string;
}

/** A dimension: a size, or a name for a size given at run time ("batch", "height"). */
export type Dim = number | string;

/** An attribute: whole numbers and lists of them as INT/INTS, strings, and floats marked as such. */
export type Attr = number | number[] | string | { float: number };

/** The layers whose ONNX operators Loom writes. */
const LAYERS = ['Conv2d', 'ConvTranspose2d', 'Linear', 'BatchNorm2d', 'InstanceNorm2d', 'ReflectionPad2d', 'Dropout'];

interface ValueInfo {
  name: string;
  type: { tensor_type: { elem_type: number; shape: { dim: ({ dim_value: number } | { dim_param: string })[] } } };
}

function valueInfo(name: string, dims: Dim[], elemType: number): ValueInfo {
  const dim = dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d }));
  return { name, type: { tensor_type: { elem_type: elemType, shape: { dim } } } };
}

function attribute(name: string, a: Attr): Record<string, unknown> {
  if (typeof a === 'string') return { name, type: AttributeType.STRING, s: Buffer.from(a, 'utf8') };
  if (typeof a === 'object' && !Array.isArray(a)) return { name, type: AttributeType.FLOAT, f: a.float };
  if (Array.isArray(a)) return { name, type: AttributeType.INTS, ints: a };
  return { name, type: AttributeType.INT, i: a };
}

export class OnnxGraph {
  private readonly nodes: Record<string, unknown>[] = [];
  private readonly initializers: Record<string, unknown>[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly used = new Set<string>();
  private count = 0;

  constructor(readonly name: string) {}

  private fresh(hint: string): string {
    let name = hint;
    while (this.used.has(name)) name = `${hint}_${++this.count}`;
    this.used.add(name);
    return name;
  }

  /** A float32 (or int64) input of the graph. */
  input(name: string, dims: Dim[], type: 'float32' | 'int64' = 'float32'): string {
    this.used.add(name);
    this.inputs.push(valueInfo(name, dims, type === 'int64' ? DataType.INT64 : DataType.FLOAT));
    return name;
  }

  /** Makes a value an output of the graph under `name`. */
  output(value: string, name: string, dims: Dim[]): void {
    const out = value === name ? value : this.op('Identity', [value], {}, name);
    this.outputs.push(valueInfo(out, dims, DataType.FLOAT));
  }

  /** A float32 weight, copied from a tensor. */
  weight(hint: string, t: Tensor): string {
    const name = this.fresh(hint);
    const data = T.tidy(() => t.detach().to('float32').contiguous().data() as Float32Array);
    this.initializers.push({
      name,
      dims: t.shape,
      data_type: DataType.FLOAT,
      raw_data: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  /** A float32 constant vector. */
  floats(hint: string, values: number[]): string {
    const name = this.fresh(hint);
    const data = Float32Array.from(values);
    this.initializers.push({
      name,
      dims: [values.length],
      data_type: DataType.FLOAT,
      raw_data: Buffer.from(data.buffer),
    });
    return name;
  }

  /** An int64 constant (shapes, pads, axes), a vector or, with `dims` [], a scalar. */
  ints(hint: string, values: number[], dims = [values.length]): string {
    const name = this.fresh(hint);
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    this.initializers.push({
      name,
      dims,
      data_type: DataType.INT64,
      raw_data: Buffer.from(data.buffer),
    });
    return name;
  }

  /** One operator; returns its output's name. */
  op(type: string, inputs: string[], attrs: Record<string, Attr> = {}, outName?: string): string {
    return this.opN(type, inputs, 1, attrs, outName)[0];
  }

  /** An operator with several outputs. */
  opN(type: string, inputs: string[], outputs: number, attrs: Record<string, Attr> = {}, outName?: string): string[] {
    const base = outName ?? type.toLowerCase();
    const out = Array.from({ length: outputs }, (_, i) => this.fresh(outputs === 1 ? base : `${base}_${i}`));
    this.nodes.push({
      op_type: type,
      name: this.fresh(`${type}_node`),
      input: inputs,
      output: out,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return out;
  }

  /** The input, the weight and (when the layer has one) the bias, as an operator's inputs. */
  private weighted(x: string, m: { weight: Tensor; bias: Tensor | null }, name: string): string[] {
    const inputs = [x, this.weight(`${name}.weight`, m.weight)];
    if (m.bias) inputs.push(this.weight(`${name}.bias`, m.bias));
    return inputs;
  }

  /** Named layers one after another, each followed by `then` (an activation). */
  chain(x: string, layers: readonly (readonly [string, Module])[], then: (y: string) => string): string {
    for (const [name, m] of layers) x = then(this.layer(m, x, name));
    return x;
  }

  /** What `m.forward(x)` computes in evaluation mode, for the layers in LAYERS. */
  layer(m: Module, x: string, name: string): string {
    if (m instanceof Conv2d || m instanceof ConvTranspose2d) {
      const [kh, kw] = m.weight.shape.slice(2);
      const transposed = m instanceof ConvTranspose2d;
      const attrs: Record<string, Attr> = {
        kernel_shape: [kh, kw],
        strides: m.stride,
        pads: [...m.padding, ...m.padding],
        dilations: m.dilation,
        group: m.groups,
      };
      if (transposed) attrs.output_padding = m.outputPadding;
      return this.op(transposed ? 'ConvTranspose' : 'Conv', this.weighted(x, m, name), attrs, name);
    }
    if (m instanceof Linear) return this.op('Gemm', this.weighted(x, m, name), { transB: 1 }, name);
    if (m instanceof BatchNorm2d || m instanceof InstanceNorm2d) {
      const n = m.numFeatures;
      const scale = m.weight
        ? this.weight(`${name}.weight`, m.weight)
        : this.floats(`${name}.weight`, Array(n).fill(1));
      const shift = m.bias ? this.weight(`${name}.bias`, m.bias) : this.floats(`${name}.bias`, Array(n).fill(0));
      const epsilon = { float: m.opts.eps ?? 1e-5 };
      if (m instanceof InstanceNorm2d) return this.op('InstanceNormalization', [x, scale, shift], { epsilon }, name);
      const mean = this.weight(`${name}.running_mean`, m.runningMean);
      const variance = this.weight(`${name}.running_var`, m.runningVar);
      return this.op('BatchNormalization', [x, scale, shift, mean, variance], { epsilon }, name);
    }
    if (m instanceof ReflectionPad2d) {
      const [left, right, top, bottom] = m.padding;
      const pads = this.ints(`${name}.pads`, [0, 0, top, left, 0, 0, bottom, right]);
      return this.op('Pad', [x, pads], { mode: 'reflect' }, name);
    }
    if (m instanceof Dropout) return x; // evaluation mode
    throw new Error(
      `cannot export ${name} (${m.constructor.name}) to ONNX: Loom writes ${LAYERS.join(', ')} layers and the activations between them`,
    );
  }

  /** The model file's bytes, with string metadata (preprocessing, vocabulary, sizes). */
  encode(metadata: Record<string, string>, doc: string): Uint8Array {
    const model = {
      ir_version: IR_VERSION,
      opset_import: [{ domain: '', version: OPSET }],
      producer_name: 'loom',
      producer_version: '0.1.0',
      doc_string: doc,
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
      metadata_props: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    };
    const why = ModelProto.verify(model);
    if (why) throw new Error(`the ONNX model is malformed: ${why}`);
    return ModelProto.encode(ModelProto.fromObject(model)).finish();
  }
}
