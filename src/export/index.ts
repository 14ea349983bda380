// `loom export`: a trained run as an ONNX file that runs without libtorch (onnxruntime in
// Node, in the browser, on a phone). The run's system is the one it recorded; each system in
// the registry says how its runs export.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadCheckpoint } from '../io/checkpoint.js';
import { RunFolder } from '../io/run-folder.js';
import { writeFileAtomic } from '../io/files.js';
import { SYSTEMS, systemOfCheckpoint } from '../systems/registry.js';
import type { System, SystemExport } from '../systems/system.js';
import type { Exported } from './onnx-graph.js';

export * from './onnx-graph.js';
export * from './onnx-models.js';

type Exporting = System & { export: SystemExport };
const exporting = (): Exporting[] => SYSTEMS.filter((s): s is Exporting => s.export !== undefined);

/** "a text, fast style, VAE or GAN run": the runs Loom exports, for a refusal. */
function exportable(): string {
  const names = exporting().map((s) => s.export.what);
  return `a ${names.length > 1 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)}` : names[0]} run`;
}

/** The system that made the checkpoint of a run folder or file: what the run says, else a guess by its tensors. */
function runSystem(source: string): Exporting {
  const file = RunFolder.checkpointOf(source);
  using ck = loadCheckpoint(file);
  const system = systemOfCheckpoint(ck, folderSystem(file));
  if (!system?.export) throw new Error(`${file} is not a run Loom can export (${exportable()})`);
  return system as Exporting;
}

/** What the export calls a run's kind: its system's name (a fast style net: fast-style). */
export function runKind(source: string): string {
  const s = runSystem(source);
  return s.export.kind ?? s.name;
}

/**
 * The `system` the config.json of the run folder a checkpoint is one of records (a file named
 * otherwise, or moved, stands alone); null if none.
 */
function folderSystem(file: string): string | null {
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

/**
 * The ONNX graph of a run; `part` picks one where a system exports several (a VAE's decoder,
 * the default, or its encoder).
 */
export function exportRun(source: string, part: string | null = null): Exported & { kind: string } {
  const s = runSystem(source);
  const kind = s.export.kind ?? s.name;
  const parts = s.export.parts;
  if (part !== null && !parts) {
    const withParts = exporting().filter((x) => x.export.parts);
    throw new Error(
      `--part is for ${withParts.map((x) => x.export.what).join(' and ')} runs; ${source} is a ${s.export.what} run`,
    );
  }
  if (part !== null && parts && !parts.includes(part))
    throw new Error(`--part must be ${parts.join(' or ')} for a ${s.export.what} run, got ${part}`);
  return { kind, ...s.export.graph(source, part) };
}

/** Writes the model so that an interrupted export never leaves a half-written file. */
export function writeOnnx(file: string, e: Exported): number {
  const bytes = e.graph.encode(e.metadata, e.doc);
  writeFileAtomic(file, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return bytes.length;
}
