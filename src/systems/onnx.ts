// Export for the library: a trained run of any system that exports (the registry says which)
// as an ONNX file for onnxruntime in Node, the browser or a phone.
import { exportRun, writeOnnx } from '../export/index.js';
import { withSentences } from './errors.js';

export interface Exported {
  /** The run's kind: its system's name (a fast style net: fast-style). */
  kind: string;
  /** The file's size in bytes. */
  bytes: number;
  /** What the file says of itself: its inputs, outputs, vocabulary, sizes. */
  metadata: Record<string, string>;
}

/**
 * Writes the run (a folder or a checkpoint) to `file` as ONNX, whole or not at all; `part`
 * picks one where a system exports several (a VAE's decoder, the default, or its encoder).
 */
export async function exportOnnx(source: string, file: string, options: { part?: string } = {}): Promise<Exported> {
  return withSentences(() => {
    const e = exportRun(source, options.part ?? null);
    return { kind: e.kind, bytes: writeOnnx(file, e), metadata: { ...e.metadata } };
  });
}
