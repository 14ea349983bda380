// `loom export`: a trained run as an ONNX file that runs without libtorch (onnxruntime in
// Node, in the browser, on a phone). The run's kind is read from its checkpoint.
import { loadCheckpoint } from '../io/checkpoint.js';
import { RunFolder } from '../io/run-folder.js';
import { writeFileAtomic } from '../io/files.js';
import { loadGenerator } from '../models/gan/train.js';
import { loadStyleNet } from '../models/style/fast.js';
import { loadTextModel } from '../models/text/train.js';
import { loadVae } from '../models/vae/train.js';
import type { Exported } from './onnx-graph.js';
import { generatorGraph, styleNetGraph, vaeDecoderGraph, vaeEncoderGraph } from './onnx-models.js';

export * from './onnx-graph.js';
export * from './onnx-models.js';

export type RunKind = 'text' | 'vae' | 'gan' | 'fast-style';

/** Which trainer made the checkpoint of a run folder or file. */
export function runKind(source: string): RunKind {
  const file = RunFolder.checkpointOf(source);
  using ck = loadCheckpoint(file);
  if (ck.tensors.has('module.generator.fc.weight')) return 'gan';
  if (ck.tensors.has('module.net.layers.0.conv.weight')) return 'fast-style';
  if (Array.isArray(ck.extra.vocab)) return 'text';
  if (ck.tensors.has('module.model.dec_fc.weight')) return 'vae';
  throw new Error(`${file} is not a run Loom can export (a text, VAE, GAN or fast style run)`);
}

/** The ONNX graph of a run: for a VAE, its decoder (default) or encoder. */
export function exportRun(source: string, part: 'decoder' | 'encoder' | null = null): Exported & { kind: RunKind } {
  const kind = runKind(source);
  if (part !== null && kind !== 'vae') throw new Error(`--part is for VAE runs; ${source} is a ${kind} run`);
  switch (kind) {
    case 'gan': {
      using g = loadGenerator(source);
      return { kind, ...generatorGraph(g) };
    }
    case 'fast-style': {
      using net = loadStyleNet(source);
      return { kind, ...styleNetGraph(net) };
    }
    case 'text': {
      const { model, vocab } = loadTextModel(source);
      using m = model;
      const e = m.exportGraph(vocab.tokens);
      // Subword units: the vocabulary lists each unit's text; encoding a prompt needs the merges.
      if (vocab.merges.length)
        e.metadata['loom.merges'] = JSON.stringify({
          characters: vocab.chars.length,
          pairs: vocab.merges,
          how: 'unit characters+k joins the pair pairs[k]; encode text as character indices, then apply each pair in order, left to right',
        });
      return { kind, ...e };
    }
    case 'vae': {
      const { model } = loadVae(source);
      using m = model;
      return { kind, ...(part === 'encoder' ? vaeEncoderGraph(m) : vaeDecoderGraph(m)) };
    }
  }
}

/** Writes the model so that an interrupted export never leaves a half-written file. */
export function writeOnnx(file: string, e: Exported): number {
  const bytes = e.graph.encode(e.metadata, e.doc);
  writeFileAtomic(file, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return bytes.length;
}
