// A text run as ONNX: the LSTM's one step, or the transformer over its whole context.
import type { Exported } from '../../export/onnx-graph.js';
import { loadTextModel } from '../../models/text/index.js';

export function textRunGraph(source: string): Exported {
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
  return e;
}
