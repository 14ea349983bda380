// `loom export`: a trained run as an ONNX file that runs without libtorch (onnxruntime in
// Node, in the browser, on a phone). The run's kind is the system it recorded (runKind).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadCheckpoint, type Checkpoint } from '../io/checkpoint.js';
import { RunFolder } from '../io/run-folder.js';
import { writeFileAtomic } from '../io/files.js';
import { loadGenerator } from '../models/gan/train.js';
import { loadStyleNet } from '../models/style/fast.js';
import { loadTextModel } from '../models/text/train.js';
import { loadVae } from '../models/vae/train.js';
import type { Exported } from './onnx-graph.js';
import { styleNetGraph, vaeDecoderGraph, vaeEncoderGraph } from './onnx-models.js';

export * from './onnx-graph.js';
export * from './onnx-models.js';

export type RunKind = 'text' | 'vae' | 'gan' | 'fast-style';

/** The export kind of each system whose runs Loom exports, by the `system` its runs record. */
const KIND_OF_SYSTEM: Record<string, RunKind> = { text: 'text', vae: 'vae', gan: 'gan', style: 'fast-style' };

/** Which trainer made the checkpoint of a run folder or file: what the run says, else a guess. */
export function runKind(source: string): RunKind {
  const file = RunFolder.checkpointOf(source);
  using ck = loadCheckpoint(file);
  const system = recordedSystem(file, ck.config);
  if (system === null) return guessedKind(file, ck);
  const kind = Object.hasOwn(KIND_OF_SYSTEM, system) ? KIND_OF_SYSTEM[system] : undefined;
  if (!kind) throw new Error(`${file} is not a run Loom can export (a text, VAE, GAN or fast style run)`);
  return kind;
}

/**
 * The `system` a run recorded: in its checkpoint's config, else in the config.json of the run
 * folder the checkpoint is one of (a file named otherwise, or moved, stands alone); null if neither.
 */
function recordedSystem(file: string, config: Record<string, unknown>): string | null {
  if (typeof config.system === 'string') return config.system;
  const run = new RunFolder(path.dirname(file));
  const names = [run.checkpoint, run.best, run.good].map((f) => path.basename(f));
  if (!names.includes(path.basename(file))) return null;
  try {
    const system = (JSON.parse(readFileSync(path.join(run.dir, 'config.json'), 'utf8')) as { system?: unknown }).system;
    return typeof system === 'string' ? system : null;
  } catch {
    return null;
  }
}

/** A checkpoint without a recorded system (written before runs named theirs): its kind from its tensors. */
function guessedKind(file: string, ck: Checkpoint): RunKind {
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
      return { kind, ...g.exportGraph() };
    }
    case 'fast-style': {
      using net = loadStyleNet(source);
      return { kind, ...styleNetGraph(net) };
    }
    case 'text': {
      const { model, vocab } = loadTextModel(source);
      using m = model;
      const e = m.exportGraph(vocab.tokens); // the LSTM's one step, the transformer's whole context
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
