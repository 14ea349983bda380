// `loom export <run> --out model.onnx`: a trained run as an ONNX file (see src/export).
import { exportRun, writeOnnx } from '../export/index.js';
import { prepareOutputFile } from '../io/files.js';
import { COMMON, parseCommand, type CommandHelp, type OptSpecs } from './args.js';
import { UserError } from './errors.js';

const EXPORT: OptSpecs = {
  out: { type: 'string', help: 'the .onnx file to write', meta: 'FILE' },
  format: { type: 'string', help: 'onnx (the only format so far)', default: 'onnx' },
  part: { type: 'string', help: "a VAE's decoder (default) or encoder" },
  force: { type: 'bool', help: 'overwrite --out if it exists' },
  json: COMMON.json,
  help: COMMON.help,
};

const EXPORT_HELP: CommandHelp = {
  usage: 'loom export <run> --out model.onnx [--part decoder|encoder]',
  about:
    "Writes a trained run as ONNX for onnxruntime (Node, web, mobile): a fast style net, a VAE's decoder or encoder, a GAN's generator, or a text model (the LSTM's one step, the transformer over its context). The inputs, outputs, vocabulary and sizes are in the file's metadata.",
  options: EXPORT,
};

export async function exportCommand(args: string[]): Promise<void> {
  const parsed = parseCommand(args, EXPORT_HELP);
  if (!parsed) return;
  const { values: o, positionals } = parsed;
  if (positionals.length !== 1) throw new UserError('give one run folder or checkpoint to export');
  if (o.format !== 'onnx') throw new UserError(`--format must be onnx, got ${o.format}`);
  if (!o.out) throw new UserError('--out FILE is required (e.g. --out model.onnx)');
  prepareOutputFile(o.out, o.force);
  const e = exportRun(positionals[0], (o.part as string | undefined) ?? null);
  const bytes = writeOnnx(o.out, e);
  if (o.json) return void console.log(JSON.stringify({ file: o.out, bytes, ...e.metadata }));
  console.log(`wrote ${o.out} (${(bytes / 1e6).toFixed(2)} MB): ${e.doc}`);
  console.log(`  in:  ${e.metadata['loom.input']}`);
  console.log(`  out: ${e.metadata['loom.output']}`);
}
